/* console.c — at_console_run: terminal set-up (no XON/XOFF: Ctrl-S must not
 * freeze the screen) and tear-down, the event loop (poll on the keyboard
 * and the worker's wake-up pipe, with a one-second tick for the TTL
 * countdown and the data age), turning keys into requests
 * through the keymap (escape sequences the terminfo entry does not know are
 * dropped whole, never read as Esc + letters) and dispatching them
 * (dialog/prompt first, then the view on top, then the global actions), and
 * the frame: erase + draw + one doupdate, so ncurses sends only what
 * changed. */
#include "con.h"

#include "aethertop/cells.h"
#include "aethertop/console.h"
#include "aethertop/text.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_quit_signal;
static int g_wake_fd = -1;            /* the wake pipe: a signal ends poll at once */
static struct termios g_tty;          /* the terminal as we found it */
static bool g_have_tty;

/* INT, TERM, HUP, QUIT: quit. A clear in flight stops before its next batch
 * and confirmed clears still queued are dropped (q, by contrast, lets them
 * run). Only async-signal-safe calls here. */
static void on_quit_signal(int sig)
{
    g_quit_signal = sig;
    con_worker_interrupt();
    if (g_wake_fd >= 0) {
        int saved = errno;
        ssize_t rc = write(g_wake_fd, "s", 1);
        (void)rc;
        errno = saved;
    }
}

/* abort() (out of memory, a failed check): give the terminal back as best a
 * signal handler can (tcsetattr and write are async-signal-safe), then die
 * of the same signal. */
