/*
 * `shale host`: what this host's KVM is (src/vmm/host.c), which guest
 * kinds run on it, and what one VM exit costs here, measured the way a
 * para-virtual guest pays it.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include <shale/abi/hypercall.h>

#include "arch/x86/pv.h"
#include "cli/cli.h"
#include "loader/elf.h"
#include "util/util.h"
#include "vmm/host.h"
#include "vmm/sandbox.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * The probe: at most PROBE_EXITS timed exits after PROBE_WARMUP untimed
 * ones, and no more than PROBE_BUDGET_NS of them: ~2 ms on VMX or SVM,
 * ~250 ms on PVM, where an exit costs ~100 us. A vCPU that stops exiting
 * is given up after PROBE_WATCHDOG_S.
 */
#define PROBE_MEMORY (4 * MiB)
#define PROBE_EXITS 2000
#define PROBE_WARMUP 20
#define PROBE_MIN_EXITS 10
#define PROBE_BUDGET_NS (400 * 1000000ull)
#define PROBE_WATCHDOG_S 2
#define PROBE_PORT SHALE_HC_PORT_BASE /* SHALE_HC_NOP */

_Static_assert(SHALE_HC_NOP == 0, "the probe writes the NOP hypercall's port");

/* The guest: a null hypercall, forever. */
extern const unsigned char host_probe_guest[], host_probe_guest_end[];
__asm__(".pushsection .rodata\n"
	".globl host_probe_guest, host_probe_guest_end\n"
	"host_probe_guest:\n"
	"	mov $" STR(SHALE_HC_PORT_BASE) ", %edx\n"
	"1:	outl %eax, %dx\n"
	"	jmp 1b\n"
	"host_probe_guest_end:\n"
	".popsection\n");

struct exit_probe {
	uint64_t median_ns;
	unsigned samples;
	char error[160]; /* empty when measured */
};

static volatile sig_atomic_t probe_expired;

static void probe_alarm(int sig)
{
	(void)sig;
	probe_expired = 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Why the probe stopped at an exit that is not its port write. */
static void unexpected_exit(struct vcpu *vcpu, struct exit_probe *p)
{
	const struct kvm_run *run = vcpu->run;

	if (run->exit_reason != KVM_EXIT_IO) {
		snprintf(p->error, sizeof(p->error),
			 "the probe vCPU exited with KVM exit reason %u, not a port write",
			 run->exit_reason);
		return;
	}
	if (run->io.port != SHALE_HC_PORT(SHALE_HC_EXCEPTION)) {
		snprintf(p->error, sizeof(p->error), "the probe vCPU accessed port 0x%x, not 0x%x",
			 run->io.port, PROBE_PORT);
		return;
	}
	/* An exception stub reports through its port: x86_pv_exception says which. */
	x86_pv_exception(vcpu);
	snprintf(p->error, sizeof(p->error), "the probe vCPU took an exception (reported on stderr)");
}

/* KVM_RUN until PROBE_EXITS samples are taken or something else happens. */
static void probe_loop(struct vcpu *vcpu, uint64_t *sample, struct exit_probe *p)
{
	struct kvm_run *run = vcpu->run;
	uint64_t start = clock_monotonic_ns(), prev = start, now;

	for (unsigned i = 0; p->samples < PROBE_EXITS; i++) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR && !probe_expired)
				continue;
			if (probe_expired)
				snprintf(p->error, sizeof(p->error),
					 "the probe vCPU stopped exiting for %d s",
					 PROBE_WATCHDOG_S);
			else
				snprintf(p->error, sizeof(p->error), "KVM_RUN: %s",
					 strerror(errno));
			return;
		}
		now = clock_monotonic_ns();
		if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
		    run->io.port != PROBE_PORT) {
			unexpected_exit(vcpu, p);
			return;
		}
		if (i >= PROBE_WARMUP)
			sample[p->samples++] = now - prev;
		prev = now;
		if (now - start > PROBE_BUDGET_NS)
			return;
	}
}

/*
 * One VM whose vCPU is set up as a para-virtual guest's is (CPL 3, IOPL 0,
 * the hypercall ports open in the TSS I/O bitmap: x86_pv_setup_*) runs a
 * loop of null hypercalls; the time from one KVM_RUN return to the next
 * is one round trip, guest to shale and back. Reports the median.
 */
