/*
 * shaled's API routing (daemon/api_req.c) and the metrics lines it makes
 * of a VMM's stats reply (daemon/metrics.c): what each request asks for,
 * and how bad ones are answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "daemon/api_req.h"
#include "daemon/metrics.h"

static struct api_req req;

static void parse(const char *method, const char *url, const char *bytes, const char *body)
{
	struct api_query q = { .bytes = bytes };

	api_req_parse(method, url, &q, body, body ? strlen(body) : 0, &req);
}

static void refused(const char *method, const char *url, const char *body, unsigned status,
		    const char *want)
{
	parse(method, url, NULL, body);
	if (req.op != API_ERROR || req.status != status || !strstr(req.error, want))
		fail_msg("%s %s '%s': op %d status %u '%s', want %u '%s'", method, url,
			 body ? body : "", (int)req.op, req.status, req.error, status, want);
}

static void test_routes(void **state)
{
	static const struct {
		const char *method, *url;
		enum api_op op;
	} routes[] = {
		{ "GET", "/v1/vms", API_LIST },
		{ "POST", "/v1/vms", API_CREATE },
		{ "GET", "/v1/host", API_HOST },
		{ "GET", "/v1/metrics", API_METRICS },
		{ "GET", "/v1/events", API_EVENTS },
		{ "GET", "/v1/vms/web", API_INFO },
		{ "DELETE", "/v1/vms/web", API_DELETE },
		{ "GET", "/v1/vms/web/stats", API_STATS },
		{ "GET", "/v1/vms/web/logs", API_LOGS },
		{ "GET", "/v1/vms/web/console", API_CONSOLE },
		{ "POST", "/v1/vms/web/start", API_START },
		{ "POST", "/v1/vms/web/pause", API_PAUSE },
		{ "POST", "/v1/vms/web/resume", API_RESUME },
		{ "POST", "/v1/vms/web/shutdown", API_SHUTDOWN },
		{ "POST", "/v1/vms/web/kill", API_KILL },
		{ "POST", "/v1/vms/web/reboot", API_REBOOT },
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		parse(routes[i].method, routes[i].url, NULL, NULL);
		if (req.op != routes[i].op)
			fail_msg("%s %s: op %d, want %d", routes[i].method, routes[i].url,
				 (int)req.op, (int)routes[i].op);
		if (req.op >= API_INFO)
			assert_string_equal(req.name, "web");
	}
}

static void test_methods(void **state)
{
	parse("PUT", "/v1/vms", NULL, NULL);
	assert_int_equal(req.op, API_BAD_METHOD);
	assert_string_equal(req.allow, "GET, POST");
	parse("POST", "/v1/vms/web", NULL, NULL);
	assert_int_equal(req.op, API_BAD_METHOD);
	assert_string_equal(req.allow, "GET, DELETE");
	parse("POST", "/v1/vms/web/logs", NULL, NULL);
	assert_string_equal(req.allow, "GET");
	parse("GET", "/v1/vms/web/start", NULL, NULL);
	assert_string_equal(req.allow, "POST");
}

static void test_bad_urls(void **state)
{
	refused("GET", "/v2/vms", NULL, 404, "no such resource");
	refused("GET", "/v1/vms/../etc", NULL, 400, "a VM name is");
	refused("GET", "/v1/vms/", NULL, 400, "a VM name is");
	refused("GET", "/v1/vms/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		NULL, 404, "so long a name");
	refused("POST", "/v1/vms/web/reset", NULL, 404, "no such action");
	refused("POST", "/v1/vms/web/start/now", NULL, 404, "no such action");
	refused("POST", "/v1/vms/web/shutdownshutdownshutdown", NULL, 404, "no such action");
}

static void test_bodies(void **state)
{
	parse("POST", "/v1/vms/web/shutdown", NULL, NULL);
	assert_int_equal(req.timeout_ms, API_SHUTDOWN_DEFAULT_MS);
	parse("POST", "/v1/vms/web/shutdown", NULL, " {\"timeout_ms\": 30000}\n");
	assert_int_equal(req.op, API_SHUTDOWN);
	assert_int_equal(req.timeout_ms, 30000);
	parse("POST", "/v1/vms/web/pause", NULL, "{}");
	assert_int_equal(req.op, API_PAUSE);
	refused("POST", "/v1/vms/web/shutdown", "{\"timeout_ms\":-1}", 400, "timeout_ms: want");
	refused("POST", "/v1/vms/web/shutdown", "{\"timeout_ms\":3600001}", 400, "want");
	refused("POST", "/v1/vms/web/shutdown", "{\"timeout_ms\":\"5\"}", 400, "want");
	refused("POST", "/v1/vms/web/kill", "{\"timeout_ms\":5}", 400, "unknown field");
	refused("POST", "/v1/vms/web/start", "[]", 400, "bad JSON body");
	refused("POST", "/v1/vms/web/start", "{", 400, "bad JSON body");
	refused("POST", "/v1/vms/web/start", "{} {}", 400, "bad JSON body");
	refused("POST", "/v1/vms/web/start", "[[[[[[[[[[]]]]]]]]]]", 400, "bad JSON body");
	/* The balloon's target: required, a number of MiB. */
	parse("POST", "/v1/vms/web/balloon", NULL, "{\"target_mib\":128}");
	assert_int_equal(req.op, API_BALLOON);
	assert_int_equal(req.target_mib, 128);
	parse("POST", "/v1/vms/web/balloon", NULL, "{\"target_mib\":0}");
	assert_int_equal(req.target_mib, 0);
	refused("POST", "/v1/vms/web/balloon", "{}", 400, "target_mib: missing");
	refused("POST", "/v1/vms/web/balloon", NULL, 400, "target_mib: missing");
	refused("POST", "/v1/vms/web/balloon", "{\"target_mib\":-1}", 400, "target_mib: want");
	refused("POST", "/v1/vms/web/balloon", "{\"target_mib\":4194305}", 400, "want");
	refused("POST", "/v1/vms/web/balloon", "{\"timeout_ms\":5}", 400, "unknown field");
	parse("GET", "/v1/vms/web/balloon", NULL, NULL);
	assert_int_equal(req.op, API_BAD_METHOD);
	/* The body's length counts, not a NUL after it. */
	api_req_parse("POST", "/v1/vms/web/start", NULL, "{}x", 2, &req);
	assert_int_equal(req.op, API_START);
	api_req_parse("POST", "/v1/vms/web/start", NULL, "{}\0", 3, &req);
	assert_int_equal(req.op, API_ERROR);
	assert_non_null(strstr(req.error, "NUL byte"));
}

