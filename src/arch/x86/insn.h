/*
 * Just enough of an x86 instruction decoder to name what a faulting guest
 * instruction did: the port I/O instructions (SDM vol. 2, IN, INS, OUT,
 * OUTS). The bytes come from guest memory and may be anything.
 */
#ifndef SHALE_ARCH_X86_INSN_H
#define SHALE_ARCH_X86_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define X86_INSN_MAX 15 /* longest legal instruction, prefixes included */

struct x86_pio {
	uint16_t port;
	uint8_t size;	/* 1, 2 or 4 bytes */
	bool in;	/* in/ins, else out/outs */
	bool string;	/* ins/outs */
};

/*
 * Decodes the port I/O instruction at code[0..len), with `dx` the guest's
 * %dx for the forms that take the port from it. False when the bytes are
 * not a port I/O instruction (or are cut off before its end).
 */
bool x86_decode_pio(const uint8_t *code, size_t len, uint16_t dx, struct x86_pio *pio);

/* "outb", "inl", "outsw", ...: the mnemonic of a decoded access. */
const char *x86_pio_name(const struct x86_pio *pio);

#endif
