/* console.h — the interactive ncurses console (`aethertop` with no command). */
#ifndef AETHERTOP_CONSOLE_H
#define AETHERTOP_CONSOLE_H

#include "aethertop/config.h"

typedef struct {
    double delay_s;          /* refresh interval (default 2) */
    const char *theme;       /* name or path, NULL = default */
} at_console_opts;

/* Runs until the user quits. Returns a process exit status. */
int at_console_run(const at_config *cfg, const at_console_opts *opts);

#endif
