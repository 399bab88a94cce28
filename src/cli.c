/* cli.c — the command-line face: one command per reference endpoint over the
 * core library. Default output is an aligned table with keys masked; --json
 * prints the reference endpoint's response body. Destructive commands count,
 * confirm, then go through the one clear executor. */
#include "aethertop/cli.h"
#include "aethertop/cells.h"
#include "aethertop/clear.h"
#include "aethertop/export.h"
#include "aethertop/i18n.h"
#include "aethertop/insight.h"
#include "aethertop/mapping.h"
#include "aethertop/pg.h"
#include "aethertop/query.h"
#include "aethertop/redis.h"
#include "aethertop/report.h"
#include "aethertop/secret.h"
#include "aethertop/snapshot.h"
#include "aethertop/stats.h"
#include "aethertop/text.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const at_config *cfg;
    const at_cli_opts *o;
    at_redis *r;
    at_pg *pg;
    at_fernet_key key;
    bool have_key;
} cli_ctx;

static void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    va_end(ap);
    at_eprintf("aethertop: %s\n", msg ? msg : "out of memory");
    free(msg);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int need_redis(cli_ctx *c)
{
    char err[512];
    c->r = at_redis_open(c->cfg, err, sizeof err);
    if (!c->r) {
        errorf("%s", err);
        return AT_EXIT_UNAVAILABLE;
    }
    if (*at_redis_note(c->r)) errorf(_("note: %s"), at_redis_note(c->r));
    return 0;
}

/* PostgreSQL is optional for Redis-only commands: warn and go on. */
static void want_pg(cli_ctx *c)
{
    char err[512];
    c->pg = at_pg_open(c->cfg, err, sizeof err);
    if (!c->pg) errorf(_("warning: %s; showing raw ids"), err);
}

static int need_pg(cli_ctx *c, const char *why)
{
    char err[512];
    c->pg = at_pg_open(c->cfg, err, sizeof err);
    if (!c->pg) {
        errorf(_("cannot %s: %s"), _(why), err);
        return AT_EXIT_UNAVAILABLE;
    }
    return 0;
}

static const at_fernet_key *secret_key(cli_ctx *c)
{
    if (!c->have_key) c->have_key = at_fernet_key_derive(c->cfg->encryption_key, &c->key) >= 0;
    return c->have_key ? &c->key : NULL;
}

static void print_json(const cJSON *doc)
{
    char *s = at_report_print(doc);
    if (s) printf("%s\n", s);
    free(s);
}

static at_snapshot *snapshot(cli_ctx *c, bool enrich, int *rc)
{
    char err[512];
    at_snapshot_opts so = {.want_info = true};
    at_snapshot *s = at_snapshot_build(c->r, enrich ? c->pg : NULL, enrich ? secret_key(c) : NULL, &so,
                                       err, sizeof err);
    if (!s) {
        errorf("%s", err);
        *rc = AT_EXIT_UNAVAILABLE;
        return NULL;
    }
    if (enrich && c->pg && !s->enriched) errorf(_("warning: %s; showing raw ids"), s->pg_error);
    if (s->n_skipped) {
        char why[512] = "";
        size_t l = 0;
        for (int i = AT_REC_NOT_JSON; i < AT_REC__COUNT; i++)
            if (s->skipped[i])
                l += (size_t)snprintf(why + l, sizeof why - l, "%s%zu %s", l ? ", " : "", s->skipped[i],
                                      at_record_status_name((at_record_status)i));
        errorf(ngettext("%zu unreadable affinity skipped (%s)", "%zu unreadable affinities skipped (%s)", s->n_skipped),
               s->n_skipped, why);
    }
    return s;
}

/* ---- human tables ------------------------------------------------------------ */

#define MAXCOLS 12

typedef struct {
    int ncols;
    const char *head[MAXCOLS];
    int cap[MAXCOLS];
    bool right[MAXCOLS];
    char **cells;
    size_t nrows, rcap;
} table;

static void table_row(table *t, ...)
{
    if (t->nrows == t->rcap) {
        t->rcap = t->rcap ? t->rcap * 2 : 64;
        t->cells = realloc(t->cells, t->rcap * (size_t)t->ncols * sizeof *t->cells);
        if (!t->cells) abort();
    }
    va_list ap;
    va_start(ap, t);
    for (int i = 0; i < t->ncols; i++) {
        const char *v = va_arg(ap, const char *);
        t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = at_text_sanitize(v ? v : "-");
    }
    va_end(ap);
    t->nrows++;
}

static void table_print(table *t)
{
    int w[MAXCOLS];
    for (int i = 0; i < t->ncols; i++) {
        w[i] = at_cells_width(t->head[i]);
        for (size_t r = 0; r < t->nrows; r++) {
            int cw = at_cells_width(t->cells[r * (size_t)t->ncols + (size_t)i]);
            if (cw > w[i]) w[i] = cw;
        }
        if (t->cap[i] && w[i] > t->cap[i]) w[i] = t->cap[i];
    }
    char buf[1024];
    for (int i = 0; i < t->ncols; i++)
        printf("%s%s", at_cells_fit(t->head[i], w[i], t->right[i], buf, sizeof buf), i + 1 < t->ncols ? "  " : "\n");
    for (size_t r = 0; r < t->nrows; r++)
        for (int i = 0; i < t->ncols; i++) {
            const char *cell = t->cells[r * (size_t)t->ncols + (size_t)i];
            bool last = i + 1 == t->ncols;
            /* the last column is not padded (no trailing blanks) unless right-aligned */
            int width = last && !t->right[i] && at_cells_width(cell) < w[i] ? at_cells_width(cell) : w[i];
            printf("%s%s", at_cells_fit(cell, width, t->right[i], buf, sizeof buf), last ? "\n" : "  ");
        }
    for (size_t k = 0; k < t->nrows * (size_t)t->ncols; k++) free(t->cells[k]);
    free(t->cells);
}