static void measure_exit(struct exit_probe *p)
{
	static uint64_t sample[PROBE_EXITS];
	size_t code_size = (size_t)(host_probe_guest_end - host_probe_guest);
	struct elf_image img = {
		.entry = SHALE_IMAGE_BASE,
		.lo = SHALE_IMAGE_BASE,
		.hi = SHALE_IMAGE_BASE + 4096,
		.seg[0] = {
			.vaddr = SHALE_IMAGE_BASE,
			.memsz = 4096,
			.filesz = code_size,
			.prot = ELF_PROT_R | ELF_PROT_X,
		},
		.nr_segs = 1,
	};
	struct sigaction sa = { .sa_handler = probe_alarm }, old_sa;
	struct itimerval watchdog = { .it_value.tv_sec = PROBE_WATCHDOG_S }, off = { 0 };
	struct pv_layout layout;
	struct vcpu *vcpu;
	struct vm vm;
	void *code;
	int ret;

	*p = (struct exit_probe){ 0 };
	ret = vm_create(&vm);
	if (!ret)
		ret = vm_add_ram(&vm, PROBE_MEMORY, VM_NO_HOLE);
	if (!ret) {
		code = gmem_ptr(&vm.gmem, SHALE_IMAGE_BASE, code_size);
		if (!code)
			die("the probe's code page is outside its RAM");
		memcpy(code, host_probe_guest, code_size);
		ret = x86_pv_setup_memory(&vm.gmem, PROBE_MEMORY, &img, &layout);
	}
	if (!ret)
		ret = vcpu_create(&vm, 0, &vcpu);
	if (!ret)
		ret = x86_pv_setup_vcpu(&vm, vcpu, img.entry, layout.stack_top, 0);
	if (ret) {
		snprintf(p->error, sizeof(p->error), "cannot build the probe VM: %s",
			 strerror(-ret));
		vm_destroy(&vm);
		return;
	}

	/* No SA_RESTART: the watchdog must end a KVM_RUN that never exits. */
	probe_expired = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old_sa);
	setitimer(ITIMER_REAL, &watchdog, NULL);
	probe_loop(vcpu, sample, p);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old_sa, NULL);
	vm_destroy(&vm);

	if (!p->error[0] && p->samples < PROBE_MIN_EXITS)
		snprintf(p->error, sizeof(p->error), "only %u exits in %llu ms", p->samples,
			 (unsigned long long)(PROBE_BUDGET_NS / 1000000));
	if (p->error[0]) {
		p->samples = 0;
		return;
	}
	qsort(sample, p->samples, sizeof(sample[0]), cmp_u64);
	p->median_ns = p->samples % 2 ? sample[p->samples / 2] :
		       (sample[p->samples / 2 - 1] + sample[p->samples / 2]) / 2;
}

/* A JSON string (RFC 8259 §7), or null for NULL. */
static void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c < 0x20)
			fprintf(f, "\\u%04x", *c);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

static const char *pv_why_not(const struct host_info *h)
{
	switch (h->kind) {
	case HOST_NONE:
		return "this host has no KVM";
	case HOST_INACCESSIBLE:
		return HOST_KVM_DEVICE " cannot be opened";
	default:
		return "untested on a KVM that shale does not know";
	}
}

static void print_json(const struct host_info *h, const struct exit_probe *p)
{
	printf("{\"kind\":");
	json_str(stdout, host_kind_name(h->kind));
	printf(",\"device\":");
	json_str(stdout, h->device);
	printf(",\"module\":");
	json_str(stdout, h->module);
	printf(",\"accessible\":%s,\"pvm_confirmed\":%s,\"reason\":",
	       h->accessible ? "true" : "false", h->pvm_confirmed ? "true" : "false");
	json_str(stdout, h->reason);
	printf(",\"pv_guests\":%s,\"linux_guests\":%s,\"linux_guests_reason\":",
	       host_runs_pv(h) ? "true" : "false", host_runs_linux(h) ? "true" : "false");
	json_str(stdout, host_linux_why_not(h));
	if (p->samples)
		printf(",\"exit_round_trip_ns\":%llu", (unsigned long long)p->median_ns);
	else
		printf(",\"exit_round_trip_ns\":null");
	printf(",\"exit_samples\":%u,\"exit_error\":", p->samples);
	json_str(stdout, p->error[0] ? p->error : NULL);
	printf(",\"landlock_abi\":%d,\"jail\":\"%s\"}\n", sandbox_landlock_abi(),
	       sandbox_landlock_abi() ? "landlock" : "mount");
}

