/*
 * The daemon's VM definitions (POST /v1/vms bodies and config.json files):
 * any input is refused with a message or accepted, and an accepted one
 * survives a round trip through vmdef_to_json() unchanged and yields a
 * VMM command line.
 */
#include <string.h>

#include <json-c/json.h>

#include "daemon/vmdef.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_def def, again;
	char err[256], err2[256];
	json_object *o;
	const char *text;
	char **argv;

	err[0] = '\0';
	if (vmdef_parse((const char *)data, size, &def, err, sizeof(err))) {
		FUZZ_CHECK(err[0]);
		return 0;
	}
	FUZZ_CHECK(vmdef_name_ok(def.name));
	FUZZ_CHECK(!def.guest != !def.kernel);
	o = vmdef_to_json(&def);
	text = json_object_to_json_string(o);
	FUZZ_CHECK(vmdef_parse(text, strlen(text), &again, err2, sizeof(err2)) == 0);
	{
		json_object *o2 = vmdef_to_json(&again);

		FUZZ_CHECK(!strcmp(text, json_object_to_json_string(o2)));
		json_object_put(o2);
	}
	argv = vmdef_argv(&def, "/usr/bin/shale", "/var/lib/shale/vms/x", "nobody");
	FUZZ_CHECK(argv && argv[0] && !strcmp(argv[1], "run"));
	vmdef_argv_free(argv);
	json_object_put(o);
	vmdef_free(&again);
	vmdef_free(&def);
	return 0;
}
