/* clearflow.c — the life of a clear in the console: ask (open the dialog and
 * have the worker count with at_clear_count what would go), confirm, then
 * execute through at_clear_execute on the worker (read-only refusal and
 * the audit line happen there), and report the count. What was counted is
 * exactly what is executed: the worker's resolved request comes back into
 * the dialog and is sent as is. */
#include "con.h"

#include <stdio.h>
#include <string.h>

enum { PURPOSE_CLEAR = 1 };

void con_clear_ask(con_app *app, con_clear *c, const char *title)
{
    if (app->cfg->read_only) {
        con_message(app, true, "%s", _("READ-ONLY: clearing is disabled (--read-only); nothing was sent."));
        con_clear_free(c);
        return;
    }
    if (app->mode == MODE_DIALOG) con_dialog_close(app);
    memset(&app->dlg, 0, sizeof app->dlg);
    app->dlg.kind = DLG_CONFIRM;
    snprintf(app->dlg.title, sizeof app->dlg.title, "%s", title);
    /* the dialog shows the label while counting; the job carries the request */
    snprintf(app->dlg.clear.label, sizeof app->dlg.clear.label, "%s", c->label);
    con_job *j = con_job_new(CON_JOB_COUNT);
    j->purpose = PURPOSE_CLEAR;
    con_clear_move(&j->clear, c);
    app->dlg.count_job = con_worker_post(app->worker, j);
    app->mode = MODE_DIALOG;
    app->dirty = true;
}

void con_clear_ask_all(con_app *app)
{
    con_clear c;
    con_clear_init(&c, AT_CLEAR_ALL);
    snprintf(c.label, sizeof c.label, "%s", _("ALL cache affinities (every cache_affinity:* key)"));
    con_clear_ask(app, &c, _("Clear ALL affinities"));
}

void con_clear_ask_all_mappings(con_app *app)
{
    con_clear c;
    con_clear_init(&c, AT_CLEAR_MAPPINGS_ALL);
    snprintf(c.label, sizeof c.label, "%s",
             _("ALL model-mapping cache entries (every model:* and global_model:* key)"));
    con_clear_ask(app, &c, _("Clear ALL mappings"));
}

void con_clear_confirmed(con_app *app)
{
    con_job *j = con_job_new(CON_JOB_CLEAR);
    j->purpose = PURPOSE_CLEAR;
    con_clear_move(&j->clear, &app->dlg.clear);
    char label[384];
    snprintf(label, sizeof label, "%s", j->clear.label);
    con_worker_post(app->worker, j);
    app->clears_in_flight++;
    con_dialog_close(app);
    con_message(app, false, _("Clearing %s ..."), label);
}

bool con_clear_report_text(const con_job *j, char *out, size_t outlen)
{
    const at_clear_result *r = &j->result;
    char n[32];
    con_fmt_int(r->deleted, n, sizeof n);
    switch (j->outcome) {
    case AT_CLEAR_DONE: {
        char extra[192] = "";
        size_t l = 0;
        if (j->clear.counted > r->deleted) {
            char c[32];
            con_fmt_int(j->clear.counted - r->deleted, c, sizeof c);
            l += (size_t)snprintf(extra, sizeof extra, _("; %s of those counted were gone or had changed by then (expired, re-pointed) and were left alone"), c);
        }
        if (r->unreadable > 0 && l < sizeof extra) {
            char u[32];
            con_fmt_int(r->unreadable, u, sizeof u);
            snprintf(extra + l, sizeof extra - l, _("; %s unreadable records were skipped and left in place"), u);
        }
        snprintf(out, outlen, ngettext("Cleared %s key: %s%s", "Cleared %s keys: %s%s", (unsigned long)r->deleted), n,
                 j->clear.label, extra);
        return false;
    }
    case AT_CLEAR_NOT_FOUND:
        snprintf(out, outlen, _("Nothing deleted: %s no longer exists (or now points elsewhere)."), j->clear.label);
        return false;
    case AT_CLEAR_REFUSED:
    case AT_CLEAR_FAILED:
    case AT_CLEAR_INTERRUPTED:
        break;
    }
    snprintf(out, outlen, _("Clear failed: %s"), j->err[0] ? j->err : _("unknown error"));
    return true;
}

static void report(con_app *app, con_job *j)
{
    char text[1024];
    bool error = con_clear_report_text(j, text, sizeof text);
    con_message(app, error, "%s", text);
}

bool con_clear_job_done(con_app *app, con_job *j)
{
    if (j->purpose != PURPOSE_CLEAR) return false;
    if (j->kind == CON_JOB_COUNT) {
        con_dialog *d = &app->dlg;
        if (app->mode != MODE_DIALOG || d->count_job != j->id) return true; /* cancelled meanwhile */
        d->count_job = 0;
        d->count_ok = j->rc == 0;
        d->count = j->count;
        snprintf(d->count_err, sizeof d->count_err, "%s", j->err);
        con_clear_free(&d->clear);
        con_clear_move(&d->clear, &j->clear);
        d->clear.counted = d->count_ok ? d->count : -1;
        app->dirty = true;
        return true;
    }
    if (j->kind == CON_JOB_CLEAR) {
        if (app->clears_in_flight > 0) app->clears_in_flight--;
        report(app, j);
        return true;
    }
    return false;
}
