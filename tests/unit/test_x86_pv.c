/*
 * The x86 pieces of a para-virtual guest that the guest can reach: the TSS
 * I/O permission bitmap (exactly the hypercall ports open) and the decoder
 * that names the port of a refused in/out from guest code bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <shale/abi/hypercall.h>

#include "arch/x86/insn.h"
#include "arch/x86/pv.h"
#include "fake_vm.h"
#include "util/util.h"

#define TSS_GPA 0x2100u
#define GDT_GPA 0x2000u
#define SEL_TSS 0x28u

/* What the CPU does with an access of `size` bytes at `port` (SDM 19.5.2). */
static bool port_allowed(const uint8_t *tss, uint32_t limit, unsigned port, unsigned size)
{
	uint16_t base = (uint16_t)(tss[102] | tss[103] << 8);
	uint32_t byte = base + port / 8;

	if (byte + 1 > limit)
		return false;
	unsigned bits = tss[byte] | tss[byte + 1] << 8;
	return !((bits >> (port % 8)) & ((1u << size) - 1));
}

static void tss_bitmap(void **state)
{
	struct fake_vm fv;
	struct elf_image img = {
		.entry = SHALE_IMAGE_BASE, .lo = SHALE_IMAGE_BASE, .hi = SHALE_IMAGE_BASE + 4096,
		.nr_segs = 1,
		.seg[0] = { .vaddr = SHALE_IMAGE_BASE, .memsz = 4096, .prot = ELF_PROT_R | ELF_PROT_X },
	};
	struct pv_layout layout;
	uint64_t desc;

	assert_int_equal(fake_vm_init(&fv, 16 * MiB), 0);
	assert_int_equal(x86_pv_setup_memory(&fv.vm.gmem, 16 * MiB, &img, &layout), 0);

	memcpy(&desc, fv.ram + GDT_GPA + SEL_TSS, 8);
	uint32_t limit = (uint32_t)((desc & 0xffff) | ((desc >> 32) & 0xf0000));
	assert_int_equal((desc >> 16) & 0xffffff, TSS_GPA);
	const uint8_t *tss = fv.ram + TSS_GPA;

	for (unsigned port = 0; port < 0x10000; port++) {
		for (unsigned size = 1; size <= 4; size *= 2) {
			bool want = port >= SHALE_HC_PORT_BASE &&
				    port + size <= SHALE_HC_PORT_BASE + SHALE_HC_MAX;

			if (port_allowed(tss, limit, port, size) != want)
				fail_msg("port 0x%x, %u bytes: allowed %d, want %d", port, size,
					 !want, want);
		}
	}
	fake_vm_destroy(&fv);
}

static void pio_ok(const uint8_t *code, size_t len, uint16_t dx, unsigned port, unsigned size,
		   bool in, bool string, const char *name)
{
	struct x86_pio pio;

	assert_true(x86_decode_pio(code, len, dx, &pio));
	assert_int_equal(pio.port, port);
	assert_int_equal(pio.size, size);
	assert_int_equal(pio.in, in);
	assert_int_equal(pio.string, string);
	assert_string_equal(x86_pio_name(&pio), name);
}

static void decode_forms(void **state)
{
	pio_ok((const uint8_t[]){ 0xe6, 0x80 }, 2, 0, 0x80, 1, false, false, "outb");
	pio_ok((const uint8_t[]){ 0xe7, 0x70 }, 2, 0, 0x70, 4, false, false, "outl");
	pio_ok((const uint8_t[]){ 0x66, 0xe7, 0x70 }, 3, 0, 0x70, 2, false, false, "outw");
	pio_ok((const uint8_t[]){ 0xe4, 0x61 }, 2, 0, 0x61, 1, true, false, "inb");
	pio_ok((const uint8_t[]){ 0xe5, 0x61 }, 2, 0, 0x61, 4, true, false, "inl");
	pio_ok((const uint8_t[]){ 0xee }, 1, 0x3f8, 0x3f8, 1, false, false, "outb");
	pio_ok((const uint8_t[]){ 0xef }, 1, 0xcf8, 0xcf8, 4, false, false, "outl");
	pio_ok((const uint8_t[]){ 0xec }, 1, 0x64, 0x64, 1, true, false, "inb");
	pio_ok((const uint8_t[]){ 0x66, 0xed }, 2, 0x1f0, 0x1f0, 2, true, false, "inw");
	pio_ok((const uint8_t[]){ 0xf3, 0x6e }, 2, 0x3f8, 0x3f8, 1, false, true, "outsb");
	pio_ok((const uint8_t[]){ 0xf3, 0x6f }, 2, 0x1f0, 0x1f0, 4, false, true, "outsl");
	pio_ok((const uint8_t[]){ 0x6c }, 1, 0x60, 0x60, 1, true, true, "insb");
	pio_ok((const uint8_t[]){ 0x66, 0x6d }, 2, 0x60, 0x60, 2, true, true, "insw");
	/* REX.W does not widen port I/O; segment and address-size prefixes do nothing. */
	pio_ok((const uint8_t[]){ 0x48, 0xef }, 2, 0x500, 0x500, 4, false, false, "outl");
	pio_ok((const uint8_t[]){ 0x2e, 0x67, 0x66, 0x41, 0xef }, 5, 7, 7, 2, false, false, "outw");
}

static void decode_refuses(void **state)
{
	struct x86_pio pio;
	uint8_t prefixes[X86_INSN_MAX + 1];

	assert_false(x86_decode_pio((const uint8_t[]){ 0x0f, 0x0b }, 2, 0, &pio)); /* ud2 */
	assert_false(x86_decode_pio((const uint8_t[]){ 0xcd, 0x80 }, 2, 0, &pio)); /* int */
	assert_false(x86_decode_pio((const uint8_t[]){ 0xe6 }, 1, 0, &pio)); /* cut off */
	assert_false(x86_decode_pio((const uint8_t[]){ 0x66 }, 1, 0, &pio));
	assert_false(x86_decode_pio(NULL, 0, 0, &pio));
	/* REX then a prefix is not a legal order, and REX twice neither. */
	assert_false(x86_decode_pio((const uint8_t[]){ 0x48, 0x66, 0xef }, 3, 0, &pio));
	assert_false(x86_decode_pio((const uint8_t[]){ 0x48, 0x48, 0xef }, 3, 0, &pio));
	/* Past 15 bytes there is no instruction, whatever follows. */
	memset(prefixes, 0x66, sizeof(prefixes));
	prefixes[X86_INSN_MAX] = 0xef;
	assert_false(x86_decode_pio(prefixes, sizeof(prefixes), 0, &pio));
	prefixes[X86_INSN_MAX - 1] = 0xef;
	assert_true(x86_decode_pio(prefixes, sizeof(prefixes), 0, &pio));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tss_bitmap),
		cmocka_unit_test(decode_forms),
		cmocka_unit_test(decode_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
