/* keymap.c — the one table binding keys to requests, and the table that
 * describes each request. Input handling, the help screen (`?`) and the
 * function-key bar all read these, so a key shown is a key that works. */
#include "keymap.h"

#include "aethertop/i18n.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

#define CH(c, n, r) {KM_VIEW, (c), false, (n), (r)}
#define CODE(c, n, r) {KM_VIEW, (c), true, (n), (r)}
#define DCH(c, n, r) {KM_DIALOG, (c), false, (n), (r)}
#define DCODE(c, n, r) {KM_DIALOG, (c), true, (n), (r)}

static const con_binding bindings[] = {
    CODE(KEY_UP, "Up", REQ_UP),
    CH('k', "k", REQ_UP),
    CODE(KEY_DOWN, "Down", REQ_DOWN),
    CH('j', "j", REQ_DOWN),
    CODE(KEY_PPAGE, "PgUp", REQ_PAGE_UP),
    CH('b' & 0x1f, "^B", REQ_PAGE_UP),
    CODE(KEY_NPAGE, "PgDn", REQ_PAGE_DOWN),
    CH(' ', "Space", REQ_PAGE_DOWN),
    CH('f' & 0x1f, "^F", REQ_PAGE_DOWN),
    CODE(KEY_HOME, "Home", REQ_HOME),
    CH('g', "g", REQ_HOME),
    CODE(KEY_END, "End", REQ_END),
    CH('G', "G", REQ_END),
    CODE(KEY_LEFT, "Left", REQ_LEFT),
    CH('h', "h", REQ_LEFT),
    CODE(KEY_RIGHT, "Right", REQ_RIGHT),
    CH('l', "l", REQ_RIGHT),

    CH('\t', "Tab", REQ_NEXT_VIEW),
    CODE(KEY_BTAB, "S-Tab", REQ_PREV_VIEW),
    CH('1', "1", REQ_VIEW_1),
    CH('2', "2", REQ_VIEW_2),
    CH('3', "3", REQ_VIEW_3),
    CH('4', "4", REQ_VIEW_4),
    CH('5', "5", REQ_VIEW_5),
    CH('6', "6", REQ_VIEW_6),
    CH('7', "7", REQ_VIEW_7),
    CH('\n', "Enter", REQ_ENTER),
    CH('\r', "Enter", REQ_ENTER),
    CODE(KEY_ENTER, "Enter", REQ_ENTER),
    CH(27, "Esc", REQ_BACK),
    CODE(KEY_BACKSPACE, "Backspace", REQ_BACK),
    CH(127, "Backspace", REQ_BACK),
    CH('?', "?", REQ_HELP),
    CODE(KEY_F(1), "F1", REQ_HELP),
    CH('t', "t", REQ_TOGGLE_STATS),
    CODE(KEY_F(4), "F4", REQ_TOGGLE_STATS),

    CH('/', "/", REQ_SEARCH),
    CODE(KEY_F(3), "F3", REQ_SEARCH),
    CH('s', "s", REQ_SORT_MENU),
    CODE(KEY_F(6), "F6", REQ_SORT_MENU),
    CH('>', ">", REQ_SORT_NEXT),
    CH('.', ".", REQ_SORT_NEXT),
    CH('<', "<", REQ_SORT_PREV),
    CH(',', ",", REQ_SORT_PREV),
    CH('I', "I", REQ_SORT_INVERT),
    CH('y', "y", REQ_COPY),
    CH('e', "e", REQ_EXPORT),
    CODE(KEY_F(8), "F8", REQ_COPY),

    CH('r', "r", REQ_REFRESH),
    CODE(KEY_F(5), "F5", REQ_REFRESH),
    CH('z', "z", REQ_PAUSE),
    CODE(KEY_F(7), "F7", REQ_PAUSE),
    CH('+', "+", REQ_SLOWER),
    CH('=', "=", REQ_SLOWER),
    CH('-', "-", REQ_FASTER),

    CH('d', "d", REQ_CLEAR_ONE),
    CODE(KEY_F(9), "F9", REQ_CLEAR_ONE),
    CODE(KEY_DC, "Del", REQ_CLEAR_ONE),
    CH('U', "U", REQ_CLEAR_USER),
    CH('K', "K", REQ_CLEAR_KEY),
    CH('P', "P", REQ_CLEAR_PROVIDER),
    CH('X', "X", REQ_CLEAR_ALL),

    CH(':', ":", REQ_COMMAND),
    CODE(KEY_F(2), "F2", REQ_COMMAND),
    CH('l' & 0x1f, "^L", REQ_REDRAW),
    CH('q', "q", REQ_QUIT),
    CODE(KEY_F(10), "F10", REQ_QUIT),

    /* confirmation dialogs: the safe answer is the default */
    DCH('y', "y", REQ_CONFIRM),
    DCH('Y', "Y", REQ_CONFIRM),
    DCH('n', "n", REQ_CANCEL),
    DCH('N', "N", REQ_CANCEL),
    DCH(27, "Esc", REQ_CANCEL),
    DCH('\n', "Enter", REQ_CANCEL),
    DCH('\r', "Enter", REQ_CANCEL),
    DCODE(KEY_ENTER, "Enter", REQ_CANCEL),
    DCH('q', "q", REQ_CANCEL),
};

