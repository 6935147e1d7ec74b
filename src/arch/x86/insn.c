#include "arch/x86/insn.h"

static bool is_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65: /* segment */
	case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
		return true;
	default:
		return false;
	}
}

bool x86_decode_pio(const uint8_t *code, size_t len, uint16_t dx, struct x86_pio *pio)
{
	bool opsize = false;
	size_t i = 0;
	uint8_t op;

	if (len > X86_INSN_MAX)
		len = X86_INSN_MAX;
	for (; i < len && is_prefix(code[i]); i++)
		opsize |= code[i] == 0x66;
	/* REX, legal only right before the opcode; W does not widen port I/O. */
	if (i < len && (code[i] & 0xf0) == 0x40)
		i++;
	if (i >= len)
		return false;
	op = code[i];

	switch (op) {
	case 0xe4: case 0xe5: case 0xe6: case 0xe7: /* in/out with imm8 port */
		if (i + 1 >= len)
			return false;
		pio->port = code[i + 1];
		pio->string = false;
		break;
	case 0xec: case 0xed: case 0xee: case 0xef: /* in/out with the port in dx */
		pio->port = dx;
		pio->string = false;
		break;
	case 0x6c: case 0x6d: case 0x6e: case 0x6f: /* ins/outs */
		pio->port = dx;
		pio->string = true;
		break;
	default:
		return false;
	}
	/* In all three pairs of pairs: bit 0 clear is the byte form, bit 1 set is out. */
	pio->size = !(op & 1) ? 1 : opsize ? 2 : 4;
	pio->in = !(op & 2);
	return true;
}

const char *x86_pio_name(const struct x86_pio *pio)
{
	static const char *const names[2][2][3] = {
		{ { "outb", "outw", "outl" }, { "inb", "inw", "inl" } },
		{ { "outsb", "outsw", "outsl" }, { "insb", "insw", "insl" } },
	};
	unsigned w = pio->size == 1 ? 0 : pio->size == 2 ? 1 : 2;

	return names[pio->string][pio->in][w];
}
