/* audit.c — append-only JSON-lines audit trail of destructive actions: a
 * line of intent before the first delete and a line of outcome after, both
 * carrying the same random id. Secrets never reach it: arguments are ids
 * and names, targets carry no password. */
#include "aethertop/audit.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <sys/random.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aethertop/text.h"

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc < 0 && errno != EEXIST) return -1;
    }
    return 0;
}

int at_audit_open(at_audit *a, const char *explicit_path, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    if (explicit_path && *explicit_path)
        snprintf(a->path, sizeof a->path, "%s", explicit_path);
    else if (state && *state)
        snprintf(a->path, sizeof a->path, "%s/aethertop/audit.log", state);
    else if (home && *home)
        snprintf(a->path, sizeof a->path, "%s/.local/state/aethertop/audit.log", home);
    else {
        snprintf(err, errlen, "audit log: no XDG_STATE_HOME or HOME; give --audit-log PATH");
        return -1;
    }
    if (mkdirs(a->path) < 0 || !(a->f = fopen(a->path, "a"))) {
        snprintf(err, errlen, "audit log %s cannot be written: %s", a->path, strerror(errno));
        return -1;
    }
    uint64_t id = 0;
    if (getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t)sizeof id)
        id = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid(); /* unique enough to pair two lines */
    snprintf(a->id, sizeof a->id, "%016llx", (unsigned long long)id);
    return 0;
}

/* line + "\n" in one write() (looping only if the system cuts it short). */
static int append_line(int fd, const char *line)
{
    size_t n = strlen(line);
    char *buf = malloc(n + 1);
    if (!buf) return -1;
    memcpy(buf, line, n);
    buf[n++] = '\n';
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, buf + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    free(buf);
    return off == n ? 0 : -1;
}

int at_audit_write(at_audit *a, const char *target, const char *operation, const char *label,
                   const char *const *args, size_t n_args, long long count,
                   const char *outcome, const char *detail)
{
    char when[40];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    struct passwd *pw = getpwuid(geteuid());
    const char *ssh = getenv("SSH_CONNECTION");

    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "time", when);
    cJSON_AddStringToObject(o, "id", a->id);
    cJSON_AddStringToObject(o, "user", pw ? pw->pw_name : "?");
    if (ssh) cJSON_AddStringToObject(o, "ssh_connection", ssh);
    else cJSON_AddNullToObject(o, "ssh_connection");
    cJSON_AddStringToObject(o, "redis", target ? target : "");
    cJSON_AddStringToObject(o, "operation", operation);
    if (label) cJSON_AddStringToObject(o, "target", label);
    cJSON *arr = cJSON_AddArrayToObject(o, "args");
    for (size_t i = 0; i < n_args; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(args[i] ? args[i] : ""));
    cJSON_AddNumberToObject(o, "count", (double)count);
    cJSON_AddStringToObject(o, "outcome", outcome);
    if (detail && *detail) cJSON_AddStringToObject(o, "detail", detail);
    char *raw = cJSON_PrintUnformatted(o);
    char *line = raw ? at_json_harden(raw) : NULL;
    int rc = -1;
    /* One write() per line, past stdio (which splits a line longer than its
     * buffer): O_APPEND keeps it whole when another aethertop appends at the
     * same moment. fsync's EINVAL: a special file (a pipe, /dev/null) with
     * nothing to sync. */
    if (line && append_line(fileno(a->f), line) == 0 && (fsync(fileno(a->f)) == 0 || errno == EINVAL))
        rc = 0;
    free(line);
    free(raw);
    cJSON_Delete(o);
    return rc;
}

void at_audit_close(at_audit *a)
{
    if (a->f) fclose(a->f);
    a->f = NULL;
}
