/*
 * shaled's parser of a VMM's exit record (daemon/vmmfile.c), which the
 * VMM writes and so, once taken over, its guest: any input is refused
 * with a message or accepted, and an accepted one holds a reason the VMM
 * gives, a status of 0-255 and a message of printable bytes within its
 * bounds, and parses again to the same record.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "daemon/vmmfile.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_exit ex, again;
	char err[256];
	json_object *o;
	const char *text;

	err[0] = '\0';
	if (vmmfile_exit_parse((const char *)data, size, &ex, err, sizeof(err))) {
		FUZZ_CHECK(err[0]);
		FUZZ_CHECK(ex.status == -1 && !ex.reason[0] && !ex.message[0]);
		return 0;
	}
	FUZZ_CHECK(size <= VMMFILE_EXIT_MAX);
	FUZZ_CHECK(ex.status >= 0 && ex.status <= 255);
	FUZZ_CHECK(strlen(ex.reason) < sizeof(ex.reason) && ex.reason[0]);
	FUZZ_CHECK(strlen(ex.message) < sizeof(ex.message));
	for (const char *c = ex.message; *c; c++)
		FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
	o = json_object_new_object();
	json_object_object_add(o, "reason", json_object_new_string(ex.reason));
	json_object_object_add(o, "status", json_object_new_int(ex.status));
	json_object_object_add(o, "message", json_object_new_string(ex.message));
	text = json_object_to_json_string(o);
	FUZZ_CHECK(vmmfile_exit_parse(text, strlen(text), &again, err, sizeof(err)) == 0 ||
		   strlen(text) > VMMFILE_EXIT_MAX);
	if (strlen(text) <= VMMFILE_EXIT_MAX)
		FUZZ_CHECK(!memcmp(&ex, &again, sizeof(ex)));
	json_object_put(o);
	return 0;
}
