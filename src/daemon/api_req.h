/*
 * What an API request asks of shaled, decided from its method, URL, query
 * arguments and body alone, before any VM is looked at (docs/api.md). The
 * HTTP glue in api.c answers the errors and carries out the rest.
 */
#ifndef SHALE_DAEMON_API_REQ_H
#define SHALE_DAEMON_API_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/vmdef.h"

#define API_LOGS_DEFAULT (64 * 1024)
#define API_LOGS_MAX (4 * 1024 * 1024)
#define API_SHUTDOWN_DEFAULT_MS 10000
#define API_SHUTDOWN_MAX_MS (3600 * 1000)
#define API_BALLOON_MAX_MIB (1ull << 22) /* 4 TiB: the VMM checks it against the VM's RAM */

enum api_op {
	API_ERROR,      /* answer `status` (4xx; 500 out of memory) with `error` */
	API_BAD_METHOD, /* 405, with `allow` in the Allow header */
	API_LIST,       /* GET /v1/vms */
	API_CREATE,     /* POST /v1/vms: the body is a definition (vmdef_parse()) */
	API_HOST,       /* GET /v1/host */
	API_METRICS,    /* GET /v1/metrics */
	API_EVENTS,     /* GET /v1/events[?since=N] */
	API_INFO,       /* GET /v1/vms/NAME */
	API_DELETE,     /* DELETE /v1/vms/NAME[?force=1|true] */
	API_STATS,      /* GET /v1/vms/NAME/stats */
	API_LOGS,       /* GET /v1/vms/NAME/logs[?bytes=N] */
	API_CONSOLE,    /* GET /v1/vms/NAME/console (an upgrade) */
	API_START,      /* POST /v1/vms/NAME/ACTION, the body empty or {} ... */
	API_PAUSE,
	API_RESUME,
	API_SHUTDOWN, /* ... or {"timeout_ms":N} for shutdown */
	API_KILL,
	API_REBOOT,
	API_BALLOON, /* POST /v1/vms/NAME/balloon {"target_mib":N} */
};

/* The query arguments the API reads; NULL when absent. */
struct api_query {
	const char *bytes;
	const char *force;
	const char *since;
};

struct api_req {
	enum api_op op;
	char name[VMDEF_NAME_MAX + 1]; /* the VM, for API_INFO and after */
	unsigned status;               /* API_ERROR */
	char error[256];               /* API_ERROR */
	const char *allow;             /* API_BAD_METHOD: a static string */
	uint64_t timeout_ms;           /* API_SHUTDOWN */
	uint64_t target_mib;           /* API_BALLOON */
	size_t log_bytes;              /* API_LOGS */
	bool force;                    /* API_DELETE */
	bool has_since;                /* API_EVENTS */
	uint64_t since;
};

/*
 * Fills *req for a request. `body` holds `len` bytes (NULL for none) and
 * need not end in a NUL; one inside it is refused.
 */
void api_req_parse(const char *method, const char *url, const struct api_query *q,
		   const char *body, size_t len, struct api_req *req);

#endif
