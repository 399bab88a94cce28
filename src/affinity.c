/* affinity.c — reading cache-affinity records: the walk over every
 * cache_affinity:* key (SCAN pipelined with MGET of the previous batch) and
 * the parse of one key/value the reference's way, where anything malformed
 * is classified (and later counted) instead of being fatal. */
#include "aethertop/affinity.h"
#include "aethertop/json.h"
#include "aethertop/redis.h"
#include "aethertop/text.h"

#include <cjson/cJSON.h>
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *at_record_status_name(at_record_status s)
{
    switch (s) {
    case AT_REC_OK: return "ok";
    case AT_REC_GONE: return "gone";
    case AT_REC_NOT_JSON: return "not JSON";
    case AT_REC_NOT_OBJECT: return "JSON but not an object";
    case AT_REC_BAD_UTF8: return "not UTF-8";
    case AT_REC_WRONG_TYPE: return "field of the wrong type";
    case AT_REC_BAD_KEY: return "no affinity key";
    default: return "?";
    }
}

/* A string field: absent keeps *out, null sets NULL, string interns.
 * Returns false for any other type. */
const char *at_record_status_id(at_record_status s)
{
    static const char *const ids[AT_REC__COUNT] = {"ok", "gone", "not_json", "not_object",
                                                   "bad_utf8", "wrong_type", "bad_key"};
    return s < AT_REC__COUNT ? ids[s] : "unknown";
}

/* The fields of a record, as either parser found them. */
/* No "affinity_key": the gateway's list_affinities always takes it from the
 * key name, whatever the value says. */
enum { F_FORMAT, F_MODEL, F_PROVIDER, F_ENDPOINT, F_KEY, F_CREATED, F_EXPIRE, F_COUNT, F__N };
static const char *const FIELD_NAMES[F__N] = {"api_format", "model_name", "provider_id", "endpoint_id",
                                              "key_id", "created_at", "expire_at", "request_count"};
typedef enum { V_ABSENT, V_NULL, V_STRING, V_NUMBER, V_OTHER } value_kind;
typedef struct {
    value_kind kind;
    const char *str;             /* V_STRING: the text, str_len bytes */
    size_t str_len;
    double num;                  /* V_NUMBER; V_OTHER without item: a boolean (1 true, 0 false) */
    const cJSON *item;           /* V_OTHER from the general reader: the value itself */
} field_value;

/* A field's value as JSON (for a row's odd fields). */
static cJSON *field_json(const field_value *v)
{
    switch (v->kind) {
    case V_NULL: return cJSON_CreateNull();
    case V_NUMBER: {
        char num[64];
        at_format_json_number(v->num, num, sizeof num);
        return cJSON_CreateRaw(num);
    }
    case V_STRING: {
        char *text = strndup(v->str, v->str_len);
        if (!text) abort();
        cJSON *j = cJSON_CreateString(text);
        free(text);
        return j;
    }
    default: return v->item ? cJSON_Duplicate(v->item, true) : cJSON_CreateBool(v->num != 0);
    }
}

/* Python's truth value of a field (what `x or 0` sees). */
static bool field_truthy(const field_value *v)
{
    switch (v->kind) {
    case V_STRING: return v->str_len > 0;
    case V_NUMBER: return v->num != 0;
    case V_OTHER:
        if (!v->item) return v->num != 0;
        if (cJSON_IsArray(v->item) || cJSON_IsObject(v->item)) return v->item->child != NULL;
        return cJSON_IsTrue(v->item);
    default: return false;
    }
}

static bool field_is_bool(const field_value *v)
{
    return v->kind == V_OTHER && (!v->item || cJSON_IsBool(v->item));
}

/* Which fields of a record the reference shows whatever their JSON type,
 * where the row keeps a typed value: created_at and request_count are only
 * echoed, and expire_at only sorted as `expire_at or 0` (a boolean or a
 * falsy value sorts; a non-empty text, list or object does not compare with
 * numbers: the reference's listing fails on it). The ids go into
 * PostgreSQL look-ups, which a number, boolean, list or object breaks; and
 * like them api_format must be text (SPEC: a number where a string belongs
 * is skipped). Returns false for a record of the wrong type. */
