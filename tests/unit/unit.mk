# Unit tests: one cmocka binary per module, linked against the VMM library.
# They run over fake guest RAM and need no /dev/kvm.
#   make unit-tests                   build and run them all
#   make B=build-asan SAN=1 unit-tests   the same under ASan+UBSan

UNIT_NAMES += gmem iobus elf image hypercall util console x86_pv queue vmdef api_req http evloop \
	ctl_proto sandbox usernet virtq virtio_blk virtio_pci virtio_rng virtio_console vmmfile \
	virtio_balloon
# virtio-vsock, with KVM's routing recorded as for virtio_pci.
UNIT_NAMES += virtio_vsock
UNIT_LIBS_test_virtio_vsock := -Wl,--wrap=irq_msi_alloc,--wrap=irq_msi_set,--wrap=irq_irqfd \
	-Wl,--wrap=irq_ioeventfd
UNIT_NAMES += virtio_net
UNIT_TESTS := $(patsubst %,$(B)/tests/unit/test_%,$(UNIT_NAMES))
# Shared by the tests, not a test: the hand-made VM (fake_vm.h).
UNIT_SUPPORT := $(B)/tests/unit/fake_vm.o

$(UNIT_TESTS): $(B)/tests/unit/%: $(B)/tests/unit/%.o $(UNIT_SUPPORT) $(VMM_LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $^ -lcmocka $(UNIT_LIBS_$*) $(HOST_LIBS)

$(B)/tests/unit/test_elf: $(TEST_ELFGEN)
# The daemon's VM definitions.
$(B)/tests/unit/test_vmdef: $(B)/src/daemon/vmdef.o $(B)/src/usernet/usernet.o $(B)/src/util/json.o
UNIT_LIBS_test_vmdef := -ljson-c
# shaled's routing and metrics.
$(B)/tests/unit/test_api_req: $(B)/src/daemon/api_req.o $(B)/src/daemon/metrics.o \
	$(B)/src/daemon/vmdef.o $(B)/src/usernet/usernet.o $(B)/src/util/json.o
UNIT_LIBS_test_api_req := -ljson-c
# What shaled reads from a VMM's directory.
$(B)/tests/unit/test_vmmfile: $(B)/src/daemon/vmmfile.o $(B)/src/util/json.o
UNIT_LIBS_test_vmmfile := -ljson-c
# KVM's interrupt routing is recorded instead of set up (no /dev/kvm).
UNIT_LIBS_test_virtio_pci := -Wl,--wrap=irq_msi_alloc,--wrap=irq_msi_set,--wrap=irq_irqfd \
	-Wl,--wrap=irq_ioeventfd
UNIT_LIBS_test_virtio_balloon := $(UNIT_LIBS_test_virtio_pci)
UNIT_LIBS_test_virtio_console := $(UNIT_LIBS_test_virtio_pci)
UNIT_LIBS_test_virtio_net := $(UNIT_LIBS_test_virtio_pci)
# The HTTP client is the CLI's, not the VMM library's.
$(B)/tests/unit/test_http: $(B)/src/cli/http.o

# Every binary runs even after one fails, so one run shows every failure.
unit-tests: $(UNIT_TESTS)
	$(Q)failed=; \
	for t in $(UNIT_TESTS); do \
		$$t || failed="$$failed $${t##*/}"; \
	done; \
	if [ -n "$$failed" ]; then echo "unit tests failed:$$failed"; exit 1; fi
