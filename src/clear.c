/* clear.c — the one executor for every destructive operation. It refuses in
 * read-only mode or against a replica, opens the audit log first (no log, no
 * clear), then deletes in bounded batches: SCAN + UNLINK, or a server-side
 * Lua compare-and-delete where the value must still match at delete time
 * (clear provider, clear one), so a record the gateway re-pointed meanwhile
 * is never lost. A failure part-way reports what was and was not done;
 * running the same request again finishes the job. */
#include "aethertop/clear.h"
#include "aethertop/affinity.h"
#include "aethertop/arena.h"
#include "aethertop/audit.h"
#include "aethertop/json.h"
#include "aethertop/redis.h"
#include "aethertop/text.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each key of the batch whose JSON value has provider_id == ARGV[1] at this
 * moment: deleted when ARGV[2] is "1", only counted otherwise (so the number
 * the confirmation shows is decided by the very same rule). A delete the
 * server refuses (ACL, replica) ends the run with {deleted so far, error}
 * rather than an error reply, so the count stays exact. When ARGV[3] is
 * "1" the id holds only characters a JSON writer need not escape, so a value
 * that holds neither the id verbatim nor any escape cannot match and is not
 * decoded at all. A key that is no longer a string is left alone (pcall: a
 * type error must not abort the batch half-way). */
static const char LUA_CLEAR_PROVIDER[] =
    "local n = 0\n"
    "local id, fast = ARGV[1], ARGV[3] == '1'\n"
    "for _, k in ipairs(KEYS) do\n"
    "  local v = redis.pcall('GET', k)\n"
    "  if type(v) == 'string' and (not fast or string.find(v, id, 1, true) or string.find(v, '\\\\', 1, true)) then\n"
    "    local ok, t = pcall(cjson.decode, v)\n"
    "    if ok and type(t) == 'table' and t['provider_id'] == id then\n"
    "      if ARGV[2] ~= '1' then n = n + 1 else\n"
    "        local r = redis.pcall('UNLINK', k)\n"
    "        if type(r) ~= 'number' then return {n, r['err'] or 'UNLINK failed'} end\n"
    "        n = n + r\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return n\n";

/* Characters a JSON writer leaves as they are inside a string. */
static bool json_verbatim(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.' || *s == ':'))
            return false;
    return true;
}

/* KEYS[1] when it exists and its endpoint_id is ARGV[1]: deleted when
 * ARGV[2] is "1", only counted otherwise (the confirmation and the delete
 * decide by the same rule). -1: missing, -2: endpoint differs or value
 * unreadable, 1: deleted (or would be). */
static const char LUA_CLEAR_ONE[] =
    "local v = redis.pcall('GET', KEYS[1])\n"
    "if not v then return -1 end\n"
    "if type(v) ~= 'string' then return -2 end\n"
    "local ok, t = pcall(cjson.decode, v)\n"
    "if not ok or type(t) ~= 'table' or t['endpoint_id'] ~= ARGV[1] then return -2 end\n"
    "if ARGV[2] ~= '1' then return 1 end\n"
    "return redis.call('UNLINK', KEYS[1])\n";

void at_clear_result_free(at_clear_result *r)
{
    for (size_t i = 0; i < r->n_deleted_keys; i++) free(r->deleted_keys[i]);
    free(r->deleted_keys);
    r->deleted_keys = NULL;
    r->n_deleted_keys = 0;
}

static void note_deleted_key(at_clear_result *res, const char *key)
{
    res->deleted_keys = realloc(res->deleted_keys, (res->n_deleted_keys + 1) * sizeof *res->deleted_keys);
    char *copy = strdup(key);
    if (!res->deleted_keys || !copy) abort();
    res->deleted_keys[res->n_deleted_keys++] = copy;
}

/* A key name of any length (ids come from clients of the gateway: a name
 * cut to fit a buffer would be another key). */
static char *key_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *key_name(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) abort();
    return s;
}

/* ---- interruption ----------------------------------------------------------- */

/* set from a signal handler, possibly on another thread than the clear's
 * (the console): a lock-free atomic */
static atomic_int interrupted;

void at_clear_interrupt(void)
{
    interrupted = 1;
}

/* ---- batch walkers -------------------------------------------------------- */

