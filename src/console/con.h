/* con.h — the console's shared state (`con_app`), the view interface (a
 * struct of function pointers, one instance per screen), and the small
 * entry points the modules offer each other. */
#ifndef AT_CONSOLE_CON_H
#define AT_CONSOLE_CON_H

#include <stdbool.h>
#include <stddef.h>
#include <curses.h>

#include "aethertop/config.h"
#include "aethertop/i18n.h"
#include "aethertop/insight.h"
#include "aethertop/query.h"
#include "aethertop/strmap.h"
#include "keymap.h"
#include "theme.h"
#include "worker.h"

#define CON_MIN_COLS 80
#define CON_MIN_ROWS 24

typedef struct con_app con_app;
typedef struct con_view con_view;

/* A screen. draw paints rows [y, y+h) over the full width; handle returns
 * true when it consumed the request (else the global handler gets it).
 * want, when set, is the worker's switch for what it reads only while the
 * view is open: called with true before on_enter, false before on_leave. */
struct con_view {
    const char *name;
    void (*draw)(con_app *app, con_view *v, int y, int h);
    bool (*handle)(con_app *app, con_view *v, con_request req);
    void (*want)(con_worker *w, bool on);
    void (*on_enter)(con_app *app, con_view *v);
    void (*on_leave)(con_app *app, con_view *v);
    void (*destroy)(con_view *v);
    void *state;
};

/* A view from its callbacks and state (copied into a new allocation). With no
 * destroy callback, destroying frees the state and the view. */
con_view *con_view_make(con_view callbacks);
void con_view_free_plain(con_view *v);
/* A list view's cursor over n rows for the movement requests (Up/Down,
 * PgUp/PgDn by rows, at least 1, Home/End); false for any other request,
 * which leaves *cur alone. */
bool con_list_move(size_t *cur, size_t n, int rows, con_request req);
/* Keeps that cursor on one of the n rows and, when rows > 0, inside the
 * window of rows rows that starts at *top. */
void con_list_clamp(size_t *cur, size_t *top, size_t n, int rows);
/* A worker job's answer to a view: when ok, clears err and stamps *mono with
 * this frame's clock; else keeps the job's error (or fallback) in err. Either
 * way the screen is redrawn. */
void con_job_answered(con_app *app, const con_job *j, bool ok, char *err, size_t errlen, double *mono,
                      const char *fallback);

/* The seven tabs (1-7), then the views opened on top of them. */
enum { VIEW_AFFINITIES, VIEW_GROUPS, VIEW_MAPPINGS, VIEW_STATS, VIEW_CONFIG, VIEW_HITS, VIEW_TTL, VIEW__TABS,
       VIEW_DETAIL = VIEW__TABS, VIEW_HELP, VIEW__COUNT };

typedef enum { MODE_NORMAL, MODE_SEARCH, MODE_COMMAND, MODE_DIALOG, MODE_EXPORT } con_mode;

/* A one-line text editor (search, command line, typed confirmation). */
typedef struct { char buf[512]; size_t len; } con_line;
typedef enum { LINE_NONE, LINE_CHANGED, LINE_ACCEPT, LINE_CANCEL, LINE_PASS } con_line_result;
con_line_result con_line_key(con_line *l, bool code, int key);
void con_line_set(con_line *l, const char *text);

typedef enum { DLG_NONE, DLG_CONFIRM, DLG_TYPE_ALL, DLG_SORT } con_dialog_kind;
typedef struct {
    con_dialog_kind kind;
    char title[96];
    con_clear clear;          /* what will be executed */
    unsigned count_job;       /* pending count job id, 0 when answered */
    bool count_ok;
    long long count;
    char count_err[768];
    con_line input;           /* DLG_TYPE_ALL */
    int cursor;               /* DLG_SORT */
} con_dialog;

struct con_app {
    const at_config *cfg;
    con_worker *worker;
    int wake[2];
    int clears_in_flight;     /* confirmed, outcome not shown yet */
    con_snap *snap;           /* the snapshot drawn (a reference) */
    unsigned long gen;
    con_worker_status st;
    double now;               /* wall clock of this frame */
    double mono;
    int rows, cols;
    bool too_small;
    bool utf8;
    con_theme theme;

    con_view *views[VIEW__COUNT];
    int stack[4];             /* stack[0] is a tab; detail/help go on top */
    int depth;
    bool stats_pane;
    bool paused;
    double interval;

    con_mode mode;
    con_line line;            /* search / command text */
    con_dialog dlg;

    char msg[512];
    bool msg_error;
    double msg_until;         /* mono */

    at_mapping_stats *mappings;
    char mappings_err[768];
    double mappings_mono;     /* when they were built */
    bool mappings_pending;

    /* prompt-cache effectiveness from the usage table (worker jobs) */
    at_hits_report *hits5, *hits60;   /* last 5 min (Hits view open), last hour */
    char hits_err[768];
    double hits_mono;
    at_strmap hit_users;      /* user id -> index into hits60->by_user */
    at_ttl_advice *ttl;
    char ttl_err[768];
    double ttl_mono;
    bool ttl_pending;

    const char *config_path;  /* the config file read, or NULL */

    bool dirty, quit;
};

