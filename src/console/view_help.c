/* view_help.c — the help screen (`?`/F1): every request with the keys
 * bound to it, generated from the keymap tables (so it cannot drift from
 * what the keys do), plus the `:` commands and the theme in use. */
#include "con.h"
#include "textview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void build(con_app *app, con_textview *tv)
{
    con_tv_clear(tv);
    int n;
    const con_request_info *reqs = con_keymap_requests(&n);
    const char *section = NULL;
    for (int i = 0; i < n; i++) {
        const con_request_info *r = &reqs[i];
        if (!section || strcmp(section, r->section) != 0) {
            if (section) con_tv_add(tv, 0, "", TH_NORMAL, " ", TH_NORMAL);
            con_tv_add(tv, 0, _(r->section), TH_SECTION, "", TH_NORMAL);
            section = r->section;
        }
        char keys[128];
        con_keymap_keys_of(r->req == REQ_CONFIRM || r->req == REQ_CANCEL ? KM_DIALOG : KM_VIEW, r->req, keys,
                           sizeof keys);
        if (!keys[0]) continue;
        con_tv_add(tv, 1, keys, TH_VALUE, _(r->help), TH_NORMAL);
    }
    con_tv_add(tv, 0, "", TH_NORMAL, " ", TH_NORMAL);
    con_tv_add(tv, 0, _("The HIT 1h column"), TH_SECTION, "", TH_NORMAL);
    con_tv_add(tv, 1, "12.3%", TH_VALUE,
               _("the row's user's token hit rate over the last hour: cache_read / (input + cache_read) tokens "
                 "in the usage table (refreshed every 30 s)"),
               TH_NORMAL);
    con_tv_add(tv, 1, "!", TH_ROW_NOCACHE,
               _("the user holds affinities but had no cache reads in the last hour (or no requests at all): "
                 "the affinity is not paying off"),
               TH_NORMAL);
    con_tv_add(tv, 1, "-", TH_VALUE, _("unknown: no user id, or the usage table could not be read yet"), TH_NORMAL);
    con_tv_add(tv, 0, "", TH_NORMAL, " ", TH_NORMAL);
    con_tv_add(tv, 0, _("Commands (:)"), TH_SECTION, "", TH_NORMAL);
    static const char *const cmds[][2] = {
        {":clear provider ID", N_("clear every affinity of that provider")},
        {":clear user IDENT", N_("clear every affinity of a user (id, username, email or API key id)")},
        {":clear key API_KEY_ID", N_("clear every affinity of one API key")},
        {":clear all", N_("clear ALL affinities (asks twice)")},
        {":clear mapping NAME", N_("clear one mapping name (resolve + name keys)")},
        {":clear provider-mapping P G", N_("clear one provider mapping and its hit counter")},
        {":clear mappings", N_("clear ALL model-mapping cache entries (asks twice)")},
        {":user IDENT", N_("show only that user's affinities (resolved in PostgreSQL)")},
        {":search TEXT", N_("same as / TEXT")},
        {":sort COLUMN [asc|desc]", N_("sort the table by a column: ttl, user, key_name, provider, endpoint, prov_key, model, format, reqs, created")},
        {":export PATH", N_("export the rows shown, like e (.json: JSON, else CSV)")},
        {":delay SECONDS", N_("refresh interval")},
        {":theme NAME|PATH", N_("load another theme")},
        {":q", N_("quit")},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        con_tv_add(tv, 1, cmds[i][0], TH_VALUE, _(cmds[i][1]), TH_NORMAL);
    con_tv_add(tv, 0, "", TH_NORMAL, " ", TH_NORMAL);
    char b[256];
    snprintf(b, sizeof b, _("Theme: %s.  Esc closes this help; q quits aethertop."), app->theme.name);
    con_tv_add(tv, 0, "", TH_NORMAL, b, TH_POSITION);
}

static void help_draw(con_app *app, con_view *v, int y, int h)
{
    con_textview *tv = v->state;
    con_fill(y, 0, app->cols, TH_TABLE_HEADER);
    con_text(y, 1, app->cols - 2, _("Help  (Esc: back, arrows/PgUp/PgDn: scroll)"), TH_TABLE_HEADER);
    build(app, tv);
    con_tv_draw(app, tv, y + 1, h - 1);
}

static bool help_handle(con_app *app, con_view *v, con_request req)
{
    if (con_tv_scroll(v->state, req)) {
        app->dirty = true;
        return true;
    }
    if (req == REQ_BACK || req == REQ_HELP || req == REQ_ENTER) {
        con_pop(app);
        return true;
    }
    return false;
}

static void help_destroy(con_view *v)
{
    con_tv_free(v->state);
    free(v->state);
    free(v);
}

con_view *con_view_help_new(void)
{
    con_view *v = calloc(1, sizeof *v);
    con_textview *tv = calloc(1, sizeof *tv);
    if (!v || !tv) abort();
    tv->key_width = 30;
    v->name = N_("Help");
    v->draw = help_draw;
    v->handle = help_handle;
    v->destroy = help_destroy;
    v->state = tv;
    return v;
}