static void fmt_ttl(double expire_at, double now, char *out, size_t n)
{
    if (isnan(expire_at)) { snprintf(out, n, "-"); return; }
    double left = expire_at - now;
    if (left <= 0) { snprintf(out, n, "%s", _("expired")); return; }
    long s = left < 1e12 ? (long)left : 999999999999L; /* far-future data: no overflowing cast */
    if (s >= 60) snprintf(out, n, "%ldm%02lds", s / 60, s % 60);
    else snprintf(out, n, "%lds", s);
}

static void fmt_time(double t, char *out, size_t n)
{
    /* out-of-range times (hostile data) show as "-": no overflowing cast,
     * and no strftime of a struct tm that localtime_r did not fill */
    struct tm tm;
    time_t tt = fabs(t) < 1e12 ? (time_t)t : 0;
    if (!(fabs(t) < 1e12) || !localtime_r(&tt, &tm) || strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, n, "-");
}

static void fmt_count(long long v, char *out, size_t n)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", v < 0 ? -v : v);
    size_t len = strlen(raw), o = 0;
    if (v < 0 && o + 1 < n) out[o++] = '-';
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) out[o++] = ',';
        out[o++] = raw[i];
    }
    out[o] = '\0';
}

static void print_rows(const at_snapshot *s, const at_selection *sel, size_t from, size_t count)
{
    table t = {.ncols = 11,
               .head = {_("USER"), _("KEY NAME"), _("USER KEY"), _("PROVIDER"), _("FORMAT"), _("PROVIDER KEY"),
                        _("PROV KEY"), _("MODEL"), _("REQS"), _("TTL"), _("CREATED")},
               .cap = {20, 18, 20, 18, 10, 18, 20, 28, 0, 0, 0},
               .right = {[8] = true, [9] = true}};
    double now = wall_now();
    for (size_t i = from; i < sel->n && i < from + count; i++) {
        const at_affinity *a = &s->rows[sel->idx[i]];
        const at_api_key *k = at_row_api_key(s, a);
        const at_user *u = at_row_user(s, a);
        const at_provider *p = at_row_provider(s, a);
        const at_provider_key *pk = at_row_provider_key(s, a);
        const at_global_model *g = at_row_global_model(s, a);
        char reqs[32], ttl[32], created[32];
        snprintf(reqs, sizeof reqs, "%lld", (long long)a->request_count);
        fmt_ttl(a->expire_at, now, ttl, sizeof ttl);
        fmt_time(a->created_at, created, sizeof created);
        table_row(&t, u ? u->username : (k ? k->user_id : a->affinity_key), k ? k->name : NULL,
                  k ? k->masked : NULL, p ? p->display_name : a->provider_id, a->api_format,
                  pk ? pk->name : a->key_id, pk ? pk->masked : NULL,
                  g ? (g->display_name ? g->display_name : g->name) : a->model_name, reqs, ttl, created);
    }
    table_print(&t);
}

/* ---- read commands --------------------------------------------------------------- */

static int cmd_config(cli_ctx *c)
{
    cJSON *doc = at_report_config();
    if (c->o->json) {
        print_json(doc);
    } else {
        cJSON *d = cJSON_GetObjectItem(doc, "data");
        cJSON *dc = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "dynamic_reservation"), "config");
        printf(_("cache TTL                     %d s\n"), cJSON_GetObjectItem(d, "cache_ttl_seconds")->valueint);
        printf(_("static reservation ratio      %g\n"), cJSON_GetObjectItem(d, "cache_reservation_ratio")->valuedouble);
        printf("%s", _("dynamic reservation           enabled\n"));
        cJSON *it;
        cJSON_ArrayForEach(it, dc) printf("  %-28s%g\n", it->string, it->valuedouble);
    }
    cJSON_Delete(doc);
    return 0;
}

static void print_counts(const char *title, const at_count_list *l, size_t max)
{
    printf("\n%s\n", title);
    table t = {.ncols = 3, .head = {_("NAME"), _("AFFINITIES"), _("REQUESTS")}, .cap = {40, 0, 0}, .right = {false, true, true}};
    for (size_t i = 0; i < l->n && i < max; i++) {
        char n[32], r[32];
        fmt_count(l->items[i].count, n, sizeof n);
        fmt_count(l->items[i].requests, r, sizeof r);
        table_row(&t, l->items[i].label, n, r);
    }
    table_print(&t);
    if (l->n > max) printf(_("… and %zu more\n"), l->n - max);
}

static void human_bytes(long long b, char *out, size_t n)
{
    if (b < 0) snprintf(out, n, "?");
    else if (b >= 1 << 30) snprintf(out, n, "%.1f GiB", b / 1073741824.0);
    else if (b >= 1 << 20) snprintf(out, n, "%.1f MiB", b / 1048576.0);
    else snprintf(out, n, "%.1f KiB", b / 1024.0);
}

