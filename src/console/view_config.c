/* view_config.c — the reference's config view (at_report_config: cache
 * TTL, reservation ratios, dynamic reservation settings with their
 * descriptions) and how this console is connected and set up. Never shows a
 * secret: the encryption key is only "set" or "development default". */
#include "con.h"
#include "textview.h"

#include "aethertop/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_json(con_textview *tv, const cJSON *o, int indent)
{
    for (const cJSON *c = o ? o->child : NULL; c; c = c->next) {
        const char *k = c->string ? c->string : "";
        char v[256];
        if (cJSON_IsObject(c)) {
            con_tv_add(tv, indent, k, TH_SECTION, "", TH_NORMAL);
            add_json(tv, c, indent + 1);
            continue;
        }
        if (cJSON_IsString(c)) snprintf(v, sizeof v, "%s", c->valuestring);
        else if (cJSON_IsBool(c)) snprintf(v, sizeof v, "%s", cJSON_IsTrue(c) ? "true" : "false");
        else if (cJSON_IsNumber(c)) snprintf(v, sizeof v, "%g", c->valuedouble);
        else if (cJSON_IsNull(c)) snprintf(v, sizeof v, "null");
        else snprintf(v, sizeof v, "...");
        con_tv_add(tv, indent, k, TH_LABEL, v, TH_VALUE);
    }
}

static void build(con_app *app, con_textview *tv)
{
    con_tv_clear(tv);
    const at_config *cfg = app->cfg;
    char b[512];
    con_tv_add(tv, 0, _("Cache affinity configuration (the gateway's)"), TH_SECTION, "", TH_NORMAL);
    cJSON *doc = at_report_config();
    add_json(tv, cJSON_GetObjectItemCaseSensitive(doc, "data"), 1);
    cJSON_Delete(doc);
    con_tv_add(tv, 0, "", TH_NORMAL, " ", TH_NORMAL);
    con_tv_add(tv, 0, _("This console"), TH_SECTION, "", TH_NORMAL);
    con_tv_add(tv, 1, _("Config file"), TH_LABEL, app->config_path ? app->config_path : _("none"), TH_VALUE);
    con_tv_add(tv, 1, _("Redis (configured)"), TH_LABEL, cfg->redis_display ? cfg->redis_display : "-", TH_VALUE);
    con_tv_add(tv, 1, _("Redis (connected)"), TH_LABEL, app->st.redis_up ? app->st.redis_target : _("not connected"), TH_VALUE);
    con_tv_add(tv, 1, "PostgreSQL", TH_LABEL, cfg->pg_display ? cfg->pg_display : "-", TH_VALUE);
    con_tv_add(tv, 1, _("PostgreSQL state"), TH_LABEL,
               app->st.pg_up ? _("ok") : (app->st.pg_error[0] ? app->st.pg_error : _("not connected")), TH_VALUE);
    snprintf(b, sizeof b, "%d ms", cfg->timeout_ms);
    con_tv_add(tv, 1, _("Timeout"), TH_LABEL, b, TH_VALUE);
    con_tv_add(tv, 1, _("Read-only"), TH_LABEL, cfg->read_only ? _("yes (clears are refused)") : _("no"), TH_VALUE);
    con_tv_add(tv, 1, _("Audit log"), TH_LABEL,
               cfg->audit_log ? cfg->audit_log : "$XDG_STATE_HOME/aethertop/audit.log (default)", TH_VALUE);
    bool dev = !cfg->encryption_key || !*cfg->encryption_key || strcmp(cfg->encryption_key, AT_DEV_ENCRYPTION_KEY) == 0;
    con_tv_add(tv, 1, "ENCRYPTION_KEY", TH_LABEL, dev ? _("development default") : _("set (not shown)"), TH_VALUE);
    snprintf(b, sizeof b, "%g s%s", app->interval, app->paused ? _(" (paused)") : "");
    con_tv_add(tv, 1, _("Refresh interval"), TH_LABEL, b, TH_VALUE);
    if (has_colors() && COLORS >= 8) snprintf(b, sizeof b, _("%s (%d colours)"), app->theme.name, COLORS);
    else if (app->theme.colors) snprintf(b, sizeof b, _("%s (no colours: monochrome attributes)"), app->theme.name);
    else snprintf(b, sizeof b, _("%s (no colours)"), app->theme.name);
    con_tv_add(tv, 1, _("Theme"), TH_LABEL, b, TH_VALUE);
    if (app->snap) {
        snprintf(b, sizeof b, "%.0f ms", app->snap->snap->build_ms);
        con_tv_add(tv, 1, _("Last snapshot took"), TH_LABEL, b, TH_VALUE);
        const at_snapshot *s = app->snap->snap;
        for (int i = 0; i < AT_REC__COUNT; i++) {
            if (i == AT_REC_OK || !s->skipped[i]) continue;
            char k[64];
            snprintf(k, sizeof k, _("Skipped: %s"), at_record_status_name((at_record_status)i));
            snprintf(b, sizeof b, "%zu", s->skipped[i]);
            con_tv_add(tv, 1, k, TH_LABEL, b, TH_VALUE);
        }
    }
}

static void cfg_draw(con_app *app, con_view *v, int y, int h)
{
    con_textview *tv = v->state;
    build(app, tv);
    con_tv_draw(app, tv, y, h);
}

static bool cfg_handle(con_app *app, con_view *v, con_request req)
{
    if (con_tv_scroll(v->state, req)) {
        app->dirty = true;
        return true;
    }
    return false;
}

static void cfg_destroy(con_view *v)
{
    con_tv_free(v->state);
    free(v->state);
    free(v);
}

con_view *con_view_config_new(void)
{
    con_view *v = calloc(1, sizeof *v);
    con_textview *tv = calloc(1, sizeof *tv);
    if (!v || !tv) abort();
    tv->key_width = 30;
    v->name = N_("Config");
    v->draw = cfg_draw;
    v->handle = cfg_handle;
    v->destroy = cfg_destroy;
    v->state = tv;
    return v;
}
