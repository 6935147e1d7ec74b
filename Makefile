# shale: one non-recursive GNU Makefile.
#   make            build everything into $(B)/
#   make run        build and run the built-in default guest
#   make check      build and run every test (unit, fuzz regression, integration)
#   make asan       the same tests with ASan+UBSan, built into build-asan/
#   make fuzz       libFuzzer harnesses (clang), built into build-fuzz/
#   make fuzz-smoke build them and run each for FUZZ_SMOKE_TIME seconds (10);
#                   part of make check when clang is there
#   make bench      benchmarks (see docs/benchmarks.md); make bench-boot: Linux boot only
#   V=1             show full commands

B ?= build
CC ?= gcc
GUEST_CC ?= gcc
SAN ?=

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wformat=2 -Wno-unused-parameter -Wvla -Wpointer-arith
HOST_CFLAGS := -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -Iinclude -Isrc \
	-fstack-protector-strong -fPIE -MMD -MP
ifeq ($(SAN),)
HOST_CFLAGS += -D_FORTIFY_SOURCE=2
HOST_LDFLAGS := -pie -Wl,-z,relro,-z,now
# shale itself is linked statically (libc, liburing, json-c): without shared
# libraries mapped a VMM costs about 0.6 MiB less memory.
SHALE_LDFLAGS := -static-pie -Wl,-z,relro,-z,now
else
HOST_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
HOST_LDFLAGS := -pie -fsanitize=address,undefined
SHALE_LDFLAGS := $(HOST_LDFLAGS)
endif
HOST_LIBS := -ljson-c -luring -lpthread

all: shale guests

.PHONY: all shale guests run check check-build asan fuzz fuzz-smoke bench clean unit-tests integration

include sdk/sdk.mk
include examples/examples.mk
include src/src.mk
include tests/tests.mk
-include bench/bench.mk

$(B)/%.o: %.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@

$(B)/%.o: %.S
	$(call msg,AS,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@

# `make run` and `make check` first install what they need (as root) or
# print the apt-get command; then they build.
run:
	$(Q)scripts/deps.sh build
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/run-demo.sh $(B)

check:
	$(Q)scripts/deps.sh check
	$(Q)$(MAKE) --no-print-directory check-build
	$(Q)tests/run-all.sh $(B)

# The fuzz smoke runs are left out: the libFuzzer builds are ASan+UBSan
# already. Every sanitizer report goes to a file in $(SAN_LOG), so that one
# from a process whose output no test reads (shaled, a VMM it started)
# fails the run too; reports from the lab's VM show only in its output.
# Only reports count: LeakSanitizer's notes about a thread it could not
# stop while that thread was exiting ("Unable to get registers") are shown,
# not failed on.
SAN_LOG := $(CURDIR)/build-asan/sanitizer
asan:
	$(Q)rm -rf $(SAN_LOG) && mkdir -p $(SAN_LOG) && chmod 1777 $(SAN_LOG)
	$(Q)SHALE_FUZZ_SMOKE=0 ASAN_OPTIONS=log_path=$(SAN_LOG)/asan \
		UBSAN_OPTIONS=log_path=$(SAN_LOG)/ubsan:print_stacktrace=1 \
		$(MAKE) --no-print-directory B=build-asan SAN=1 check; st=$$?; \
	if [ -n "$$(ls -A $(SAN_LOG))" ]; then \
		echo "sanitizer output in $(SAN_LOG):"; cat $(SAN_LOG)/*; \
		if grep -qE 'ERROR: |runtime error' $(SAN_LOG)/*; then exit 1; fi; \
	fi; exit $$st

fuzz-smoke:
	$(Q)tests/fuzz/smoke.sh $(FUZZ_SMOKE_TIME)

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(B) -name '*.d' 2>/dev/null)
