/* console.h — the interactive ncurses console (`aethertop` with no command). */
#ifndef AETHERTOP_CONSOLE_H
#define AETHERTOP_CONSOLE_H

#include <stddef.h>

#include "aethertop/config.h"

typedef struct {
    double delay_s;            /* refresh interval (default 2) */
    const char *theme;         /* --theme: name or path, NULL = not given */
    const char *config_theme;  /* the config file's theme: below --theme and NO_COLOR */
    const char *columns;       /* the config file's affinity column set, NULL = default */
    const char *config_path;   /* the config file read, or NULL (shown in the Config view) */
} at_console_opts;

/* Runs until the user quits. Returns a process exit status. */
int at_console_run(const at_config *cfg, const at_console_opts *opts);

/* Check an affinity column set ("ttl, user, provider, ..."): 0, or -1
 * with a one-line reason (naming the valid columns) in err. */
int at_console_columns_check(const char *spec, char *err, size_t errlen);

#endif
