/* The daemon's VM definitions: validation, defaults, JSON and the VMM's argv. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "daemon/vmdef.h"

static char err[256];

static int parse(const char *text, struct vm_def *def)
{
	err[0] = '\0';
	return vmdef_parse(text, strlen(text), def, err, sizeof(err));
}

/* Asserts that `text` is refused with a message containing `want`. */
static void refused(const char *text, const char *want)
{
	struct vm_def def;

	assert_int_equal(parse(text, &def), -EINVAL);
	if (!strstr(err, want))
		fail_msg("'%s': message '%s' lacks '%s'", text, err, want);
}

static void test_names(void **state)
{
	char long_name[80];

	assert_true(vmdef_name_ok("web"));
	assert_true(vmdef_name_ok("a"));
	assert_true(vmdef_name_ok("web-1.prod_eu"));
	assert_true(vmdef_name_ok("0"));
	assert_false(vmdef_name_ok(""));
	assert_false(vmdef_name_ok("-web"));
	assert_false(vmdef_name_ok(".hidden"));
	assert_false(vmdef_name_ok("a/b"));
	assert_false(vmdef_name_ok(".."));
	assert_false(vmdef_name_ok("a b"));
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	assert_true(vmdef_name_ok(long_name));
	long_name[64] = 'a';
	long_name[65] = '\0';
	assert_false(vmdef_name_ok(long_name));
}

static void test_pv_defaults(void **state)
{
	struct vm_def def;

	assert_int_equal(parse("{\"name\":\"job\",\"guest\":\"/g.elf\"}", &def), 0);
	assert_string_equal(def.name, "job");
	assert_string_equal(def.guest, "/g.elf");
	assert_null(def.kernel);
	assert_int_equal(def.memory_mib, 64);
	assert_int_equal(def.cpus, 1);
	assert_int_equal(def.nr_args, 0);
	vmdef_free(&def);
}

static void test_linux_defaults(void **state)
{
	struct vm_def def;

	assert_int_equal(parse("{\"name\":\"l\",\"kernel\":\"/k\",\"cpus\":4}", &def), 0);
	assert_int_equal(def.memory_mib, 512);
	assert_int_equal(def.cpus, 4);
	vmdef_free(&def);
}

static void test_refusals(void **state)
{
	refused("", "bad JSON");
	refused("{\"name\":", "bad JSON");
	refused("[]", "want a JSON object");
	refused("{\"guest\":\"/g\"}", "name: missing");
	refused("{\"name\":\"x\"}", "exactly one of guest");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"kernel\":\"/k\"}", "exactly one of guest");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"colour\":1}", "unknown field 'colour'");
	refused("{\"name\":\"x\",\"guest\":\"g\"}", "absolute path");
	refused("{\"name\":\"x/y\",\"guest\":\"/g\"}", "name: want");
	refused("{\"name\":7,\"guest\":\"/g\"}", "name: want a string");
	refused("{\"name\":\"a\\u0000b\",\"guest\":\"/g\"}", "NUL");
	refused("{\"name\":\"x\",\"guest\":\"/g\"} {}", "data after the object");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"memory_mib\":2}", "memory_mib: want 4 to 4096");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"memory_mib\":5}", "multiple of 2");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"memory_mib\":-4}", "memory_mib: want an integer");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"memory_mib\":4.0}", "want an integer");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"memory_mib\":99999999999999999999}", "memory_mib");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"cpus\":2}", "need kernel");
	refused("{\"name\":\"x\",\"kernel\":\"/k\",\"cpus\":65}", "cpus: want");
	refused("{\"name\":\"x\",\"kernel\":\"/k\",\"args\":[\"a\"]}", "cmdline");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"args\":[1]}", "args[]: want a string");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"disks\":[{\"path\":\"/a\"},{\"path\":\"/b\"}]}",
		"a para-virtual guest takes one disk");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"disks\":[{\"path\":\"/a\",\"serial\":\"s\"}]}",
		"for Linux guests");
	refused("{\"name\":\"x\",\"kernel\":\"/k\",\"disks\":[{\"path\":\"/a\",\"serial\":\"a,ro\"}]}",
		"without blanks or commas");
	refused("{\"name\":\"x\",\"kernel\":\"/k\",\"disks\":[{\"path\":\"/a\",\"serial\":\"\"}]}",
		"serial: empty");
	refused("{\"name\":\"x\",\"kernel\":\"/k\",\"disks\":[{\"path\":\"/a\","
		"\"serial\":\"123456789012345678901\"}]}", "longer than 20");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"nets\":[{\"tap\":\"t\"},{\"user\":true}]}",
		"a para-virtual guest takes one network device");
	refused("{\"name\":\"x\",\"kernel\":\"/k\",\"nets\":[{\"user\":true},{\"user\":true},"
		"{\"user\":true},{\"user\":true},{\"user\":true}]}", "at most 4 network devices");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"disks\":[{\"readonly\":true}]}", "missing path");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"nets\":[{\"tap\":\"a/b\"}]}", "want tap");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"nets\":[{\"tap\":\"t\",\"mac\":\"03:00:00:00:00:00\"}]}",
		"unicast");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"nets\":[{\"user\":true,\"tap\":\"t\"}]}",
		"one of tap and user");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"nets\":[{\"tap\":\"t\",\"hostfwd\":[\"tcp::1-:1\"]}]}",
		"only with");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"nets\":[{\"user\":true,\"hostfwd\":[\"tcp::0-:1\"]}]}",
		"hostfwd[0]: want");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"nets\":[{\"user\":true,\"hostfwd\":\"tcp::1-:1\"}]}",
		"want an array");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"nets\":[{\"user\":1}]}", "want true or false");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"limits\":{\"cpus\":\"1-\"}}", "limits.cpus");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"limits\":{\"cpu_weight\":0}}", "cpu_weight");
	refused("{\"name\":\"x\",\"guest\":\"/g\",\"args\":[[[[[[[[[[[\"deep\"]]]]]]]]]]]}", "bad JSON");
}

