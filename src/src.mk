# The VMM. Everything but the CLI goes into libshale-vmm.a, which the unit
# tests link against too.

VMM_SRCS := src/util/util.c \
	src/vmm/gmem.c src/vmm/iobus.c src/vmm/vm.c src/vmm/vcpu.c src/vmm/console.c \
	src/vmm/host.c src/vmm/evloop.c src/vmm/conout.c src/vmm/control.c src/vmm/ctl_proto.c \
	src/arch/x86/cpu.c src/arch/x86/insn.c src/arch/x86/pv.c src/arch/x86/pv_stubs.S \
	src/arch/x86/linux.c src/arch/x86/pc.c \
	src/loader/elf.c src/loader/image.c \
	src/pv/pv.c src/pv/hypercall.c src/pv/block.c src/pv/net.c \
	src/pv/queue.c src/pv/ioq.c
include src/devices/legacy/legacy.mk
-include src/arch/x86/acpi.mk
VMM_OBJS := $(patsubst %.S,$(B)/%.o,$(patsubst %.c,$(B)/%.o,$(VMM_SRCS)))
VMM_LIB := $(B)/libshale-vmm.a

CLI_SRCS := src/cli/main.c src/cli/run.c src/cli/run_linux.c src/cli/host.c
CLI_OBJS := $(patsubst %.c,$(B)/%.o,$(CLI_SRCS)) $(B)/src/cli/default_guest.o

$(VMM_LIB): $(VMM_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

# The demo guest is embedded in the binary.
$(B)/src/cli/default_guest.o: src/cli/default_guest.S $(DEFAULT_GUEST)
	$(call msg,AS,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) -DDEFAULT_GUEST_PATH='"$(DEFAULT_GUEST)"' -c $< -o $@

$(B)/shale: $(CLI_OBJS) $(VMM_LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(SHALE_LDFLAGS) -o $@ $^ $(HOST_LIBS)

shale: $(B)/shale
