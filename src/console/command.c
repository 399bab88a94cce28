/* command.c — the `:` command line: the same actions as the keys, by id.
 *   :clear provider ID | :clear user IDENT | :clear key API_KEY_ID
 *   :clear all | :clear mappings | :clear mapping NAME
 *   :clear provider-mapping PROVIDER_ID GLOBAL_MODEL_ID
 *   :user IDENT (narrow the table to that user, resolved in PostgreSQL)
 *   :search TEXT | :sort COLUMN [asc|desc] | :delay SECONDS | :theme NAME
 *   :export [PATH] (the rows shown, like e)
 *   :help | :q */
#include "con.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PURPOSE_USER = 2 };

#define MAX_WORDS 6

static int split(char *s, char *words[MAX_WORDS], char **rest_after_first2)
{
    int n = 0;
    *rest_after_first2 = NULL;
    while (*s && n < MAX_WORDS) {
        while (isspace((unsigned char)*s)) s++;
        if (!*s) break;
        if (n == 2 && !*rest_after_first2) *rest_after_first2 = s;
        words[n++] = s;
        while (*s && !isspace((unsigned char)*s)) s++;
        if (*s) *s++ = '\0';
    }
    return n;
}

static const char *provider_label(con_app *app, const char *id)
{
    if (!app->snap) return id;
    const at_snapshot *s = app->snap->snap;
    for (size_t i = 0; i < s->n_providers; i++)
        if (s->providers[i].id && strcmp(s->providers[i].id, id) == 0 && s->providers[i].display_name)
            return s->providers[i].display_name;
    return id;
}

static void clear_command(con_app *app, int n, char **w, const char *orig)
{
    con_clear c;
    const char *what = n > 1 ? w[1] : "";
    if (strcmp(what, "provider") == 0 && n == 3) {
        con_clear_init(&c, AT_CLEAR_PROVIDER);
        con_clear_arg(&c, w[2]);
        snprintf(c.label, sizeof c.label, _("all affinities of provider %s (%s)"), provider_label(app, w[2]), w[2]);
        con_clear_ask(app, &c, _("Clear provider's affinities"));
    } else if (strcmp(what, "user") == 0 && n >= 3) {
        /* the identifier may hold spaces: everything after "user" */
        const char *ident = strstr(orig, "user") + 4;
        while (isspace((unsigned char)*ident)) ident++;
        con_clear_init(&c, AT_CLEAR_API_KEYS);
        c.resolve_user = strdup(ident);
        snprintf(c.label, sizeof c.label, _("all affinities of every API key of user %s"), ident);
        con_clear_ask(app, &c, _("Clear user's affinities"));
    } else if (strcmp(what, "key") == 0 && n == 3) {
        con_clear_init(&c, AT_CLEAR_API_KEYS);
        con_clear_arg(&c, w[2]);
        snprintf(c.label, sizeof c.label, _("all affinities of API key %s"), w[2]);
        con_clear_ask(app, &c, _("Clear API key's affinities"));
    } else if (strcmp(what, "all") == 0 && n == 2) {
        con_clear_ask_all(app);
    } else if (strcmp(what, "mappings") == 0 && n == 2) {
        con_clear_ask_all_mappings(app);
    } else if (strcmp(what, "mapping") == 0 && n == 3) {
        con_clear_init(&c, AT_CLEAR_MAPPING_NAME);
        con_clear_arg(&c, w[2]);
        snprintf(c.label, sizeof c.label, _("mapping name %s (global_model:resolve:%s and global_model:name:%s)"),
                 w[2], w[2], w[2]);
        con_clear_ask(app, &c, _("Clear mapping name"));
    } else if (strcmp(what, "provider-mapping") == 0 && n == 4) {
        con_clear_init(&c, AT_CLEAR_PROVIDER_MAPPING);
        con_clear_arg(&c, w[2]);
        con_clear_arg(&c, w[3]);
        snprintf(c.label, sizeof c.label, _("provider mapping %s / %s (and its hit counter)"), w[2], w[3]);
        con_clear_ask(app, &c, _("Clear provider mapping"));
    } else {
        con_message(app, true, "%s", _("usage: :clear provider ID | user IDENT | key ID | all | mappings | "
                                     "mapping NAME | provider-mapping PROVIDER_ID GLOBAL_MODEL_ID"));
    }
}

