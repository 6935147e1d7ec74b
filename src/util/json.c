#include "util/json.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

json_object *json_parse_whole(const char *text, size_t len, int depth, int flags, char *why,
			      size_t why_size)
{
	struct json_tokener *tok;
	json_object *v;
	size_t end;

	if (len > INT_MAX) {
		snprintf(why, why_size, "too large");
		return NULL;
	}
	if (memchr(text, '\0', len)) {
		snprintf(why, why_size, "contains a NUL byte");
		return NULL;
	}
	tok = json_tokener_new_ex(depth);
	if (!tok) {
		snprintf(why, why_size, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, flags);
	v = json_tokener_parse_ex(tok, text, (int)len);
	if (!v || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		snprintf(why, why_size, "%s",
			 e == json_tokener_success  ? "null, not an object" :
			 e == json_tokener_continue ? "unexpected end" :
						      json_tokener_error_desc(e));
		json_object_put(v);
		v = NULL;
	} else {
		end = json_tokener_get_parse_end(tok);
		while (end < len && strchr(" \t\r\n", text[end]))
			end++;
		if (end < len) {
			snprintf(why, why_size, "data after the object");
			json_object_put(v);
			v = NULL;
		}
	}
	json_tokener_free(tok);
	return v;
}