static int cmd_stats(cli_ctx *c, bool metrics)
{
    int rc = need_redis(c);
    if (rc) return rc;
    want_pg(c);
    at_snapshot *s = snapshot(c, true, &rc);
    if (!s) return rc;
    at_stats st;
    double now = wall_now();
    at_stats_compute(s, NULL, now, &st);
    if (metrics) {
        char *text = at_report_metrics(s, &st);
        fputs(text, stdout);
        free(text);
        /* aethertop's derived figures; the usage table when PostgreSQL answers */
        at_hits_report h5;
        char err[512];
        bool have_hits = c->pg && at_hits_build(c->pg, 300, &h5, err, sizeof err) == 0;
        if (c->pg && !have_hits) errorf(_("warning: cannot read the usage table: %s"), err);
        text = at_metrics_derived(s, &st, now, have_hits ? &h5 : NULL);
        fputs(text, stdout);
        free(text);
        if (have_hits) at_hits_free(&h5);
    } else if (c->o->json) {
        cJSON *doc = at_report_stats(s, &st);
        print_json(doc);
        cJSON_Delete(doc);
    } else {
        char a[32], b[32], m[32];
        fmt_count(st.active, a, sizeof a);
        fmt_count(st.total_requests, b, sizeof b);
        /* what the server says (and a unix socket's path) may hold control characters */
        char *where = at_text_sanitize(at_redis_describe(c->r)), *role = at_text_sanitize(s->info.role),
             *version = at_text_sanitize(s->info.version);
        printf(_("Redis %s  role %s  version %s\n"), where, role, version);
        free(where);
        free(role);
        free(version);
        human_bytes(s->info.used_memory, m, sizeof m);
        printf(_("memory %s  clients %lld  ops/s %lld  keys %lld  hits %lld  misses %lld  evicted %lld  expired %lld\n"),
               m, s->info.connected_clients, s->info.ops_per_sec, s->info.dbsize, s->info.keyspace_hits,
               s->info.keyspace_misses, s->info.evicted_keys, s->info.expired_keys);
        printf(_("\nactive affinities %s   requests %s   expired-but-present %lld   unreadable %lld\n"), a, b,
               st.expired_present, st.unreadable);
        printf("%s", _("TTL left:"));
        static const char *const labels[AT_TTL_BUCKETS] = {"<30s", "<1m", "<2m", "<5m", ">=5m"};
        for (int i = 0; i < AT_TTL_BUCKETS; i++) printf("  %s %lld", labels[i], st.ttl_buckets[i]);
        printf("\n");
        print_counts(_("By API format"), &st.by_format, 20);
        print_counts(_("Top providers"), &st.by_provider, 10);
        print_counts(_("Top models"), &st.by_model, 10);
        print_counts(_("Top users"), &st.by_user, 10);
    }
    at_stats_free(&st);
    at_snapshot_free(s);
    return 0;
}

static int cmd_list(cli_ctx *c, const char *keyword)
{
    int limit = c->o->limit >= 0 ? c->o->limit : AT_LIMIT_DEFAULT;
    int offset = c->o->offset >= 0 ? c->o->offset : 0;
    int rc = need_redis(c);
    if (rc) return rc;
    if (keyword && *keyword) {
        if ((rc = need_pg(c, N_("resolve the keyword")))) return rc;
    } else {
        want_pg(c);
    }
    at_keyword kw;
    char err[512];
    if (at_keyword_resolve(c->pg, keyword, &kw, err, sizeof err) < 0) {
        errorf(_("cannot resolve the keyword: %s"), err);
        return AT_EXIT_UNAVAILABLE;
    }
    at_snapshot *s = snapshot(c, true, &rc);
    if (!s) { at_keyword_free(&kw); return rc; }
    at_filter f = {.keyword = &kw, .now = wall_now()};
    at_selection sel;
    at_query_filter(s, &f, &sel);
    at_query_sort(s, &sel, AT_SORT_DEFAULT);
    if (c->o->csv) {
        /* every matching row, unless --limit/--offset ask for a page */
        bool paged = c->o->limit >= 0 || c->o->offset >= 0;
        size_t from = paged ? (size_t)offset : 0, count = paged ? (size_t)limit : sel.n;
        fflush(stdout);
        if (at_export_csv(stdout, s, &sel, from, count, isatty(STDOUT_FILENO)) < 0 || fflush(stdout) != 0) {
            errorf(_("cannot write the CSV: %s"), strerror(errno));
            rc = AT_EXIT_UNAVAILABLE;
        }
    } else if (c->o->json) {
        cJSON *doc = at_report_list(s, &sel, limit, offset, kw.matched_user_id);
        print_json(doc);
        cJSON_Delete(doc);
    } else {
        print_rows(s, &sel, (size_t)offset, (size_t)limit);
        size_t shown = sel.n > (size_t)offset ? sel.n - (size_t)offset : 0;
        if (shown > (size_t)limit) shown = (size_t)limit;
        char total[32];
        fmt_count((long long)sel.n, total, sizeof total);
        if (shown) printf(_("rows %d–%zu of %s"), offset + 1, (size_t)offset + shown, total);
        else printf(_("no rows (of %s)"), total);
        if (kw.matched_user_id) {
            char *id = at_text_sanitize(kw.matched_user_id);
            printf(_(" · user %s"), id);
            free(id);
        }
        printf("\n");
    }
    at_selection_free(&sel);
    at_snapshot_free(s);
    at_keyword_free(&kw);
    return rc;
}

static int not_found(cli_ctx *c, const char *detail, const char *english)
{
    if (c->o->json) {
        cJSON *doc = at_report_detail(detail);
        print_json(doc);
        cJSON_Delete(doc);
    }
    errorf("%s", english);
    return AT_EXIT_NOT_FOUND;
}

/* The reference's 404 for an identifier that names no user: its detail
 * (`prefix` + the identifier whole, at any length) and the English line. */
static int user_not_found(cli_ctx *c, const char *prefix, const char *ident)
{
    char *detail = NULL, *en = NULL;
    if (asprintf(&detail, "%s%s。支持用户名、邮箱、User ID或API Key ID", prefix, ident) < 0 ||
        asprintf(&en, _("no user, email, user id or API key id matches \"%s\""), ident) < 0)
        abort(); /* out of memory */
    int rc = not_found(c, detail, en);
    free(detail);
    free(en);
    return rc;
}

