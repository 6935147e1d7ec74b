# Example guests, built with the SDK's generic rules (sdk/sdk.mk), plus a
# native build of the compute kernel to compare guest and host speed.

EXAMPLES := $(patsubst %,$(B)/g/examples/%.elf,\
	hello echo block blockread net compute demo idle)

# What `shale run` runs when given no image.
DEFAULT_GUEST := $(B)/g/examples/demo.elf

guests: $(EXAMPLES) $(B)/examples/compute-native

# Same optimisation level as the guest build, no SDK: the host's libc.
$(B)/examples/compute-native: examples/compute.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O2 $(WARN) -o $@ $<
