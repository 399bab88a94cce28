/* main.c — process entry: parse global options, resolve the configuration,
 * then hand over to the command line (a command given) or the console. */
#include "aethertop/cli.h"
#include "aethertop/config.h"
#include "aethertop/console.h"
#include "aethertop/insight.h"

#include <getopt.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <locale.h>
#include <openssl/crypto.h>
#include <cjson/cJSON.h>
#include <ncurses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

static const char USAGE[] =
    "usage: aethertop [OPTIONS]                 open the console\n"
    "       aethertop [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "commands (one per gateway admin endpoint):\n"
    "  stats | config | metrics\n"
    "  list [KEYWORD] [--limit N] [--offset M]\n"
    "  affinity USER_IDENTIFIER\n"
    "  mappings\n"
    "  hits [--window 5m|1h|24h]          prompt-cache effectiveness from the usage table\n"
    "  ttl-advice [--hours N]             recommended affinity TTL per user (default 24 h)\n"
    "  clear user IDENTIFIER\n"
    "  clear affinity AFFINITY_KEY ENDPOINT_ID MODEL_ID API_FORMAT\n"
    "  clear all\n"
    "  clear provider PROVIDER_ID\n"
    "  clear mappings\n"
    "  clear mapping MODEL_NAME\n"
    "  clear provider-mapping PROVIDER_ID GLOBAL_MODEL_ID\n"
    "\n"
    "options:\n"
    "  --redis URL          redis://[[user]:password@]host[:port][/db], rediss://..., unix:///path?db=N\n"
    "  --database URL       postgresql://user:password@host:port/dbname\n"
    "  --env-file PATH      read the gateway's .env file (flag > environment > env-file > defaults)\n"
    "  --timeout SECONDS    connect and command timeout (default 3)\n"
    "  --json               print the reference endpoint's JSON body\n"
    "  --yes                confirm a clear without asking (required when stdin is not a terminal)\n"
    "  --read-only          refuse every clear (also AETHERTOP_READ_ONLY=1)\n"
    "  --audit-log PATH     audit trail (default $XDG_STATE_HOME/aethertop/audit.log)\n"
    "  --redis-ca FILE, --redis-cert FILE, --redis-key FILE, --insecure   TLS for rediss://\n"
    "  --delay SECONDS      console refresh interval (default 2)\n"
    "  --theme NAME|PATH    console theme\n"
    "  --limit N, --offset M  list paging (1..1000, >= 0)\n"
    "  --help, --version\n"
    "\n"
    "settings read from the environment / .env: REDIS_URL, REDIS_PASSWORD, REDIS_HOST, REDIS_PORT,\n"
    "REDIS_SENTINEL_HOSTS, REDIS_SENTINEL_SERVICE_NAME, DATABASE_URL, DB_HOST, DB_PORT, DB_USER,\n"
    "DB_NAME, DB_PASSWORD, ENCRYPTION_KEY, AETHERTOP_READ_ONLY\n"
    "\n"
    "exit status: 0 done, 1 not found, 2 usage or configuration error,\n"
    "             3 Redis or PostgreSQL unreachable or failing, 4 refused (read-only, unconfirmed)\n";

static void print_version(void)
{
    printf("aethertop %s\n", AETHERTOP_VERSION);
    printf("built with: hiredis %d.%d.%d, libpq %d, cJSON %s, %s, %s\n", HIREDIS_MAJOR, HIREDIS_MINOR,
           HIREDIS_PATCH, PQlibVersion(), cJSON_Version(), OpenSSL_version(OPENSSL_VERSION), curses_version());
#ifdef __SANITIZE_ADDRESS__
    printf("sanitizers: address, undefined\n");
#endif
}

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