static int cmd_affinity(cli_ctx *c, const char *ident)
{
    int rc = need_pg(c, N_("resolve the user"));
    if (rc) return rc;
    at_user_info u;
    char err[512];
    int found = at_resolve_user(c->pg, ident, &u, err, sizeof err);
    if (found < 0) { errorf(_("cannot resolve the user: %s"), err); return AT_EXIT_UNAVAILABLE; }
    if (!found) return user_not_found(c, "无法识别的用户标识符: ", ident);
    if ((rc = need_redis(c))) { at_user_info_free(&u); return rc; }
    at_snapshot *s = snapshot(c, true, &rc);
    if (!s) { at_user_info_free(&u); return rc; }
    at_keyword kw = {.kind = AT_MATCH_USER, .key_ids = u.key_ids, .n_key_ids = u.n_key_ids};
    at_filter f = {.keyword = &kw, .now = wall_now()};
    at_selection sel;
    at_query_filter(s, &f, &sel);
    at_query_sort(s, &sel, AT_SORT_DEFAULT);
    if (c->o->json) {
        cJSON *doc = at_report_user_affinity(s, &u, &sel);
        print_json(doc);
        cJSON_Delete(doc);
    } else {
        char *name = at_text_sanitize(u.username ? u.username : "-");
        char *mail = at_text_sanitize(u.email ? u.email : "-");
        char *id = at_text_sanitize(u.user_id);
        printf(_("user %s <%s>  id %s  api keys %zu  affinities %zu\n"), name, mail, id, u.n_key_ids, sel.n);
        free(name);
        free(mail);
        free(id);
        if (sel.n) print_rows(s, &sel, 0, sel.n);
    }
    at_selection_free(&sel);
    at_snapshot_free(s);
    at_user_info_free(&u);
    return 0;
}

static int cmd_mappings(cli_ctx *c)
{
    int rc = need_redis(c);
    if (rc) return rc;
    want_pg(c);
    at_mapping_stats m;
    char err[512];
    if (at_mapping_stats_build(c->r, c->pg, &m, err, sizeof err) < 0) {
        errorf("%s", err);
        return AT_EXIT_UNAVAILABLE;
    }
    if (c->o->json) {
        cJSON *doc = at_report_mappings(&m);
        print_json(doc);
        cJSON_Delete(doc);
    } else {
        printf(_("model mapping cache: %lld keys (TTL %d s)\n"), m.total_keys, AT_MODEL_CACHE_TTL);
        printf("  model:id %lld  model:provider_global %lld  global_model:id %lld  global_model:name %lld  "
               "global_model:resolve %lld\n",
               m.model_by_id, m.model_by_provider_global, m.global_model_by_id, m.global_model_by_name,
               m.global_model_resolve);
        printf(_("\nName mappings (%zu)\n"), m.n_mappings);
        table t = {.ncols = 4, .head = {_("REQUESTED NAME"), _("GLOBAL MODEL"), _("PROVIDERS"), _("TTL")},
                   .cap = {40, 40, 50, 0}, .right = {[3] = true}};
        for (size_t i = 0; i < m.n_mappings; i++) {
            char prov[512] = "", ttl[16];
            size_t l = 0;
            for (size_t j = 0; j < m.mappings[i].n_providers && l < sizeof prov; j++)
                l += (size_t)snprintf(prov + l, sizeof prov - l, "%s%s", j ? ", " : "", m.mappings[i].providers[j]);
            snprintf(ttl, sizeof ttl, "%lld", m.mappings[i].ttl);
            table_row(&t, m.mappings[i].mapping_name, m.mappings[i].global_model_name, prov,
                      m.mappings[i].ttl > 0 ? ttl : "-");
        }
        table_print(&t);
        printf(_("\nProvider mappings (%zu)\n"), m.n_provider_mappings);
        table p = {.ncols = 5, .head = {_("PROVIDER"), _("GLOBAL MODEL"), _("PROVIDER MODEL"), _("TTL"), _("HITS")},
                   .cap = {30, 40, 40, 0, 0}, .right = {[3] = true, [4] = true}};
        for (size_t i = 0; i < m.n_provider_mappings; i++) {
            char ttl[16], hits[32];
            snprintf(ttl, sizeof ttl, "%lld", m.provider_mappings[i].ttl);
            snprintf(hits, sizeof hits, "%lld", m.provider_mappings[i].hit_count);
            table_row(&p, m.provider_mappings[i].provider_name, m.provider_mappings[i].global_model_name,
                      m.provider_mappings[i].provider_model_name, m.provider_mappings[i].ttl > 0 ? ttl : "-", hits);
        }
        table_print(&p);
        printf(_("\nUnmapped (%zu)\n"), m.n_unmapped);
        table un = {.ncols = 3, .head = {_("REQUESTED NAME"), _("STATUS"), _("TTL")}, .cap = {60, 0, 0}, .right = {[2] = true}};
        for (size_t i = 0; i < m.n_unmapped; i++) {
            char ttl[16];
            snprintf(ttl, sizeof ttl, "%lld", m.unmapped[i].ttl);
            table_row(&un, m.unmapped[i].mapping_name, m.unmapped[i].status, m.unmapped[i].ttl > 0 ? ttl : "-");
        }
        table_print(&un);
    }
    if (m.warning[0]) errorf(_("warning: %s"), m.warning);
    at_mapping_stats_free(&m);
    return 0;
}

static void fmt_rate(double r, char *out, size_t n)
{
    if (r < 0) snprintf(out, n, "-");
    else snprintf(out, n, "%.1f%%", r * 100);
}

static void fmt_window(long s, char *out, size_t n)
{
    if (s % 86400 == 0) snprintf(out, n, "%ldd", s / 86400);
    else if (s % 3600 == 0) snprintf(out, n, "%ldh", s / 3600);
    else if (s % 60 == 0) snprintf(out, n, "%ldm", s / 60);
    else snprintf(out, n, "%lds", s);
}

static void print_hits_rows(const char *title, const at_hits_row *rows, size_t n, size_t max)
{
    printf("\n%s\n", title);
    table t = {.ncols = 6, .head = {_("NAME"), _("REQUESTS"), _("CACHED"), _("TOKEN HIT RATE"), _("CACHE READ $"), _("SAVED ≈$")},
               .cap = {40, 0, 0, 0, 0, 0}, .right = {false, true, true, true, true, true}};
    for (size_t i = 0; i < n && i < max; i++) {
        char a[32], b[32], c[32], d[32], e[32];
        fmt_count(rows[i].requests, a, sizeof a);
        fmt_count(rows[i].cached_requests, b, sizeof b);
        fmt_rate(rows[i].token_hit_rate, c, sizeof c);
        snprintf(d, sizeof d, "%.4f", rows[i].cache_read_cost_usd);
        snprintf(e, sizeof e, "%.4f", rows[i].savings_usd);
        table_row(&t, rows[i].label && *rows[i].label ? rows[i].label : rows[i].id, a, b, c, d, e);
    }
    table_print(&t);
    if (n > max) printf(_("… and %zu more\n"), n - max);
}

