/*
 * One strict way to read a JSON document that comes from outside (an API
 * body, a definition on disk, a VMM's exit record, a control request, a
 * daemon's answer): json-c's tokener, with the rest of the input checked.
 */
#ifndef SHALE_UTIL_JSON_H
#define SHALE_UTIL_JSON_H

#include <stddef.h>

#include <json-c/json.h>

/*
 * Parses text[0, len) as one JSON value, nested at most `depth` deep,
 * followed by nothing but blanks; `flags` are json-c's tokener flags
 * (JSON_TOKENER_STRICT, or 0). A NUL byte anywhere is refused (json-c
 * would stop at it). Returns the value, which the caller puts, or NULL
 * with why set to what was wrong ("unexpected end", "data after the
 * object", "contains a NUL byte", json-c's own words, ...).
 */
json_object *json_parse_whole(const char *text, size_t len, int depth, int flags, char *why,
			      size_t why_size);

#endif
