# Fuzz harnesses for what a guest or a user can feed the VMM: ELF images,
# hypercalls, Linux kernels (bzImage and PVH), port I/O to the legacy
# PC devices and PCI configuration space, the I/O queue rings of ABI v2,
# virtio's split virtqueue and its PCI transport with virtio-blk (and
# with virtio-balloon, virtio-console, input included, and virtio-net,
# frames from its back end too), the
# decoder that names the port of a guest's refused in/out, the control
# socket's request lines, `shale run`'s command line, the daemon's VM
# definitions and API routing, the metrics it makes of a VMM's stats
# reply and its reading of a VMM's exit record, and the HTTP responses
# the API clients read from shaled. The seeds of vmdef, api, metrics,
# exitrec, http and opts are hand-written;
# make-seeds writes the others. Each harness defines
# LLVMFuzzerTestOneInput() and is built two ways:
#   make fuzz-regress   with $(CC) and tests/fuzz/standalone.c: the seed
#                       corpus plus FUZZ_MUTATIONS fixed mutants of each
#                       seed, as a regression test (also under SAN=1)
#   make fuzz           real libFuzzer binaries, clang, into build-fuzz/
#   make fuzz-run       run those for FUZZ_TIME seconds each
#   make fuzz-seeds     regenerate tests/fuzz/corpus/ (FUZZ_SEED_KERNEL=
#                       a bzImage also writes corpus/linux/bzimage-head)

FUZZ_NAMES := elf hypercall linux pcdev queue insn vmdef api metrics exitrec http ctl opts virtq vpci
# The memory balloon behind the PCI transport (fuzz_balloon.c).
FUZZ_NAMES += balloon
# virtio-console both ways, console input included (fuzz_vconsole.c).
FUZZ_NAMES += vconsole
FUZZ_NAMES += vnet
FUZZ_MUTATIONS ?= 2000
# virtio-vsock's packets and host sockets (make-seeds writes its seeds).
FUZZ_NAMES += vsock
FUZZ_STANDALONE := $(patsubst %,$(B)/tests/fuzz/fuzz_%-standalone,$(FUZZ_NAMES))

# The legacy devices read the harness's clock instead of the host's.
FUZZ_LDFLAGS_pcdev := -Wl,--wrap=clock_wall_ns -Wl,--wrap=clock_monotonic_ns

$(FUZZ_STANDALONE): $(B)/tests/fuzz/%-standalone: $(B)/tests/fuzz/%.o \
		$(B)/tests/fuzz/standalone.o $(VMM_LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) $(FUZZ_LDFLAGS_$(*:fuzz_%=%)) -o $@ $^ \
		$(FUZZ_LIBS_$(*:fuzz_%=%)) $(HOST_LIBS)

# The HTTP client is the CLI's, not the VMM library's; so is run's option parser.
$(B)/tests/fuzz/fuzz_http-standalone: $(B)/src/cli/http.o
$(B)/tests/fuzz/fuzz_opts-standalone: $(B)/src/cli/run_opts.o $(B)/src/vmm/sandbox.o \
	$(B)/gen/sandbox_filters.o $(B)/src/usernet/usernet.o
# The option parser's messages are counted.
FUZZ_LDFLAGS_opts := -Wl,--wrap=log_err

fuzz-regress: $(FUZZ_STANDALONE)
	$(Q)for n in $(FUZZ_NAMES); do \
		$(B)/tests/fuzz/fuzz_$$n-standalone -mutations=$(FUZZ_MUTATIONS) \
			-close_fd_mask=2 -artifact_prefix=$(B)/tests/fuzz/ \
			tests/fuzz/corpus/$$n || exit 1; \
	done

