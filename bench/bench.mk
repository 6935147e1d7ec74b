# Benchmarks (docs/benchmarks.md): three host tools, two guests built with
# the SDK's generic rules (sdk/sdk.mk), and `make bench`, which runs them
# with bench/run.sh on this host's /dev/kvm or, without one, in the lab.
# `make bench-boot` runs only the Linux boot benchmark (bench/boot.sh);
# `make bench-io` the block I/O one, full against para-virtual (bench/io.sh);
# `make plot` draws docs/full-vs-para.png from its results (bench/plot.sh).
# `make bench-net` a Linux guest's network throughput (bench/net.sh).

BENCH_TOOLS := $(B)/bench/spawn $(B)/bench/hcloop $(B)/bench/boottime $(B)/bench/apiload
BENCH_GUESTS := $(B)/g/bench/guests/nop.elf $(B)/g/bench/guests/touch.elf

$(BENCH_TOOLS): $(B)/bench/%: bench/%.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) $(HOST_LDFLAGS) -o $@ $<

bench-build: all $(BENCH_TOOLS) $(BENCH_GUESTS)

bench: bench-build
	$(Q)bench/run.sh $(B)

bench-boot: all $(B)/bench/boottime
	$(Q)bench/boot.sh $(B)

# The management daemon: VM lifecycles per second and idle-VM density.
bench-daemon: bench-build
	$(Q)bench/daemon.sh $(B)

bench-io: all $(B)/g/examples/blockread.elf
	$(Q)bench/io.sh $(B)

plot:
	$(Q)command -v gnuplot >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null
	$(Q)bench/plot.sh $(B)/bench/io-results.log docs/full-vs-para.png

.PHONY: bench-build bench-boot bench-daemon bench-io plot

# Linux guests' network throughput on the user-mode network, shale against QEMU.
bench-net: all
	$(Q)bench/net.sh $(B)

.PHONY: bench-net