/* console.c */
con_view *con_top(con_app *app);
void con_show_tab(con_app *app, int tab);
void con_push(con_app *app, int view);
void con_pop(con_app *app);
void con_message(con_app *app, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void con_set_interval(con_app *app, double seconds);
int con_set_theme(con_app *app, const char *name);

/* draw.c — every string from data goes through con_put (at_cells_fit). */
int con_put(int y, int x, int width, const char *text, con_element e, bool right);
int con_text(int y, int x, int maxw, const char *text, con_element e);
void con_fill(int y, int x, int width, con_element e);
void con_fmt_int(long long v, char *out, size_t outlen);
void con_fmt_dur(double seconds, char *out, size_t outlen);
void con_fmt_bytes(long long v, char *out, size_t outlen);
void con_fmt_time(double epoch, bool with_date, char *out, size_t outlen);
void con_fmt_rate(double v, char *out, size_t outlen);
void con_sparkline(con_app *app, int y, int x, int width, const double *v, int n, con_element e);
void con_bar(con_app *app, int y, int x, int width, double fraction, con_element e);
void con_box(int y, int x, int h, int w, con_element e);
/* Split sanitized text into lines of at most width cells; returns count. */
int con_wrap(const char *text, int width, char lines[][512], int max_lines);
const char *con_sym(con_app *app, const char *utf8, const char *ascii);
void con_set_utf8(bool utf8);

/* header.c / funcbar.c / statusline.c */
int con_header_draw(con_app *app);
void con_funcbar_draw(con_app *app, int y);
void con_statusline_draw(con_app *app, int y);

/* dialog.c */
void con_dialog_draw(con_app *app);
void con_dialog_key(con_app *app, bool code, int key);
void con_dialog_close(con_app *app);
void con_sort_menu_open(con_app *app);

/* clearflow.c — ask (count, confirm), then execute on the worker. */
void con_clear_ask(con_app *app, con_clear *c, const char *title);
/* X / :clear all, and X in Mappings / :clear mappings: ask for everything */
void con_clear_ask_all(con_app *app);
void con_clear_ask_all_mappings(con_app *app);
void con_clear_confirmed(con_app *app);
bool con_clear_job_done(con_app *app, con_job *j);
/* A finished clear's outcome in one line; true when it is an error. */
bool con_clear_report_text(const con_job *j, char *out, size_t outlen);

/* command.c */
void con_command_run(con_app *app, const char *text);
bool con_command_job_done(con_app *app, con_job *j);

/* clipboard.c */
int con_clipboard_copy(const char *text, char *err, size_t errlen);

/* the views */
con_view *con_view_affinities_new(void);
con_view *con_view_groups_new(void);
con_view *con_view_mappings_new(void);
con_view *con_view_stats_new(void);
con_view *con_view_config_new(void);
con_view *con_view_detail_new(void);
con_view *con_view_help_new(void);

/* view_affinities.c: what other views and commands may ask of the table */
void con_aff_search(con_app *app, const char *text);
/* Enter on a search: look the keyword up in PostgreSQL too (a job). */
void con_aff_search_commit(con_app *app);
bool con_aff_search_job_done(con_app *app, con_job *j);
void con_aff_set_keyword(con_app *app, at_keyword *kw);   /* takes ownership */
void con_aff_narrow(con_app *app, const char *user_id, const char *provider_id,
                    const char *model_name, const char *label);
const at_affinity *con_aff_selected(con_app *app);
at_sort con_aff_sort_get(con_app *app);
void con_aff_sort_set(con_app *app, at_sort sort);
int con_aff_sort_columns(const at_column **cols, const char *const **names);
/* :sort's COLUMN: a column id of the table (ttl, reqs, key_name...), a menu
 * name (requests) or the query's name (expire_at), any case; false if none.
 * *menu_name: the menu's (untranslated) name. */
bool con_aff_sort_lookup(const char *word, at_column *col, const char **menu_name);
/* The column ids :sort knows, comma-separated. */
void con_aff_sort_known(char *out, size_t outlen);

/* view_detail.c */
void con_detail_open(con_app *app, const char *redis_key);

/* view_stats.c: the pane above the table */
int con_stats_pane_height(con_app *app);
void con_stats_pane_draw(con_app *app, int y, int h);

/* view_mappings.c */
void con_mappings_received(con_app *app, con_job *j);

/* view_hits.c / view_ttl.c: the usage-table views and their job answers */
con_view *con_view_hits_new(void);
con_view *con_view_ttl_new(void);
void con_hits_received(con_app *app, con_job *j);
void con_ttl_received(con_app *app, con_job *j);
void con_insight_free(con_app *app);
/* A user's token hit rate over the last hour: 1 and *row when the usage
 * table has requests of theirs, 0 when none (no cache reads either), -1
 * when unknown (no report yet or none renewed for 3 periods: PostgreSQL
 * down; no user id). */
int con_user_hits(con_app *app, const char *user_id, const at_hits_row **row);
void con_fmt_hit_rate(double rate, char *out, size_t outlen);

/* view_affinities.c: export (e) and the column set */
void con_export_prompt(con_app *app);
void con_export_run(con_app *app, const char *path);
bool con_export_job_done(con_app *app, con_job *j);
int con_aff_set_columns(con_app *app, const char *spec, char *err, size_t errlen);

/* Shared labels for a row (never NULL; data, so always drawn with con_put). */
const char *con_row_user(const at_snapshot *s, const at_affinity *a);
const char *con_row_provider(const at_snapshot *s, const at_affinity *a);
const char *con_row_model(const at_snapshot *s, const at_affinity *a);

#endif