typedef struct {
    at_redis *r;
    const at_clear_request *req;
    bool execute;              /* false: only count */
    long long matched, deleted, examined, unreadable;
    long long uncertain;       /* keys of the last command whose reply was lost */
    char refused[256];         /* the error a script run stopped at */
    bool stopped;              /* at_clear_interrupt() between batches */
    at_strmap key_ids;         /* AT_CLEAR_API_KEYS */
    at_arena *cand_arena;      /* AT_CLEAR_PROVIDER: keys whose value may match, */
    at_interner cand_keys;     /* each once even if SCAN returned it twice */
    const char **cand;
    size_t *cand_len, n_cand, cap_cand;
    bool verbatim;             /* the id is written as it is inside JSON */
    size_t id_len;
    bool failed;
} batch_ctx;

/* Is the key name's API key part (cache_affinity:{here}:...) one of the
 * targets? The gateway's list_affinities takes a record's affinity_key from
 * there (parts[1]) whatever its value says, and the reference's clear-user
 * picks by that: a value claiming another API key changes nothing. */
static bool key_names_target(batch_ctx *c, const char *key, size_t klen)
{
    size_t pl = strlen(AT_AFFINITY_PREFIX);
    if (klen <= pl || memcmp(key, AT_AFFINITY_PREFIX, pl) != 0) return false;
    const char *part = key + pl, *end = memchr(part, ':', klen - pl);
    int32_t v;
    return at_strmap_find(&c->key_ids, part, end ? (size_t)(end - part) : klen - pl, &v) != NULL;
}

/* Would the gateway's json.loads read this value as an object? Redis's Lua
 * cjson is laxer (bytes that are not UTF-8, raw control characters in
 * strings, hex numbers), so the compare-and-delete script alone would
 * delete records that the reference cannot read and SPEC 5 has skipped. */
static bool gateway_reads_object(const char *v, size_t n)
{
    size_t i = 0;
    while (i < n && at_json_ws(v[i])) i++;
    return i < n && v[i] == '{' && at_utf8_valid(v, n) && at_json_valid(v, n);
}

/* Send head[0..nhead) + keys + tail[0..ntail) as one command and return its
 * integer reply, or -1 (c->failed set) when there is none. A provider script
 * that stopped at a refused delete replies {deleted before, error}: *done
 * gets that count. */
static long long keys_command(batch_ctx *c, const char *const *head, size_t nhead, size_t n,
                              const char *const *keys, const size_t *lens, const char *const *tail,
                              size_t ntail, long long *done)
{
    size_t argc = nhead + n + ntail;
    const char **argv = malloc(argc * sizeof *argv);
    size_t *argl = malloc(argc * sizeof *argl);
    if (!argv || !argl) abort();
    for (size_t i = 0; i < nhead; i++) { argv[i] = head[i]; argl[i] = strlen(head[i]); }
    memcpy(argv + nhead, keys, n * sizeof *argv);
    memcpy(argl + nhead, lens, n * sizeof *argl);
    for (size_t i = 0; i < ntail; i++) { argv[nhead + n + i] = tail[i]; argl[nhead + n + i] = strlen(tail[i]); }
    redisReply *rep = at_redis_command(c->r, (int)argc, argv, argl);
    free(argv);
    free(argl);
    long long v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER && rep->element[1]->type == REDIS_REPLY_STRING) {
        *done = rep->element[0]->integer;
        snprintf(c->refused, sizeof c->refused, "%s", rep->element[1]->str);
    }
    /* no reply (timeout, connection lost): Redis may have run it all the
     * same. Any reply tells what was done: an error to UNLINK or to a
     * script refused before it ran did nothing, and a script that met a
     * refused delete says how many it made before. */
    if (v < 0) {
        c->failed = true;
        if (!rep) c->uncertain = (long long)n;
    }
    if (rep) freeReplyObject(rep);
    return v;
}

static int unlink_batch(batch_ctx *c, size_t n, const char *const *keys, const size_t *lens)
{
    if (!n) return 0;
    const char *head[] = {"UNLINK"};
    long long done = 0;
    long long v = keys_command(c, head, 1, n, keys, lens, NULL, 0, &done);
    if (v < 0) return 1;
    c->deleted += v;
    return 0;
}

