/* theme.h — the console's colours: named screen elements, theme files
 * (`element = fg bg attr,attr`), where they are looked for, and turning a
 * theme into ncurses colour pairs (with an 8-colour fallback). */
#ifndef AT_CONSOLE_THEME_H
#define AT_CONSOLE_THEME_H

#include <stdbool.h>
#include <stddef.h>
#include <curses.h>

typedef enum {
    TH_NORMAL = 0,
    TH_HEADER, TH_HEADER_VALUE, TH_BADGE, TH_BADGE_ALERT, TH_OK, TH_WARN, TH_BANNER,
    TH_TAB, TH_TAB_ACTIVE,
    TH_TABLE_HEADER, TH_TABLE_SORTED, TH_ROW, TH_ROW_SELECTED, TH_ROW_EXPIRING, TH_POSITION,
    TH_STATUS, TH_STATUS_ERROR, TH_PROMPT,
    TH_FUNCBAR_KEY, TH_FUNCBAR_LABEL,
    TH_DIALOG, TH_DIALOG_TITLE, TH_DIALOG_FOCUS, TH_DIALOG_DANGER,
    TH_SECTION, TH_LABEL, TH_VALUE, TH_SPARK, TH_BAR,
    TH_ROW_NOCACHE,       /* issue 6: a user with affinities but no cache reads */
    TH__COUNT
} con_element;

#define CON_COLOR_DEFAULT (-1)

typedef struct {
    short fg, bg;         /* 0..255, or CON_COLOR_DEFAULT */
    unsigned attrs;       /* CON_ATTR_* bits */
} con_style;

enum {
    CON_ATTR_BOLD = 1, CON_ATTR_UNDERLINE = 2, CON_ATTR_REVERSE = 4, CON_ATTR_DIM = 8,
    CON_ATTR_ITALIC = 16, CON_ATTR_STANDOUT = 32, CON_ATTR_BLINK = 64
};

typedef struct {
    char name[128];             /* the theme's name or path, as loaded */
    con_style style[TH__COUNT];
    bool colors;                /* false: attributes only (monochrome) */
} con_theme;

const char *con_element_name(con_element e);

/* The built-in default (same as themes/default). */
void con_theme_builtin(con_theme *t);
/* The built-in monochrome (NO_COLOR). */
void con_theme_monochrome(con_theme *t);

/* Parse theme text; on error returns -1 with "name:line: reason" in err.
 * Elements a file does not mention keep the built-in default's style. */
int con_theme_parse(const char *text, const char *name, con_theme *t, char *err, size_t errlen);

/* Find and load a theme by name or path (see themes/README.md for the
 * search order). Returns 0, or -1 with the error (file:line) in err. */
int con_theme_load(const char *name_or_path, con_theme *t, char *err, size_t errlen);

/* Install the theme's colour pairs (after start_color). */
void con_theme_apply(const con_theme *t);
/* The ncurses attribute (pair + attrs) of an element, after apply. */
attr_t con_attr(con_element e);

#endif