static const con_request_info requests[] = {
    {REQ_UP, N_("Moving"), N_("move the selection up"), NULL},
    {REQ_DOWN, N_("Moving"), N_("move the selection down"), NULL},
    {REQ_PAGE_UP, N_("Moving"), N_("one page up"), NULL},
    {REQ_PAGE_DOWN, N_("Moving"), N_("one page down"), NULL},
    {REQ_HOME, N_("Moving"), N_("first row"), NULL},
    {REQ_END, N_("Moving"), N_("last row"), NULL},
    {REQ_LEFT, N_("Moving"), N_("columns left (Affinities), previous list (Mappings, Hits) / grouping (Groups)"), NULL},
    {REQ_RIGHT, N_("Moving"), N_("columns right (Affinities), next list (Mappings, Hits) / grouping (Groups)"), NULL},

    {REQ_NEXT_VIEW, N_("Views"), N_("next view"), NULL},
    {REQ_PREV_VIEW, N_("Views"), N_("previous view"), NULL},
    {REQ_VIEW_1, N_("Views"), N_("Affinities"), NULL},
    {REQ_VIEW_2, N_("Views"), N_("Groups (by user, provider, model)"), NULL},
    {REQ_VIEW_3, N_("Views"), N_("Mappings (model-mapping cache)"), NULL},
    {REQ_VIEW_4, N_("Views"), N_("Stats"), NULL},
    {REQ_VIEW_5, N_("Views"), N_("Config"), NULL},
    {REQ_VIEW_6, N_("Views"), N_("Hits: prompt-cache effectiveness (usage table, 5 min and 1 h)"), NULL},
    {REQ_VIEW_7, N_("Views"), N_("TTL advice per user (usage table, last 24 h)"), NULL},
    {REQ_ENTER, N_("Views"), N_("details of the row / narrow the table to the group"), NULL},
    {REQ_BACK, N_("Views"), N_("close the detail or help / clear the search and narrowing"), NULL},
    {REQ_HELP, N_("Views"), N_("this help"), N_("Help")},
    {REQ_TOGGLE_STATS, N_("Views"), N_("show or hide the stats pane above the table"), N_("Stats")},

    {REQ_SEARCH, N_("Table"), N_("search (API key id, user, else substring); Enter keeps, Esc clears"), N_("Search")},
    {REQ_SORT_MENU, N_("Table"), N_("choose the sort column"), N_("SortBy")},
    {REQ_SORT_NEXT, N_("Table"), N_("sort by the next column"), NULL},
    {REQ_SORT_PREV, N_("Table"), N_("sort by the previous column"), NULL},
    {REQ_SORT_INVERT, N_("Table"), N_("invert the sort order"), NULL},
    {REQ_COPY, N_("Table"), N_("copy the row's ids to the clipboard (OSC 52)"), N_("Copy")},
    {REQ_EXPORT, N_("Table"), N_("export the rows shown (search, narrowing and sort applied; every page) to CSV or JSON"), NULL},

    {REQ_REFRESH, N_("Refresh"), N_("refresh now"), N_("Reload")},
    {REQ_PAUSE, N_("Refresh"), N_("pause / resume refreshing (PAUSED)"), N_("Pause")},
    {REQ_SLOWER, N_("Refresh"), N_("refresh less often (longer interval)"), NULL},
    {REQ_FASTER, N_("Refresh"), N_("refresh more often (shorter interval)"), NULL},

    {REQ_CLEAR_ONE, N_("Clear (asks first)"), N_("clear the selected affinity / mapping entry"), N_("Clear")},
    {REQ_CLEAR_USER, N_("Clear (asks first)"), N_("clear all affinities of the selected row's user"), NULL},
    {REQ_CLEAR_KEY, N_("Clear (asks first)"), N_("clear all affinities of the selected row's API key"), NULL},
    {REQ_CLEAR_PROVIDER, N_("Clear (asks first)"), N_("clear all affinities of the selected row's provider"), NULL},
    {REQ_CLEAR_ALL, N_("Clear (asks first)"), N_("clear ALL affinities (Mappings: all mappings); type `all` to confirm"), NULL},

    {REQ_COMMAND, N_("Other"), N_("command line  :clear provider ID  :user ID  :theme NAME  :q"), N_("Cmd")},
    {REQ_REDRAW, N_("Other"), N_("redraw the screen"), NULL},
    {REQ_QUIT, N_("Other"), N_("quit"), N_("Quit")},

    {REQ_CONFIRM, N_("In a confirmation"), N_("yes, do it"), NULL},
    {REQ_CANCEL, N_("In a confirmation"), N_("no (the default: Enter alone cancels)"), NULL},
};