static void test_query(void **state)
{
	static const char *const bad[] = { "", " 5", "+5", "-1", "5k", "4194305",
					   "99999999999999999999" };
	struct api_query q = { .since = "17" };

	parse("GET", "/v1/vms/web/logs", NULL, NULL);
	assert_int_equal(req.log_bytes, API_LOGS_DEFAULT);
	parse("GET", "/v1/vms/web/logs", "4194304", NULL);
	assert_int_equal(req.op, API_LOGS);
	assert_int_equal(req.log_bytes, 4194304);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse("GET", "/v1/vms/web/logs", bad[i], NULL);
		if (req.op != API_ERROR || req.status != 400)
			fail_msg("bytes=%s accepted", bad[i]);
	}
	api_req_parse("GET", "/v1/events", &q, NULL, 0, &req);
	assert_true(req.has_since);
	assert_int_equal(req.since, 17);
	q.since = "-1";
	api_req_parse("GET", "/v1/events", &q, NULL, 0, &req);
	assert_int_equal(req.op, API_ERROR);
	q = (struct api_query){ .force = "true" };
	api_req_parse("DELETE", "/v1/vms/web", &q, NULL, 0, &req);
	assert_true(req.force);
	q.force = "yes";
	api_req_parse("DELETE", "/v1/vms/web", &q, NULL, 0, &req);
	assert_false(req.force);
}

static char *metrics_of(const char *reply)
{
	struct metrics_text t = { 0 };
	json_object *o = json_tokener_parse(reply);

	assert_non_null(o);
	metrics_vm_stats(&t, "web", o);
	json_object_put(o);
	return t.buf;
}

static void test_metrics(void **state)
{
	char *text = metrics_of("{\"exits\":{\"io\":3},\"block\":{\"reads\":2},"
				"\"net\":{\"tx_bytes\":18446744073709551615},\"console_bytes\":7}");

	assert_string_equal(text, "shale_vm_exits_total{vm=\"web\",reason=\"io\"} 3\n"
				  "shale_vm_block_reads_total{vm=\"web\"} 2\n"
				  "shale_vm_net_tx_bytes_total{vm=\"web\"} 18446744073709551615\n"
				  "shale_vm_console_bytes_total{vm=\"web\"} 7\n");
	free(text);
	/* A reply that tries to write lines of its own makes none. */
	text = metrics_of("{\"exits\":{\"io\\\"} 1\\nshale_vm_up{vm=\\\"db\":1,\"IO\":1,\"x\":-1,"
			  "\"y\":\"2\",\"z\":1.5},\"block\":{\"\":1},\"console_bytes\":\"7\"}");
	assert_null(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),   cmocka_unit_test(test_methods),
		cmocka_unit_test(test_bad_urls), cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_query),    cmocka_unit_test(test_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