static bool fields_typed_as_shown(const field_value f[F__N], bool odd[F__N])
{
    for (int i = 0; i < F__N; i++) {
        value_kind k = f[i].kind;
        odd[i] = false;
        switch (i) {
        case F_CREATED: odd[i] = k == V_STRING || k == V_OTHER; break;
        case F_EXPIRE:
            if (k == V_STRING || k == V_OTHER) {
                if (field_truthy(&f[i]) && !field_is_bool(&f[i])) return false;
                odd[i] = true;
            }
            break;
        case F_COUNT: odd[i] = k == V_STRING || k == V_OTHER || k == V_NULL; break;
        default:
            if (k == V_NUMBER || k == V_OTHER) return false;
        }
    }
    return true;
}

/* What the fields make of a record: the gateway's reading of one value. */
static at_record_status record_from_fields(at_interner *in, const char *key, size_t klen,
                                           const field_value f[F__N], at_affinity *row)
{
    /* key parts as the gateway's list_affinities splits them: part 1 the
     * affinity key (always the key's, a field of that name in the value is
     * overwritten), part 2 the api format, part 3 the model name */
    const char *part[3] = {0};
    size_t plen[3] = {0};
    const char *end = key + klen, *p = memchr(key, ':', klen);
    for (int i = 0; i < 3 && p; i++) {
        const char *start = p + 1;
        const char *next = memchr(start, ':', (size_t)(end - start));
        part[i] = start;
        plen[i] = (size_t)((next ? next : end) - start);
        p = next;
    }
    bool odd[F__N];
    if (!fields_typed_as_shown(f, odd)) return AT_REC_WRONG_TYPE;
    /* JSON fields win over parts 2 and 3; a key part is interned only when
     * its field is absent */
    const char *text[F_CREATED] = {0};
    for (int i = 0; i < F_CREATED; i++) {
        bool from_key = i == F_FORMAT || i == F_MODEL;
        if (f[i].kind == V_STRING) text[i] = at_intern(in, f[i].str, f[i].str_len);
        else if (f[i].kind == V_ABSENT && from_key && part[i + 1]) text[i] = at_intern(in, part[i + 1], plen[i + 1]);
        else if (f[i].kind == V_ABSENT && from_key) text[i] = at_intern(in, "unknown", 7); /* the gateway's fallback */
    }
    if (f[F_CREATED].kind == V_NUMBER) row->created_at = f[F_CREATED].num;
    if (f[F_EXPIRE].kind == V_NUMBER) row->expire_at = f[F_EXPIRE].num;
    else if (odd[F_EXPIRE] && field_truthy(&f[F_EXPIRE])) row->expire_at = 1; /* true sorts as 1 */
    double count = f[F_COUNT].kind == V_NUMBER ? f[F_COUNT].num : 0;
    /* 1e400 parses as infinity: no JSON form, like NaN (the reference's
     * response would fail to serialise it) */
    if (isinf(row->created_at) || isinf(row->expire_at) || isinf(count)) return AT_REC_NOT_JSON;
    /* (a part that starts with a NUL byte is empty as a C string) */
    if (!part[0] || plen[0] == 0 || part[0][0] == '\0') return AT_REC_BAD_KEY;
    row->affinity_key = at_intern(in, part[0], plen[0]);
    row->api_format = text[F_FORMAT];
    row->model_name = text[F_MODEL];
    row->provider_id = text[F_PROVIDER];
    row->endpoint_id = text[F_ENDPOINT];
    row->key_id = text[F_KEY];
    /* clamp absurd counts to 15 digits (what JSON output prints exactly):
     * the cast of a larger double is undefined, and sums must not overflow */
    row->request_count = count > 999999999999999.0 ? INT64_C(999999999999999)
                       : count < -999999999999999.0 ? -INT64_C(999999999999999) : (int64_t)count;
    /* a count the integer cannot say (2.5, 9.2e18) is shown as it is */
    if (f[F_COUNT].kind == V_NUMBER && (double)row->request_count != count) odd[F_COUNT] = true;
    cJSON *shown = NULL;
    for (int i = 0; i < F__N; i++) {
        if (!odd[i]) continue;
        if (!shown && !(shown = cJSON_CreateObject())) abort();
        cJSON_AddItemToObject(shown, FIELD_NAMES[i], field_json(&f[i]));
    }
    if (shown) {
        char *json = cJSON_PrintUnformatted(shown);
        if (!json) abort();
        row->odd = at_intern(in, json, strlen(json));
        free(json);
        cJSON_Delete(shown);
    }
    return AT_REC_OK;
}

static void row_init(at_affinity *row)
{
    memset(row, 0, sizeof *row);
    row->created_at = row->expire_at = NAN;
    row->api_key = row->user = row->provider = row->endpoint = row->provider_key = row->global_model = -1;
}