static int cmd_hits(cli_ctx *c)
{
    int rc = need_pg(c, N_("read the usage table"));
    if (rc) return rc;
    long windows[2] = {c->o->window_s ? c->o->window_s : 300, 3600};
    size_t nw = c->o->window_s ? 1 : 2;
    at_hits_report rep[2];
    const at_hits_report *reps[2] = {&rep[0], &rep[1]};
    char err[512];
    for (size_t i = 0; i < nw; i++) {
        if (at_hits_build(c->pg, windows[i], &rep[i], err, sizeof err) < 0) {
            errorf(_("cannot read the usage table: %s"), err);
            for (size_t j = 0; j < i; j++) at_hits_free(&rep[j]);
            return AT_EXIT_UNAVAILABLE;
        }
    }
    if (c->o->json) {
        cJSON *doc = at_report_hits(reps, nw);
        print_json(doc);
        cJSON_Delete(doc);
    } else {
        for (size_t i = 0; i < nw; i++) {
            char w[32], a[32], b[32], r[32];
            fmt_window(rep[i].window_s, w, sizeof w);
            fmt_count(rep[i].total.requests, a, sizeof a);
            fmt_count(rep[i].total.cached_requests, b, sizeof b);
            fmt_rate(rep[i].total.token_hit_rate, r, sizeof r);
            if (i) printf("\n");
            printf(_("Prompt cache, last %s: %s requests, %s with cache reads, token hit rate %s, "
                     "saved ≈$%.4f\n"), w, a, b, r, rep[i].total.savings_usd);
            print_hits_rows(_("By provider"), rep[i].by_provider, rep[i].n_by_provider, 10);
            print_hits_rows(_("By model"), rep[i].by_model, rep[i].n_by_model, 10);
        }
    }
    for (size_t i = 0; i < nw; i++) at_hits_free(&rep[i]);
    return 0;
}

static int cmd_ttl_advice(cli_ctx *c)
{
    int rc = need_pg(c, N_("read the usage table"));
    if (rc) return rc;
    at_ttl_advice a;
    char err[512];
    if (at_ttl_advice_build(c->pg, c->o->hours > 0 ? c->o->hours : 24, &a, err, sizeof err) < 0) {
        errorf(_("cannot read the usage table: %s"), err);
        return AT_EXIT_UNAVAILABLE;
    }
    if (c->o->json) {
        cJSON *doc = at_report_ttl_advice(&a);
        print_json(doc);
        cJSON_Delete(doc);
    } else {
        printf(_("TTL advice over the last %g h: %zu users  (5 min: %lld · 15 min: %lld · 30 min: %lld · 60 min: %lld)\n"),
               a.hours, a.n_users, a.bucket_users[0], a.bucket_users[1], a.bucket_users[2], a.bucket_users[3]);
        table t = {.ncols = 6, .head = {_("USER"), _("REQUESTS"), _("P50 GAP"), _("P75 GAP"), _("P90 GAP"), _("TTL")},
                   .cap = {30, 0, 0, 0, 0, 0}, .right = {false, true, true, true, true, true}};
        for (size_t i = 0; i < a.n_users && i < 50; i++) {
            char n[32], p50[32], p75[32], p90[32], ttl[16];
            fmt_count(a.users[i].requests, n, sizeof n);
            snprintf(p50, sizeof p50, _("%.1f min"), a.users[i].p50_min);
            snprintf(p75, sizeof p75, _("%.1f min"), a.users[i].p75_min);
            snprintf(p90, sizeof p90, _("%.1f min"), a.users[i].p90_min);
            snprintf(ttl, sizeof ttl, _("%d min"), a.users[i].recommended_ttl_min);
            table_row(&t, *a.users[i].username ? a.users[i].username : a.users[i].user_id, n, p50, p75, p90, ttl);
        }
        table_print(&t);
        if (a.n_users > 50) printf(_("… and %zu more (--json for all)\n"), a.n_users - 50);
    }
    at_ttl_advice_free(&a);
    return 0;
}

/* ---- destructive commands ------------------------------------------------------ */

static int confirm(cli_ctx *c, long long n, const char *what)
{
    if (c->o->yes) return 0;
    if (!isatty(STDIN_FILENO)) {
        errorf(_("refusing to clear %lld %s: stdin is not a terminal; pass --yes to confirm"), n, _(what));
        return AT_EXIT_REFUSED;
    }
    fprintf(stderr, _("Type yes to clear %lld %s: "), n, _(what));
    fflush(stderr);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) line[0] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    if (strcmp(line, "yes") != 0) {
        errorf("%s", _("not confirmed; nothing was cleared"));
        return AT_EXIT_REFUSED;
    }
    return 0;
}

/* Ctrl-C, TERM or HUP (the SSH session dropped) while a clear runs: it
 * stops before its next batch and says what it deleted, and the audit log
 * gets its outcome. A second signal has the default effect. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
    at_clear_interrupt();
}

static at_clear_outcome execute_interruptible(cli_ctx *c, const at_clear_request *req, at_clear_result *res)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa, old[3];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++) sigaction(sigs[i], &sa, &old[i]);
    at_clear_outcome o = at_clear_execute(c->r, c->cfg, req, res);
    for (int i = 0; i < 3; i++) sigaction(sigs[i], &old[i], NULL);
    return o;
}

/* Count, confirm, execute; returns an exit status and fills res. */
static int run_clear(cli_ctx *c, const at_clear_request *req, const char *what, at_clear_result *res)
{
    memset(res, 0, sizeof *res);
    if (c->cfg->read_only) {
        errorf("%s", _("refused: read-only mode (--read-only or AETHERTOP_READ_ONLY); nothing was cleared"));
        return AT_EXIT_REFUSED;
    }
    long long n = 0;
    char err[512];
    if (!c->o->yes) {
        if (at_clear_count(c->r, req, &n, err, sizeof err) < 0) {
            errorf("%s", err);
            return AT_EXIT_UNAVAILABLE;
        }
        int rc = confirm(c, n, what);
        if (rc) return rc;
    }
    switch (execute_interruptible(c, req, res)) {
    case AT_CLEAR_DONE: return 0;
    case AT_CLEAR_NOT_FOUND: return AT_EXIT_NOT_FOUND;
    case AT_CLEAR_REFUSED: errorf("%s", res->error); return AT_EXIT_REFUSED;
    case AT_CLEAR_INTERRUPTED: errorf("%s", res->error); return 128 + (stop_signal ? stop_signal : SIGINT);
    case AT_CLEAR_FAILED: default: errorf("%s", res->error); return AT_EXIT_UNAVAILABLE;
    }
}