static void on_fatal_signal(int sig)
{
    static const char restore[] = "\033[?1049l\033[?25h\033[0m\r\n";
    if (g_have_tty) tcsetattr(STDIN_FILENO, TCSANOW, &g_tty);
    ssize_t rc = write(STDOUT_FILENO, restore, sizeof restore - 1);
    (void)rc;
    signal(sig, SIG_DFL);
    raise(sig);
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- views and messages ------------------------------------------------------- */

con_view *con_top(con_app *app)
{
    return app->views[app->stack[app->depth - 1]];
}

static void leave_top(con_app *app)
{
    con_view *v = con_top(app);
    if (v->want) v->want(app->worker, false);
    if (v->on_leave) v->on_leave(app, v);
}

static void enter_top(con_app *app)
{
    con_view *v = con_top(app);
    if (v->want) v->want(app->worker, true);
    if (v->on_enter) v->on_enter(app, v);
    app->dirty = true;
}

void con_show_tab(con_app *app, int tab)
{
    if (app->depth == 1 && app->stack[0] == tab) return;
    leave_top(app);
    app->stack[0] = tab;
    app->depth = 1;
    enter_top(app);
}

void con_push(con_app *app, int view)
{
    if (app->stack[app->depth - 1] == view) return;
    if (app->depth == (int)(sizeof app->stack / sizeof app->stack[0])) app->depth--;
    leave_top(app);
    app->stack[app->depth++] = view;
    enter_top(app);
}

void con_pop(con_app *app)
{
    if (app->depth <= 1) return;
    leave_top(app);
    app->depth--;
    enter_top(app);
}

void con_message(con_app *app, bool error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(app->msg, sizeof app->msg, fmt, ap);
    va_end(ap);
    app->msg_error = error;
    app->msg_until = app->mono + (error ? 20 : 8);
    app->dirty = true;
}

void con_set_interval(con_app *app, double seconds)
{
    if (seconds < 0.2) seconds = 0.2;
    if (seconds > 3600) seconds = 3600;
    app->interval = seconds;
    con_worker_set_interval(app->worker, seconds);
    con_message(app, false, _("Refreshing every %g s"), seconds);
}

int con_set_theme(con_app *app, const char *name)
{
    con_theme t;
    char err[600];
    if (con_theme_load(name, &t, err, sizeof err) < 0) {
        con_message(app, true, _("theme error: %s"), err);
        return -1;
    }
    app->theme = t;
    con_theme_apply(&app->theme);
    con_message(app, false, _("Theme %s"), app->theme.name);
    return 0;
}

/* Interval steps for + and -. */
static double step_interval(double cur, int dir)
{
    static const double steps[] = {0.5, 1, 2, 3, 5, 10, 15, 30, 60, 120, 300};
    int n = (int)(sizeof steps / sizeof steps[0]);
    if (dir > 0) {
        for (int i = 0; i < n; i++) if (steps[i] > cur + 1e-9) return steps[i];
        return steps[n - 1];
    }
    for (int i = n - 1; i >= 0; i--) if (steps[i] < cur - 1e-9) return steps[i];
    return steps[0];
}

/* ---- requests ---------------------------------------------------------------------- */

static void global_request(con_app *app, con_request req)
{
    switch (req) {
    case REQ_QUIT: app->quit = true; break;
    case REQ_NEXT_VIEW: con_show_tab(app, (app->stack[0] + 1) % VIEW__TABS); break;
    case REQ_PREV_VIEW: con_show_tab(app, (app->stack[0] + VIEW__TABS - 1) % VIEW__TABS); break;
    case REQ_VIEW_1: con_show_tab(app, VIEW_AFFINITIES); break;
    case REQ_VIEW_2: con_show_tab(app, VIEW_GROUPS); break;
    case REQ_VIEW_3: con_show_tab(app, VIEW_MAPPINGS); break;
    case REQ_VIEW_4: con_show_tab(app, VIEW_STATS); break;
    case REQ_VIEW_5: con_show_tab(app, VIEW_CONFIG); break;
    case REQ_VIEW_6: con_show_tab(app, VIEW_HITS); break;
    case REQ_VIEW_7: con_show_tab(app, VIEW_TTL); break;
    case REQ_HELP: con_push(app, VIEW_HELP); break;
    case REQ_BACK: con_pop(app); break;
    case REQ_TOGGLE_STATS:
        app->stats_pane = !app->stats_pane;
        if (app->stack[0] != VIEW_AFFINITIES) con_show_tab(app, VIEW_AFFINITIES);
        break;
    case REQ_SEARCH: {
        con_show_tab(app, VIEW_AFFINITIES);
        con_view *v = con_top(app);
        v->handle(app, v, REQ_SEARCH);
        break;
    }
    case REQ_SORT_MENU: case REQ_SORT_NEXT: case REQ_SORT_PREV: case REQ_SORT_INVERT: {
        con_show_tab(app, VIEW_AFFINITIES);
        con_view *v = con_top(app);
        v->handle(app, v, req);
        break;
    }
    case REQ_COMMAND:
        app->mode = MODE_COMMAND;
        con_line_set(&app->line, "");
        break;
    case REQ_REFRESH:
        con_worker_refresh_now(app->worker);
        con_message(app, false, "%s", _("Refreshing..."));
        break;
    case REQ_PAUSE:
        app->paused = !app->paused;
        con_worker_set_paused(app->worker, app->paused);
        con_message(app, false, "%s", app->paused ? _("Paused: the data stays as it is (z resumes, r refreshes once).")
                                                  : _("Resumed."));
        break;
    case REQ_SLOWER: con_set_interval(app, step_interval(app->interval, +1)); break;
    case REQ_FASTER: con_set_interval(app, step_interval(app->interval, -1)); break;
    case REQ_REDRAW: clearok(curscr, TRUE); break;
    case REQ_CLEAR_ALL: con_clear_ask_all(app); break;
    case REQ_CLEAR_ONE: case REQ_CLEAR_USER: case REQ_CLEAR_KEY: case REQ_CLEAR_PROVIDER: case REQ_COPY:
    case REQ_EXPORT:
        con_message(app, true, "%s", _("Not available in this view (go to 1 Affinities)."));
        break;
    default:
        break;
    }
    app->dirty = true;
}

static void dispatch(con_app *app, con_request req)
{
    if (req == REQ_NONE) return;
    con_view *v = con_top(app);
    if (v->handle && v->handle(app, v, req)) return;
    global_request(app, req);
}

static void prompt_key(con_app *app, bool code, int key)
{
    con_line_result r = con_line_key(&app->line, code, key);
    if (app->mode == MODE_SEARCH) {
        switch (r) {
        case LINE_CHANGED: con_aff_search(app, app->line.buf); break;
        case LINE_ACCEPT:
            app->mode = MODE_NORMAL;
            if (app->line.len) con_message(app, false, _("Filter kept: \"%s\" (Esc clears it)."), app->line.buf);
            con_aff_search_commit(app);
            break;
        case LINE_CANCEL:
            app->mode = MODE_NORMAL;
            con_aff_search(app, "");
            break;
        case LINE_PASS:
            /* arrows and paging move the table while typing */
            dispatch(app, con_keymap_lookup(KM_VIEW, key, code));
            break;
        case LINE_NONE: break;
        }
    } else {
        /* the export path or the ':' command line: run it on Enter */
        bool exporting = app->mode == MODE_EXPORT;
        if (r == LINE_ACCEPT) {
            app->mode = MODE_NORMAL;
            char text[512];
            snprintf(text, sizeof text, "%s", app->line.buf);
            (exporting ? con_export_run : con_command_run)(app, text);
        } else if (r == LINE_CANCEL) {
            app->mode = MODE_NORMAL;
            if (exporting) con_message(app, false, "%s", _("Export cancelled."));
        }
    }
    app->dirty = true;
}

static void on_resize(con_app *app)
{
    int rows, cols;
    getmaxyx(stdscr, rows, cols);
    app->rows = rows;
    app->cols = cols;
    app->too_small = cols < CON_MIN_COLS || rows < CON_MIN_ROWS;
    app->dirty = true;
}

/* ncurses hands back a lone Esc when the bytes after it match no key of the
 * terminfo entry (F12 on vt100, a modifier combination): read as keys, the
 * rest would be Esc (cancel the search, close the view) then `[`, `2`, `4`
 * (view 2...). Called after an Esc: when a CSI (`Esc [` ... final byte) or
 * SS3 (`Esc O` x) sequence follows at once, it is dropped whole and true is
 * returned; otherwise what was read is given back and the Esc stands. */
static bool drop_unknown_sequence(void)
{
    wint_t c;
    int r = get_wch(&c);
    if (r == ERR) return false;
    if (r != OK || (c != '[' && c != 'O')) {
        if (r == OK) unget_wch((wchar_t)c);
        else ungetch((int)c);
        return false;
    }
    bool csi = c == '[';
    for (int n = 0; n < 32; n++) {
        r = get_wch(&c);
        if (r == ERR) break;
        if (r != OK) {                   /* a key of its own: keep it */
            ungetch((int)c);
            break;
        }
        if (!csi || (c >= 0x40 && c <= 0x7E)) break;
    }
    return true;
}

static void handle_key(con_app *app, int rc, wint_t wch)
{
    bool code = rc == KEY_CODE_YES;
    int key = (int)wch;
    if (code && key == KEY_RESIZE) {
        on_resize(app);
        return;
    }
    if (app->too_small) {
        con_request req = con_keymap_lookup(KM_VIEW, key, code);
        if (req == REQ_QUIT) app->quit = true;
        return;
    }
    switch (app->mode) {
    case MODE_SEARCH:
    case MODE_COMMAND:
    case MODE_EXPORT:
        prompt_key(app, code, key);
        return;
    case MODE_DIALOG:
        con_dialog_key(app, code, key);
        return;
    case MODE_NORMAL:
        break;
    }
    app->dirty = true;
    dispatch(app, con_keymap_lookup(KM_VIEW, key, code));
}

/* ---- worker news -------------------------------------------------------------------- */

static void drain_worker(con_app *app)
{
    char buf[256];
    while (read(app->wake[0], buf, sizeof buf) > 0) {
    }
    con_snap *s = con_worker_take_snapshot(app->worker, &app->gen);
    if (s) {
        con_snap_unref(app->snap);
        app->snap = s;
        app->dirty = true;
    }
    con_worker_status st;
    con_worker_status_get(app->worker, &st);
    if (memcmp(&st, &app->st, sizeof st) != 0) app->dirty = true;
    app->st = st;
    for (con_job *j = con_worker_take_done(app->worker), *next; j; j = next) {
        next = j->next;
        if (j->kind == CON_JOB_MAPPINGS) con_mappings_received(app, j);
        else if (j->kind == CON_JOB_HITS) con_hits_received(app, j);
        else if (j->kind == CON_JOB_TTL) con_ttl_received(app, j);
        else if (j->kind == CON_JOB_EXPORT) con_export_job_done(app, j);
        else if (!con_clear_job_done(app, j) && !con_aff_search_job_done(app, j)) con_command_job_done(app, j);
        con_job_free(j);
        app->dirty = true;
    }
}

/* ---- drawing ------------------------------------------------------------------------------- */

static void draw_too_small(con_app *app)
{
    char a[128], b[64];
    snprintf(a, sizeof a, _("terminal too small: %dx%d"), app->cols, app->rows);
    snprintf(b, sizeof b, _("need at least %dx%d (q quits)"), CON_MIN_COLS, CON_MIN_ROWS);
    int y = app->rows / 2 - 1;
    if (y < 0) y = 0;
    int xa = (app->cols - at_cells_width(a)) / 2, xb = (app->cols - at_cells_width(b)) / 2;
    con_text(y, xa < 0 ? 0 : xa, app->cols, a, TH_STATUS_ERROR);
    if (y + 1 < app->rows) con_text(y + 1, xb < 0 ? 0 : xb, app->cols, b, TH_NORMAL);
}

static void draw(con_app *app)
{
    erase();
    if (app->too_small) {
        draw_too_small(app);
    } else {
        int y = con_header_draw(app);
        int bottom = app->rows - 2;
        con_view *v = con_top(app);
        v->draw(app, v, y, bottom - y);
        con_statusline_draw(app, app->rows - 2);
        con_funcbar_draw(app, app->rows - 1);
        if (app->mode == MODE_DIALOG) con_dialog_draw(app);
    }
    wnoutrefresh(stdscr);
    doupdate();
    app->dirty = false;
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int setup_pipe(int fds[2])
{
    if (pipe(fds) < 0) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_quit_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sa.sa_handler = on_fatal_signal;
    sigaction(SIGABRT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* After endwin, while the worker finishes: each clear's outcome on stderr
 * (the screen that would have shown it is gone). */
static void report_after_quit(con_job *j, void *ctx)
{
    (void)ctx;
    if (j->kind != CON_JOB_CLEAR) return;
    char text[1024];
    con_clear_report_text(j, text, sizeof text);
    char *safe = at_text_sanitize(text);
    fprintf(stderr, "aethertop: %s\n", safe ? safe : "");
    free(safe);
}

int at_console_run(const at_config *cfg, const at_console_opts *opts)
{
    /* the locale is set up by main (at_i18n_init) */
    con_app *app = calloc(1, sizeof *app);
    if (!app) return 1;
    app->cfg = cfg;
    app->interval = opts && opts->delay_s > 0 ? opts->delay_s : 2.0;
    if (app->interval < 0.2) app->interval = 0.2;
    app->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    con_set_utf8(app->utf8);

    /* the theme: --theme, else monochrome under NO_COLOR, else the config
       file's, else default */
    char theme_err[600] = "";
    const char *theme = opts && opts->theme && *opts->theme ? opts->theme : NULL;
    const char *no_color = getenv("NO_COLOR");
    if (!theme && no_color && *no_color) theme = "monochrome";
    if (!theme && opts && opts->config_theme && *opts->config_theme) theme = opts->config_theme;
    if (!theme) theme = "default";
    app->config_path = opts ? opts->config_path : NULL;
    at_strmap_init(&app->hit_users);
    if (con_theme_load(theme, &app->theme, theme_err, sizeof theme_err) < 0) con_theme_builtin(&app->theme);

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "%s\n", _("aethertop: the console needs a terminal (use a command such as `aethertop list` for scripts)"));
        at_strmap_free(&app->hit_users);
        free(app);
        return 2;
    }
    if (setup_pipe(app->wake) < 0) {
        fprintf(stderr, "aethertop: pipe: %s\n", strerror(errno));
        at_strmap_free(&app->hit_users);
        free(app);
        return 1;
    }
    g_have_tty = tcgetattr(STDIN_FILENO, &g_tty) == 0;
    SCREEN *scr = newterm(NULL, stdout, stdin);
    if (!scr) {
        fprintf(stderr, _("aethertop: cannot use terminal type \"%s\"\n"), getenv("TERM") ? getenv("TERM") : "(unset)");
        close(app->wake[0]);
        close(app->wake[1]);
        at_strmap_free(&app->hit_users);
        free(app);
        return 2;
    }
    set_term(scr);
    g_wake_fd = app->wake[1];
    install_signals();
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(50);
    /* Home/End as tmux, screen, rxvt and the Linux console send them, whatever
       the terminfo entry says */
    static const char *const home[] = {"\033[1~", "\033[7~", "\033[H", "\033OH"};
    static const char *const end[] = {"\033[4~", "\033[8~", "\033[F", "\033OF"};
    for (size_t i = 0; i < sizeof home / sizeof home[0]; i++) {
        define_key(home[i], KEY_HOME);
        define_key(end[i], KEY_END);
    }
    /* ... and PgUp, PgDn, Delete and F1-F10 as xterm and tmux send them,
       which entries such as vt100's do not list */
    static const struct { const char *seq; int key; } more[] = {
        {"\033[5~", KEY_PPAGE}, {"\033[6~", KEY_NPAGE}, {"\033[3~", KEY_DC},
        {"\033OP", KEY_F(1)}, {"\033OQ", KEY_F(2)}, {"\033OR", KEY_F(3)}, {"\033OS", KEY_F(4)},
        {"\033[15~", KEY_F(5)}, {"\033[17~", KEY_F(6)}, {"\033[18~", KEY_F(7)},
        {"\033[19~", KEY_F(8)}, {"\033[20~", KEY_F(9)}, {"\033[21~", KEY_F(10)},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) define_key(more[i].seq, more[i].key);
    /* Ctrl-S must not stop our output (XON/XOFF flow control): the screen
       would freeze on "updated 1.4 s ago" while the data ages unseen, every
       key seemingly ignored until Ctrl-Q. Without IXON both are plain,
       unbound keys. def_prog_mode: ncurses keeps this as the program's
       mode; endwin gives back the terminal's own (saved by newterm). */
    struct termios tio;
    if (tcgetattr(STDIN_FILENO, &tio) == 0 && (tio.c_iflag & IXON)) {
        tio.c_iflag &= ~(tcflag_t)IXON;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &tio) == 0) def_prog_mode();
    }
    curs_set(0);
    if (has_colors()) {
        start_color();
        use_default_colors();
    }
    con_theme_apply(&app->theme);

    app->views[VIEW_AFFINITIES] = con_view_affinities_new();
    app->views[VIEW_GROUPS] = con_view_groups_new();
    app->views[VIEW_MAPPINGS] = con_view_mappings_new();
    app->views[VIEW_STATS] = con_view_stats_new();
    app->views[VIEW_CONFIG] = con_view_config_new();
    app->views[VIEW_HITS] = con_view_hits_new();
    app->views[VIEW_TTL] = con_view_ttl_new();
    app->views[VIEW_DETAIL] = con_view_detail_new();
    app->views[VIEW_HELP] = con_view_help_new();
    app->stack[0] = VIEW_AFFINITIES;
    app->depth = 1;
    app->mono = clock_s(CLOCK_MONOTONIC);
    app->now = clock_s(CLOCK_REALTIME);
    on_resize(app);
    app->stats_pane = app->rows >= 34;
    if (theme_err[0]) con_message(app, true, _("theme error: %s; using the default theme"), theme_err);

    app->worker = con_worker_start(cfg, app->interval, app->wake[1]);
    if (opts && opts->columns) {
        char cerr[512];
        if (con_aff_set_columns(app, opts->columns, cerr, sizeof cerr) < 0)
            con_message(app, true, _("columns: %s; using the default columns"), cerr);
    }
    int status = 0;
    if (!app->worker) {
        app->quit = true;
        status = 1;
    } else {
        con_worker_status_get(app->worker, &app->st);
    }

    long last_second = -1;
    int empty_reads = 0;                 /* readable but nothing read: the terminal is gone */
    while (!app->quit && !g_quit_signal) {
        app->mono = clock_s(CLOCK_MONOTONIC);
        app->now = clock_s(CLOCK_REALTIME);
        drain_worker(app);
        if (app->msg[0] && app->mono >= app->msg_until) {
            app->msg[0] = '\0';
            app->dirty = true;
        }
        long second = (long)floor(app->mono);
        if (second != last_second) {
            last_second = second;
            app->dirty = true;           /* TTL countdown and data age */
        }
        if (app->dirty) draw(app);

        struct pollfd pfd[2] = {{STDIN_FILENO, POLLIN, 0}, {app->wake[0], POLLIN, 0}};
        double wait = (floor(app->mono) + 1.0 - app->mono) * 1000.0 + 1;
        int rc = poll(pfd, 2, (int)wait);
        if (rc < 0 && errno != EINTR) break;
        app->mono = clock_s(CLOCK_MONOTONIC);
        app->now = clock_s(CLOCK_REALTIME);
        wint_t wch;
        int kr;
        int budget = 256;                /* a paste cannot starve the screen */
        int got = 0;
        while (budget-- > 0 && (kr = get_wch(&wch)) != ERR) {
            if (kr == OK && wch == 27 && drop_unknown_sequence()) {
                got++;
                continue;
            }
            handle_key(app, kr, wch);
            got++;
            if (app->quit) break;
        }
        if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL)) break; /* the terminal went away */
        empty_reads = rc > 0 && (pfd[0].revents & POLLIN) && !got ? empty_reads + 1 : 0;
        if (empty_reads > 100) break;
    }

    /* give the terminal back first: joining the worker waits for the clears
       the user confirmed (and for a command in flight, bounded by the
       timeout) */
    endwin();
    if (app->clears_in_flight == 1 && !g_quit_signal)
        fprintf(stderr, "%s\n", _("aethertop: finishing the confirmed clear first (Ctrl-C stops it between batches)"));
    else if (app->clears_in_flight > 1 && !g_quit_signal)
        fprintf(stderr, _("aethertop: finishing %d confirmed clears first (Ctrl-C stops them between batches)\n"),
                app->clears_in_flight);
    if (app->worker) con_worker_stop(app->worker, report_after_quit, app);
    else fprintf(stderr, "%s\n", _("aethertop: cannot start the refresh thread"));
    g_wake_fd = -1;
    if (g_quit_signal && status == 0) status = 128 + g_quit_signal;
    delscreen(scr);
    for (int i = 0; i < VIEW__COUNT; i++)
        if (app->views[i] && app->views[i]->destroy) app->views[i]->destroy(app->views[i]);
    con_dialog_close(app);
    con_snap_unref(app->snap);
    if (app->mappings) {
        at_mapping_stats_free(app->mappings);
        free(app->mappings);
    }
    con_insight_free(app);
    at_strmap_free(&app->hit_users);
    close(app->wake[0]);
    close(app->wake[1]);
    free(app);
    return status;
}
