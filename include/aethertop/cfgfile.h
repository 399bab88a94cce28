/* cfgfile.h — aethertop's own configuration file,
 * $XDG_CONFIG_HOME/aethertop/config (~/.config/aethertop/config), in INI
 * form (libinih):
 *
 *   [connection]  redis = URL   database = URL   env_file = PATH   timeout = SECONDS
 *   [console]     refresh = SECONDS   theme = NAME|PATH   columns = NAME, NAME, ...
 *   [safety]      read_only = true|false   audit_log = PATH
 *
 * It sits below everything else: flag > environment > env-file > config
 * file > defaults (main.c applies it). Errors are one line, "PATH:LINE:
 * message". */
#ifndef AETHERTOP_CFGFILE_H
#define AETHERTOP_CFGFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "aethertop/config.h"

typedef struct {
    char *path;            /* the file read; NULL when there was none */
    char *redis;           /* [connection] redis (validated Redis URL) */
    char *database;        /* [connection] database (postgresql:// URL) */
    char *env_file;        /* [connection] env_file (relative: to the file's directory) */
    int timeout_ms;        /* [connection] timeout; 0 = not set */
    double refresh_s;      /* [console] refresh; 0 = not set */
    char *theme;           /* [console] theme */
    char *columns;         /* [console] columns (checked by the console) */
    int columns_line;      /* its line, for errors */
    int read_only;         /* [safety] read_only: -1 not set, 0, 1 */
    char *audit_log;       /* [safety] audit_log */
    char warning[512];     /* non-fatal remark (e.g. a password in a file others can read) */
} at_cfgfile;

/* $XDG_CONFIG_HOME/aethertop/config when XDG_CONFIG_HOME is an absolute
 * path, else $HOME/.config/aethertop/config. -1 when neither is set. */
int at_cfgfile_default_path(at_getenv_fn getenv_fn, char *out, size_t outlen);

/* Parse INI text; `name` is used in errors ("name:LINE: message") and to
 * resolve a relative env_file. Returns 0 or -1. */
int at_cfgfile_parse(const char *text, size_t len, const char *name, at_cfgfile *out, char *err,
                     size_t errlen);

/* Read and parse a file. must_exist false: a missing file leaves `out`
 * empty (path NULL) and returns 0. */
int at_cfgfile_load(const char *path, bool must_exist, at_cfgfile *out, char *err, size_t errlen);

void at_cfgfile_init(at_cfgfile *c);
void at_cfgfile_free(at_cfgfile *c);

#endif