static void emit(cli_ctx *c, cJSON *doc, const char *human)
{
    if (c->o->json) print_json(doc);
    else {
        char *safe = at_text_sanitize(human);
        printf("%s\n", safe);
        free(safe);
    }
    cJSON_Delete(doc);
}

static cJSON *ok_doc(const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    cJSON_AddStringToObject(o, "message", message);
    return o;
}

static int clear_user(cli_ctx *c, const char *ident)
{
    int rc = need_pg(c, N_("resolve the user"));
    if (rc) return rc;
    if ((rc = need_redis(c))) return rc;
    char err[512], msg[1024], human[1024];
    at_api_key_info k;
    int is_key = at_lookup_api_key(c->pg, ident, &k, err, sizeof err);
    if (is_key < 0) { errorf(_("cannot resolve the user: %s"), err); return AT_EXIT_UNAVAILABLE; }
    at_user_info u;
    memset(&u, 0, sizeof u);
    const char *one[1];
    at_clear_request req = {.kind = AT_CLEAR_API_KEYS};
    if (is_key) {
        int found = k.user_id ? at_resolve_user(c->pg, k.user_id, &u, err, sizeof err) : 0;
        if (found < 0) { errorf(_("cannot resolve the user: %s"), err); at_api_key_info_free(&k); return AT_EXIT_UNAVAILABLE; }
        one[0] = k.id;
        req.args = one;
        req.n_args = 1;
        req.label = ident;
    } else {
        int found = at_resolve_user(c->pg, ident, &u, err, sizeof err);
        if (found < 0) { errorf(_("cannot resolve the user: %s"), err); return AT_EXIT_UNAVAILABLE; }
        if (!found) return user_not_found(c, "无法识别的标识符: ", ident);
        req.args = (const char *const *)u.key_ids;
        req.n_args = u.n_key_ids;
        req.label = ident;
    }
    at_clear_result res;
    rc = run_clear(c, &req, N_("affinities"), &res);
    if (rc == 0) {
        cJSON *doc;
        cJSON *info = cJSON_CreateObject();
        if (is_key) {
            snprintf(msg, sizeof msg, "已清除 API Key %s 的缓存亲和性", k.name ? k.name : "None");
            snprintf(human, sizeof human, _("Cleared %lld affinities of API key %s (%s) of user %s."), res.deleted,
                     k.name ? k.name : "-", k.id, u.username ? u.username : (k.user_id ? k.user_id : "-"));
            doc = ok_doc(msg);
            cJSON_AddItemToObject(info, "user_id", at_json_string_or_null(k.user_id));
            cJSON_AddItemToObject(info, "username", at_json_string_or_null(u.username));
            cJSON_AddItemToObject(info, "email", at_json_string_or_null(u.email));
            cJSON_AddItemToObject(info, "api_key_id", at_json_string_or_null(k.id));
            cJSON_AddItemToObject(info, "api_key_name", at_json_string_or_null(k.name));
        } else {
            snprintf(msg, sizeof msg, "已清除用户 %s 的所有缓存亲和性", u.username ? u.username : "None");
            snprintf(human, sizeof human, _("Cleared %lld affinities of user %s <%s> (%zu API keys)."), res.deleted,
                     u.username ? u.username : "-", u.email ? u.email : "-", u.n_key_ids);
            doc = ok_doc(msg);
            cJSON_AddItemToObject(info, "user_id", at_json_string_or_null(u.user_id));
            cJSON_AddItemToObject(info, "username", at_json_string_or_null(u.username));
            cJSON_AddItemToObject(info, "email", at_json_string_or_null(u.email));
        }
        cJSON_AddItemToObject(doc, "user_info", info);
        cJSON_AddNumberToObject(doc, "count", (double)res.deleted);
        emit(c, doc, human);
        if (res.unreadable > 0)
            errorf(ngettext("%lld unreadable record named after these API keys was skipped and left in place",
                            "%lld unreadable records named after these API keys were skipped and left in place",
                            (unsigned long)res.unreadable),
                   res.unreadable);
    }
    at_clear_result_free(&res);
    at_user_info_free(&u);
    if (is_key) at_api_key_info_free(&k);
    return rc;
}

