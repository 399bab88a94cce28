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

/* One `.env` file: KEY=value pairs in file order. */
typedef struct {
    char **keys;
    char **values;
    size_t n;
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

/* Parse the text of a gateway .env file. Errors name the line. */
int at_envfile_parse(const char *text, const char *name, at_envfile *out, char *err, size_t errlen);
int at_envfile_load(const char *path, at_envfile *out, char *err, size_t errlen);
const char *at_envfile_get(const at_envfile *f, const char *key);
void at_envfile_free(at_envfile *f);

/* Resolve the whole configuration. getenv_fn is getenv in production (tests
 * pass their own). Returns 0 or -1 with a one-line error naming the setting. */
typedef const char *(*at_getenv_fn)(const char *name);
int at_config_resolve(at_config *cfg, const at_config_flags *flags, at_getenv_fn getenv_fn,
                      char *err, size_t errlen);
void at_config_free(at_config *cfg);

#endif
