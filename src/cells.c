/* cells.c — terminal cell arithmetic for tables: wcwidth-based widths,
 * truncation with an ellipsis and padding, always on sanitized text. */
#include "aethertop/cells.h"
#include "aethertop/text.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static int cp_width(uint32_t cp)
{
    int w = wcwidth((wchar_t)cp);
    if (w >= 0) return w;
    /* wcwidth needs a UTF-8 locale; without one assume CJK ranges are wide */
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1FAFF) ||
        (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

int at_cells_width(const char *s)
{
    int w = 0;
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += at_utf8_decode(s + i, len - i, &cp);
        w += cp_width(cp);
    }
    return w;
}

char *at_cells_fit(const char *s, int width, int align_right, char *out, size_t outlen)
{
    if (outlen == 0) return out;
    out[0] = '\0';
    if (width <= 0) return out;
    char *safe = at_text_sanitize(s ? s : "-");
    size_t len = strlen(safe);
    int total = at_cells_width(safe);
    size_t o = 0;
    int used = 0;
    if (total <= width) {
        int pad = width - total;
        if (align_right) for (; pad > 0 && o + 1 < outlen; pad--, used++) out[o++] = ' ';
        size_t n = len < outlen - o - 1 ? len : outlen - o - 1;
        memcpy(out + o, safe, n);
        o += n;
        used += total;
    } else {
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            size_t n = at_utf8_decode(safe + i, len - i, &cp);
            int cw = cp_width(cp);
            if (used + cw > width - 1 || o + n + 4 >= outlen) break;
            memcpy(out + o, safe + i, n);
            o += n;
            used += cw;
            i += n;
        }
        if (o + 4 < outlen) { memcpy(out + o, "\xe2\x80\xa6", 3); o += 3; used++; }
    }
    while (used < width && o + 1 < outlen) { out[o++] = ' '; used++; }
    out[o] = '\0';
    free(safe);
    return out;
}