static int clear_affinity(cli_ctx *c, char **args)
{
    int rc = need_redis(c);
    if (rc) return rc;
    const char *argv4[4] = {args[0], args[1], args[2], args[3]};
    at_clear_request req = {.kind = AT_CLEAR_AFFINITY, .args = argv4, .n_args = 4};
    long long n = 0;
    char err[512];
    if (at_clear_count(c->r, &req, &n, err, sizeof err) < 0) { errorf("%s", err); return AT_EXIT_UNAVAILABLE; }
    if (n == 0 && !c->cfg->read_only)
        return not_found(c, "未找到指定的缓存亲和性记录",
                         _("no such affinity (missing, or its endpoint_id differs)"));
    at_clear_result res;
    rc = run_clear(c, &req, N_("affinity"), &res);
    if (rc == AT_EXIT_NOT_FOUND) {
        at_clear_result_free(&res);
        return not_found(c, "未找到指定的缓存亲和性记录", _("no such affinity (missing, or its endpoint_id differs)"));
    }
    if (rc == 0) {
        /* the reference names the key whole: api_key.name, or else
           affinity_key[:8] (8 code points) */
        char *name = NULL, *msg = NULL, *human = NULL;
        at_pg *pg = at_pg_open(c->cfg, err, sizeof err);
        if (pg) {
            at_api_key_info k;
            if (at_lookup_api_key(pg, args[0], &k, err, sizeof err) == 1 && k.name && k.name[0])
                name = strdup(k.name);
            if (k.id) at_api_key_info_free(&k);
            at_pg_close(pg);
        }
        if (!name) {
            size_t len = strlen(args[0]), b = 0;
            for (int i = 0; i < 8 && b < len; i++) {
                uint32_t cp;
                b += at_utf8_decode(args[0] + b, len - b, &cp);
            }
            name = strndup(args[0], b);
        }
        if (!name || asprintf(&msg, "已清除缓存亲和性: %s", name) < 0 ||
            asprintf(&human, _("Cleared 1 affinity: %s %s %s (endpoint %s)."), args[0], args[3], args[2], args[1]) < 0)
            abort(); /* out of memory */
        free(name);
        cJSON *doc = ok_doc(msg);
        cJSON_AddStringToObject(doc, "affinity_key", args[0]);
        cJSON_AddStringToObject(doc, "endpoint_id", args[1]);
        cJSON_AddStringToObject(doc, "model_id", args[2]);
        cJSON_AddNumberToObject(doc, "count", (double)res.deleted);
        emit(c, doc, human);
        free(msg);
        free(human);
    }
    at_clear_result_free(&res);
    return rc;
}

static int clear_all(cli_ctx *c)
{
    int rc = need_redis(c);
    if (rc) return rc;
    at_clear_request req = {.kind = AT_CLEAR_ALL};
    at_clear_result res;
    rc = run_clear(c, &req, N_("affinities"), &res);
    if (rc == 0) {
        char human[128];
        snprintf(human, sizeof human, _("Cleared all affinities: %lld keys."), res.deleted);
        cJSON *doc = ok_doc("已清除所有缓存亲和性");
        cJSON_AddNumberToObject(doc, "count", (double)res.deleted);
        emit(c, doc, human);
    }
    at_clear_result_free(&res);
    return rc;
}

static int clear_provider(cli_ctx *c, const char *provider_id)
{
    int rc = need_redis(c);
    if (rc) return rc;
    const char *args[1] = {provider_id};
    at_clear_request req = {.kind = AT_CLEAR_PROVIDER, .args = args, .n_args = 1};
    at_clear_result res;
    rc = run_clear(c, &req, N_("affinities"), &res);
    if (rc == 0) {
        char human[512];
        snprintf(human, sizeof human, _("Cleared %lld affinities of provider %s."), res.deleted, provider_id);
        cJSON *doc = ok_doc("已清除Provider的缓存亲和性");
        cJSON_AddStringToObject(doc, "provider_id", provider_id);
        cJSON_AddNumberToObject(doc, "count", (double)res.deleted);
        emit(c, doc, human);
        if (res.unreadable > 0)
            errorf(ngettext("%lld unreadable record that mentions this provider was skipped and left in place",
                            "%lld unreadable records that mention this provider were skipped and left in place",
                            (unsigned long)res.unreadable),
                   res.unreadable);
    }
    at_clear_result_free(&res);
    return rc;
}

static cJSON *key_list(const at_clear_result *res)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < res->n_deleted_keys; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(res->deleted_keys[i]));
    return arr;
}

static int clear_mappings(cli_ctx *c, int kind, char **args)
{
    int rc = need_redis(c);
    if (rc) return rc;
    const char *a[2] = {args ? args[0] : NULL, args && kind == AT_CLEAR_PROVIDER_MAPPING ? args[1] : NULL};
    at_clear_request req = {.kind = (at_clear_kind)kind, .args = a,
                            .n_args = kind == AT_CLEAR_MAPPINGS_ALL ? 0 : kind == AT_CLEAR_MAPPING_NAME ? 1 : 2};
    at_clear_result res;
    rc = run_clear(c, &req, N_("mapping cache keys"), &res);
    if (rc == 0) {
        /* names come from clients of the gateway, at any length: the
         * reference's message carries them whole */
        char *msg = NULL, *human = NULL;
        cJSON *doc;
        int n;
        if (kind == AT_CLEAR_MAPPINGS_ALL) {
            doc = ok_doc("已清除所有模型映射缓存");
            cJSON_AddNumberToObject(doc, "deleted_count", (double)res.deleted);
            n = asprintf(&human, _("Cleared the model mapping cache: %lld keys."), res.deleted);
        } else if (kind == AT_CLEAR_MAPPING_NAME) {
            if (asprintf(&msg, "已清除模型 %s 的映射缓存", a[0]) < 0) abort();
            doc = ok_doc(msg);
            cJSON_AddStringToObject(doc, "model_name", a[0]);
            cJSON_AddItemToObject(doc, "deleted_keys", key_list(&res));
            n = asprintf(&human, _("Cleared %lld mapping cache keys of model name %s."), res.deleted, a[0]);
        } else {
            doc = ok_doc("已清除 Provider 模型映射缓存");
            cJSON_AddStringToObject(doc, "provider_id", a[0]);
            cJSON_AddStringToObject(doc, "global_model_id", a[1]);
            cJSON_AddItemToObject(doc, "deleted_keys", key_list(&res));
            n = asprintf(&human, _("Cleared %lld mapping cache keys of provider %s / global model %s."),
                         res.deleted, a[0], a[1]);
        }
        if (n < 0) abort();
        emit(c, doc, human);
        free(msg);
        free(human);
        if (!c->o->json)
            for (size_t i = 0; i < res.n_deleted_keys; i++) {
                char *safe = at_text_sanitize(res.deleted_keys[i]);
                printf("  %s\n", safe);
                free(safe);
            }
    }
    at_clear_result_free(&res);
    return rc;
}

