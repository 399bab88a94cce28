/* cli.h — the scriptable face of aethertop: one command per reference
 * endpoint, human tables or the reference's JSON, documented exit codes. */
#ifndef AETHERTOP_CLI_H
#define AETHERTOP_CLI_H

#include <stdbool.h>
#include "aethertop/config.h"

enum {
    AT_EXIT_OK = 0,
    AT_EXIT_NOT_FOUND = 1,
    AT_EXIT_USAGE = 2,
    AT_EXIT_UNAVAILABLE = 3,
    AT_EXIT_REFUSED = 4,
};

typedef struct {
    bool json;
    bool csv;        /* list: CSV (all rows unless --limit/--offset) */
    bool yes;
    int limit;       /* -1 = not given */
    int offset;      /* -1 = not given */
    long window_s;   /* hits: --window (default 5m and 1h both) ; 0 = not given */
    double hours;    /* ttl-advice: --hours (default 24) ; 0 = not given */
} at_cli_opts;

/* Run one command (argv[0] is the command name). Returns the exit status. */
int at_cli_run(const at_config *cfg, const at_cli_opts *opts, int argc, char **argv);

#endif
