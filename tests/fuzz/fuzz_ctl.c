/*
 * The control socket's request parser (vmm/ctl_proto.c) over any line a
 * client may send: it never crashes, never reads past `len` (the input is
 * copied to a buffer of exactly that size), always says why it refused,
 * and accepts a line only as one of the ops, which it then names back;
 * an op's number only from a JSON object, and in range.
 */
#include <string.h>

#include "fuzz.h"
#include "vmm/ctl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size ? size : 1);
	char why[256];
	enum ctl_op op = CTL_OP_NR;
	enum ctl_parse r;

	if (!line)
		abort();
	memcpy(line, data, size);
	why[0] = '\0';
	r = ctl_parse_request(line, size, &op, why, sizeof(why));
	switch (r) {
	case CTL_PARSE_OK:
		FUZZ_CHECK(op < CTL_OP_NR);
		FUZZ_CHECK(size <= CTL_LINE_MAX);
		FUZZ_CHECK(memmem(line, size, ctl_op_name(op), 1) || memchr(line, '\\', size));
		break;
	case CTL_PARSE_BAD_REQUEST:
	case CTL_PARSE_BAD_JSON:
		FUZZ_CHECK(why[0] != '\0');
		FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
		break;
	default:
		FUZZ_CHECK(0);
	}
	/* An op's number (balloon's target_mib): in range when taken, a reason when not. */
	uint64_t v = 0;

	why[0] = '\0';
	if (!ctl_parse_uint(line, size, "target_mib", 1u << 20, &v, why, sizeof(why)))
		FUZZ_CHECK(r != CTL_PARSE_BAD_JSON && v <= 1u << 20);
	else
		FUZZ_CHECK(why[0] != '\0');
	free(line);
	return 0;
}
