# Fuzz harnesses for what a guest or a user can feed the VMM: ELF images
# and hypercalls. Each harness defines LLVMFuzzerTestOneInput() and is
# built two ways:
#   make fuzz-regress   with $(CC) and tests/fuzz/standalone.c: the seed
#                       corpus plus FUZZ_MUTATIONS fixed mutants of each
#                       seed, as a regression test (also under SAN=1)
#   make fuzz           real libFuzzer binaries, clang, into build-fuzz/
#   make fuzz-run       run those for FUZZ_TIME seconds each
#   make fuzz-seeds     regenerate tests/fuzz/corpus/

FUZZ_NAMES := elf hypercall
FUZZ_MUTATIONS ?= 2000
FUZZ_STANDALONE := $(patsubst %,$(B)/tests/fuzz/fuzz_%-standalone,$(FUZZ_NAMES))

$(FUZZ_STANDALONE): $(B)/tests/fuzz/%-standalone: $(B)/tests/fuzz/%.o \
		$(B)/tests/fuzz/standalone.o $(VMM_LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $^ $(HOST_LIBS)

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
FUZZ_SRCS_hypercall := tests/fuzz/fuzz_hypercall.c $(VMM_SRCS)
FUZZ_BINS := $(patsubst %,$(FUZZ_B)/fuzz_%,$(FUZZ_NAMES))

define FUZZ_BIN_RULE
$(FUZZ_B)/fuzz_$(1): $(FUZZ_SRCS_$(1)) $(FUZZ_HDRS)
	$$(call msg,CLANG,$$@)
	@mkdir -p $$(dir $$@)
	$$(Q)$$(FUZZ_CC) $$(FUZZ_CFLAGS) -o $$@ $(FUZZ_SRCS_$(1))
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

$(B)/tests/fuzz/make-seeds: tests/fuzz/make-seeds.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) $(HOST_LDFLAGS) -o $@ $<

fuzz-seeds: $(B)/tests/fuzz/make-seeds
	@mkdir -p tests/fuzz/corpus/elf tests/fuzz/corpus/hypercall
	$(Q)$< tests/fuzz/corpus

.PHONY: fuzz-regress fuzz-run fuzz-seeds
