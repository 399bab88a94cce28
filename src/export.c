/* export.c — owns exports of a list view (CSV per RFC 4180, JSON through
 * at_report_print) and the derived Prometheus figures of `aethertop
 * metrics` (see export.h). The list fields come from at_report_list_item
 * itself, so an export can never drift from the reference's list items. */
#include "aethertop/export.h"
#include "aethertop/i18n.h"
#include "aethertop/report.h"
#include "aethertop/text.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

at_export_format at_export_format_for(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    return n >= 5 && strcasecmp(path + n - 5, ".json") == 0 ? AT_EXPORT_JSON : AT_EXPORT_CSV;
}

/* ---- a growing buffer ---------------------------------------------------------- */

static void put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (*len + n + 1 > c) c *= 2;
        char *b = realloc(*buf, c);
        if (!b) abort();
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

void at_csv_field(char **buf, size_t *len, size_t *cap, const char *field)
{
    if (!field) field = "";
    if (!strpbrk(field, ",\"\r\n")) {
        put(buf, len, cap, field, strlen(field));
        return;
    }
    put(buf, len, cap, "\"", 1);
    for (const char *p = field; *p; p++) {
        if (*p == '"') put(buf, len, cap, "\"\"", 2);
        else put(buf, len, cap, p, 1);
    }
    put(buf, len, cap, "\"", 1);
}

void at_csv_text_field(char **buf, size_t *len, size_t *cap, const char *text)
{
    /* a spreadsheet runs a cell that starts with = + - @ (or a tab or CR
     * before one) as a formula, quoted or not; these texts come from the
     * gateway's users: a leading ' keeps them text */
    if (text && *text && strchr("=+-@\t\r", *text)) {
        size_t n = strlen(text);
        char *t = malloc(n + 2);
        if (!t) abort();
        t[0] = '\'';
        memcpy(t + 1, text, n + 1);
        at_csv_field(buf, len, cap, t);
        free(t);
        return;
    }
    at_csv_field(buf, len, cap, text);
}

/* The text of one JSON value as a CSV cell: null -> empty, booleans as
 * true/false, whole numbers without a fraction, others in their shortest
 * round-trip form. */
static void cell_of(const cJSON *v, char *num, size_t numlen, const char **out)
{
    if (cJSON_IsString(v)) {
        *out = v->valuestring;
    } else if (cJSON_IsTrue(v)) {
        *out = "true";
    } else if (cJSON_IsFalse(v)) {
        *out = "false";
    } else if (cJSON_IsNumber(v) || cJSON_IsRaw(v)) {
        /* floats come as raw text in their exact shortest form (report.c) */
        double d = cJSON_IsRaw(v) ? strtod(v->valuestring, NULL) : v->valuedouble;
        if (isfinite(d) && d == floor(d) && fabs(d) < 1e15) snprintf(num, numlen, "%lld", (long long)d);
        else at_format_pyfloat(d, num, numlen);
        *out = num;
    } else {
        *out = "";
    }
}

static int write_all(FILE *f, const char *buf, size_t len)
{
    if (len && fwrite(buf, 1, len, f) != len) return -1;
    return 0;
}

int at_export_csv(FILE *f, const at_snapshot *s, const at_selection *sel, size_t from, size_t count,
                  bool terminal)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    bool header = false;
    /* the header comes from the first item's keys; with no rows, from a
       throw-away item of an empty affinity (same keys, same order) */
    if (sel->n <= from || count == 0) {
        at_affinity empty;
        memset(&empty, 0, sizeof empty);
        empty.created_at = empty.expire_at = NAN;
        empty.api_key = empty.user = empty.provider = empty.endpoint = empty.provider_key = empty.global_model = -1;
        cJSON *o = at_report_list_item(s, &empty);
        bool first = true;
        for (const cJSON *c = o->child; c; c = c->next, first = false) {
            if (!first) put(&buf, &len, &cap, ",", 1);
            at_csv_field(&buf, &len, &cap, c->string);
        }
        put(&buf, &len, &cap, "\r\n", 2);
        cJSON_Delete(o);
        rc = write_all(f, buf, len);
        free(buf);
        return rc;
    }
    for (size_t i = from; i < sel->n && i - from < count && rc == 0; i++) {
        cJSON *o = at_report_list_item(s, &s->rows[sel->idx[i]]);
        if (!header) {
            bool first = true;
            for (const cJSON *c = o->child; c; c = c->next, first = false) {
                if (!first) put(&buf, &len, &cap, ",", 1);
                at_csv_field(&buf, &len, &cap, c->string);
            }
            put(&buf, &len, &cap, "\r\n", 2);
            header = true;
        }
        bool first = true;
        for (const cJSON *c = o->child; c; c = c->next, first = false) {
            char num[64];
            const char *text;
            cell_of(c, num, sizeof num, &text);
            if (!first) put(&buf, &len, &cap, ",", 1);
            char *safe = terminal ? at_text_sanitize(text) : NULL;
            if (cJSON_IsString(c)) at_csv_text_field(&buf, &len, &cap, safe ? safe : text);
            else at_csv_field(&buf, &len, &cap, safe ? safe : text);
            free(safe);
        }
        put(&buf, &len, &cap, "\r\n", 2);
        cJSON_Delete(o);
        if (len >= 1 << 16) {
            rc = write_all(f, buf, len);
            len = 0;
        }
    }
    if (rc == 0) rc = write_all(f, buf, len);
    free(buf);
    return rc;
}