static int on_batch(void *vctx, size_t n, const char *const *keys, const size_t *klens,
                    const char *const *vals, const size_t *vlens)
{
    batch_ctx *c = vctx;
    if (interrupted) {
        c->stopped = true;
        return 1;
    }
    c->examined += (long long)n;
    switch (c->req->kind) {
    case AT_CLEAR_ALL:
    case AT_CLEAR_MAPPINGS_ALL:
        c->matched += (long long)n;
        return c->execute ? unlink_batch(c, n, keys, klens) : 0;
    case AT_CLEAR_PROVIDER:
        /* candidates: values that contain the id as it would be written
         * (every value when the id has characters JSON may escape) and that
         * the gateway can read; the server script decides, at delete time,
         * which really match */
        for (size_t i = 0; i < n; i++) {
            if (!vals[i]) continue;
            bool mentions = memmem(vals[i], vlens[i], c->req->args[0], c->id_len) != NULL;
            if (c->verbatim && !mentions && !memchr(vals[i], '\\', vlens[i])) continue;
            size_t known = c->cand_keys.map.n;
            const char *key = at_intern(&c->cand_keys, keys[i], klens[i]);
            if (c->cand_keys.map.n == known) continue; /* seen already */
            if (!gateway_reads_object(vals[i], vlens[i])) {
                if (mentions) c->unreadable++;
                continue;
            }
            if (c->n_cand == c->cap_cand) {
                c->cap_cand = c->cap_cand ? c->cap_cand * 2 : 1024;
                c->cand = realloc(c->cand, c->cap_cand * sizeof *c->cand);
                c->cand_len = realloc(c->cand_len, c->cap_cand * sizeof *c->cand_len);
                if (!c->cand || !c->cand_len) abort();
            }
            c->cand[c->n_cand] = key;
            c->cand_len[c->n_cand++] = klens[i];
        }
        return 0;
    case AT_CLEAR_API_KEYS: {
        at_arena *arena = at_arena_new();
        at_interner in;
        at_interner_init(&in, arena);
        const char **pick = malloc(n * sizeof *pick);
        size_t *plen = malloc(n * sizeof *plen);
        if (!pick || !plen) abort();
        size_t np = 0;
        for (size_t i = 0; i < n; i++) {
            if (!key_names_target(c, keys[i], klens[i])) continue;
            /* a target's record that cannot be read is skipped, and counted */
            at_affinity row;
            at_record_status st = at_affinity_parse(&in, keys[i], klens[i], vals[i], vlens[i], &row);
            if (st == AT_REC_OK) {
                pick[np] = keys[i];
                plen[np++] = klens[i];
            } else if (st != AT_REC_GONE) {
                c->unreadable++;
            }
        }
        c->matched += (long long)np;
        int stop = c->execute ? unlink_batch(c, np, pick, plen) : 0;
        free(pick);
        free(plen);
        at_interner_free(&in);
        at_arena_free(arena);
        return stop;
    }
    default:
        return 0;
    }
}

/* Compare-and-delete (or, not executing, count) n candidate keys in one
 * script run: each is deleted only if its value has the provider id now. */
static int provider_script_batch(batch_ctx *c, size_t n, const char *const *keys, const size_t *klens)
{
    char nkeys[24];
    snprintf(nkeys, sizeof nkeys, "%zu", n);
    const char *head[] = {"EVAL", LUA_CLEAR_PROVIDER, nkeys};
    const char *tail[] = {c->req->args[0], c->execute ? "1" : "0", c->verbatim ? "1" : "0"};
    long long done = 0;
    long long v = keys_command(c, head, 3, n, keys, klens, tail, 3, &done);
    if (v < 0) {
        c->deleted += done;
        return 1;
    }
    c->matched += v;
    if (c->execute) c->deleted += v;
    return 0;
}

/* Candidates per script run: each run holds Redis for well under a
 * millisecond, so other clients are served in between. */
#define PROVIDER_DELETE_BATCH 100