static void test_full_round_trip(void **state)
{
	const char *text =
		"{\"name\":\"d\",\"guest\":\"/g.elf\",\"args\":[\"a b\",\"--x\"],\"memory_mib\":32,"
		"\"disks\":[{\"path\":\"/d.img\",\"readonly\":true}],"
		"\"nets\":[{\"tap\":\"tap0\",\"mac\":\"52:54:00:12:34:56\"}],"
		"\"limits\":{\"cpu_max_percent\":50,\"cpu_weight\":200,\"memory_max_mib\":64,"
		"\"cpus\":\"0-1,3\"}}";
	struct vm_def def, again;
	json_object *o;
	const char *out;

	assert_int_equal(parse(text, &def), 0);
	assert_int_equal(def.nr_args, 2);
	assert_true(def.disk[0].readonly);
	assert_string_equal(def.net[0].mac, "52:54:00:12:34:56");
	assert_int_equal(def.limits.cpu_max_percent, 50);
	assert_string_equal(def.limits.cpus, "0-1,3");
	o = vmdef_to_json(&def);
	out = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	assert_int_equal(parse(out, &again), 0);
	assert_string_equal(again.args[0], "a b");
	assert_int_equal(again.memory_mib, 32);
	assert_int_equal(again.limits.memory_max_mib, 64);
	json_object_put(o);
	vmdef_free(&again);
	vmdef_free(&def);
}

static void test_argv(void **state)
{
	struct vm_def def;
	char **argv;

	assert_int_equal(parse("{\"name\":\"d\",\"guest\":\"/g.elf\",\"args\":[\"--help\"],"
			       "\"memory_mib\":8,\"disks\":[{\"path\":\"/d\",\"readonly\":true}]}",
			       &def),
			 0);
	argv = vmdef_argv(&def, "/bin/shale", "/s/vms/d", NULL);
	assert_non_null(argv);
	assert_string_equal(argv[0], "/bin/shale");
	assert_string_equal(argv[1], "run");
	assert_string_equal(argv[2], "--control=/s/vms/d/ctl");
	assert_string_equal(argv[3], "--console-log=/s/vms/d/console.log");
	assert_string_equal(argv[4], "--exit-file=/s/vms/d/exit.json");
	assert_string_equal(argv[5], "--memory=8M");
	assert_string_equal(argv[6], "--disk=/d,ro");
	assert_string_equal(argv[7], "--");
	assert_string_equal(argv[8], "/g.elf");
	assert_string_equal(argv[9], "--");
	/* A guest argument that looks like an option stays the guest's. */
	assert_string_equal(argv[10], "--help");
	assert_null(argv[11]);
	vmdef_argv_free(argv);
	vmdef_free(&def);
}

/* User-mode networking: the forwards in their full form, in JSON and argv. */
static void test_user_net(void **state)
{
	struct vm_def def, again;
	json_object *o;
	char **argv;
	int i;

	assert_int_equal(parse("{\"name\":\"u\",\"guest\":\"/g.elf\",\"nets\":[{\"user\":true,"
			       "\"hostfwd\":[\"tcp::8080-:80\",\"udp:0.0.0.0:53-10.0.2.9:53\"]}]}",
			       &def),
			 0);
	assert_null(def.net[0].tap);
	assert_int_equal(def.net[0].nr_fwds, 2);
	assert_string_equal(def.net[0].fwd[0], "tcp:127.0.0.1:8080-10.0.2.15:80");
	o = vmdef_to_json(&def);
	assert_int_equal(parse(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), &again), 0);
	assert_string_equal(again.net[0].fwd[1], "udp:0.0.0.0:53-10.0.2.9:53");
	argv = vmdef_argv(&def, "/bin/shale", "/s/vms/u", NULL);
	assert_non_null(argv);
	for (i = 0; argv[i] && strncmp(argv[i], "--net=", 6); i++)
		;
	assert_non_null(argv[i]);
	assert_string_equal(argv[i], "--net=user,hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80,"
				     "hostfwd=udp:0.0.0.0:53-10.0.2.9:53");
	vmdef_argv_free(argv);
	json_object_put(o);
	vmdef_free(&again);
	vmdef_free(&def);
}

