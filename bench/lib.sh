# Helpers shared by bench/suite.sh and bench/boot.sh (POSIX sh: they also run
# under busybox in the lab, where both stage this file next to themselves).

# Median of the numbers given as arguments.
# shellcheck disable=SC2317 # called through eval
median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Smallest of the numbers given as arguments.
minimum() { printf '%s\n' "$@" | sort -n | head -n 1; }

# calc EXPR [printf format]: floating-point arithmetic through awk.
calc() { awk "BEGIN { printf \"${2:-%.2f}\", $1 }"; }

# field NAME FILE: the value after the word NAME ("NAME 12" or "NAME=12") on
# the first line that has one.
field() {
	awk -F'[ =]+' -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' "$2"
}

# verdict OK_EXPR: PASS when the awk expression is true, else MISS.
verdict() { awk "BEGIN { exit !($1) }" && echo PASS || echo MISS; }

# row NAME SHALE BASELINE RATIO GOAL VERDICT: one line of the results table.
row() { printf '%s|%s|%s|%s|%s|%s\n' "$@" >>"$TABLE"; }

# print_results: the table in $TABLE as aligned RESULT lines, with a word on
# the lab when LAB=1 and on PVM when KIND=pvm.
print_results() {
	echo "== results"
	{
		echo "benchmark|shale|baseline|ratio|goal|verdict"
		cat "$TABLE"
	} | awk -F'|' '
		{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
		END {
			for (r = 1; r <= NR; r++) {
				line = "RESULT "
				for (i = 1; i <= 6; i++) line = line sprintf("%-" (w[i] + 2) "s", c[r, i])
				sub(/ +$/, "", line)
				print line
			}
		}'
	if [ "$LAB" = 1 ]; then
		echo "RESULT (lab: nested SVM under QEMU TCG; absolute times are not those of a KVM host)"
	elif [ "${KIND:-}" = pvm ]; then
		echo "RESULT (PVM host: guest ring 3 runs natively, but a VM exit costs ~100x a VMX/SVM exit)"
	fi
}

# show_environment: the "== environment" block: what bench/run.sh or boot.sh
# recorded of the host (env.txt in $D), where the benchmark runs (LAB=1: in
# the lab's L1) and what `$SHALE host` says of the KVM there: its kind,
# module and the cost of one VM exit.
show_environment() {
	echo "== environment"
	[ -f "$D/env.txt" ] && sed 's/^/  /' "$D/env.txt"
	if [ "$LAB" = 1 ]; then
		echo "  running in: the lab's L1 (Linux $(uname -r), CPUs: $(nproc)," \
			"$(awk '/^MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo))," \
			"guests are L2 under nested SVM"
	else
		echo "  running in: this host's /dev/kvm (Linux $(uname -r), $(nproc) CPUs)"
	fi
	echo "  kvm (shale host):"
	"$SHALE" host 2>&1 | sed 's/^/    /'
	if [ -d /sys/module/kvm_amd ]; then
		echo "  kvm_amd: npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)" \
			"nested=$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null)"
	elif [ -d /sys/module/kvm_intel ]; then
		echo "  kvm_intel: ept=$(cat /sys/module/kvm_intel/parameters/ept 2>/dev/null)"
	fi
}