static int usage_error(const char *msg)
{
    errorf(_("%s (see aethertop --help)"), msg);
    return AT_EXIT_USAGE;
}

static int cmd_clear(cli_ctx *c, int argc, char **argv)
{
    if (argc < 2) return usage_error(_("clear needs a target: user, affinity, all, provider, mappings, mapping, provider-mapping"));
    const char *what = argv[1];
    int nargs = argc - 2;
    char **args = argv + 2;
    if (strcmp(what, "user") == 0) {
        if (nargs != 1) return usage_error(_("usage: aethertop clear user IDENTIFIER"));
        return clear_user(c, args[0]);
    }
    if (strcmp(what, "affinity") == 0) {
        if (nargs != 4) return usage_error(_("usage: aethertop clear affinity AFFINITY_KEY ENDPOINT_ID MODEL_ID API_FORMAT"));
        return clear_affinity(c, args);
    }
    if (strcmp(what, "all") == 0) {
        if (nargs != 0) return usage_error(_("usage: aethertop clear all"));
        return clear_all(c);
    }
    if (strcmp(what, "provider") == 0) {
        if (nargs != 1) return usage_error(_("usage: aethertop clear provider PROVIDER_ID"));
        return clear_provider(c, args[0]);
    }
    if (strcmp(what, "mappings") == 0) {
        if (nargs != 0) return usage_error(_("usage: aethertop clear mappings"));
        return clear_mappings(c, AT_CLEAR_MAPPINGS_ALL, NULL);
    }
    if (strcmp(what, "mapping") == 0) {
        if (nargs != 1) return usage_error(_("usage: aethertop clear mapping MODEL_NAME"));
        return clear_mappings(c, AT_CLEAR_MAPPING_NAME, args);
    }
    if (strcmp(what, "provider-mapping") == 0) {
        if (nargs != 2) return usage_error(_("usage: aethertop clear provider-mapping PROVIDER_ID GLOBAL_MODEL_ID"));
        return clear_mappings(c, AT_CLEAR_PROVIDER_MAPPING, args);
    }
    char msg[512], *v = at_value_shown(what, AT_SHOWN_MAX_CPS);
    snprintf(msg, sizeof msg, _("unknown clear target \"%s\""), v);
    free(v);
    return usage_error(msg);
}

int at_cli_run(const at_config *cfg, const at_cli_opts *opts, int argc, char **argv)
{
    cli_ctx c = {.cfg = cfg, .o = opts};
    const char *cmd = argv[0];
    int rc;
    if (opts->limit >= 0 && (opts->limit < AT_LIMIT_MIN || opts->limit > AT_LIMIT_MAX))
        return usage_error(_("--limit must be between 1 and 1000"));
    if ((opts->limit >= 0 || opts->offset >= 0) && strcmp(cmd, "list") != 0)
        return usage_error(_("--limit and --offset apply to list only"));
    if (opts->window_s && strcmp(cmd, "hits") != 0) return usage_error(_("--window applies to hits only"));
    if (opts->hours > 0 && strcmp(cmd, "ttl-advice") != 0) return usage_error(_("--hours applies to ttl-advice only"));
    if (opts->csv && strcmp(cmd, "list") != 0) return usage_error(_("--csv applies to list only"));
    if (opts->csv && opts->json) return usage_error(_("--csv and --json exclude each other"));
    if (strcmp(cmd, "stats") == 0 && argc == 1) rc = cmd_stats(&c, false);
    else if (strcmp(cmd, "metrics") == 0 && argc == 1) rc = cmd_stats(&c, true);
    else if (strcmp(cmd, "config") == 0 && argc == 1) rc = cmd_config(&c);
    else if (strcmp(cmd, "list") == 0 && argc <= 2) rc = cmd_list(&c, argc == 2 ? argv[1] : NULL);
    else if (strcmp(cmd, "affinity") == 0 && argc == 2) rc = cmd_affinity(&c, argv[1]);
    else if (strcmp(cmd, "mappings") == 0 && argc == 1) rc = cmd_mappings(&c);
    else if (strcmp(cmd, "hits") == 0 && argc == 1) rc = cmd_hits(&c);
    else if (strcmp(cmd, "ttl-advice") == 0 && argc == 1) rc = cmd_ttl_advice(&c);
    else if (strcmp(cmd, "clear") == 0) rc = cmd_clear(&c, argc, argv);
    else {
        /* a known command with the wrong number of arguments says so */
        static const char *const no_args[] = {"stats", "metrics", "config", "mappings", "hits", "ttl-advice"};
        bool takes_none = false;
        for (size_t i = 0; i < sizeof no_args / sizeof no_args[0]; i++)
            if (strcmp(cmd, no_args[i]) == 0) takes_none = true;
        /* the argument quoted: the first one too many of a known command, else the command */
        bool known = takes_none || strcmp(cmd, "list") == 0 || strcmp(cmd, "affinity") == 0;
        const char *extra = takes_none ? argv[1] : known && argc > 2 ? argv[2] : cmd;
        char msg[512], *v = at_value_shown(extra, AT_SHOWN_MAX_CPS);
        if (takes_none)
            snprintf(msg, sizeof msg, _("%s takes no arguments, got \"%s\""), cmd, v);
        else if (strcmp(cmd, "list") == 0)
            snprintf(msg, sizeof msg, _("list takes at most one KEYWORD, got \"%s\" too"), v);
        else if (strcmp(cmd, "affinity") == 0 && argc == 1)
            snprintf(msg, sizeof msg, "%s", _("affinity needs a user: aethertop affinity USER_IDENTIFIER"));
        else if (strcmp(cmd, "affinity") == 0)
            snprintf(msg, sizeof msg, _("affinity takes one USER_IDENTIFIER, got \"%s\" too"), v);
        else
            snprintf(msg, sizeof msg, _("unknown command \"%s\""), v);
        free(v);
        rc = usage_error(msg);
    }
    at_redis_close(c.r);
    at_pg_close(c.pg);
    at_fernet_key_wipe(&c.key);
    return rc;
}