# libFuzzer wants every object instrumented, so the harness and the VMM
# sources it needs are compiled together by clang rather than taken from
# $(VMM_LIB).
FUZZ_B := build-fuzz
FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(WARN) -Wno-unused-command-line-argument -Wno-error \
	-D_GNU_SOURCE -Iinclude -Isrc -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_HDRS := tests/fuzz/fuzz.h $(wildcard include/shale/abi/*.h src/*/*.h src/arch/*/*.h)
FUZZ_SRCS_elf := tests/fuzz/fuzz_elf.c src/loader/elf.c src/vmm/gmem.c src/util/util.c
FUZZ_SRCS_hypercall := tests/fuzz/fuzz_hypercall.c $(VMM_SRCS) $(VMM_GEN_SRCS)
FUZZ_SRCS_linux := tests/fuzz/fuzz_linux.c src/arch/x86/linux.c src/loader/elf.c \
	src/vmm/gmem.c src/util/util.c
FUZZ_SRCS_pcdev := tests/fuzz/fuzz_pcdev.c $(VMM_SRCS) $(VMM_GEN_SRCS)
FUZZ_SRCS_queue := tests/fuzz/fuzz_queue.c src/pv/queue.c
FUZZ_SRCS_insn := tests/fuzz/fuzz_insn.c src/arch/x86/insn.c
FUZZ_SRCS_virtq := tests/fuzz/fuzz_virtq.c src/devices/virtio/queue.c src/vmm/gmem.c \
	src/util/util.c
# KVM's interrupt routing is replaced by the harness's.
FUZZ_SRCS_vpci := tests/fuzz/fuzz_vpci.c $(VMM_SRCS) $(VMM_GEN_SRCS)
FUZZ_LDFLAGS_vpci := -Wl,--wrap=irq_msi_alloc,--wrap=irq_msi_set,--wrap=irq_irqfd \
	-Wl,--wrap=irq_ioeventfd
FUZZ_SRCS_balloon := tests/fuzz/fuzz_balloon.c $(VMM_SRCS) $(VMM_GEN_SRCS)
FUZZ_LDFLAGS_balloon := $(FUZZ_LDFLAGS_vpci)
FUZZ_SRCS_vconsole := tests/fuzz/fuzz_vconsole.c $(VMM_SRCS) $(VMM_GEN_SRCS)
FUZZ_LDFLAGS_vconsole := $(FUZZ_LDFLAGS_vpci)
FUZZ_SRCS_vsock := tests/fuzz/fuzz_vsock.c $(VMM_SRCS) $(VMM_GEN_SRCS)
FUZZ_LDFLAGS_vsock := $(FUZZ_LDFLAGS_vpci)
# virtio-net on a socket-pair back end, the same way.
FUZZ_SRCS_vnet := tests/fuzz/fuzz_vnet.c $(VMM_SRCS) $(VMM_GEN_SRCS)
FUZZ_LDFLAGS_vnet := $(FUZZ_LDFLAGS_vpci)
FUZZ_SRCS_vmdef := tests/fuzz/fuzz_vmdef.c src/daemon/vmdef.c src/util/util.c src/util/json.c \
	src/usernet/usernet.c
# The daemon's request parser uses json-c.
FUZZ_LIBS_vmdef := -ljson-c
$(B)/tests/fuzz/fuzz_vmdef-standalone: $(B)/src/daemon/vmdef.o $(B)/src/usernet/usernet.o \
	$(B)/src/util/json.o $(B)/src/util/util.o
FUZZ_SRCS_api := tests/fuzz/fuzz_api.c src/daemon/api_req.c src/daemon/vmdef.c src/util/util.c \
	src/util/json.c src/usernet/usernet.c
FUZZ_LIBS_api := -ljson-c
FUZZ_SRCS_metrics := tests/fuzz/fuzz_metrics.c src/daemon/metrics.c
FUZZ_LIBS_metrics := -ljson-c
$(B)/tests/fuzz/fuzz_metrics-standalone: $(B)/src/daemon/metrics.o
FUZZ_SRCS_exitrec := tests/fuzz/fuzz_exitrec.c src/daemon/vmmfile.c src/util/json.c
FUZZ_LIBS_exitrec := -ljson-c
$(B)/tests/fuzz/fuzz_exitrec-standalone: $(B)/src/daemon/vmmfile.o $(B)/src/util/json.o
$(B)/tests/fuzz/fuzz_api-standalone: $(B)/src/daemon/api_req.o $(B)/src/daemon/vmdef.o \
	$(B)/src/util/json.o $(B)/src/usernet/usernet.o \
	$(B)/src/util/util.o
FUZZ_SRCS_http := tests/fuzz/fuzz_http.c src/cli/http.c
FUZZ_SRCS_ctl := tests/fuzz/fuzz_ctl.c src/vmm/ctl_proto.c src/util/json.c
FUZZ_SRCS_opts := tests/fuzz/fuzz_opts.c src/cli/run_opts.c src/util/util.c src/vmm/sandbox.c \
	src/usernet/usernet.c $(VMM_GEN_SRCS)
FUZZ_BINS := $(patsubst %,$(FUZZ_B)/fuzz_%,$(FUZZ_NAMES))

define FUZZ_BIN_RULE
$(FUZZ_B)/fuzz_$(1): $(FUZZ_SRCS_$(1)) $(FUZZ_HDRS)
	$$(call msg,CLANG,$$@)
	@mkdir -p $$(dir $$@)
	$$(Q)$$(FUZZ_CC) $$(FUZZ_CFLAGS) $$(FUZZ_LDFLAGS_$(1)) -o $$@ $(FUZZ_SRCS_$(1)) \
		$$(FUZZ_LIBS_$(1)) $$(HOST_LIBS)
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call FUZZ_BIN_RULE,$(n))))

fuzz: $(FUZZ_BINS)

# The first directory collects what libFuzzer finds; the seeds stay as they are.
fuzz-run: $(FUZZ_BINS)
	$(Q)for n in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_B)/corpus/$$n && \
		$(FUZZ_B)/fuzz_$$n -max_total_time=$(FUZZ_TIME) -close_fd_mask=2 \
			-artifact_prefix=$(FUZZ_B)/ $(FUZZ_B)/corpus/$$n \
			tests/fuzz/corpus/$$n || exit 1; \
	done

MAKE_SEEDS_OBJS := $(B)/tests/fuzz/make-seeds.o $(TEST_ELFGEN)

$(B)/tests/fuzz/make-seeds: $(MAKE_SEEDS_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $(MAKE_SEEDS_OBJS)

fuzz-seeds: $(B)/tests/fuzz/make-seeds
	@mkdir -p $(patsubst %,tests/fuzz/corpus/%,$(FUZZ_NAMES))
	$(Q)$< tests/fuzz/corpus $(FUZZ_SEED_KERNEL)

.PHONY: fuzz-regress fuzz-run fuzz-seeds