int at_export_json(FILE *f, const at_snapshot *s, const at_selection *sel, size_t from, size_t count)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = from; i < sel->n && i - from < count; i++)
        cJSON_AddItemToArray(arr, at_report_list_item(s, &s->rows[sel->idx[i]]));
    char *text = at_report_print(arr);
    cJSON_Delete(arr);
    if (!text) {
        errno = ENOMEM;
        return -1;
    }
    int rc = write_all(f, text, strlen(text));
    if (rc == 0) rc = write_all(f, "\n", 1);
    free(text);
    return rc;
}

int at_export_file(const char *path, const at_snapshot *s, const at_selection *sel, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) snprintf(err, errlen, _("%s already exists; choose another name"), path);
        else snprintf(err, errlen, _("cannot create %s: %s"), path, strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        snprintf(err, errlen, _("cannot write %s: %s"), path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    int rc = at_export_format_for(path) == AT_EXPORT_JSON ? at_export_json(f, s, sel, 0, sel->n)
                                                          : at_export_csv(f, s, sel, 0, sel->n, false);
    int saved = errno;
    if (fflush(f) != 0 && rc == 0) { rc = -1; saved = errno; }
    if (rc == 0 && fsync(fileno(f)) != 0 && errno != EINVAL) { rc = -1; saved = errno; }
    if (fclose(f) != 0 && rc == 0) { rc = -1; saved = errno; }
    if (rc < 0) {
        snprintf(err, errlen, _("cannot write %s: %s"), path, strerror(saved));
        unlink(path);
    }
    return rc;
}

/* ---- derived Prometheus figures ------------------------------------------------------ */

static void prom_num(double v, char *out, size_t n)
{
    if (isnan(v)) snprintf(out, n, "NaN");
    else if (isinf(v)) snprintf(out, n, "%s", v < 0 ? "-Inf" : "+Inf");
    else if (v == floor(v) && fabs(v) < 1e15) snprintf(out, n, "%lld", (long long)v);
    else at_format_pyfloat(v, out, n);
}

static void family(char **b, size_t *l, size_t *c, const char *name, const char *help)
{
    char line[512];
    int n = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    put(b, l, c, line, (size_t)n);
}

static void sample(char **b, size_t *l, size_t *c, const char *name, const char *labels, double v)
{
    char num[64], line[512];
    prom_num(v, num, sizeof num);
    int n = snprintf(line, sizeof line, "%s%s %s\n", name, labels ? labels : "", num);
    put(b, l, c, line, (size_t)n);
}

char *at_metrics_derived(const at_snapshot *s, const at_stats *st, double now, const at_hits_report *hits5m)
{
    (void)st;
    char *b = NULL;
    size_t l = 0, c = 0;
    put(&b, &l, &c, "", 0);
    long long created = 0;
    for (size_t i = 0; i < s->n_rows; i++) {
        double t = s->rows[i].created_at;
        if (!isnan(t) && t > now - 60 && t <= now + 1) created++;
    }
    family(&b, &l, &c, "aethertop_affinities_created_per_second",
           "Affinities created per second over the last 60 s (from created_at)");
    sample(&b, &l, &c, "aethertop_affinities_created_per_second", NULL, (double)created / 60.0);
    family(&b, &l, &c, "aethertop_usage_available", "1 when the usage table could be read (PostgreSQL)");
    sample(&b, &l, &c, "aethertop_usage_available", NULL, hits5m ? 1 : 0);
    if (hits5m) {
        const at_hits_row *t = &hits5m->total;
        const char *w = "{window=\"5m\"}";
        /* no tokens in the window: no rate (absent rather than NaN) */
        if (t->token_hit_rate >= 0) {
            family(&b, &l, &c, "aethertop_prompt_cache_token_hit_rate",
                   "cache_read / (input + cache_read) tokens over the window");
            sample(&b, &l, &c, "aethertop_prompt_cache_token_hit_rate", w, t->token_hit_rate);
        }
        family(&b, &l, &c, "aethertop_prompt_cache_requests", "Completed requests in the usage table over the window");
        sample(&b, &l, &c, "aethertop_prompt_cache_requests", w, (double)t->requests);
        family(&b, &l, &c, "aethertop_prompt_cache_cached_requests", "Requests with cache reads over the window");
        sample(&b, &l, &c, "aethertop_prompt_cache_cached_requests", w, (double)t->cached_requests);
        family(&b, &l, &c, "aethertop_prompt_cache_estimated_savings_usd",
               "Estimated savings (cache read cost x 9) over the window, USD");
        sample(&b, &l, &c, "aethertop_prompt_cache_estimated_savings_usd", w, t->savings_usd);
    }
    return b;
}