static int parse_int(const char *s, const char *name, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < -1000000000L || v > 1000000000L) {
        fprintf(stderr, "aethertop: %s: not an integer: \"%s\"\n", name, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_seconds(const char *s, const char *name, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v > 0) || v > 3600) {
        fprintf(stderr, "aethertop: %s: expected seconds between 0 and 3600, got \"%s\"\n", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Hide a password given on the command line from /proc/<pid>/cmdline (ps,
 * top): overwrite it in place once the configuration holds its own copy.
 * Covers user:PASSWORD@ in a URL and password=... (query or keyword form). */
static void scrub_password(char *arg)
{
    if (!arg) return;
    char *sep = strstr(arg, "://");
    char *at = sep ? strrchr(sep + 3, '@') : NULL;
    char *colon = at ? memchr(sep + 3, ':', (size_t)(at - (sep + 3))) : NULL;
    for (char *p = colon ? colon + 1 : at; p && p < at; p++) *p = '*';
    for (char *p = arg; (p = strstr(p, "password=")) != NULL;) {
        p += 9;
        char quote = *p == '\'' ? *p++ : '\0';
        for (; *p && (quote ? *p != quote : *p != '&' && *p != ' ' && *p != '#'); p++) *p = '*';
    }
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* no core dumps holding secrets */
    enum { O_REDIS = 1000, O_DB, O_ENV, O_TIMEOUT, O_JSON, O_YES, O_RO, O_LIMIT, O_OFFSET, O_AUDIT,
           O_CA, O_CERT, O_KEY, O_INSECURE, O_DELAY, O_THEME, O_HELP, O_VERSION, O_WINDOW, O_HOURS };
    static const struct option longopts[] = {
        {"redis", required_argument, 0, O_REDIS}, {"database", required_argument, 0, O_DB},
        {"env-file", required_argument, 0, O_ENV}, {"timeout", required_argument, 0, O_TIMEOUT},
        {"json", no_argument, 0, O_JSON}, {"yes", no_argument, 0, O_YES},
        {"read-only", no_argument, 0, O_RO}, {"limit", required_argument, 0, O_LIMIT},
        {"offset", required_argument, 0, O_OFFSET}, {"audit-log", required_argument, 0, O_AUDIT},
        {"redis-ca", required_argument, 0, O_CA}, {"redis-cert", required_argument, 0, O_CERT},
        {"redis-key", required_argument, 0, O_KEY}, {"insecure", no_argument, 0, O_INSECURE},
        {"delay", required_argument, 0, O_DELAY}, {"theme", required_argument, 0, O_THEME},
        {"window", required_argument, 0, O_WINDOW}, {"hours", required_argument, 0, O_HOURS},
        {"help", no_argument, 0, O_HELP}, {"version", no_argument, 0, O_VERSION}, {0, 0, 0, 0}};
    at_config_flags flags = {0};
    at_cli_opts cli = {.limit = -1, .offset = -1};
    at_console_opts con = {.delay_s = 2.0};
    const char *audit = NULL, *ca = NULL, *cert = NULL, *key = NULL;
    bool insecure = false;
    double secs;
    int c;
    opterr = 0;
    /* GNU getopt permutes argv: options may come before or after the command */
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_REDIS: flags.redis_url = optarg; break;
        case O_DB: flags.database_url = optarg; break;
        case O_ENV: flags.env_file = optarg; break;
        case O_TIMEOUT:
            if (parse_seconds(optarg, "--timeout", &secs) < 0) return AT_EXIT_USAGE;
            flags.timeout_ms = (int)(secs * 1000);
            break;
        case O_JSON: cli.json = true; break;
        case O_YES: cli.yes = true; break;
        case O_RO: flags.read_only = true; break;
        case O_LIMIT:
            if (parse_int(optarg, "--limit", &cli.limit) < 0) return AT_EXIT_USAGE;
            if (cli.limit < 1 || cli.limit > 1000) {
                fprintf(stderr, "aethertop: --limit must be between 1 and 1000, got %d\n", cli.limit);
                return AT_EXIT_USAGE;
            }
            break;
        case O_OFFSET:
            if (parse_int(optarg, "--offset", &cli.offset) < 0) return AT_EXIT_USAGE;
            if (cli.offset < 0) {
                fprintf(stderr, "aethertop: --offset must be 0 or more, got %d\n", cli.offset);
                return AT_EXIT_USAGE;
            }
            break;
        case O_AUDIT: audit = optarg; break;
        case O_CA: ca = optarg; break;
        case O_CERT: cert = optarg; break;
        case O_KEY: key = optarg; break;
        case O_INSECURE: insecure = true; break;
        case O_DELAY: if (parse_seconds(optarg, "--delay", &con.delay_s) < 0) return AT_EXIT_USAGE; break;
        case O_THEME: con.theme = optarg; break;
        case O_WINDOW:
            if ((cli.window_s = at_parse_window(optarg)) < 0) {
                fprintf(stderr, "aethertop: --window: expected a duration like 5m, 1h or 24h, got \"%s\"\n", optarg);
                return AT_EXIT_USAGE;
            }
            break;
        case O_HOURS:
            if (parse_seconds(optarg, "--hours", &cli.hours) < 0 || cli.hours > 720) {
                fprintf(stderr, "aethertop: --hours: expected hours between 0 and 720\n");
                return AT_EXIT_USAGE;
            }
            break;
        case O_HELP: fputs(USAGE, stdout); return 0;
        case O_VERSION: print_version(); return 0;
        default:
            fprintf(stderr, "aethertop: unknown option or missing value: \"%s\" (see aethertop --help)\n",
                    argv[optind - 1]);
            return AT_EXIT_USAGE;
        }
    }
    char **pos = argv + optind;
    int npos = argc - optind;
    if (flags.redis_url && strchr(flags.redis_url, '@'))
        fprintf(stderr, "aethertop: warning: a password on the command line is visible to other users; "
                        "put REDIS_URL in the environment or --env-file instead\n");
    if (flags.database_url && strstr(flags.database_url, ":") && strchr(flags.database_url, '@') &&
        strchr(strstr(flags.database_url, "://") ? strstr(flags.database_url, "://") + 3 : flags.database_url, ':') <
            strchr(flags.database_url, '@'))
        fprintf(stderr, "aethertop: warning: a password on the command line is visible to other users; "
                        "put DATABASE_URL in the environment or --env-file instead\n");

    at_config cfg;
    char err[512];
    int resolved = at_config_resolve(&cfg, &flags, env_lookup, err, sizeof err);
    scrub_password((char *)flags.redis_url);
    scrub_password((char *)flags.database_url);
    if (resolved < 0) {
        fprintf(stderr, "aethertop: %s\n", err);
        return AT_EXIT_USAGE;
    }
    if (audit) cfg.audit_log = strdup(audit);
    if (ca) cfg.redis_ca = strdup(ca);
    if (cert) cfg.redis_cert = strdup(cert);
    if (key) cfg.redis_key = strdup(key);
    if (insecure) cfg.tls_insecure = true;

    int rc;
    if (npos == 0) {
        if (cli.json || cli.limit >= 0 || cli.offset >= 0) {
            fprintf(stderr, "aethertop: --json, --limit and --offset need a command (see aethertop --help)\n");
            rc = AT_EXIT_USAGE;
        } else {
            rc = at_console_run(&cfg, &con);
        }
    } else {
        rc = at_cli_run(&cfg, &cli, npos, pos);
    }
    at_config_free(&cfg);
    return rc;
}
