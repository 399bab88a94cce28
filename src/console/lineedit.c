/* lineedit.c — the one-line editor behind the search box, the `:` command
 * line and the typed `all` confirmation: UTF-8 input, Backspace by code
 * point, ^U to clear, ^W to delete a word. Control characters are never
 * stored (a pasted escape sequence cannot end up in a filter). */
#include "con.h"

#include "aethertop/text.h"

#include <string.h>

void con_line_set(con_line *l, const char *text)
{
    size_t n = strlen(text);
    if (n >= sizeof l->buf) n = sizeof l->buf - 1;
    memcpy(l->buf, text, n);
    l->buf[n] = '\0';
    l->len = n;
}

static void erase_last(con_line *l)
{
    while (l->len > 0) {
        l->len--;
        if (((unsigned char)l->buf[l->len] & 0xC0) != 0x80) break;
    }
    l->buf[l->len] = '\0';
}

con_line_result con_line_key(con_line *l, bool code, int key)
{
    if (code) {
        switch (key) {
        case KEY_BACKSPACE:
            if (!l->len) return LINE_NONE;
            erase_last(l);
            return LINE_CHANGED;
        case KEY_ENTER:
            return LINE_ACCEPT;
        default:
            return LINE_PASS;     /* arrows and the like: for the view */
        }
    }
    switch (key) {
    case '\n': case '\r':
        return LINE_ACCEPT;
    case 27:
        return LINE_CANCEL;
    case 127: case 8:
        if (!l->len) return LINE_NONE;
        erase_last(l);
        return LINE_CHANGED;
    case 'u' & 0x1f:
        if (!l->len) return LINE_NONE;
        l->len = 0;
        l->buf[0] = '\0';
        return LINE_CHANGED;
    case 'w' & 0x1f: {
        if (!l->len) return LINE_NONE;
        while (l->len && l->buf[l->len - 1] == ' ') l->len--;
        while (l->len && l->buf[l->len - 1] != ' ') l->len--;
        l->buf[l->len] = '\0';
        return LINE_CHANGED;
    }
    default:
        break;
    }
    if (key < 0x20 || at_cp_is_unsafe((uint32_t)key) || key > 0x10FFFF) return LINE_NONE;
    char enc[4];
    size_t n = at_utf8_encode((uint32_t)key, enc);
    if (l->len + n >= sizeof l->buf) return LINE_NONE;
    memcpy(l->buf + l->len, enc, n);
    l->len += n;
    l->buf[l->len] = '\0';
    return LINE_CHANGED;
}
