#!/bin/sh
# Draws docs/full-vs-para.png from the RESULT lines of a `make bench-io`
# run (BUILD_DIR/bench/io-results.log): on the left, how much faster each
# para-virtual path moves the same bytes than its twin (the ratio column);
# on the right, the VM exits each one costs per KiB, on a log scale. Rows
# that the run did not produce (a FAILED one, a device not benchmarked)
# are left out; the picture says which run it comes from.
#
# usage: bench/plot.sh [RESULTS_LOG [OUT.png]]
#   defaults: build/bench/io-results.log, docs/full-vs-para.png
# Needs gnuplot (Debian: gnuplot-nox); `make plot` runs this.
set -eu
log=${1:-build/bench/io-results.log}
out=${2:-docs/full-vs-para.png}
command -v gnuplot >/dev/null 2>&1 || {
	echo "plot: gnuplot is not installed (as root: apt-get install -y gnuplot-nox)" >&2
	exit 1
}
[ -r "$log" ] || { echo "plot: no results in $log (run make bench-io first)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The table's columns are separated by two blanks or more.
awk -v ratios="$tmp/ratios" -v exits="$tmp/exits" '
	# "qemu: 497 MB/s", "hvc0: 1.9", "0.89x": the number.
	function num(s) { sub(/^[^:]*: */, "", s); sub(/^[^0-9.]*/, "", s); return s + 0 }
	/^RESULT / && !/^RESULT benchmark/ {
		line = substr($0, 8)
		n = split(line, c, /  +/)
		name = c[1]
		if (n < 4 || c[2] == "FAILED") next
		if (name == "console output, virtio-console")
			printf "\"console:\\nhvc0 vs UART\" %s\n", num(c[4]) >ratios
		else if (name == "Linux block read, virtio-blk")
			printf "\"Linux block read:\\nshale vs QEMU\" %s\n", num(c[4]) >ratios
		else if (name == "para-virtual block read, queue")
			printf "\"block read: PV queue\\nvs Linux virtio-blk\" %s\n", num(c[4]) >ratios
		else if (name ~ /^Linux network/)
			printf "\"%s:\\nshale vs QEMU\" %s\n", substr(name, 7), num(c[4]) >ratios
		else if (name == "VM exits per KiB, console") {
			printf "\"console, UART\" %s\n", num(c[3]) >exits
			printf "\"console, hvc0\" %s\n", num(c[2]) >exits
		} else if (name == "VM exits per MiB, Linux virtio-blk")
			printf "\"block, Linux virtio-blk\" %s\n", num(c[2]) / 1024 >exits
		else if (name == "VM exits per MiB, para-virtual v1") {
			printf "\"block, PV v1 calls\" %s\n", num(c[2]) / 1024 >exits
			printf "\"block, PV queue\" %s\n", num(c[3]) / 1024 >exits
		}
	}' "$log"
[ -s "$tmp/ratios" ] && [ -s "$tmp/exits" ] ||
	{ echo "plot: $log has no full-vs-para RESULT rows" >&2; exit 1; }
when=$(sed -n 's/^ *date: //p' "$log" | head -n 1)
src=$(sed -n 's/^ *source: //p' "$log" | head -n 1)

gnuplot <<PLOT
set terminal pngcairo size 1200,520 font "sans,10" noenhanced
set output "$out"
set multiplot layout 1,2 title "Full against para-virtual I/O in shale ($when, $src)"
set style fill solid 0.8 border -1
set boxwidth 0.6
set grid ytics
set xtics rotate by -30 left nomirror
set logscale y
set title "para-virtual path's throughput / its twin's (x)"
set yrange [0.1:*]
plot "$tmp/ratios" using 0:2:xtic(1) with boxes lc rgb "#3b7dd8" notitle, \
	1 with lines lc rgb "#888888" dt 2 notitle
set title "VM exits per KiB moved"
set yrange [0.0001:*]
plot "$tmp/exits" using 0:2:xtic(1) with boxes lc rgb "#d8623b" notitle
unset multiplot
PLOT
echo "plot: wrote $out from $log"