static int walk_request(at_redis *r, const at_clear_request *req, bool execute, batch_ctx *c)
{
    memset(c, 0, sizeof *c);
    c->r = r;
    c->req = req;
    c->execute = execute;
    at_strmap_init(&c->key_ids);
    if (req->kind == AT_CLEAR_API_KEYS)
        for (size_t i = 0; i < req->n_args; i++) at_strmap_put(&c->key_ids, req->args[i], 1);
    /* small batches: each command holds Redis only a few milliseconds even on
     * a slow machine, so other clients are served in between */
    at_walk_opts o = {.count = 200, .exclusive = execute,
                      .values = req->kind == AT_CLEAR_API_KEYS};
    if (req->kind == AT_CLEAR_PROVIDER) {
        /* read like a refresh (pipelined, nothing sent from the callback);
         * the deletes follow the walk */
        o = (at_walk_opts){.count = 1000, .values = true};
        c->cand_arena = at_arena_new();
        at_interner_init(&c->cand_keys, c->cand_arena);
        c->verbatim = json_verbatim(req->args[0]);
        c->id_len = strlen(req->args[0]);
    }
    int rc = 0;
    if (req->kind == AT_CLEAR_MAPPINGS_ALL) {
        o.match = "model:*";
        rc = at_redis_walk(r, &o, on_batch, c);
        o.match = "global_model:*";
        if (rc == 0 && !c->failed && !c->stopped) rc = at_redis_walk(r, &o, on_batch, c);
    } else {
        rc = at_redis_walk(r, &o, on_batch, c);
    }
    for (size_t i = 0; rc == 0 && !c->failed && !c->stopped && i < c->n_cand; i += PROVIDER_DELETE_BATCH) {
        if (interrupted) {
            c->stopped = true;
            break;
        }
        size_t n = c->n_cand - i < PROVIDER_DELETE_BATCH ? c->n_cand - i : PROVIDER_DELETE_BATCH;
        provider_script_batch(c, n, c->cand + i, c->cand_len + i);
    }
    if (c->cand_arena) {
        at_interner_free(&c->cand_keys);
        at_arena_free(c->cand_arena);
    }
    free(c->cand);
    free(c->cand_len);
    c->cand = NULL;
    c->cand_len = NULL;
    at_strmap_free(&c->key_ids);
    return rc < 0 || c->failed ? -1 : 0;
}

/* The key a clear-one names: the exact key when the caller has it (the
 * console's selected row: its value's format or model may differ from the
 * name's), else cache_affinity:{affinity_key}:{api_format}:{model_id} as
 * the reference builds it. */
static char *affinity_key_name(const at_clear_request *req)
{
    if (req->n_args > 4 && req->args[4] && *req->args[4]) return key_name("%s", req->args[4]);
    return key_name(AT_AFFINITY_PREFIX "%s:%s:%s", req->args[0], req->args[3], req->args[2]);
}

static void pair_keys(const at_clear_request *req, char *k[2])
{
    if (req->kind == AT_CLEAR_MAPPING_NAME) {
        k[0] = key_name("global_model:resolve:%s", req->args[0]);
        k[1] = key_name("global_model:name:%s", req->args[0]);
    } else {
        k[0] = key_name("model:provider_global:%s:%s", req->args[0], req->args[1]);
        k[1] = key_name("model:provider_global:hits:%s:%s", req->args[0], req->args[1]);
    }
}

/* LUA_CLEAR_ONE on the request's key: its integer reply, or INT64_MIN with
 * no usable reply (reason in at_redis_error); *sent: the script went out
 * (before it, a failed read deleted nothing). */
#define NO_REPLY (-0x7fffffffffffffffLL - 1)
static long long clear_one_script(at_redis *r, const at_clear_request *req, bool execute, bool *sent)
{
    *sent = false;
    char *key = affinity_key_name(req);
    /* The reference reads the value with json.loads first: one it cannot
     * read is no affinity, though the script's cjson may find the endpoint
     * in it. A key of another type is the script's -2 too. */
    const char *get[] = {"GET", key};
    redisReply *rep = at_redis_command(r, 2, get, NULL);
    long long v = NO_REPLY;
    if (rep && rep->type == REDIS_REPLY_NIL) {
        v = -1;
    } else if (rep && rep->type == REDIS_REPLY_STRING && gateway_reads_object(rep->str, rep->len)) {
        freeReplyObject(rep);
        *sent = true;
        const char *argv[] = {"EVAL", LUA_CLEAR_ONE, "1", key, req->args[1], execute ? "1" : "0"};
        rep = at_redis_command(r, 6, argv, NULL);
        if (rep && rep->type == REDIS_REPLY_INTEGER) v = rep->integer;
    } else if (rep && (rep->type != REDIS_REPLY_ERROR || strncmp(rep->str, "WRONGTYPE", 9) == 0)) {
        v = -2;
    }
    free(key);
    if (rep) freeReplyObject(rep);
    return v;
}

