/* audit.h — the audit trail: two JSON lines per clear (time, id, OS user,
 * SSH_CONNECTION, Redis target, operation, arguments, count, outcome), the
 * first ("started") on disk before anything is deleted, the second (the
 * outcome) before the result is shown; both carry the clear's id. */
#ifndef AETHERTOP_AUDIT_H
#define AETHERTOP_AUDIT_H

#include <stdio.h>

typedef struct {
    FILE *f;
    char path[1024];
    char id[17];       /* this clear's id, in both of its lines */
} at_audit;

/* Resolve the path (explicit, else $XDG_STATE_HOME/aethertop/audit.log, else
 * ~/.local/state/aethertop/audit.log), create directories, open for append.
 * Returns 0 or -1 with the reason in err. */
int at_audit_open(at_audit *a, const char *explicit_path, char *err, size_t errlen);
/* Append one record and fsync. label: what the operator named (e.g. the
 * user identifier), may be NULL. Returns 0 or -1. */
int at_audit_write(at_audit *a, const char *target, const char *operation, const char *label,
                   const char *const *args, size_t n_args, long long count,
                   const char *outcome, const char *detail);
void at_audit_close(at_audit *a);

#endif
