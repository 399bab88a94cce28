/* main.c — process entry: locale and translations, global options, help
 * (overall and per command) and --version, the config file merged under
 * flags, environment and env-file, then hand over to the command line (a
 * command given) or the console. */
#include "aethertop/bigmem.h"
#include "aethertop/cfgfile.h"
#include "aethertop/cli.h"
#include "aethertop/config.h"
#include "aethertop/console.h"
#include "aethertop/i18n.h"
#include "aethertop/insight.h"
#include "aethertop/text.h"

#include <getopt.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <cjson/cJSON.h>
#include <ncurses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#ifndef AT_BUILD_TYPE
#define AT_BUILD_TYPE "?"
#endif
#ifndef AT_BUILD_FLAGS
#define AT_BUILD_FLAGS "?"
#endif
#ifndef AT_BUILD_COMPILER
#define AT_BUILD_COMPILER "?"
#endif
#ifndef AT_INIH_VERSION
#define AT_INIH_VERSION "?"
#endif

/* ---- help ---------------------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *synopsis;     /* not translated: commands and options */
    const char *summary;      /* N_() */
    const char *details;      /* N_(), may be NULL */
} cmd_help;

static const cmd_help commands[] = {
    {"stats", "stats [--json]", N_("live affinities, TTL distribution and Redis health from one snapshot"),
     N_("Counts come from one walk of Redis (names from PostgreSQL when it answers), the same for\n"
        "every viewer. --json prints the document described in README.md (\"stats --json\").\n")},
    {"config", "config [--json]", N_("the gateway's cache-affinity configuration (GET /config)"), NULL},
    {"metrics", "metrics", N_("Prometheus text: the reference's metric names plus aethertop_* figures"),
     N_("The reference's names are kept (per-worker counters read 0). Added under new names:\n"
        "  aethertop_affinity_ttl_remaining{bucket}      live affinities by remaining TTL\n"
        "  aethertop_affinities_created_per_second       over the last 60 s, from created_at\n"
        "  aethertop_prompt_cache_token_hit_rate{window=\"5m\"} and _requests, _cached_requests,\n"
        "  _estimated_savings_usd                        from the usage table (PostgreSQL)\n"
        "  aethertop_usage_available                     0 when the usage table could not be read\n"
        "For node_exporter's textfile collector, write to a temporary file and rename it:\n"
        "  aethertop metrics > DIR/aethertop.prom.tmp && mv DIR/aethertop.prom.tmp DIR/aethertop.prom\n")},
    {"list", "list [KEYWORD] [--limit N] [--offset M] [--json | --csv]",
     N_("cache affinities, newest expiry first (GET /affinities)"),
     N_("KEYWORD: an API key id (that key), a user (id, username, email or API key id: all the\n"
        "user's keys), else a case-insensitive substring of the affinity key, key name, user id,\n"
        "username, email, provider id or provider key id.\n"
        "  --limit N     1..1000 rows (default 100)\n"
        "  --offset M    skip M rows (default 0)\n"
        "  --json        the reference's JSON body\n"
        "  --csv         CSV (RFC 4180, CRLF), one column per list item field in the reference's\n"
        "                order, keys masked; every matching row unless --limit/--offset ask for a\n"
        "                page. On a terminal, control characters from the data are shown as\n"
        "                visible symbols; to a file or pipe the data is written unchanged.\n")},
    {"affinity", "affinity USER_IDENTIFIER [--json]",
     N_("the affinities of every API key of one user (GET /affinity/{user})"), NULL},
    {"mappings", "mappings [--json]", N_("the model-mapping cache (GET /model-mapping/stats)"), NULL},
    {"hits", "hits [--window 5m|1h|24h] [--json]",
     N_("prompt-cache effectiveness from the usage table, per provider and model"),
     N_("Requests, requests with cache reads, token hit rate = cache_read / (input + cache_read)\n"
        "and estimated savings (cache read cost x 9) over the last 5 minutes and hour, or the\n"
        "--window given (90s, 5m, 1h, 24h, 2d ...). Needs PostgreSQL.\n")},
    {"ttl-advice", "ttl-advice [--hours N] [--json]",
     N_("recommended affinity TTL per user from the intervals between requests"),
     N_("Per user, the p50/p75/p90 of the intervals between consecutive requests over the last\n"
        "N hours (default 24): p90 <= 5 min -> 5; p75 <= 15 -> 15; p75 <= 30 -> 30; else 60.\n")},
    {"clear", "clear TARGET ARGS... [--yes]", N_("delete cache entries, audited (asks first)"),
     N_("targets:\n"
        "  clear user IDENTIFIER            every affinity of a user (or of one API key id)\n"
        "  clear affinity AFFINITY_KEY ENDPOINT_ID MODEL_ID API_FORMAT\n"
        "                                   one affinity, only if it still names that endpoint\n"
        "  clear all                        every cache_affinity:* key\n"
        "  clear provider PROVIDER_ID       every affinity still pointing at that provider\n"
        "  clear mappings                   the whole model-mapping cache\n"
        "  clear mapping MODEL_NAME         one mapping name\n"
        "  clear provider-mapping PROVIDER_ID GLOBAL_MODEL_ID\n"
        "On a terminal it asks \"Type yes\"; otherwise --yes is required. Each clear is written\n"
        "to the audit log first (--audit-log); --read-only refuses every clear (exit 4).\n")},
    {"help", "help [COMMAND]", N_("this help, or the help of one command"), NULL},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const cmd_help *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static void print_usage(FILE *f)
{
    fprintf(f, _("usage: aethertop [OPTIONS]                 open the console\n"
                 "       aethertop [OPTIONS] COMMAND [ARGS]\n"
                 "       aethertop help COMMAND             help of one command (also COMMAND --help)\n"));
    fprintf(f, "\n%s\n", _("commands:"));
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-12s %s\n", commands[i].name, _(commands[i].summary));
    fprintf(f, "\n%s\n", _("options:"));
    fputs(_("  --redis URL          redis://[[user]:password@]host[:port][/db], rediss://..., unix:///path?db=N\n"
            "  --database URL       postgresql://user:password@host:port/dbname\n"
            "  --env-file PATH      read the gateway's .env file\n"
            "  --config PATH        aethertop's config file (default $XDG_CONFIG_HOME/aethertop/config)\n"
            "  --timeout SECONDS    connect and command timeout (default 3)\n"
            "  --json               print the reference endpoint's JSON body\n"
            "  --csv                list: CSV instead of a table\n"
            "  --yes                confirm a clear without asking (required when stdin is not a terminal)\n"
            "  --read-only          refuse every clear (also AETHERTOP_READ_ONLY=1)\n"
            "  --audit-log PATH     audit trail (default $XDG_STATE_HOME/aethertop/audit.log)\n"
            "  --redis-ca FILE, --redis-cert FILE, --redis-key FILE, --insecure   TLS for rediss://\n"
            "  --delay SECONDS      console refresh interval (default 2)\n"
            "  --theme NAME|PATH    console theme\n"
            "  --limit N, --offset M  list paging (1..1000, >= 0)\n"
            "  --window DURATION    hits: one window (5m, 1h, 24h ...)\n"
            "  --hours N            ttl-advice: hours analysed (default 24)\n"
            "  --help, --version\n"),
          f);
    fprintf(f, "\n");
    fputs(_("settings read from the environment / .env: REDIS_URL, REDIS_PASSWORD, REDIS_HOST, REDIS_PORT,\n"
            "REDIS_SENTINEL_HOSTS, REDIS_SENTINEL_SERVICE_NAME, DATABASE_URL, DB_HOST, DB_PORT, DB_USER,\n"
            "DB_NAME, DB_PASSWORD, ENCRYPTION_KEY, AETHERTOP_READ_ONLY\n"
            "precedence: flag > environment > env-file > config file > defaults\n"),
          f);
    fprintf(f, "\n");
    fputs(_("exit status: 0 done, 1 not found, 2 usage or configuration error,\n"
            "             3 Redis or PostgreSQL unreachable or failing, 4 refused (read-only, unconfirmed)\n"),
          f);
    fprintf(f, "\n%s\n", _("See aethertop(1) for the console's keys and the config file."));
}

static void print_command_help(const cmd_help *c)
{
    printf(_("usage: aethertop [OPTIONS] %s\n"), c->synopsis);
    printf("\n%s\n", _(c->summary));
    if (c->details) printf("\n%s", _(c->details));
    printf("\n%s\n", _("Global options (connection, --config, --timeout ...): aethertop --help"));
}

/* `aethertop help [COMMAND]` and `aethertop COMMAND --help`. */
static int help_for(const char *name)
{
    if (!name) {
        print_usage(stdout);
        return AT_EXIT_OK;
    }
    const cmd_help *c = find_command(name);
    if (!c) {
        char *v = at_value_shown(name, AT_SHOWN_MAX_CPS);
        at_eprintf(_("aethertop: no command \"%s\" (see aethertop --help)\n"), v);
        free(v);
        return AT_EXIT_USAGE;
    }
    print_command_help(c);
    return AT_EXIT_OK;
}

static void print_version(void)
{
    printf("aethertop %s\n", AETHERTOP_VERSION);
    int pq = PQlibVersion();
    printf(_("build: %s, %s\n"), AT_BUILD_TYPE, AT_BUILD_COMPILER);
    printf(_("flags: %s\n"), AT_BUILD_FLAGS);
#ifdef __SANITIZE_ADDRESS__
    printf("sanitizers: address, undefined\n");
#endif
    printf(_("libraries: hiredis %d.%d.%d, libpq %d.%d, cJSON %s, %s, %s, inih %s\n"), HIREDIS_MAJOR, HIREDIS_MINOR,
           HIREDIS_PATCH, pq / 10000, pq % 10000, cJSON_Version(), OpenSSL_version(OPENSSL_VERSION), curses_version(),
           AT_INIH_VERSION);
    const char *ld = at_i18n_localedir();
    printf(_("translations: %s\n"), ld[0] ? ld : _("off (not a UTF-8 locale)"));
}

/* ---- options ----------------------------------------------------------------- */

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

static int parse_int(const char *s, const char *name, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < -1000000000L || v > 1000000000L) {
        char *shown = at_value_shown(s, AT_SHOWN_MAX_CPS);
        at_eprintf(_("aethertop: %s: not an integer: \"%s\"\n"), name, shown);
        free(shown);
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
        char *shown = at_value_shown(s, AT_SHOWN_MAX_CPS);
        at_eprintf(_("aethertop: %s: expected seconds more than 0 and at most 3600, got \"%s\"\n"), name, shown);
        free(shown);
        return -1;
    }
    *out = v;
    return 0;
}

