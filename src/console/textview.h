/* textview.h — a scrollable list of pre-built lines (a key column and a
 * text column, each with its theme element), used by the Config and Help
 * views. A text wider than its column wraps under itself. The text is
 * data-safe: it is drawn through con_put. */
#ifndef AT_CONSOLE_TEXTVIEW_H
#define AT_CONSOLE_TEXTVIEW_H

#include "con.h"

typedef struct {
    char key[96];
    char text[512];
    con_element ke, te;
    int indent;
} con_tv_line;

typedef struct {
    con_tv_line *lines;
    int n, cap;
    int scroll, page;         /* in screen rows */
    int rows;                 /* screen rows of all lines (wrapped) at the last draw */
    int key_width;
} con_textview;

void con_tv_clear(con_textview *tv);
void con_tv_add(con_textview *tv, int indent, const char *key, con_element ke, const char *text, con_element te);
void con_tv_draw(con_app *app, con_textview *tv, int y, int h);
bool con_tv_scroll(con_textview *tv, con_request req);
void con_tv_free(con_textview *tv);

#endif
