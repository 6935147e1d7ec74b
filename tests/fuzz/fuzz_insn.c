/*
 * x86_decode_pio() over bytes a guest chose: the code at the rip of a
 * #GP, which the VMM decodes to name a refused port. The input is
 *
 *   bytes 0-1   the guest's %dx, little-endian
 *   bytes 2-    the code bytes (any length; the decoder looks at 15)
 *
 * The decoder must read nothing past the bytes it is given, and what it
 * accepts must be an in/out form: a width of 1, 2 or 4, the port from the
 * immediate byte or from %dx, and a mnemonic that names them.
 */
#include <string.h>

#include "arch/x86/insn.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x86_pio pio;
	uint8_t *code;
	uint16_t dx;
	size_t len;

	if (size < 2)
		return 0;
	dx = (uint16_t)(data[0] | data[1] << 8);
	len = size - 2;
	/* A copy of exactly len bytes, so ASan sees a read past them. */
	code = malloc(len ? len : 1);
	if (!code)
		abort();
	memcpy(code, data + 2, len);
	if (x86_decode_pio(code, len, dx, &pio)) {
		const char *name = x86_pio_name(&pio);

		FUZZ_CHECK(pio.size == 1 || pio.size == 2 || pio.size == 4);
		FUZZ_CHECK(name && strlen(name) >= 3);
		FUZZ_CHECK(!strncmp(name, pio.in ? "in" : "out", pio.in ? 2 : 3));
		FUZZ_CHECK(pio.string == (strchr(name, 's') != NULL));
		FUZZ_CHECK(name[strlen(name) - 1] == (pio.size == 1 ? 'b' : pio.size == 2 ? 'w' : 'l'));
		if (!pio.string && pio.port != dx)
			FUZZ_CHECK(pio.port <= 0xff);
	}
	free(code);
	return 0;
}