/* A Linux guest's networks: one --net each, in order (virtio-net). */
static void test_linux_nets(void **state)
{
	struct vm_def def;
	char **argv;
	int a = -1, b = -1;

	assert_int_equal(parse("{\"name\":\"l\",\"kernel\":\"/k\",\"nets\":[{\"tap\":\"tap0\"},"
			       "{\"user\":true,\"hostfwd\":[\"tcp::8080-:80\"]}]}", &def), 0);
	assert_int_equal(def.nr_nets, 2);
	argv = vmdef_argv(&def, "/bin/shale", "/s/vms/l", NULL);
	assert_non_null(argv);
	for (int i = 0; argv[i]; i++) {
		if (!strcmp(argv[i], "--net=tap=tap0"))
			a = i;
		else if (!strcmp(argv[i], "--net=user,hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80"))
			b = i;
	}
	assert_true(a >= 0 && b > a);
	vmdef_argv_free(argv);
	vmdef_free(&def);
}

/* A Linux guest's disks: one --disk each, in order (virtio-blk). */
static void test_linux_disks(void **state)
{
	struct vm_def def;
	char **argv;
	int a = -1, b = -1;

	assert_int_equal(parse("{\"name\":\"l\",\"kernel\":\"/k\",\"disks\":[{\"path\":\"/a\"},"
			       "{\"path\":\"/b\",\"readonly\":true,\"serial\":\"s-1\"}]}", &def), 0);
	assert_int_equal(def.nr_disks, 2);
	argv = vmdef_argv(&def, "/bin/shale", "/s/vms/l", NULL);
	assert_non_null(argv);
	for (int i = 0; argv[i]; i++) {
		if (!strcmp(argv[i], "--disk=/a"))
			a = i;
		if (!strcmp(argv[i], "--disk=/b,ro,serial=s-1"))
			b = i;
	}
	assert_true(a > 0 && b > a);
	vmdef_argv_free(argv);
	vmdef_free(&def);
}

/* Whether argv holds the argument `want`. */
static bool has_arg(char **argv, const char *want)
{
	for (int i = 0; argv[i]; i++)
		if (!strcmp(argv[i], want))
			return true;
	return false;
}

/* A Linux guest's rng, console and balloon: parsed, kept, passed on; refused for PV. */
static void test_linux_devices(void **state)
{
	struct vm_def def, again;
	json_object *o;
	char **argv;

	assert_int_equal(parse("{\"name\":\"l\",\"kernel\":\"/k\",\"rng\":true,"
			       "\"console\":\"virtio\",\"balloon\":{\"deflate_on_oom\":true,"
			       "\"free_page_reporting\":false}}", &def), 0);
	assert_true(def.dev.rng && def.dev.virtio_console && def.dev.balloon);
	assert_true(def.dev.deflate_on_oom && def.dev.no_reporting);
	argv = vmdef_argv(&def, "/bin/shale", "/s/vms/l", NULL);
	assert_non_null(argv);
	assert_true(has_arg(argv, "--rng"));
	assert_true(has_arg(argv, "--console=virtio"));
	assert_true(has_arg(argv, "--balloon=deflate-on-oom,no-reporting"));
	vmdef_argv_free(argv);
	o = vmdef_to_json(&def);
	assert_int_equal(parse(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), &again), 0);
	assert_true(again.dev.rng && again.dev.virtio_console && again.dev.deflate_on_oom &&
		    again.dev.no_reporting);
	json_object_put(o);
	vmdef_free(&again);
	vmdef_free(&def);

	/* The defaults: a balloon with reporting, the serial console, no rng. */
	assert_int_equal(parse("{\"name\":\"l\",\"kernel\":\"/k\",\"console\":\"serial\","
			       "\"rng\":false,\"balloon\":{}}", &def), 0);
	argv = vmdef_argv(&def, "/bin/shale", "/s/vms/l", NULL);
	assert_true(has_arg(argv, "--balloon"));
	assert_false(has_arg(argv, "--rng") || has_arg(argv, "--console=virtio"));
	vmdef_argv_free(argv);
	vmdef_free(&def);

	refused("{\"name\":\"p\",\"guest\":\"/g\",\"rng\":true}", "need kernel");
	refused("{\"name\":\"p\",\"guest\":\"/g\",\"balloon\":{}}", "need kernel");
	refused("{\"name\":\"l\",\"kernel\":\"/k\",\"console\":\"hvc0\"}", "console: want");
	refused("{\"name\":\"l\",\"kernel\":\"/k\",\"balloon\":true}", "balloon: want an object");
	refused("{\"name\":\"l\",\"kernel\":\"/k\",\"balloon\":{\"size\":1}}",
		"balloon: unknown field");
	refused("{\"name\":\"l\",\"kernel\":\"/k\",\"rng\":1}", "rng: want true or false");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_net),
		cmocka_unit_test(test_linux_nets),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_pv_defaults),
		cmocka_unit_test(test_linux_defaults),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_linux_disks),
		cmocka_unit_test(test_full_round_trip),
		cmocka_unit_test(test_argv),
		cmocka_unit_test(test_linux_devices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
