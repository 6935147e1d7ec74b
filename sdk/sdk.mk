# Guest SDK: crt0, libshale.a (hypercall wrappers and a small libc) and the
# generic rules that build $(B)/g/DIR/NAME.elf from DIR/NAME.c.
#
# Guests are freestanding: the compiler's own headers (stdint.h, stddef.h,
# stdarg.h, stdbool.h, limits.h) and the SDK's libc headers, nothing from
# the host. They run at CPL 3 with no interrupts, so the red zone is safe.

GUEST_CFLAGS := -std=gnu11 -O2 -g $(WARN) -ffreestanding -nostdinc \
	-isystem $(shell $(GUEST_CC) -print-file-name=include) \
	-Isdk/include -Iinclude -DSHALE_GUEST \
	-fno-stack-protector -fno-pic -fno-pie \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,sdk/guest.ld \
	-Wl,-z,max-page-size=4096 -Wl,--build-id=none -Wl,-z,noexecstack

SDK_SRCS := sdk/lib/format.c sdk/lib/io.c sdk/lib/malloc.c sdk/lib/queue.c sdk/lib/shale.c \
	sdk/lib/start.c sdk/lib/stdio.c sdk/lib/stdlib.c sdk/lib/string.c
SDK_OBJS := $(patsubst %.c,$(B)/g/%.o,$(SDK_SRCS))
SDK_CRT0 := $(B)/g/sdk/crt0.o
SDK_LIB := $(B)/sdk/libshale.a

# GCC turns byte loops into calls to memcpy/memset; inside the functions
# that implement them that would be infinite recursion.
$(SDK_OBJS): GUEST_CFLAGS += -fno-tree-loop-distribute-patterns

$(SDK_LIB): $(SDK_OBJS)
	$(call msg,AR,$@)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(B)/g/%.o: %.c
	$(call msg,GCC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(B)/g/%.o: %.S
	$(call msg,GAS,$<)
	@mkdir -p $(dir $@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

# crt0 first, as in any C link; guest.ld puts _start at the image base.
$(B)/g/%.elf: $(B)/g/%.o $(SDK_CRT0) $(SDK_LIB) sdk/guest.ld
	$(call msg,GLD,$@)
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(SDK_CRT0) $< $(SDK_LIB) -lgcc

# Keep guest objects that only chained rules mention.
.PRECIOUS: $(B)/g/%.o
