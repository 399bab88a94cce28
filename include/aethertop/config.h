/* config.h — where aethertop connects and how: the gateway's own settings
 * (SPEC section 1) read from flags, the environment and a gateway .env file,
 * with precedence flag > environment > env-file > defaults. */
#ifndef AETHERTOP_CONFIG_H
#define AETHERTOP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { AT_REDIS_TCP, AT_REDIS_TLS, AT_REDIS_UNIX } at_redis_transport;

typedef struct {
    char *host;
    int port;
} at_hostport;

typedef const char *(*at_getenv_fn)(const char *name);

/* One Redis target, as parsed from REDIS_URL / REDIS_HOST... / sentinels. */
typedef struct {
    at_redis_transport transport;
    char *host;          /* TCP/TLS host */
    int port;            /* TCP/TLS port */
    char *socket_path;   /* unix:// path */
    int db;
    char *username;      /* ACL user or NULL */
    char *password;      /* NULL when none */
    at_hostport *sentinels; /* non-empty: ask these for the master */
    size_t n_sentinels;
    char *sentinel_service;
} at_redis_target;

/* The sentinels' name for the master: REDIS_SENTINEL_SERVICE_NAME, or the
 * gateway's default "mymaster" when unset. */
#define AT_SENTINEL_SERVICE_DEFAULT "mymaster"
static inline const char *at_sentinel_service(const at_redis_target *t)
{
    return t->sentinel_service ? t->sentinel_service : AT_SENTINEL_SERVICE_DEFAULT;
}

/* One `.env` file, as python-dotenv reads it: KEY=value pairs in file
 * order, ${VAR} expanded; what python-dotenv skips is skipped with a
 * warning. */
typedef struct {
    char **keys;
    char **values;
    size_t n;
    char **warnings;       /* "FILE:LINE: ..." for each line skipped or left unset; never a value */
    size_t n_warnings;
} at_envfile;

typedef struct {
    at_redis_target redis;
    char *redis_display;   /* "host:port/db" or "unix:/path?db=N", never a password */
    char *pg_conninfo;     /* URL or keyword string libpq accepts */
    char *pg_display;      /* same without the password */
    char *encryption_key;  /* effective ENCRYPTION_KEY (dev default when unset/empty) */
    int timeout_ms;        /* connect and command timeout */
    bool read_only;
    char *redis_ca, *redis_cert, *redis_key; /* TLS options */
    bool tls_insecure;
    char *audit_log;       /* path or NULL */
    char **warnings;       /* one-line remarks for stderr (a .env line skipped, a URL
                            * parameter ignored); never a password */
    size_t n_warnings;
} at_config;

/* Values given on the command line; NULL/0 = not given. */
typedef struct {
    const char *redis_url;
    const char *database_url;
    const char *env_file;
    int timeout_ms;        /* 0 = not given */
    bool read_only;
} at_config_flags;

#define AT_DEV_ENCRYPTION_KEY "dev-encryption-key-do-not-use-in-production"
#define AT_DEFAULT_TIMEOUT_MS 3000

/* Parse a Redis URL (redis://, rediss://, unix://). Returns 0, or -1 with a
 * one-line reason in err. `setting` names the setting in the message. */
int at_redis_url_parse(const char *url, const char *setting, at_redis_target *out,
                       char *err, size_t errlen);
void at_redis_target_free(at_redis_target *t);

/* Copy of a URL with its password (user:PASSWORD@ and the value of every
 * query parameter whose percent-decoded keyword is a secret libpq option:
 * password=, sslpassword=, pass%77ord=) replaced by "***"; strings without
 * "://" are copied as they are. malloc'd. */
char *at_url_redact(const char *url);

/* A value from outside (an argument, a setting, a path) as a message may
 * quote it: what may be a secret hidden as "***" (at_url_redact's parts of
 * a URL; in a keyword/value or NAME=value text, the values of password
 * options and of names that mention a password, key, secret or token),
 * then made harmless for a terminal and cut after max_cps code points with
 * "…" (at_text_shown). Every value a message echoes goes through
 * this. malloc'd (aborts when out of memory). */
#define AT_SHOWN_MAX_CPS 64
char *at_value_shown(const char *value, size_t max_cps);
/* Overwrite with '*', in place, whatever in a connection string may be a
 * secret: what at_url_redact hides in a URL; in a keyword/value string the
 * value of every secret option, read as libpq reads it (blanks around '=',
 * quotes, backslash escapes). For argv (/proc/PID/cmdline). Returns how
 * many non-empty parts were hidden. */
size_t at_conninfo_scrub(char *s);

/* at_conninfo_scrub would hide something in s. */
bool at_conninfo_has_secret(const char *s);

/* Parse "host[:port],host[:port]" sentinel lists (default port 26379). */
int at_sentinel_hosts_parse(const char *text, at_redis_target *out, char *err, size_t errlen);

/* Parse the text of a gateway .env file as python-dotenv's load_dotenv
 * does (override=False, interpolate=True): KEY=value, 'KEY'=value, export,
 * unquoted values (a '#' after white space starts a comment), '...' (\\ and
 * \' decoded) and "..." (\\ \' \" \a \b \f \n \r \t \v decoded) values over
 * several lines; then, line by line, ${NAME} and ${NAME:-default} take the
 * environment's NAME (getenv_fn, even ""; NULL: none), else an earlier
 * line's, else the default or "". A line python-dotenv cannot parse is
 * skipped, and a name without '=' left unset, each with a warning in
 * out->warnings. Fails (-1, err) only when out of memory. */
int at_envfile_parse(const char *text, const char *name, at_getenv_fn getenv_fn, at_envfile *out,
                     char *err, size_t errlen);
/* Read a file and parse it; errors (cannot open, too large) name the file. */
int at_envfile_load(const char *path, at_getenv_fn getenv_fn, at_envfile *out, char *err,
                    size_t errlen);
const char *at_envfile_get(const at_envfile *f, const char *key);
void at_envfile_free(at_envfile *f);

/* A setting as resolution reads it: the environment's value (even "") when
 * it is set there, else the env file's (f may be NULL); NULL when neither. */
const char *at_setting_lookup(const at_envfile *f, at_getenv_fn getenv_fn, const char *name);

/* Resolve the whole configuration. getenv_fn is getenv in production (tests
 * pass their own). Returns 0 or -1 with a one-line error naming the setting;
 * either way cfg->warnings holds what is worth saying first (on failure
 * nothing else), and at_config_free releases it. */
int at_config_resolve(at_config *cfg, const at_config_flags *flags, at_getenv_fn getenv_fn,
                      char *err, size_t errlen);
void at_config_free(at_config *cfg);

#endif
