/* json.c — the gateway's JSON reading (Python json.loads) in front of cJSON,
 * which alone is lenient: it takes trailing bytes, raw tabs in strings,
 * numbers like 01 or 1., \v and \f as spaces, and finds the first of
 * duplicate fields where Python keeps the last. A value Python cannot read
 * is a record the reference skips; aethertop must skip the same ones. */
#include "aethertop/json.h"

#include <string.h>

#define MAX_DEPTH 500

typedef struct {
    const char *p, *end;
    int depth;
} reader;

static void skip_ws(reader *r)
{
    while (r->p < r->end && at_json_ws(*r->p)) r->p++;
}

static bool literal(reader *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return false;
    r->p += n;
    return true;
}

static size_t digits(const char *s, size_t i, size_t n)
{
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    return i;
}

size_t at_json_number_len(const char *s, size_t n)
{
    size_t i = 0, d;
    if (i < n && s[i] == '-') i++;
    if (i >= n) return 0;
    if (s[i] == '0') i++;
    else if (s[i] >= '1' && s[i] <= '9') i = digits(s, i, n);
    else return 0;
    if (i < n && s[i] == '.') {
        d = digits(s, i + 1, n);
        if (d == i + 1) return 0;
        i = d;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        d = digits(s, i, n);
        if (d == i) return 0;
        i = d;
    }
    return i;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool string(reader *r)
{
    r->p++; /* the opening quote */
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p++;
        if (c == '"') return true;
        if (c < 0x20) return false;
        if (c != '\\') continue;
        if (r->p >= r->end) return false;
        c = (unsigned char)*r->p++;
        if (c == 'u') {
            if (r->end - r->p < 4) return false;
            for (int i = 0; i < 4; i++)
                if (!is_hex(r->p[i])) return false;
            r->p += 4;
        } else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
            return false;
        }
    }
    return false;
}

static bool number(reader *r)
{
    if (literal(r, "-Infinity")) return true;
    size_t n = at_json_number_len(r->p, (size_t)(r->end - r->p));
    r->p += n;
    return n > 0;
}

static bool value(reader *r);

static bool members(reader *r, char close, bool keyed)
{
    if (++r->depth > MAX_DEPTH) return false;
    r->p++; /* [ or { */
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        r->depth--;
        return true;
    }
    for (;;) {
        if (keyed) {
            skip_ws(r);
            if (r->p >= r->end || *r->p != '"' || !string(r)) return false;
            skip_ws(r);
            if (r->p >= r->end || *r->p++ != ':') return false;
        }
        if (!value(r)) return false;
        if (r->p >= r->end) return false;
        char c = *r->p++;
        if (c == close) break;
        if (c != ',') return false;
    }
    r->depth--;
    return true;
}

/* One value with the whitespace around it. */
static bool value(reader *r)
{
    skip_ws(r);
    if (r->p >= r->end) return false;
    bool ok;
    switch (*r->p) {
    case '{': ok = members(r, '}', true); break;
    case '[': ok = members(r, ']', false); break;
    case '"': ok = string(r); break;
    case 't': ok = literal(r, "true"); break;
    case 'f': ok = literal(r, "false"); break;
    case 'n': ok = literal(r, "null"); break;
    case 'N': ok = literal(r, "NaN"); break;
    case 'I': ok = literal(r, "Infinity"); break;
    default: ok = number(r); break;
    }
    skip_ws(r);
    return ok;
}

bool at_json_valid(const char *s, size_t len)
{
    reader r = {s, s + len, 0};
    return value(&r) && r.p == r.end;
}

/* Drop every field that a later field of the same name overrides. */
static void keep_last(cJSON *item)
{
    for (cJSON *c = item ? item->child : NULL, *next; c; c = next) {
        next = c->next;
        keep_last(c);
        if (!cJSON_IsObject(item) || !c->string) continue;
        for (const cJSON *later = next; later; later = later->next)
            if (later->string && strcmp(later->string, c->string) == 0) {
                cJSON_Delete(cJSON_DetachItemViaPointer(item, c));
                break;
            }
    }
}

cJSON *at_json_parse(const char *s, size_t len)
{
    if (!at_json_valid(s, len)) return NULL;
    cJSON *doc = cJSON_ParseWithLength(s, len);
    keep_last(doc);
    return doc;
}
