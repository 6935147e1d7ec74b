/*
 * A guest that misbehaves on purpose, one way per argument. Each mode must
 * end the VM with the documented status and a one-line report; none may
 * hang or crash the VMM. Used by tests/integration/run-tests.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shale/guest.h>

typedef void (*fn_t)(void);

static volatile uint64_t sink;

static void out32(uint16_t port, uint32_t v)
{
	__asm__ __volatile__("outl %0, %w1" : : "a"(v), "Nd"(port) : "memory");
}

static void mode_null(void)
{
	sink = *(volatile uint64_t *)0;
}

static void mode_wild(void)
{
	/* Past the end of RAM: unmapped. */
	sink = *(volatile uint64_t *)(shale_boot_info()->mem_size + 0x1000);
}

static void mode_write_text(void)
{
	*(volatile uint8_t *)(uintptr_t)&mode_null = 0xc3;
}

static void mode_exec_heap(void)
{
	uint8_t *p = malloc(64);

	p[0] = 0xc3; /* ret */
	((fn_t)(uintptr_t)p)();
}

static void mode_page_tables(void)
{
	/* The VMM's page tables: supervisor-only, so a user write faults. */
	*(volatile uint64_t *)0x8000 = 0;
}

static void mode_read_vmm(void)
{
	sink = *(volatile uint64_t *)0x2000; /* the GDT */
}

static void mode_clts(void)
{
	__asm__ __volatile__("clts");
}

static void mode_hlt(void)
{
	__asm__ __volatile__("hlt");
}

static void mode_cr3(void)
{
	__asm__ __volatile__("mov %0, %%cr3" : : "r"(0ul));
}

static void mode_wrmsr(void)
{
	__asm__ __volatile__("wrmsr" : : "c"(0xc0000080u), "a"(0), "d"(0));
}

static void mode_lgdt(void)
{
	static const struct __attribute__((packed)) { uint16_t limit; uint64_t base; } d = { 7, 0 };

	__asm__ __volatile__("lgdt %0" : : "m"(d));
}

static void mode_ud2(void)
{
	__asm__ __volatile__("ud2");
}

static void mode_syscall(void)
{
	__asm__ __volatile__("syscall" : : : "rcx", "r11", "memory");
}

static void mode_int(void)
{
	__asm__ __volatile__("int $0x80");
}

static void mode_int3(void)
{
	__asm__ __volatile__("int3");
}

static void mode_div0(void)
{
	uint32_t q, zero = 0;

	/* In assembly: the compiler may legally drop a C division by zero. */
	__asm__ __volatile__("divl %2" : "=a"(q) : "a"(1u), "r"(zero), "d"(0u));
	sink = q;
}

static void mode_port(void)
{
	out32(0x80, 0); /* no device there */
}

static void mode_port_in_low(void)
{
	uint8_t v;

	__asm__ __volatile__("inb $0x61, %0" : "=a"(v)); /* the PC's system port */
	sink = v;
}

static void mode_port_in(void)
{
	uint32_t v;

	__asm__ __volatile__("inl %w1, %0" : "=a"(v) : "Nd"(SHALE_HC_PORT(SHALE_HC_CLOCK)));
	sink = v;
}

static void mode_hc_unknown(void)
{
	out32(SHALE_HC_PORT(40), 0x1000);
}

static void mode_hc_struct(void)
{
	/* Argument struct beyond RAM: no place to put an error. */
	out32(SHALE_HC_PORT(SHALE_HC_CLOCK), 0xfffffff0u);
}

/*
 * Hypercalls asked to write where the guest itself may not: the VMM's page
 * tables and the guest's own code. Both are refused (the guest exits 0 if
 * so); the argument struct in read-only data ends the VM.
 */
static void mode_hc_guarded(void)
{
	int64_t pt = shale_random((void *)(uintptr_t)0x8000, 64);
	int64_t text = shale_random((void *)(uintptr_t)&mode_hc_guarded, 16);

	printf("hc-guarded page-tables %lld text %lld\n", (long long)pt, (long long)text);
	shale_exit(pt == SHALE_EFAULT && text == SHALE_EFAULT ? 0 : 1);
}

static void mode_hc_struct_ro(void)
{
	static const struct shale_hc_clock ro = { 1, 1 }; /* in .rodata */

	out32(SHALE_HC_PORT(SHALE_HC_CLOCK), (uint32_t)(uintptr_t)&ro);
}

/* Prints for ever: into a pipe nobody reads, its writes block. */
static void mode_spam(void)
{
	for (unsigned long i = 0;; i++)
		printf("spam line %lu: nobody reads this\n", i);
}

static void mode_hc_byte(void)
{
	__asm__ __volatile__("outb %0, %w1" : : "a"((uint8_t)0), "Nd"(SHALE_HC_PORT(SHALE_HC_NOP)));
}

static void mode_exc_port(void)
{
	out32(SHALE_HC_PORT(SHALE_HC_EXCEPTION), 0);
}

static void mode_loop(void)
{
	for (;;)
		sink++;
}

/* A line every 10 ms: "tick N", for tests that watch the guest make progress. */
static void mode_count(void)
{
	for (unsigned long i = 0;; i++) {
		printf("tick %lu\n", i);
		shale_poll(shale_clock_monotonic_ns() + 10000000ull, 0);
	}
}

static void mode_sleep(void)
{
	/* Blocks inside the VMM (poll hypercall) until stopped. */
	for (;;)
		shale_poll(UINT64_MAX, 0);
}

static volatile int keep_going = 1;

static void mode_stack(void);
static void mode_stack(void)
{
	volatile char pad[4096];

	/* Recurses until the stack runs off its bottom. */
	pad[0] = 1;
	if (keep_going)
		mode_stack();
	sink = pad[0];
}

static void mode_exit(void)
{
	shale_exit(42);
}

static void mode_exit_big(void)
{
	shale_exit(0x12345);
}

static const struct {
	const char *name;
	fn_t fn;
} modes[] = {
	{ "null", mode_null }, { "wild", mode_wild }, { "write-text", mode_write_text },
	{ "exec-heap", mode_exec_heap }, { "page-tables", mode_page_tables },
	{ "read-vmm", mode_read_vmm }, { "clts", mode_clts }, { "hlt", mode_hlt },
	{ "cr3", mode_cr3 }, { "wrmsr", mode_wrmsr }, { "lgdt", mode_lgdt },
	{ "ud2", mode_ud2 }, { "syscall", mode_syscall }, { "int", mode_int },
	{ "int3", mode_int3 }, { "div0", mode_div0 }, { "port", mode_port },
	{ "port-in", mode_port_in }, { "port-in-low", mode_port_in_low }, { "hc-unknown", mode_hc_unknown },
	{ "hc-struct", mode_hc_struct }, { "hc-byte", mode_hc_byte },
	{ "hc-guarded", mode_hc_guarded }, { "hc-struct-ro", mode_hc_struct_ro },
	{ "spam", mode_spam },
	{ "exc-port", mode_exc_port }, { "loop", mode_loop }, { "sleep", mode_sleep },
	{ "count", mode_count },
	{ "stack", mode_stack }, { "exit", mode_exit }, { "exit-big", mode_exit_big },
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		printf("usage: misbehave MODE\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!strcmp(argv[1], modes[i].name)) {
			modes[i].fn();
			printf("misbehave: %s did not stop the VM\n", argv[1]);
			return 3;
		}
	}
	printf("misbehave: unknown mode %s\n", argv[1]);
	return 2;
}