int at_clear_count(at_redis *r, const at_clear_request *req, long long *n, char *err, size_t errlen)
{
    *n = 0;
    batch_ctx c;
    switch (req->kind) {
    case AT_CLEAR_AFFINITY: {
        bool sent;
        long long v = clear_one_script(r, req, false, &sent);
        if (v == NO_REPLY) break;
        *n = v > 0 ? 1 : 0;
        return 0;
    }
    case AT_CLEAR_MAPPING_NAME:
    case AT_CLEAR_PROVIDER_MAPPING: {
        char *k[2];
        pair_keys(req, k);
        const char *argv[] = {"EXISTS", k[0], k[1]};
        redisReply *rep = at_redis_command(r, 3, argv, NULL);
        free(k[0]);
        free(k[1]);
        bool ok = rep && rep->type == REDIS_REPLY_INTEGER;
        if (ok) *n = rep->integer;
        if (rep) freeReplyObject(rep);
        if (!ok) break;
        return 0;
    }
    default:
        if (walk_request(r, req, false, &c) == 0) {
            *n = c.matched;
            return 0;
        }
        break;
    }
    snprintf(err, errlen, "Redis %s: %s", at_redis_describe(r), at_redis_error(r));
    return -1;
}

static const char *kind_name(at_clear_kind k)
{
    switch (k) {
    case AT_CLEAR_AFFINITY: return "clear_affinity";
    case AT_CLEAR_API_KEYS: return "clear_api_keys";
    case AT_CLEAR_ALL: return "clear_all";
    case AT_CLEAR_PROVIDER: return "clear_provider";
    case AT_CLEAR_MAPPINGS_ALL: return "clear_mappings";
    case AT_CLEAR_MAPPING_NAME: return "clear_mapping";
    case AT_CLEAR_PROVIDER_MAPPING: return "clear_provider_mapping";
    }
    return "?";
}

static const char *outcome_name(at_clear_outcome o)
{
    switch (o) {
    case AT_CLEAR_DONE: return "done";
    case AT_CLEAR_NOT_FOUND: return "not_found";
    case AT_CLEAR_FAILED: return "failed";
    case AT_CLEAR_REFUSED: return "refused";
    case AT_CLEAR_INTERRUPTED: return "interrupted";
    }
    return "?";
}

/* Is the server a replica? (then aethertop is read-only by itself) */
static bool is_replica(at_redis *r)
{
    char role[16];
    return at_redis_role(r, role, sizeof role) == 0 && strcmp(role, "slave") == 0;
}

