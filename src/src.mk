# The VMM. Everything but the CLI goes into libshale-vmm.a, which the unit
# tests link against too.

VMM_SRCS := src/util/util.c src/util/json.c \
	src/vmm/gmem.c src/vmm/iobus.c src/vmm/vm.c src/vmm/vcpu.c src/vmm/console.c \
	src/vmm/host.c src/vmm/evloop.c src/vmm/conout.c src/vmm/control.c src/vmm/ctl_proto.c src/vmm/sandbox.c \
	src/arch/x86/cpu.c src/arch/x86/insn.c src/arch/x86/pv.c src/arch/x86/pv_stubs.S \
	src/arch/x86/linux.c src/arch/x86/pc.c \
	src/loader/elf.c src/loader/image.c \
	src/pv/pv.c src/pv/hypercall.c src/pv/block.c src/pv/net.c \
	src/pv/queue.c src/pv/ioq.c \
	src/usernet/usernet.c \
	src/backend/disk.c src/vmm/irq.c \
	src/devices/virtio/queue.c src/devices/virtio/pci.c src/devices/virtio/blk.c \
	src/devices/virtio/rng.c src/devices/virtio/console.c \
	src/devices/virtio/balloon.c
# virtio-vsock and its Unix-socket host side.
VMM_SRCS += src/devices/virtio/vsock.c src/backend/vsock_unix.c
VMM_SRCS += src/backend/tap.c src/devices/virtio/net.c
include src/devices/legacy/legacy.mk
-include src/arch/x86/acpi.mk
# The seccomp allow-lists, compiled to BPF by libseccomp at build time
# (src/vmm/sandbox_filters.h): the only part of shale linked to it.
VMM_GEN_SRCS := $(B)/gen/sandbox_filters.c
VMM_OBJS := $(patsubst %.S,$(B)/%.o,$(patsubst %.c,$(B)/%.o,$(VMM_SRCS))) \
	$(B)/gen/sandbox_filters.o
VMM_LIB := $(B)/libshale-vmm.a

CLI_SRCS := src/cli/main.c src/cli/run.c src/cli/run_opts.c src/cli/run_linux.c src/cli/host.c \
	src/cli/http.c src/cli/client.c
CLI_OBJS := $(patsubst %.c,$(B)/%.o,$(CLI_SRCS)) $(B)/src/cli/default_guest.o

$(B)/tools/seccomp_rules: src/vmm/seccomp_rules.c src/vmm/sandbox_filters.h src/vmm/sandbox.h
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) $(HOST_LDFLAGS) -o $@ $< -lseccomp

$(B)/gen/sandbox_filters.c: $(B)/tools/seccomp_rules
	$(call msg,GEN,$@)
	@mkdir -p $(dir $@)
	$(Q)$< > $@.tmp && mv $@.tmp $@

$(B)/gen/sandbox_filters.o: $(B)/gen/sandbox_filters.c
	$(call msg,CC,$<)
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@

$(VMM_LIB): $(VMM_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

# The demo guest is embedded in the binary.
$(B)/src/cli/default_guest.o: src/cli/default_guest.S $(DEFAULT_GUEST)
	$(call msg,AS,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) -DDEFAULT_GUEST_PATH='"$(DEFAULT_GUEST)"' -c $< -o $@

# Statically linked (SHALE_LDFLAGS), json-c and liburing included.
$(B)/shale: $(CLI_OBJS) $(VMM_LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(SHALE_LDFLAGS) -o $@ $^ $(HOST_LIBS)

shale: $(B)/shale

# shaled, the management daemon: linked dynamically (libmicrohttpd, json-c).
DAEMON_SRCS := src/daemon/shaled.c src/daemon/api.c src/daemon/api_req.c src/daemon/metrics.c src/daemon/vms.c src/daemon/vmdef.c \
	src/daemon/vmmctl.c src/daemon/vmmfile.c src/daemon/cgroup.c
DAEMON_OBJS := $(patsubst %.c,$(B)/%.o,$(DAEMON_SRCS)) $(B)/src/util/util.o $(B)/src/util/json.o \
	$(B)/src/usernet/usernet.o
DAEMON_LIBS := -lmicrohttpd -ljson-c -lpthread

$(B)/shaled: $(DAEMON_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $^ $(DAEMON_LIBS)

shaled: $(B)/shaled
all: shaled

# shale-net, the user-mode network's helper (src/usernet/usernet.h): linked
# dynamically against libslirp, which Debian ships only as a shared library.
$(B)/shale-net: $(B)/src/usernet/shale-net.o $(B)/src/usernet/usernet.o $(B)/src/util/util.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $^ -lslirp -lseccomp

shale-net: $(B)/shale-net
all: shale-net
.PHONY: shale-net
.PHONY: shaled

# make install [PREFIX=/usr/local] [DESTDIR=...]: the binaries, the systemd
# units for shaled and the documentation.
PREFIX ?= /usr/local
install: all
	install -D -m 0755 $(B)/shale $(DESTDIR)$(PREFIX)/bin/shale
	install -D -m 0755 $(B)/shaled $(DESTDIR)$(PREFIX)/bin/shaled
	install -D -m 0755 $(B)/shale-net $(DESTDIR)$(PREFIX)/bin/shale-net
	sed 's|/usr/local|$(PREFIX)|g' dist/shaled.service | \
		install -D -m 0644 /dev/stdin $(DESTDIR)$(PREFIX)/lib/systemd/system/shaled.service
	install -D -m 0644 dist/shaled.socket $(DESTDIR)$(PREFIX)/lib/systemd/system/shaled.socket
	install -d $(DESTDIR)$(PREFIX)/share/doc/shale
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/shale/
.PHONY: install