#define N_BINDINGS ((int)(sizeof bindings / sizeof bindings[0]))
#define N_REQUESTS ((int)(sizeof requests / sizeof requests[0]))

con_request con_keymap_lookup(con_keyctx ctx, int key, bool is_fkey)
{
    for (int i = 0; i < N_BINDINGS; i++)
        if (bindings[i].ctx == ctx && bindings[i].key == key && bindings[i].code == is_fkey)
            return bindings[i].req;
    return REQ_NONE;
}

const con_binding *con_keymap_bindings(int *n)
{
    *n = N_BINDINGS;
    return bindings;
}

const con_request_info *con_keymap_requests(int *n)
{
    *n = N_REQUESTS;
    return requests;
}

const con_request_info *con_request_describe(con_request req)
{
    for (int i = 0; i < N_REQUESTS; i++)
        if (requests[i].req == req) return &requests[i];
    return NULL;
}

void con_keymap_keys_of(con_keyctx ctx, con_request req, char *out, int outlen)
{
    int o = 0;
    out[0] = '\0';
    for (int i = 0; i < N_BINDINGS; i++) {
        if (bindings[i].ctx != ctx || bindings[i].req != req) continue;
        /* the same name bound twice (Enter = \n, \r, KEY_ENTER) shows once */
        bool dup = false;
        for (int j = 0; j < i && !dup; j++)
            dup = bindings[j].ctx == ctx && bindings[j].req == req && strcmp(bindings[j].name, bindings[i].name) == 0;
        if (dup) continue;
        int w = snprintf(out + o, (size_t)(outlen - o), "%s%s", o ? ", " : "", bindings[i].name);
        if (w < 0 || w >= outlen - o) break;
        o += w;
    }
}

int con_keymap_fkey_of(con_request req)
{
    for (int i = 0; i < N_BINDINGS; i++) {
        if (bindings[i].ctx != KM_VIEW || bindings[i].req != req || !bindings[i].code) continue;
        for (int f = 1; f <= 12; f++)
            if (bindings[i].key == KEY_F(f)) return f;
    }
    return 0;
}
