/* json.h — reading a stored JSON value the way the gateway's Python does
 * (json.loads): the strict grammar (no trailing bytes, no raw control
 * characters in strings, no leading zeros), NaN and Infinity as Python
 * writes them, and the last of duplicate fields wins. */
#ifndef AETHERTOP_JSON_H
#define AETHERTOP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

/* JSON's whitespace (and only it: not \v or \f). */
static inline bool at_json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Length of the strict JSON number -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
 * at the start of s[0, n), or 0 when there is none. */
size_t at_json_number_len(const char *s, size_t n);

/* Is s[0, len) one JSON document json.loads accepts? */
bool at_json_valid(const char *s, size_t len);

/* Parse s[0, len) with cJSON if at_json_valid, then keep only the last of
 * each object's duplicate fields. NULL when invalid (or cJSON cannot
 * represent it, e.g. NaN). Free with cJSON_Delete. */
cJSON *at_json_parse(const char *s, size_t len);

#endif