/* The general reader: any JSON, through cJSON. */
static at_record_status parse_general(at_interner *in, const char *key, size_t klen, const char *val,
                                      size_t vlen, at_affinity *row)
{
    cJSON *doc = at_json_parse(val, vlen);
    if (!doc) return AT_REC_NOT_JSON;
    if (!cJSON_IsObject(doc)) { cJSON_Delete(doc); return AT_REC_NOT_OBJECT; }
    field_value f[F__N];
    memset(f, 0, sizeof f);
    for (int i = 0; i < F__N; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(doc, FIELD_NAMES[i]);
        if (!it) continue;
        if (cJSON_IsNull(it)) f[i].kind = V_NULL;
        else if (cJSON_IsString(it) && it->valuestring) {
            f[i].kind = V_STRING;
            f[i].str = it->valuestring;
            f[i].str_len = strlen(it->valuestring);
        } else if (cJSON_IsNumber(it)) {
            f[i].kind = V_NUMBER;
            f[i].num = it->valuedouble;
        } else {
            f[i].kind = V_OTHER;
            f[i].item = it;
        }
    }
    at_record_status st = record_from_fields(in, key, klen, f, row);
    cJSON_Delete(doc);
    return st;
}

/* ---- the fast reader ----------------------------------------------------------
 * The gateway writes each value as one flat object of plain strings and
 * numbers. jsmn tokenises that without allocating; everything this reader is
 * not sure of (escapes, nesting, duplicate fields, odd spacing or numbers,
 * trailing bytes) goes to the general reader, so both always agree
 * (tests/unit/test_affinity.c and the affinity fuzz target compare them). */
#define FAST_MAX_TOKENS 41       /* the object + 20 fields */

/* Only whitespace around exactly one sep (0: none) in val[from, to). */
static bool gap_is(const char *val, int from, int to, char sep)
{
    int seen = 0;
    for (int i = from; i < to; i++) {
        if (val[i] == sep && sep) seen++;
        else if (!at_json_ws(val[i])) return false;
    }
    return seen == (sep ? 1 : 0);
}

static bool plain_string(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == '\\' || s[i] == '"') return false;
    return true;
}

/* 1: read into f; 0: not sure, use the general reader. */
static int parse_fast(const char *val, size_t vlen, field_value f[F__N])
{
    if (vlen >= 65536 || memchr(val, '\0', vlen)) return 0;
    jsmn_parser p;
    jsmntok_t t[FAST_MAX_TOKENS];
    jsmn_init(&p);
    int n = jsmn_parse(&p, val, vlen, t, FAST_MAX_TOKENS);
    if (n < 1 || t[0].type != JSMN_OBJECT || n != 1 + 2 * t[0].size) return 0;
    if (!gap_is(val, 0, t[0].start, 0) || !gap_is(val, t[0].end, (int)vlen, 0)) return 0;
    memset(f, 0, F__N * sizeof *f);
    int prev_end = t[0].start + 1;  /* just past '{' */
    char sep = 0;
    for (int k = 1; k < n; k += 2) {
        const jsmntok_t *name = &t[k], *v = &t[k + 1];
        if (name->type != JSMN_STRING || name->size != 1 || v->size != 0) return 0;
        int v_from = v->start, v_to = v->end;
        if (v->type == JSMN_STRING) { v_from--; v_to++; }
        else if (v->type != JSMN_PRIMITIVE) return 0;
        if (!gap_is(val, prev_end, name->start - 1, sep) || !gap_is(val, name->end + 1, v_from, ':')) return 0;
        prev_end = v_to;
        sep = ',';
        const char *nm = val + name->start, *vs = val + v->start;
        size_t nl = (size_t)(name->end - name->start), vl = (size_t)(v->end - v->start);
        if (!plain_string(nm, nl)) return 0;
        int which = -1;
        for (int i = 0; i < F__N && which < 0; i++)
            if (strlen(FIELD_NAMES[i]) == nl && memcmp(FIELD_NAMES[i], nm, nl) == 0) which = i;
        field_value fv = {.kind = V_OTHER};
        if (v->type == JSMN_STRING) {
            if (!plain_string(vs, vl)) return 0;
            fv.kind = V_STRING;
            fv.str = vs;
            fv.str_len = vl;
        } else if (vl == 4 && memcmp(vs, "null", 4) == 0) {
            fv.kind = V_NULL;
        } else if ((vl == 4 && memcmp(vs, "true", 4) == 0) || (vl == 5 && memcmp(vs, "false", 5) == 0)) {
            fv.kind = V_OTHER;
            fv.num = vl == 4;
        } else if (vl > 0 && vl < 64 && at_json_number_len(vs, vl) == vl) {
            char num[64];
            memcpy(num, vs, vl);
            num[vl] = '\0';
            fv.kind = V_NUMBER;
            fv.num = strtod(num, NULL);  /* as cJSON reads it; LC_NUMERIC is C (i18n.c) */
        } else {
            return 0;
        }
        if (which < 0) continue;
        if (f[which].kind != V_ABSENT) return 0;     /* a duplicate: the general reader decides */
        f[which] = fv;
    }
    return gap_is(val, prev_end, t[0].end - 1, 0) ? 1 : 0;
}