static void print_text(const struct host_info *h, const struct exit_probe *p)
{
	const char *state = h->accessible ? "accessible" :
			    h->kind == HOST_INACCESSIBLE ? "cannot be opened" : "absent";
	const char *linux_no = host_linux_why_not(h);

	printf("kind:                %s\n", host_kind_name(h->kind));
	printf("device:              %s (%s)\n", h->device, state);
	printf("module:              %s\n", h->module ? h->module : "-");
	printf("reason:              %s\n", h->reason);
	if (host_runs_pv(h))
		printf("para-virtual guests: yes\n");
	else
		printf("para-virtual guests: no: %s\n", pv_why_not(h));
	if (!linux_no)
		printf("Linux guests:        yes (shale run --kernel)\n");
	else
		printf("Linux guests:        no: %s; %s\n", linux_no, HOST_LINUX_ELSEWHERE);
	if (p->samples) {
		double us = (double)p->median_ns / 1000.0;

		printf("VM exit round trip:  %.*f us (median of %u port writes from ring 3 to shale"
		       " and back)\n", us < 10 ? 2 : 1, us, p->samples);
	} else if (p->error[0]) {
		printf("VM exit round trip:  not measured: %s\n", p->error);
	} else {
		printf("VM exit round trip:  not measured: no usable %s\n", h->device);
	}
	if (sandbox_landlock_abi())
		printf("sandbox jail:        Landlock (ABI %d)\n", sandbox_landlock_abi());
	else
		printf("sandbox jail:        a mount namespace (this kernel has no Landlock)\n");
}

static void host_usage(FILE *f)
{
	fprintf(f,
		"Usage: shale host [--json | --kind]\n"
		"\n"
		"Says what this host's KVM is, which kinds of guest shale runs on it, and\n"
		"what one VM exit costs here: the median round trip of a null hypercall\n"
		"from ring 3 to shale and back (a tiny VM, well under a second).\n"
		"\n"
		"Kinds of KVM:\n"
		"  vmx           kvm_intel: para-virtual and Linux guests\n"
		"  svm           kvm_amd: para-virtual and Linux guests\n"
		"  pvm           kvm_pvm: guest ring 0 is emulated, so para-virtual guests\n"
		"                only; Linux guests run in the lab (tests/lab/lab.sh)\n"
		"  none          no /dev/kvm\n"
		"  inaccessible  /dev/kvm exists but cannot be opened (permissions)\n"
		"  unknown       a /dev/kvm that none of those modules serves\n"
		"\n"
		"Options:\n"
		"      --json   one JSON object on one line, for scripts\n"
		"      --kind   only the kind, one word; measures nothing\n"
		"  -h, --help   show this help\n"
		"\n"
		"Exit status: 0 when the host was examined, whatever it offers; 2 on a bad\n"
		"option.\n");
}

int cmd_host(int argc, char **argv)
{
	enum { OPT_JSON = 256, OPT_KIND };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "kind", no_argument, NULL, OPT_KIND },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool json = false, kind_only = false;
	struct exit_probe probe = { 0 };
	struct host_info h;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_KIND:
			kind_only = true;
			break;
		case 'h':
			host_usage(stdout);
			return 0;
		default:
			if (optopt && optopt < 256)
				log_err("host: unknown option '-%c' (see 'shale host --help')",
					optopt);
			else
				log_err("host: bad option '%s' (see 'shale host --help')",
					argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		log_err("host: unexpected argument '%s' (see 'shale host --help')", argv[optind]);
		return 2;
	}
	if (json && kind_only) {
		log_err("host: --json and --kind exclude each other");
		return 2;
	}

	host_detect(&h, HOST_PROBE);
	if (kind_only) {
		printf("%s\n", host_kind_name(h.kind));
		return 0;
	}
	if (h.accessible)
		measure_exit(&probe);
	if (json)
		print_json(&h, &probe);
	else
		print_text(&h, &probe);
	return 0;
}