static void sort_command(con_app *app, int n, char **w)
{
    if (n < 2 || n > 3 || (n == 3 && strcasecmp(w[2], "asc") != 0 && strcasecmp(w[2], "desc") != 0)) {
        con_message(app, true, _("usage: :sort COLUMN [asc|desc]"));
        return;
    }
    at_column col;
    const char *name;
    if (!con_aff_sort_lookup(w[1], &col, &name)) {
        char known[256];
        con_aff_sort_known(known, sizeof known);
        con_message(app, true, _("unknown column \"%s\" (columns: %s)"), w[1], known);
        return;
    }
    bool desc = col == AT_COL_EXPIRE_AT || col == AT_COL_REQUESTS || col == AT_COL_CREATED_AT;
    if (n > 2) desc = strcasecmp(w[2], "desc") == 0;
    con_aff_sort_set(app, (at_sort){col, desc});
    con_show_tab(app, VIEW_AFFINITIES);
    con_message(app, false, _("Sorted by %s%s"), _(name), desc ? _(" (descending)") : "");
}

void con_command_run(con_app *app, const char *text)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    char *words[MAX_WORDS];
    char *rest = NULL;
    int n = split(buf, words, &rest);
    if (n == 0) return;
    const char *cmd = words[0];
    if (strcmp(cmd, "q") == 0 || strcmp(cmd, "quit") == 0 || strcmp(cmd, "q!") == 0) {
        app->quit = true;
    } else if (strcmp(cmd, "clear") == 0) {
        clear_command(app, n, words, text);
    } else if (strcmp(cmd, "user") == 0 && n >= 2) {
        const char *ident = strstr(text, "user") + 4;
        while (isspace((unsigned char)*ident)) ident++;
        con_job *j = con_job_new(CON_JOB_RESOLVE);
        j->purpose = PURPOSE_USER;
        j->text = strdup(ident);
        con_worker_post(app->worker, j);
        con_message(app, false, _("Looking up user %s ..."), ident);
    } else if (strcmp(cmd, "search") == 0) {
        const char *t = strstr(text, "search") + 6;
        while (isspace((unsigned char)*t)) t++;
        con_show_tab(app, VIEW_AFFINITIES);
        con_aff_search(app, t);
        con_aff_search_commit(app);
    } else if (strcmp(cmd, "sort") == 0) {
        sort_command(app, n, words);
    } else if (strcmp(cmd, "delay") == 0 && n == 2) {
        char *end;
        double d = strtod(words[1], &end);
        if (*end || d < 0.2 || d > 3600) con_message(app, true, _("delay must be between 0.2 and 3600 seconds"));
        else con_set_interval(app, d);
    } else if (strcmp(cmd, "theme") == 0 && n == 2) {
        con_set_theme(app, words[1]);
    } else if (strcmp(cmd, "export") == 0) {
        const char *t = strstr(text, "export") + 6;
        while (isspace((unsigned char)*t)) t++;
        con_show_tab(app, VIEW_AFFINITIES);
        if (*t) con_export_run(app, t);
        else con_export_prompt(app);
    } else if (strcmp(cmd, "help") == 0) {
        con_push(app, VIEW_HELP);
    } else {
        con_message(app, true, _("unknown command \":%s\" (see ? for the list)"), cmd);
    }
    (void)rest;
}

bool con_command_job_done(con_app *app, con_job *j)
{
    if (j->purpose != PURPOSE_USER || j->kind != CON_JOB_RESOLVE) return false;
    at_keyword kw;
    bool local = false;
    if (j->rc < 0) {
        /* PostgreSQL unavailable: the snapshot's own tables */
        if (!app->snap) {
            con_message(app, true, _("Cannot look up user %s: %s"), j->text, j->err);
            return true;
        }
        at_keyword_resolve_local(app->snap->snap, j->text, &kw);
        local = true;
    } else {
        kw = j->kw;
        memset(&j->kw, 0, sizeof j->kw);
    }
    if (kw.kind != AT_MATCH_USER && kw.kind != AT_MATCH_API_KEY) {
        con_message(app, true, _("No user or API key matches \"%s\"%s"), j->text,
                    local ? _(" (PostgreSQL unavailable: looked in the loaded data only)") : "");
        at_keyword_free(&kw);
        return true;
    }
    char uid[128];
    snprintf(uid, sizeof uid, "%s", kw.matched_user_id ? kw.matched_user_id : "?");
    size_t nkeys = kw.n_key_ids;
    con_show_tab(app, VIEW_AFFINITIES);
    con_aff_set_keyword(app, &kw);
    con_message(app, false, ngettext("Showing user %s (%zu API key)%s", "Showing user %s (%zu API keys)%s", nkeys), uid, nkeys,
                local ? _(" - PostgreSQL unavailable, resolved from loaded data") : "");
    return true;
}