/* Hide a password given on the command line from /proc/<pid>/cmdline (ps,
 * top): overwrite it in place once the configuration holds its own copy.
 * Covers user:PASSWORD@ in a URL, secret query parameters (password=,
 * sslpassword=, percent-encoded keywords) and secret options of a keyword
 * string however they are spaced, quoted or escaped (at_conninfo_scrub). */
static void scrub_password(char *arg)
{
    (void)at_conninfo_scrub(arg);
}

/* ---- the config file under flag > environment > env-file ---------------------------- */

/* A setting that resolution will use: read as it reads it (the environment
 * first, even when set to "" there, then the env-file), and not empty. */
static bool given(const at_envfile *ef, const char *name)
{
    const char *v = at_setting_lookup(ef, env_lookup, name);
    return v && *v;
}

static bool any_given(const at_envfile *ef, const char *const *names)
{
    for (; *names; names++)
        if (given(ef, *names)) return true;
    return false;
}

/* Fill what neither a flag nor the environment nor the env-file sets from
 * the config file. Returns 0 or -1 (message printed). */
static int apply_config_file(const at_cfgfile *cf, at_config_flags *flags)
{
    if (!flags->env_file && cf->env_file) flags->env_file = cf->env_file;
    if (!cf->redis && !cf->database && cf->read_only < 0) {
        if (!flags->timeout_ms && cf->timeout_ms) flags->timeout_ms = cf->timeout_ms;
        return 0;
    }
    at_envfile ef = {0};
    char err[512];
    /* (its warnings are printed once, from at_config_resolve, which reads it again) */
    if (flags->env_file && at_envfile_load(flags->env_file, env_lookup, &ef, err, sizeof err) < 0) {
        at_eprintf("aethertop: %s\n", err);
        return -1;
    }
    static const char *const redis_settings[] = {"REDIS_URL", "REDIS_SENTINEL_HOSTS", "REDIS_HOST", "REDIS_PORT", NULL};
    static const char *const pg_settings[] = {"DATABASE_URL", "DB_HOST", "DB_PORT", "DB_USER", "DB_NAME", NULL};
    if (!flags->redis_url && cf->redis && !any_given(&ef, redis_settings)) flags->redis_url = cf->redis;
    if (!flags->database_url && cf->database && !any_given(&ef, pg_settings)) flags->database_url = cf->database;
    if (!flags->timeout_ms && cf->timeout_ms) flags->timeout_ms = cf->timeout_ms;
    /* AETHERTOP_READ_ONLY set at all (even to 0) in the environment or the env-file wins */
    bool ro_elsewhere = at_setting_lookup(&ef, env_lookup, "AETHERTOP_READ_ONLY") != NULL;
    if (!flags->read_only && !ro_elsewhere && cf->read_only == 1) flags->read_only = true;
    at_envfile_free(&ef);
    return 0;
}

