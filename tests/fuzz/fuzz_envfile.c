/* fuzz_envfile.c — libFuzzer target for the gateway .env parser,
 * at_envfile_parse (KEY=value lines, comments, quotes, export, BOM, ${...}
 * expansion, lines skipped with warnings), and at_envfile_get on what it
 * produced. Input: the file's text (up to the first NUL, as
 * at_envfile_load hands it over). */
#include "aethertop/config.h"

#include "fuzz_util.h"

/* ${E} and ${EMPTY} come from the "environment" */
static const char *fake_getenv(const char *name)
{
    if (strcmp(name, "E") == 0) return "from-env";
    if (strcmp(name, "EMPTY") == 0) return "";
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fz_dup(data, size);
    at_envfile f;
    char err[256];
    err[0] = '\0';
    int rc = at_envfile_parse(text, "fuzz.env", fake_getenv, &f, err, sizeof err);
    if (rc == 0) {
        for (size_t i = 0; i < f.n; i++) {
            FZ_CHECK(f.keys[i] && *f.keys[i] && f.values[i]);
            /* a key is found, and it holds its last value */
            FZ_CHECK(at_envfile_get(&f, f.keys[i]) == f.values[i]);
            for (size_t j = i + 1; j < f.n; j++) FZ_CHECK(strcmp(f.keys[i], f.keys[j]) != 0);
        }
        /* warnings: one line each, naming the file; at most 8 and a count */
        FZ_CHECK(f.n_warnings <= 9);
        for (size_t i = 0; i < f.n_warnings; i++) {
            FZ_CHECK(strncmp(f.warnings[i], "fuzz.env:", 9) == 0);
            FZ_CHECK(fz_no_controls(f.warnings[i], strlen(f.warnings[i])));
        }
        at_envfile_get(&f, "REDIS_URL");
        at_envfile_free(&f);
    } else {
        FZ_CHECK(rc == -1);
        FZ_CHECK(strncmp(err, "fuzz.env", 8) == 0);    /* errors name the file */
        FZ_CHECK(strchr(err, '\n') == NULL);           /* one line */
        FZ_CHECK(f.n == 0 && f.keys == NULL);
    }
    free(text);
    return 0;
}
