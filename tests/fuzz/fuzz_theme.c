/* fuzz_theme.c — libFuzzer target for the console's theme files:
 * con_theme_parse (`element = fg bg attr,attr` lines, comments, colour names,
 * 0-255, #rrggbb, attributes). Input: the file's text (up to the first NUL). */
#include "theme.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fz_dup(data, size);
    con_theme t;
    con_theme_builtin(&t);
    con_theme before = t;
    char err[256];
    err[0] = '\0';
    if (con_theme_parse(text, "fuzz.theme", &t, err, sizeof err) == 0) {
        for (int i = 0; i < TH__COUNT; i++) {
            FZ_CHECK(t.style[i].fg >= CON_COLOR_DEFAULT && t.style[i].fg <= 255);
            FZ_CHECK(t.style[i].bg >= CON_COLOR_DEFAULT && t.style[i].bg <= 255);
        }
    } else {
        /* a bad file changes nothing, and says where, on one printable line */
        FZ_CHECK(memcmp(&t, &before, sizeof t) == 0);
        FZ_CHECK(strncmp(err, "fuzz.theme:", 11) == 0);
        FZ_CHECK(fz_no_controls(err, strlen(err)));
    }
    free(text);
    return 0;
}