static void run(at_redis *r, const at_clear_request *req, at_clear_result *res)
{
    batch_ctx c;
    switch (req->kind) {
    case AT_CLEAR_AFFINITY: {
        bool sent;
        long long v = clear_one_script(r, req, true, &sent);
        res->examined = 1;
        if (v == NO_REPLY) {
            res->outcome = AT_CLEAR_FAILED;
            if (sent && at_redis_broken(r))
                snprintf(res->error, sizeof res->error,
                         "the reply was lost (Redis %s: %s): the affinity may or may not have been deleted; "
                         "look before running it again", at_redis_describe(r), at_redis_error(r));
            else
                snprintf(res->error, sizeof res->error, "nothing deleted: Redis %s: %s", at_redis_describe(r),
                         at_redis_error(r));
        } else if (v < 0) {
            res->outcome = AT_CLEAR_NOT_FOUND;
        } else {
            res->deleted = v;
            res->outcome = AT_CLEAR_DONE;
        }
        return;
    }
    case AT_CLEAR_MAPPING_NAME:
    case AT_CLEAR_PROVIDER_MAPPING: {
        char *k[2];
        pair_keys(req, k);
        res->outcome = AT_CLEAR_DONE;
        for (int i = 0; i < 2; i++) {
            const char *argv[] = {"UNLINK", k[i]};
            redisReply *rep = at_redis_command(r, 2, argv, NULL);
            if (!rep || rep->type != REDIS_REPLY_INTEGER) {
                res->outcome = AT_CLEAR_FAILED;
                snprintf(res->error, sizeof res->error, "deleted %lld of the 2 keys, %s%s (Redis %s: %s)",
                         res->deleted, rep ? "not the rest" : "the next may or may not have been",
                         rep || i == 1 ? "" : ", the last not", at_redis_describe(r), at_redis_error(r));
                if (rep) freeReplyObject(rep);
                break;
            }
            if (rep->integer > 0) {
                res->deleted += rep->integer;
                note_deleted_key(res, k[i]);
            }
            freeReplyObject(rep);
        }
        free(k[0]);
        free(k[1]);
        return;
    }
    default:
        if (walk_request(r, req, true, &c) < 0) {
            res->outcome = AT_CLEAR_FAILED;
            if (c.uncertain > 0)
                snprintf(res->error, sizeof res->error,
                         "stopped part-way: %lld keys deleted; the reply for the last batch of %lld was lost, so up "
                         "to %lld more may have been deleted; the rest not (Redis %s: %s); run it again to finish",
                         c.deleted, c.uncertain, c.uncertain, at_redis_describe(r), at_redis_error(r));
            else
                snprintf(res->error, sizeof res->error,
                         "stopped part-way: %lld keys deleted, the rest not (Redis %s: %s); run it again to finish",
                         c.deleted, at_redis_describe(r), *c.refused ? c.refused : at_redis_error(r));
        } else if (c.stopped) {
            res->outcome = AT_CLEAR_INTERRUPTED;
            snprintf(res->error, sizeof res->error,
                     "interrupted: %lld keys deleted, the rest not; run it again to finish", c.deleted);
        } else {
            res->outcome = AT_CLEAR_DONE;
        }
        res->deleted = c.deleted;
        res->examined = c.examined;
        res->unreadable = c.unreadable;
        return;
    }
}

at_clear_outcome at_clear_execute(at_redis *r, const at_config *cfg, const at_clear_request *req,
                                  at_clear_result *res)
{
    memset(res, 0, sizeof *res);
    interrupted = 0;
    if (cfg->read_only) {
        res->outcome = AT_CLEAR_REFUSED;
        snprintf(res->error, sizeof res->error, "refused: read-only mode (--read-only or AETHERTOP_READ_ONLY)");
        return res->outcome;
    }
    if (is_replica(r)) {
        res->outcome = AT_CLEAR_REFUSED;
        snprintf(res->error, sizeof res->error,
                 "refused: %s is a replica; aethertop is read-only there", at_redis_describe(r));
        return res->outcome;
    }
    /* the intent is on disk before the first delete (a clear killed half-way
     * still leaves its trace); no log, no clear */
    at_audit audit;
    char err[400];
    const char *target = at_redis_describe(r), *op = kind_name(req->kind);
    bool logged = at_audit_open(&audit, cfg->audit_log, err, sizeof err) == 0;
    if (logged && at_audit_write(&audit, target, op, req->label, req->args, req->n_args, 0, "started", NULL) < 0) {
        snprintf(err, sizeof err, "writing the audit log %.300s failed", audit.path);
        logged = false;
    }
    if (!logged) {
        at_audit_close(&audit);
        res->outcome = AT_CLEAR_REFUSED;
        snprintf(res->error, sizeof res->error, "refused: %s; nothing was deleted", err);
        return res->outcome;
    }
    run(r, req, res);
    if (at_audit_write(&audit, target, op, req->label, req->args, req->n_args, res->deleted,
                       outcome_name(res->outcome), res->error) < 0) {
        size_t l = strlen(res->error);
        if (l)
            snprintf(res->error + l, sizeof res->error - l, "; writing the audit log %.300s failed", audit.path);
        else
            snprintf(res->error, sizeof res->error,
                     "%lld keys deleted, but writing the outcome to the audit log %.300s failed", res->deleted,
                     audit.path);
        if (res->outcome == AT_CLEAR_DONE || res->outcome == AT_CLEAR_NOT_FOUND) res->outcome = AT_CLEAR_FAILED;
    }
    at_audit_close(&audit);
    return res->outcome;
}
