/* i18n.c — owns locale set-up and binding the gettext catalogues (see
 * i18n.h): finding the locale directory relative to the executable so a
 * binary run from the build tree or an unpacked package finds its own
 * translations. */
#include "aethertop/i18n.h"

#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AT_LOCALEDIR
#define AT_LOCALEDIR "/usr/local/share/locale"
#endif

static char g_localedir[PATH_MAX];

const char *at_i18n_localedir(void)
{
    return g_localedir;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *first_set(const char *const *names)
{
    for (; *names; names++) {
        const char *v = getenv(*names);
        if (v && *v) return v;
    }
    return NULL;
}

/* The locale named in the environment is not installed (common for
 * zh_CN.UTF-8 on a server): run in C.UTF-8 and ask gettext for the named
 * language through LANGUAGE, which glibc honours outside the "C" locale. */
static void locale_fallback(void)
{
    static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG", NULL};
    const char *want = first_set(vars);
    bool utf8 = want && (strcasestr(want, "utf-8") || strcasestr(want, "utf8"));
    if (!utf8 || !setlocale(LC_ALL, "C.UTF-8")) {
        setlocale(LC_ALL, "C");
        return;
    }
    const char *lang_env = getenv("LANGUAGE");
    if (lang_env && *lang_env) return;
    char lang[64];
    size_t n = strcspn(want, ".@");
    if (n == 0 || n >= sizeof lang) return;
    memcpy(lang, want, n);
    lang[n] = '\0';
    if (strcmp(lang, "C") != 0 && strcmp(lang, "POSIX") != 0) setenv("LANGUAGE", lang, 1);
}

static void find_localedir(void)
{
    const char *env = getenv("AETHERTOP_LOCALEDIR");
    if (env && *env && is_dir(env)) {
        snprintf(g_localedir, sizeof g_localedir, "%s", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char cand[PATH_MAX + 32];
            snprintf(cand, sizeof cand, "%s/locale", exe);
            if (is_dir(cand) && strlen(cand) < sizeof g_localedir) {
                snprintf(g_localedir, sizeof g_localedir, "%s", cand);
                return;
            }
            snprintf(cand, sizeof cand, "%s/../share/locale", exe);
            if (is_dir(cand) && strlen(cand) < sizeof g_localedir) {
                snprintf(g_localedir, sizeof g_localedir, "%s", cand);
                return;
            }
        }
    }
    snprintf(g_localedir, sizeof g_localedir, "%s", AT_LOCALEDIR);
}

void at_i18n_init(void)
{
    if (!setlocale(LC_ALL, "")) locale_fallback();
    /* numbers are read and written the C way whatever the locale says: JSON,
     * the protocol and the config file all use '.' (cJSON reads a number
     * through strtod, which a locale with another decimal point breaks) */
    setlocale(LC_NUMERIC, "C");
    g_localedir[0] = '\0';
    /* our text handling (cells, sanitizing) is UTF-8: no translations in
       other code sets, where they would print as mojibake */
    if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0) return;
    find_localedir();
    bindtextdomain("aethertop", g_localedir);
    bind_textdomain_codeset("aethertop", "UTF-8");
    textdomain("aethertop");
}
