/* keymap.h — the console's user actions: one `request` for every thing a
 * key can ask for, and the single table that binds keys to requests (the
 * help screen and the function-key bar are generated from it). */
#ifndef AT_CONSOLE_KEYMAP_H
#define AT_CONSOLE_KEYMAP_H

#include <stdbool.h>

typedef enum {
    REQ_NONE = 0,
    /* movement */
    REQ_UP, REQ_DOWN, REQ_PAGE_UP, REQ_PAGE_DOWN, REQ_HOME, REQ_END, REQ_LEFT, REQ_RIGHT,
    /* views */
    REQ_NEXT_VIEW, REQ_PREV_VIEW, REQ_VIEW_1, REQ_VIEW_2, REQ_VIEW_3, REQ_VIEW_4, REQ_VIEW_5,
    REQ_VIEW_6, REQ_VIEW_7,
    REQ_ENTER, REQ_BACK, REQ_HELP, REQ_TOGGLE_STATS,
    /* the table */
    REQ_SEARCH, REQ_SORT_MENU, REQ_SORT_NEXT, REQ_SORT_PREV, REQ_SORT_INVERT, REQ_COPY, REQ_EXPORT,
    /* refreshing */
    REQ_REFRESH, REQ_PAUSE, REQ_SLOWER, REQ_FASTER,
    /* clears */
    REQ_CLEAR_ONE, REQ_CLEAR_USER, REQ_CLEAR_KEY, REQ_CLEAR_PROVIDER, REQ_CLEAR_ALL,
    /* misc */
    REQ_COMMAND, REQ_REDRAW, REQ_QUIT,
    /* dialogs */
    REQ_CONFIRM, REQ_CANCEL,
    REQ__COUNT
} con_request;

/* Where a binding applies: the views, or an open confirmation dialog. */
typedef enum { KM_VIEW = 0, KM_DIALOG } con_keyctx;

typedef struct {
    con_keyctx ctx;
    int key;             /* ncurses key code (code = true) or character */
    bool code;
    const char *name;    /* as shown in help ("F9", "d", "PgDn") */
    con_request req;
} con_binding;

typedef struct {
    con_request req;
    const char *section;     /* help heading (untranslated: show with _()) */
    const char *help;        /* one line (untranslated: show with _()) */
    const char *fkey_label;  /* function-key bar label (<= 6 cells) or NULL (untranslated) */
} con_request_info;

/* The request bound to `key` in ctx, or REQ_NONE. is_fkey: key is KEY_CODE_YES. */
con_request con_keymap_lookup(con_keyctx ctx, int key, bool is_fkey);

/* The tables, for the help screen and the function-key bar. */
const con_binding *con_keymap_bindings(int *n);
const con_request_info *con_keymap_requests(int *n);
const con_request_info *con_request_describe(con_request req);
/* Comma-separated key names bound to req in ctx ("d, F9, Del"). */
void con_keymap_keys_of(con_keyctx ctx, con_request req, char *out, int outlen);
/* The function key (1..12) bound to req in the view context, or 0. */
int con_keymap_fkey_of(con_request req);

#endif
