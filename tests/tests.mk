# Tests: unit (cmocka), fuzz regression, CLI checks without KVM, and the
# integration suite, which runs guests on /dev/kvm or inside the lab.

TEST_GUESTS := $(B)/g/tests/guests/misbehave.elf $(B)/g/tests/guests/abi_check.elf \
	$(B)/g/tests/guests/queue_check.elf $(B)/g/tests/guests/attack.elf

guests: $(TEST_GUESTS)

# Shared by the unit tests and the fuzz seed tool: an ELF image builder.
TEST_ELFGEN := $(B)/tests/support/elfgen.o

-include tests/unit/unit.mk
-include tests/fuzz/fuzz.mk

cli-tests: $(B)/shale guests
	$(Q)tests/integration/cli-tests.sh $(B)/shale $(B)

integration: $(B)/shale guests
	$(Q)tests/integration/check.sh $(B)

check-build: all $(UNIT_TESTS) $(FUZZ_STANDALONE)

malicious: $(B)/shale guests
	$(Q)tests/malicious/check.sh $(B)

.PHONY: cli-tests integration malicious

$(B)/tests/tools/udp_echo_client: tests/tools/udp_echo_client.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) $(HOST_LDFLAGS) -o $@ $<

guests: $(B)/tests/tools/udp_echo_client

# The control socket's test client (integration and Linux tests, also in
# the lab): static, without the sanitizers, as ptyrun.
$(B)/tests/tools/ctl: tests/tools/ctl.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(HOST_CFLAGS)) -static \
		-o $@ $<

guests: $(B)/tests/tools/ctl

# A test tool, not under test, and static; the sanitizers do not link
# statically, so the asan flavour builds it without them.
$(B)/tests/tools/ptyrun: tests/tools/ptyrun.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(HOST_CFLAGS)) -static \
		-o $@ $< -lutil

guests: $(B)/tests/tools/ptyrun

# A canned-answer stand-in for shaled, for the CLI tests of the API clients.
$(B)/tests/tools/fake_shaled: tests/tools/fake_shaled.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) $(HOST_LDFLAGS) -o $@ $<

guests: $(B)/tests/tools/fake_shaled

# A terminal nobody reads, for the malicious-guest suite's console floods:
# static, like ptyrun, so that it also runs in the lab.
$(B)/tests/tools/stallpty: tests/tools/stallpty.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(HOST_CFLAGS)) -static \
		-o $@ $< -lutil

guests: $(B)/tests/tools/stallpty

# Both ends of the virtio-vsock tests: AF_VSOCK in the guest's initramfs,
# AF_UNIX on the host (also in the lab): static, like ptyrun.
$(B)/tests/tools/vsock_echo: tests/tools/vsock_echo.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(HOST_CFLAGS)) -static \
		-o $@ $<

# The Linux guests' attacker (tests/linux/init, shale.test=attack): static,
# for the busybox initramfs, and without the sanitizers.
$(B)/tests/tools/vattack: tests/tools/vattack.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(HOST_CFLAGS)) -static \
		-o $@ $<

guests: $(B)/tests/tools/vsock_echo
guests: $(B)/tests/tools/vattack
