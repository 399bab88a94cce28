/* affinity.c — reading cache-affinity records: the walk over every
 * cache_affinity:* key (SCAN pipelined with MGET of the previous batch) and
 * the parse of one key/value the reference's way, where anything malformed
 * is classified (and later counted) instead of being fatal. */
#include "aethertop/affinity.h"
#include "aethertop/redis.h"
#include "aethertop/text.h"

#include <cjson/cJSON.h>
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

static bool take_string(at_interner *in, const cJSON *obj, const char *name, const char **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!it) return true;
    if (cJSON_IsNull(it)) { *out = NULL; return true; }
    if (!cJSON_IsString(it) || !it->valuestring) return false;
    *out = at_intern(in, it->valuestring, strlen(it->valuestring));
    return true;
}

static bool take_number(const cJSON *obj, const char *name, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!it || cJSON_IsNull(it)) return true;
    if (!cJSON_IsNumber(it)) return false;
    *out = it->valuedouble;
    return true;
}

at_record_status at_affinity_parse(at_interner *in, const char *key, size_t klen,
                                   const char *val, size_t vlen, at_affinity *row)
{
    memset(row, 0, sizeof *row);
    row->created_at = row->expire_at = NAN;
    row->api_key = row->user = row->provider = row->endpoint = row->provider_key = row->global_model = -1;
    if (!val) return AT_REC_GONE;
    if (!at_utf8_valid(key, klen) || !at_utf8_valid(val, vlen)) return AT_REC_BAD_UTF8;

    /* key parts as the gateway's list_affinities splits them: part 1 the
     * affinity key, part 2 the api format, part 3 the model name */
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
    cJSON *doc = cJSON_ParseWithLength(val, vlen);
    if (!doc) return AT_REC_NOT_JSON;
    if (!cJSON_IsObject(doc)) { cJSON_Delete(doc); return AT_REC_NOT_OBJECT; }
    /* JSON fields win; a key part is interned only when its field is absent */
    const char *field[3] = {0};
    static const char *const names[3] = {"affinity_key", "api_format", "model_name"};
    double count = 0;
    bool ok = true;
    for (int i = 0; i < 3 && ok; i++) {
        if (cJSON_GetObjectItemCaseSensitive(doc, names[i]))
            ok = take_string(in, doc, names[i], &field[i]);
        else if (part[i])
            field[i] = at_intern(in, part[i], plen[i]);
        else if (i > 0)
            field[i] = at_intern(in, "unknown", 7); /* the gateway's fallback */
    }
    ok = ok && take_string(in, doc, "provider_id", &row->provider_id) &&
         take_string(in, doc, "endpoint_id", &row->endpoint_id) &&
         take_string(in, doc, "key_id", &row->key_id) &&
         take_number(doc, "created_at", &row->created_at) &&
         take_number(doc, "expire_at", &row->expire_at) &&
         take_number(doc, "request_count", &count);
    cJSON_Delete(doc);
    const char *akey = field[0], *fmt = field[1], *model = field[2];
    if (!ok) return AT_REC_WRONG_TYPE;
    /* 1e400 parses as infinity: no JSON form, like NaN (the reference's
     * response would fail to serialise it) */
    if (isinf(row->created_at) || isinf(row->expire_at) || isinf(count)) return AT_REC_NOT_JSON;
    if (!akey || !*akey) return AT_REC_BAD_KEY;
    row->affinity_key = akey;
    row->api_format = fmt;
    row->model_name = model;
    /* clamp absurd counts to 15 digits (what JSON output prints exactly):
     * the cast of a larger double is undefined, and sums must not overflow */
    row->request_count = count > 999999999999999.0 ? INT64_C(999999999999999)
                       : count < -999999999999999.0 ? -INT64_C(999999999999999) : (int64_t)count;
    return AT_REC_OK;
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

/* One SCAN batch waiting to be handed to the callback. */
typedef struct {
    redisReply *scan, *mget;
} walk_batch;

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
            redisReply *v = values ? b->mget->element[i] : NULL;
            vv[i] = v && v->type == REDIS_REPLY_STRING ? v->str : NULL;
            vl[i] = v && v->type == REDIS_REPLY_STRING ? v->len : 0;
        }
        stop = fn(ctx, n, kv, kl, values ? vv : NULL, values ? vl : NULL);
        free(kv);
        free(vv);
        free(kl);
        free(vl);
    }
    freeReplyObject(b->scan);
    if (b->mget) freeReplyObject(b->mget);
    b->scan = b->mget = NULL;
    return stop;
}

/* The walk keeps Redis busy while we parse: the MGET of batch i and the SCAN
 * of batch i+1 are sent before batch i-1 is handed to the callback. */
int at_redis_walk(at_redis *r, const at_walk_opts *opts, at_walk_fn fn, void *ctx)
{
    at_walk_opts o = opts ? *opts : (at_walk_opts){.values = true};
    walk_batch pending = {0};
    const char **argv = NULL;
    size_t *lens = NULL, cap = 0;
    int rc = 0;
    redisReply *scan = scan_append(r, "0", &o) < 0 ? NULL : at_redis_read(r);
    for (;;) {
        if (!scan_reply_ok(scan)) { rc = -1; break; }
        redisReply *keys = scan->element[1];
        size_t n = keys->elements;
        bool last = strcmp(scan->element[0]->str, "0") == 0;
        bool want_mget = n && o.values;
        if (want_mget) {
            if (n + 1 > cap) {
                cap = n + 1;
                argv = realloc(argv, cap * sizeof *argv);
                lens = realloc(lens, cap * sizeof *lens);
                if (!argv || !lens) abort();
            }
            argv[0] = "MGET";
            lens[0] = 4;
            for (size_t i = 0; i < n; i++) {
                argv[i + 1] = keys->element[i]->str;
                lens[i + 1] = keys->element[i]->len;
            }
            if (at_redis_append(r, (int)n + 1, argv, lens) < 0) { rc = -1; break; }
        }
        bool pipelined = !last && !o.pause_us && !o.exclusive;
        if (pipelined && scan_append(r, scan->element[0]->str, &o) < 0) { rc = -1; break; }
        if (at_redis_flush(r) < 0) { rc = -1; break; }
        /* Redis works on the commands just sent while we parse the previous batch */
        if (pending.scan && deliver(&pending, o.values, fn, ctx)) {
            /* stopped by the callback: drain the replies still in flight */
            for (int k = (int)want_mget + (int)pipelined; k > 0; k--) {
                redisReply *x = at_redis_read(r);
                if (x) freeReplyObject(x);
            }
            rc = 1;
            break;
        }
        redisReply *mget = NULL;
        if (want_mget) {
            mget = at_redis_read(r);
            if (!mget || mget->type != REDIS_REPLY_ARRAY || mget->elements != n) {
                if (mget) freeReplyObject(mget);
                rc = -1;
                break;
            }
        }
        char cursor[32];
        snprintf(cursor, sizeof cursor, "%s", scan->element[0]->str);
        pending.scan = scan;
        pending.mget = mget;
        scan = NULL;
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
    }
    if (pending.scan) { freeReplyObject(pending.scan); if (pending.mget) freeReplyObject(pending.mget); }
    if (scan) freeReplyObject(scan);
    free(argv);
    free(lens);
    return rc;
}