at_record_status at_affinity_parse_general(at_interner *in, const char *key, size_t klen,
                                           const char *val, size_t vlen, at_affinity *row)
{
    row_init(row);
    if (!val) return AT_REC_GONE;
    if (!at_utf8_valid(key, klen) || !at_utf8_valid(val, vlen)) return AT_REC_BAD_UTF8;
    return parse_general(in, key, klen, val, vlen, row);
}

at_record_status at_affinity_parse(at_interner *in, const char *key, size_t klen,
                                   const char *val, size_t vlen, at_affinity *row)
{
    row_init(row);
    if (!val) return AT_REC_GONE;
    if (!at_utf8_valid(key, klen) || !at_utf8_valid(val, vlen)) return AT_REC_BAD_UTF8;
    field_value f[F__N];
    if (parse_fast(val, vlen, f)) return record_from_fields(in, key, klen, f, row);
    return parse_general(in, key, klen, val, vlen, row);
}

static int scan_append(at_redis *r, const char *cursor, const at_walk_opts *o)
{
    char count[16];
    snprintf(count, sizeof count, "%d", o->count > 0 ? o->count : 1000);
    const char *argv[] = {"SCAN", cursor, "MATCH", o->match ? o->match : AT_AFFINITY_PREFIX "*",
                          "COUNT", count};
    return at_redis_append(r, 6, argv, NULL);
}

static bool scan_reply_ok(const redisReply *rep)
{
    return rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
           rep->element[0]->type == REDIS_REPLY_STRING && rep->element[1]->type == REDIS_REPLY_ARRAY;
}

/* Values are fetched with one MGET per at most WALK_MGET_KEYS keys of a SCAN
 * batch, all sent at once: Redis reads a client's commands in chunks of
 * about 16 KB and serves other clients between them, so a PING waits for one
 * small MGET rather than one of a whole batch (on a slow machine 1000 random
 * keys take Redis 5-15 ms). */
#define WALK_MGET_KEYS 250

/* One SCAN batch waiting to be handed to the callback. */
typedef struct {
    redisReply *scan;
    redisReply **mget;   /* ceil(n / WALK_MGET_KEYS) replies, or NULL */
    size_t n_mget;
} walk_batch;

static void batch_free(walk_batch *b)
{
    if (b->scan) freeReplyObject(b->scan);
    for (size_t k = 0; k < b->n_mget; k++)
        if (b->mget[k]) freeReplyObject(b->mget[k]);
    free(b->mget);
    *b = (walk_batch){0};
}

static int deliver(walk_batch *b, bool values, at_walk_fn fn, void *ctx)
{
    redisReply *keys = b->scan->element[1];
    size_t n = keys->elements;
    int stop = 0;
    if (n) {
        const char **kv = malloc(n * sizeof *kv), **vv = malloc(n * sizeof *vv);
        size_t *kl = malloc(n * sizeof *kl), *vl = malloc(n * sizeof *vl);
        if (!kv || !vv || !kl || !vl) abort();
        for (size_t i = 0; i < n; i++) {
            kv[i] = keys->element[i]->str;
            kl[i] = keys->element[i]->len;
            redisReply *v = values ? b->mget[i / WALK_MGET_KEYS]->element[i % WALK_MGET_KEYS] : NULL;
            vv[i] = v && v->type == REDIS_REPLY_STRING ? v->str : NULL;
            vl[i] = v && v->type == REDIS_REPLY_STRING ? v->len : 0;
        }
        stop = fn(ctx, n, kv, kl, values ? vv : NULL, values ? vl : NULL);
        free(kv);
        free(vv);
        free(kl);
        free(vl);
    }
    batch_free(b);
    return stop;
}