int main(int argc, char **argv)
{
    at_heap_setup(); /* before any thread */
    at_i18n_init();
    /* no core dumps holding secrets: non-dumpable (nor ptrace-able, nor its
     * /proc files readable by the same user), and a core size limit of 0,
     * soft and hard, for where fs.suid_dumpable = 2 dumps non-dumpable
     * processes too (systemd-coredump and apport honour the limit) */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
    enum { O_REDIS = 1000, O_DB, O_ENV, O_TIMEOUT, O_JSON, O_YES, O_RO, O_LIMIT, O_OFFSET, O_AUDIT,
           O_CA, O_CERT, O_KEY, O_INSECURE, O_DELAY, O_THEME, O_HELP, O_VERSION, O_WINDOW, O_HOURS,
           O_CONFIG, O_CSV };
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
        {"config", required_argument, 0, O_CONFIG}, {"csv", no_argument, 0, O_CSV},
        {"help", no_argument, 0, O_HELP}, {"version", no_argument, 0, O_VERSION}, {0, 0, 0, 0}};
    at_config_flags flags = {0};
    at_cli_opts cli = {.limit = -1, .offset = -1};
    at_console_opts con = {.delay_s = 0};
    const char *audit = NULL, *ca = NULL, *cert = NULL, *key = NULL, *config_path = NULL;
    bool insecure = false, want_help = false, want_version = false;
    double secs;
    int c;
    opterr = 0;
    /* GNU getopt permutes argv: options may come before or after the command */
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_REDIS: flags.redis_url = optarg; break;
        case O_DB: flags.database_url = optarg; break;
        case O_ENV: flags.env_file = optarg; break;
        case O_CONFIG: config_path = optarg; break;
        case O_TIMEOUT:
            if (parse_seconds(optarg, "--timeout", &secs) < 0) return AT_EXIT_USAGE;
            flags.timeout_ms = (int)(secs * 1000) > 0 ? (int)(secs * 1000) : 1;
            break;
        case O_JSON: cli.json = true; break;
        case O_CSV: cli.csv = true; break;
        case O_YES: cli.yes = true; break;
        case O_RO: flags.read_only = true; break;
        case O_LIMIT:
            if (parse_int(optarg, "--limit", &cli.limit) < 0) return AT_EXIT_USAGE;
            if (cli.limit < 1 || cli.limit > 1000) {
                fprintf(stderr, _("aethertop: --limit must be between 1 and 1000, got %d\n"), cli.limit);
                return AT_EXIT_USAGE;
            }
            break;
        case O_OFFSET:
            if (parse_int(optarg, "--offset", &cli.offset) < 0) return AT_EXIT_USAGE;
            if (cli.offset < 0) {
                fprintf(stderr, _("aethertop: --offset must be 0 or more, got %d\n"), cli.offset);
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
                char *v = at_value_shown(optarg, AT_SHOWN_MAX_CPS);
                at_eprintf(_("aethertop: --window: expected a duration like 5m, 1h or 24h, got \"%s\"\n"), v);
                free(v);
                return AT_EXIT_USAGE;
            }
            break;
        case O_HOURS: {
            char *end;
            cli.hours = strtod(optarg, &end);
            if (!*optarg || *end || !(cli.hours > 0) || cli.hours > 720) {
                char *v = at_value_shown(optarg, AT_SHOWN_MAX_CPS);
                at_eprintf(_("aethertop: --hours: expected hours more than 0 and at most 720, got \"%s\"\n"), v);
                free(v);
                return AT_EXIT_USAGE;
            }
            break;
        }
        case O_HELP: want_help = true; break;
        case O_VERSION: want_version = true; break;
        default: {
            /* getopt_long's optopt: the val of a known long option whose value
             * is missing (or given to one that takes none), the letter of an
             * unknown short option (argv[optind - 1] may then be an earlier
             * argument: "-xy"), 0 for an unknown or ambiguous long option */
            const struct option *known = NULL;
            for (const struct option *o = longopts; o->name; o++)
                if (optopt && o->val == optopt) known = o;
            if (known && known->has_arg == required_argument)
                fprintf(stderr, _("aethertop: --%s needs a value (see aethertop --help)\n"), known->name);
            else if (known)
                fprintf(stderr, _("aethertop: --%s takes no value (see aethertop --help)\n"), known->name);
            else if (optopt > 0x20 && optopt < 0x7f)
                fprintf(stderr, _("aethertop: unknown option \"-%c\" (see aethertop --help)\n"), optopt);
            else {
                /* named without its value: "--redis-password=...", a URL given
                 * to a mistyped --redis, are not repeated */
                const char *arg = argv[optind - 1];
                char *name = strndup(arg, strcspn(arg, "="));
                if (!name) abort();
                char *v = at_text_shown(name, AT_SHOWN_MAX_CPS);
                at_eprintf(_("aethertop: unknown or ambiguous option \"%s\" (see aethertop --help)\n"), v);
                free(v);
                free(name);
            }
            return AT_EXIT_USAGE;
        }
        }
    }
    char **pos = argv + optind;
    int npos = argc - optind;
    if (npos > 0 && strcmp(pos[0], "help") == 0) {
        if (npos > 2) {
            fprintf(stderr, _("aethertop: usage: aethertop help [COMMAND]\n"));
            return AT_EXIT_USAGE;
        }
        return help_for(npos == 2 ? pos[1] : want_help ? "help" : NULL);
    }
    if (want_help) return help_for(npos > 0 ? pos[0] : NULL);
    if (want_version) {
        print_version();
        return AT_EXIT_OK;
    }
    if (key && !cert) {
        fprintf(stderr, _("aethertop: --redis-key needs --redis-cert (the client certificate it belongs to)\n"));
        return AT_EXIT_USAGE;
    }
    if (flags.redis_url && (strchr(flags.redis_url, '@') || at_conninfo_has_secret(flags.redis_url)))
        fprintf(stderr, _("aethertop: warning: a password on the command line is visible to other users; "
                          "put REDIS_URL in the environment or --env-file instead\n"));
    if (flags.database_url && at_conninfo_has_secret(flags.database_url))
        fprintf(stderr, _("aethertop: warning: a password on the command line is visible to other users; "
                          "put DATABASE_URL in the environment or --env-file instead\n"));
    char *argv_redis = (char *)flags.redis_url, *argv_database = (char *)flags.database_url;

    /* the config file: --config PATH (must exist), else the default place (may be absent) */
    at_cfgfile cf;
    char err[1024], defpath[PATH_MAX];
    at_cfgfile_init(&cf);
    const char *cpath = config_path;
    if (!cpath && at_cfgfile_default_path(env_lookup, defpath, sizeof defpath) == 0) cpath = defpath;
    if (cpath && at_cfgfile_load(cpath, config_path != NULL, &cf, err, sizeof err) < 0) {
        at_eprintf("aethertop: %s\n", err);
        return AT_EXIT_USAGE;
    }
    if (cf.warning[0]) at_eprintf(_("aethertop: warning: %s\n"), cf.warning);
    if (cf.columns && at_console_columns_check(cf.columns, err, sizeof err) < 0) {
        at_eprintf("aethertop: %s:%d: %s\n", cf.path, cf.columns_line, err);
        at_cfgfile_free(&cf);
        return AT_EXIT_USAGE;
    }
    if (apply_config_file(&cf, &flags) < 0) {
        at_cfgfile_free(&cf);
        return AT_EXIT_USAGE;
    }
    if (!con.delay_s) con.delay_s = cf.refresh_s > 0 ? cf.refresh_s : 2.0;
    con.config_theme = cf.theme;
    con.columns = cf.columns;
    con.config_path = cf.path;

    at_config cfg;
    int resolved = at_config_resolve(&cfg, &flags, env_lookup, err, sizeof err);
    scrub_password(argv_redis);
    scrub_password(argv_database);
    for (size_t i = 0; i < cfg.n_warnings; i++) at_eprintf(_("aethertop: warning: %s\n"), cfg.warnings[i]);
    if (resolved < 0) {
        at_eprintf("aethertop: %s\n", err);
        at_config_free(&cfg);
        at_cfgfile_free(&cf);
        return AT_EXIT_USAGE;
    }
    if (audit) cfg.audit_log = strdup(audit);
    else if (cf.audit_log) cfg.audit_log = strdup(cf.audit_log);
    if (ca) cfg.redis_ca = strdup(ca);
    if (cert) cfg.redis_cert = strdup(cert);
    if (key) cfg.redis_key = strdup(key);
    if (insecure) cfg.tls_insecure = true;
    if (insecure && cfg.redis.transport == AT_REDIS_TLS && cfg.redis.n_sentinels == 0)
        fprintf(stderr, _("aethertop: warning: --insecure: the Redis server's TLS certificate and host name "
                          "are not verified; anyone on the network path can read and change the traffic\n"));

    int rc;
    if (npos == 0) {
        if (cli.json || cli.csv || cli.limit >= 0 || cli.offset >= 0) {
            fprintf(stderr, _("aethertop: --json, --csv, --limit and --offset need a command (see aethertop --help)\n"));
            rc = AT_EXIT_USAGE;
        } else {
            rc = at_console_run(&cfg, &con);
        }
    } else {
        rc = at_cli_run(&cfg, &cli, npos, pos);
    }
    at_config_free(&cfg);
    at_cfgfile_free(&cf);
    return rc;
}