/* Keys in piece k of a batch of n. */
static size_t mget_piece(size_t n, size_t k)
{
    size_t from = k * WALK_MGET_KEYS;
    return n - from < WALK_MGET_KEYS ? n - from : WALK_MGET_KEYS;
}

/* Send the MGETs for the n keys of a SCAN reply; returns how many. */
static long mget_append(at_redis *r, const redisReply *keys)
{
    const char *argv[WALK_MGET_KEYS + 1] = {"MGET"};
    size_t lens[WALK_MGET_KEYS + 1] = {4};
    size_t n = keys->elements, pieces = (n + WALK_MGET_KEYS - 1) / WALK_MGET_KEYS;
    for (size_t k = 0; k < pieces; k++) {
        size_t m = mget_piece(n, k);
        for (size_t i = 0; i < m; i++) {
            argv[i + 1] = keys->element[k * WALK_MGET_KEYS + i]->str;
            lens[i + 1] = keys->element[k * WALK_MGET_KEYS + i]->len;
        }
        if (at_redis_append(r, (int)m + 1, argv, lens) < 0) return -1;
    }
    return (long)pieces;
}

/* Read the n_mget MGET replies of a batch of n keys into b. */
static int mget_read(at_redis *r, size_t n, size_t n_mget, walk_batch *b)
{
    b->mget = calloc(n_mget, sizeof *b->mget);
    if (!b->mget) abort();
    b->n_mget = n_mget;
    for (size_t k = 0; k < n_mget; k++) {
        b->mget[k] = at_redis_read(r);
        if (!b->mget[k] || b->mget[k]->type != REDIS_REPLY_ARRAY || b->mget[k]->elements != mget_piece(n, k))
            return -1;
    }
    return 0;
}

/* The walk keeps Redis busy while we parse: the MGETs of batch i and the SCAN
 * of batch i+1 are sent before batch i-1 is handed to the callback. */
int at_redis_walk(at_redis *r, const at_walk_opts *opts, at_walk_fn fn, void *ctx)
{
    at_walk_opts o = opts ? *opts : (at_walk_opts){.values = true};
    walk_batch pending = {0};
    int rc = 0;
    redisReply *scan = scan_append(r, "0", &o) < 0 ? NULL : at_redis_read(r);
    for (;;) {
        if (!scan_reply_ok(scan)) { rc = -1; break; }
        size_t n = scan->element[1]->elements;
        bool last = strcmp(scan->element[0]->str, "0") == 0;
        long n_mget = n && o.values ? mget_append(r, scan->element[1]) : 0;
        if (n_mget < 0) { rc = -1; break; }
        bool pipelined = !last && !o.pause_us && !o.exclusive;
        if (pipelined && scan_append(r, scan->element[0]->str, &o) < 0) { rc = -1; break; }
        if (at_redis_flush(r) < 0) { rc = -1; break; }
        /* Redis works on the commands just sent while we parse the previous batch */
        if (pending.scan && deliver(&pending, o.values, fn, ctx)) {
            /* stopped by the callback: drain the replies still in flight */
            for (long k = n_mget + (int)pipelined; k > 0; k--) {
                redisReply *x = at_redis_read(r);
                if (x) freeReplyObject(x);
            }
            rc = 1;
            break;
        }
        char cursor[32];
        snprintf(cursor, sizeof cursor, "%s", scan->element[0]->str);
        pending.scan = scan;
        scan = NULL;
        if (n_mget && mget_read(r, n, (size_t)n_mget, &pending) < 0) { rc = -1; break; }
        if (o.exclusive && deliver(&pending, o.values, fn, ctx)) { rc = 1; break; }
        if (last) break;
        if (!pipelined) {
            if (o.pause_us) usleep(o.pause_us);
            if (scan_append(r, cursor, &o) < 0) { rc = -1; break; }
        }
        scan = at_redis_read(r);
    }
    if (rc == 1) {
        rc = 0;
    } else if (rc == 0 && pending.scan) {
        deliver(&pending, o.values, fn, ctx);
    } else if (rc < 0 && !at_redis_broken(r)) {
        /* an error or unexpected reply part-way: the rest of the pipeline's
         * replies are still unread */
        at_redis_abandon(r, "unexpected reply while walking the key space");
    }
    batch_free(&pending);
    if (scan) freeReplyObject(scan);
    return rc;
}
