/* redis.c — the Redis connection: our own socket (TCP or unix, optionally
 * wrapped in OpenSSL for rediss://) carrying hiredis's command formatter and
 * protocol reader. Every wait is a poll() bounded by the configured timeout,
 * so a slow or dead server can never hang the caller, and a dropped
 * connection is an error, never a SIGPIPE. Sentinel discovery
 * (each sentinel in turn; the master it names must answer ROLE "master"),
 * AUTH and SELECT happen in at_redis_open. */
#include "aethertop/redis.h"
#include "aethertop/secret.h"
#include "aethertop/text.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <openssl/decodererr.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct at_redis {
    int fd;
    SSL_CTX *ssl_ctx;
    SSL *ssl;
    redisReader *reader;
    char *out;
    size_t out_len, out_cap;
    int timeout_ms;
    bool broken;
    char err[512];
    char describe[320];
    unsigned long long round_trips;
    bool sent_since_read;
    char tls_err[160];   /* why OpenSSL gave up on the connection, if it said */
    char note[1024];     /* sentinels skipped on the way to this master ("" if none) */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_err(at_redis *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
}

static void fail(at_redis *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    r->broken = true;
}

/* Wait for fd readiness until deadline. 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)left);
        if (rc > 0) return 1;
        if (rc == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

static int connect_fd(at_redis *r, const char *host, int port, const char *path, long long deadline)
{
    int fd = -1;
    if (path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof sa.sun_path) {
            fail(r, "unix socket path too long");
            return -1;
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)) {
            fail(r, "cannot connect to unix:%s: %s", path, strerror(errno));
            if (fd >= 0) close(fd);
            return -1;
        }
        return fd;
    }
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        fail(r, "cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int last_errno = 0;
    bool timed_out = false;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) { last_errno = errno; continue; }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS) {
            int w = wait_fd(fd, POLLOUT, deadline);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (w == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) break;
            if (w == 0) timed_out = true;
            last_errno = soerr ? soerr : errno;
        } else {
            last_errno = errno;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (timed_out)
            fail(r, "cannot connect to %s:%d: timed out after %d ms", host, port, r->timeout_ms);
        else
            fail(r, "cannot connect to %s:%d: %s", host, port, strerror(last_errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* The socket under OpenSSL: its own socket BIO writes with write(), which
 * raises SIGPIPE (and kills the process) once the server has dropped the
 * connection. This one writes with send(MSG_NOSIGNAL), as the plain path
 * does, so a dropped connection is an EPIPE error either way. The fd is the
 * BIO's data; the connection closes it, not the BIO. */
static int sock_bio_write(BIO *b, const char *buf, int n)
{
    BIO_clear_retry_flags(b);
    ssize_t w = send((int)(intptr_t)BIO_get_data(b), buf, (size_t)n, MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_write(b);
    return (int)w;
}

static int sock_bio_read(BIO *b, char *buf, int n)
{
    BIO_clear_retry_flags(b);
    ssize_t got = recv((int)(intptr_t)BIO_get_data(b), buf, (size_t)n, 0);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(b);
    return (int)got;
}

static long sock_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b; (void)num; (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int sock_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *sock_bio_meth;

static void sock_bio_init(void)
{
    sock_bio_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "aethertop socket");
    if (!sock_bio_meth || BIO_meth_set_write(sock_bio_meth, sock_bio_write) != 1 ||
        BIO_meth_set_read(sock_bio_meth, sock_bio_read) != 1 ||
        BIO_meth_set_ctrl(sock_bio_meth, sock_bio_ctrl) != 1 ||
        BIO_meth_set_create(sock_bio_meth, sock_bio_create) != 1)
        abort();
}

/* A BIO over fd (one method for the process, made once). */
static BIO *sock_bio_new(int fd)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sock_bio_init);
    BIO *b = BIO_new(sock_bio_meth);
    if (b) BIO_set_data(b, (void *)(intptr_t)fd);
    return b;
}

/* OpenSSL's error queue after a failure, taken (the queue is left empty). */
typedef struct {
    unsigned long e[8];
    int n;
} ssl_errs;

static void ssl_errs_take(ssl_errs *q)
{
    unsigned long e;
    q->n = 0;
    while ((e = ERR_get_error()) != 0)
        if (q->n < (int)(sizeof q->e / sizeof q->e[0])) q->e[q->n++] = e;
}

static bool ssl_errs_has(const ssl_errs *q, int lib, int reason)
{
    for (int i = 0; i < q->n; i++)
        if (ERR_GET_LIB(q->e[i]) == lib && ERR_GET_REASON(q->e[i]) == reason) return true;
    return false;
}

/* The most specific reason: the last error that has a text, passing over
 * the "PEM lib" wrapper that only says a PEM routine failed. */
static const char *ssl_errs_reason(const ssl_errs *q)
{
    for (int i = q->n - 1; i >= 0; i--) {
        if (ERR_GET_REASON(q->e[i]) == ERR_R_PEM_LIB) continue;
        const char *s = ERR_reason_error_string(q->e[i]);
        if (s) return s;
    }
    return "TLS error";
}

static const char *ssl_reason(void)
{
    ssl_errs q;
    ssl_errs_take(&q);
    return ssl_errs_reason(&q);
}

/* A TLS file that cannot be opened: its name and the system's reason
 * (OpenSSL would only say "system lib"). */
static int tls_file_readable(at_redis *r, const char *what, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fail(r, "TLS: cannot read %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

/* An encrypted client key is refused rather than prompted for: OpenSSL's
 * default would read a passphrase from the terminal (under the console's
 * screen, or forever in a script). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf; (void)size; (void)rwflag; (void)u;
    return -1;
}

/* Nothing in PEM form where a certificate or key was expected. */
static bool ssl_errs_not_pem(const ssl_errs *q)
{
    return ssl_errs_has(q, ERR_LIB_PEM, PEM_R_NO_START_LINE) ||
           ssl_errs_has(q, ERR_LIB_OSSL_DECODER, ERR_R_UNSUPPORTED);
}

/* --redis-ca, --redis-cert, --redis-key: each failure names its file. */
static int tls_load_files(at_redis *r, const at_config *cfg)
{
    ssl_errs q;
    if (cfg->redis_ca) {
        if (tls_file_readable(r, "CA file", cfg->redis_ca) < 0) return -1;
        if (SSL_CTX_load_verify_locations(r->ssl_ctx, cfg->redis_ca, NULL) != 1) {
            ssl_errs_take(&q);
            fail(r, "TLS: cannot load CA file %s: %s", cfg->redis_ca,
                 ssl_errs_not_pem(&q) || ssl_errs_has(&q, ERR_LIB_X509, X509_R_NO_CERTIFICATE_OR_CRL_FOUND)
                     ? "no PEM certificate in it" : ssl_errs_reason(&q));
            return -1;
        }
    } else {
        SSL_CTX_set_default_verify_paths(r->ssl_ctx);
        ERR_clear_error();   /* a missing system store shows as "not accepted" later */
    }
    if (!cfg->redis_cert) return 0;
    const char *key = cfg->redis_key ? cfg->redis_key : cfg->redis_cert;
    if (tls_file_readable(r, "client certificate", cfg->redis_cert) < 0 ||
        tls_file_readable(r, "client key", key) < 0)
        return -1;
    if (SSL_CTX_use_certificate_chain_file(r->ssl_ctx, cfg->redis_cert) != 1) {
        ssl_errs_take(&q);
        fail(r, "TLS: cannot load client certificate %s: %s", cfg->redis_cert,
             ssl_errs_not_pem(&q) ? "no PEM certificate in it" : ssl_errs_reason(&q));
        return -1;
    }
    SSL_CTX_set_default_passwd_cb(r->ssl_ctx, no_passphrase);
    if (SSL_CTX_use_PrivateKey_file(r->ssl_ctx, key, SSL_FILETYPE_PEM) != 1) {
        ssl_errs_take(&q);
        if (ssl_errs_has(&q, ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH))
            fail(r, "TLS: client key %s does not match the certificate %s", key, cfg->redis_cert);
        else if (ssl_errs_has(&q, ERR_LIB_PEM, PEM_R_BAD_PASSWORD_READ))
            fail(r, "TLS: client key %s is encrypted (aethertop cannot ask for its passphrase)", key);
        else
            fail(r, "TLS: cannot load client key %s: %s", key,
                 ssl_errs_not_pem(&q) ? "no PEM private key in it" : ssl_errs_reason(&q));
        return -1;
    }
    return 0;
}

static int tls_start(at_redis *r, const at_config *cfg, const char *host, long long deadline)
{
    ERR_clear_error();
    r->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!r->ssl_ctx) { fail(r, "TLS: %s", ssl_reason()); return -1; }
    SSL_CTX_set_min_proto_version(r->ssl_ctx, TLS1_2_VERSION);
    if (tls_load_files(r, cfg) < 0) return -1;
    SSL_CTX_set_verify(r->ssl_ctx, cfg->tls_insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    r->ssl = SSL_new(r->ssl_ctx);
    if (!r->ssl) { fail(r, "TLS: %s", ssl_reason()); return -1; }
    BIO *bio = sock_bio_new(r->fd);
    if (!bio) { fail(r, "TLS: %s", ssl_reason()); return -1; }
    SSL_set_bio(r->ssl, bio, bio);   /* the SSL owns it now */
    /* SNI carries host names only (RFC 6066: never an address literal) */
    unsigned char addr[sizeof(struct in6_addr)];
    bool literal = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    if (!literal && SSL_set_tlsext_host_name(r->ssl, host) != 1) {
        fail(r, "TLS: cannot send the server name %s: %s", host, ssl_reason());
        return -1;
    }
    /* what the certificate must be for: a host name its DNS SANs (or,
     * with none, its CN) match; an address literal one of its IP SANs
     * (OpenSSL 3 tells the two apart). A wildcard stands for one whole
     * label: "*.example.com", never "r*.example.com" (RFC 6125 6.4.3
     * allows refusing those; browsers and Python's ssl do) */
    if (!cfg->tls_insecure) {
        if (SSL_set1_host(r->ssl, host) != 1) {
            fail(r, "TLS: cannot verify the host name %s: %s", host, ssl_reason());
            return -1;
        }
        SSL_set_hostflags(r->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    for (;;) {
        ERR_clear_error();
        int rc = SSL_connect(r->ssl);
        if (rc == 1) return 0;
        int e = SSL_get_error(r->ssl, rc);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!ev) {
            long vr = SSL_get_verify_result(r->ssl);
            if (!cfg->tls_insecure && vr != X509_V_OK)
                fail(r, "TLS: certificate of %s not accepted: %s", host, X509_verify_cert_error_string(vr));
            else
                fail(r, "TLS handshake with %s failed: %s", host, ssl_reason());
            return -1;
        }
        if (wait_fd(r->fd, ev, deadline) != 1) {
            fail(r, "TLS handshake with %s timed out", host);
            return -1;
        }
    }
}

static at_redis *redis_new(int timeout_ms)
{
    at_redis *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->fd = -1;
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : AT_DEFAULT_TIMEOUT_MS;
    r->reader = redisReaderCreate();
    r->reader->maxbuf = 0;
    return r;
}

void at_redis_close(at_redis *r)
{
    if (!r) return;
    if (r->ssl) SSL_free(r->ssl);
    if (r->ssl_ctx) SSL_CTX_free(r->ssl_ctx);
    if (r->fd >= 0) close(r->fd);
    if (r->reader) redisReaderFree(r->reader);
    at_wipe_free(r->out, r->out_cap);   /* it may still hold an AUTH */
    free(r);
}

static void out_push(at_redis *r, const char *cmd, size_t len)
{
    if (r->out_len + len > r->out_cap) {
        size_t ncap = r->out_cap ? r->out_cap : 4096;
        while (ncap < r->out_len + len) ncap *= 2;
        /* not realloc: the old buffer is wiped before it goes back */
        char *n = malloc(ncap);
        if (!n) abort();
        if (r->out_len) memcpy(n, r->out, r->out_len);
        at_wipe_free(r->out, r->out_cap);
        r->out = n;
        r->out_cap = ncap;
    }
    memcpy(r->out + r->out_len, cmd, len);
    r->out_len += len;
}

int at_redis_append(at_redis *r, int argc, const char **argv, const size_t *argvlen)
{
    if (r->broken) return -1;
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (len < 0) { set_err(r, "cannot format command"); return -1; }
    out_push(r, cmd, (size_t)len);
    at_wipe_free(cmd, (size_t)len);   /* AUTH's carries the password */
    return 0;
}

/* Keep OpenSSL's reason for a failed read or write. After a failed write the
 * server's alert (e.g. "certificate required" when no client certificate
 * was given) may still be unread: one read picks it up. */
static void tls_note_error(at_redis *r, bool after_write)
{
    unsigned long code = ERR_peek_last_error();
    if (!code && after_write) {
        char b;
        (void)SSL_read(r->ssl, &b, 1);
        code = ERR_peek_last_error();
    }
    const char *why = code ? ERR_reason_error_string(code) : NULL;
    if (why) snprintf(r->tls_err, sizeof r->tls_err, "TLS: %s", why);
    ERR_clear_error();
}

static const char *io_reason(const at_redis *r)
{
    return r->tls_err[0] ? r->tls_err : strerror(errno);
}

static ssize_t io_write(at_redis *r, const char *buf, size_t n, short *want)
{
    *want = POLLOUT;
    if (r->ssl) {
        int rc = SSL_write(r->ssl, buf, (int)n);
        if (rc > 0) return rc;
        int e = SSL_get_error(r->ssl, rc);
        if (e == SSL_ERROR_WANT_READ) { *want = POLLIN; return 0; }
        if (e == SSL_ERROR_WANT_WRITE) return 0;
        tls_note_error(r, true);
        errno = EPIPE;
        return -1;
    }
    ssize_t w = send(r->fd, buf, n, MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    return w;
}

static ssize_t io_read(at_redis *r, char *buf, size_t n, short *want)
{
    *want = POLLIN;
    if (r->ssl) {
        int rc = SSL_read(r->ssl, buf, (int)n);
        if (rc > 0) return rc;
        int e = SSL_get_error(r->ssl, rc);
        if (e == SSL_ERROR_WANT_READ) return 0;
        if (e == SSL_ERROR_WANT_WRITE) { *want = POLLOUT; return 0; }
        if (e == SSL_ERROR_ZERO_RETURN) return -2;
        tls_note_error(r, false);
        errno = ECONNRESET;
        return -1;
    }
    ssize_t got = recv(r->fd, buf, n, 0);
    if (got == 0) return -2;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    return got;
}

static int flush_out(at_redis *r, long long deadline)
{
    size_t off = 0;
    while (off < r->out_len) {
        short want;
        ssize_t w = io_write(r, r->out + off, r->out_len - off, &want);
        if (w < 0) { fail(r, "connection lost while sending: %s", io_reason(r)); return -1; }
        if (w == 0) {
            int rc = wait_fd(r->fd, want, deadline);
            if (rc == 0) { fail(r, "timed out after %d ms sending to Redis", r->timeout_ms); return -1; }
            if (rc < 0) { fail(r, "poll: %s", strerror(errno)); return -1; }
            continue;
        }
        off += (size_t)w;
    }
    if (r->out_len) {
        r->round_trips++;
        r->sent_since_read = true;
    }
    r->out_len = 0;
    return 0;
}

int at_redis_flush(at_redis *r)
{
    if (r->broken) return -1;
    return flush_out(r, now_ms() + r->timeout_ms);
}

redisReply *at_redis_read(at_redis *r)
{
    if (r->broken) return NULL;
    r->err[0] = '\0';   /* the error, if any, of this reply */
    long long deadline = now_ms() + r->timeout_ms;
    if (flush_out(r, deadline) < 0) return NULL;
    char buf[65536];
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(r->reader, &reply) != REDIS_OK) {
            fail(r, "protocol error: %s", r->reader->errstr);
            return NULL;
        }
        if (reply) {
            redisReply *rep = reply;
            if (rep->type == REDIS_REPLY_ERROR) set_err(r, "%.*s", (int)rep->len, rep->str);
            return rep;
        }
        short want;
        ssize_t got = io_read(r, buf, sizeof buf, &want);
        if (got == -2) { fail(r, "connection closed by Redis"); return NULL; }
        if (got < 0) { fail(r, "connection lost: %s", io_reason(r)); return NULL; }
        if (got == 0) {
            if (r->ssl && SSL_pending(r->ssl) > 0) continue;
            int rc = wait_fd(r->fd, want, deadline);
            if (rc == 0) { fail(r, "timed out after %d ms waiting for Redis", r->timeout_ms); return NULL; }
            if (rc < 0) { fail(r, "poll: %s", strerror(errno)); return NULL; }
            continue;
        }
        redisReaderFeed(r->reader, buf, (size_t)got);
    }
}

redisReply *at_redis_command(at_redis *r, int argc, const char **argv, const size_t *argvlen)
{
    if (at_redis_append(r, argc, argv, argvlen) < 0) return NULL;
    return at_redis_read(r);
}

redisReply *at_redis_commandf(at_redis *r, const char *fmt, ...)
{
    if (r->broken) return NULL;
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0) { set_err(r, "cannot format command"); return NULL; }
    out_push(r, cmd, (size_t)len);
    at_wipe_free(cmd, (size_t)len);
    return at_redis_read(r);
}

const char *at_redis_error(const at_redis *r) { return r->err; }
bool at_redis_broken(const at_redis *r) { return r->broken; }

void at_redis_abandon(at_redis *r, const char *why)
{
    if (!r->err[0]) set_err(r, "%s", why);
    r->broken = true;
}
const char *at_redis_describe(const at_redis *r) { return r->describe; }
unsigned long long at_redis_round_trips(const at_redis *r) { return r->round_trips; }

/* Why AUTH was refused, as an error may say it: the server's reply up to
 * its first quote (a server that does not know AUTH, renamed away or a
 * proxy, quotes the arguments: "ERR unknown command 'AUTH', with args
 * beginning with: 'PASSWORD'", and cuts a long one, so a piece of the
 * password would be left), every copy of the password in it hidden as
 * "***", and a tail that begins the password too (a server's cut); only
 * then cut to 120 characters, so no cut can leave part of a copy. */
static void auth_refused(at_redis *r, const redisReply *rep, const char *password)
{
    size_t pl = strlen(password);
    size_t end = rep->str ? strcspn(rep->str, "'\"`") : 0;
    if (end > rep->len) end = rep->len;
    char *why = malloc(3 * end + 4);
    if (!why) { fail(r, "authentication failed"); return; }
    size_t n = 0;
    for (size_t i = 0; i < end;) {
        if (i + pl <= end && memcmp(rep->str + i, password, pl) == 0) {
            memcpy(why + n, "***", 3);
            n += 3;
            i += pl;
        } else if (end - i >= 3 && end - i < pl && memcmp(rep->str + i, password, end - i) == 0) {
            memcpy(why + n, "***", 3);   /* the reply ends with the password's start */
            n += 3;
            break;
        } else {
            why[n++] = rep->str[i++];
        }
    }
    while (n > 0 && (why[n - 1] == ' ' || why[n - 1] == ',' || why[n - 1] == ':')) n--;
    why[n] = '\0';
    /* at_text_shown ends a text it cut with "…": one mark for either cut */
    char *shown = at_text_shown(why, 120);
    size_t sl = strlen(shown);
    bool marked = sl >= 3 && strcmp(shown + sl - 3, "…") == 0;
    fail(r, "authentication failed: %s%s", shown, end < rep->len && !marked ? " …" : "");
    explicit_bzero(why, n);
    free(why);
    free(shown);
}

/* AUTH (ACL user when given); the password never appears in errors.
 * 0, -1 when the connection failed, -2 when the server refused it. */
static int redis_auth(at_redis *r, const char *user, const char *password)
{
    if (!password || !*password) return 0;
    /* the argv form: hiredis copies the arguments straight into the command
     * (its printf form leaves copies of them in freed memory) */
    const char *argv[3] = {"AUTH", user, password};
    bool acl = user && *user;
    if (!acl) argv[1] = password;
    redisReply *rep = at_redis_command(r, acl ? 3 : 2, argv, NULL);
    /* the command has been sent (or never will be): no copy of the
     * password stays in the output buffer */
    if (r->out) explicit_bzero(r->out, r->out_cap);
    r->out_len = 0;
    if (!rep) return -1;
    int ok = rep->type != REDIS_REPLY_ERROR;
    if (!ok) auth_refused(r, rep, password);
    freeReplyObject(rep);
    return ok ? 0 : -2;
}

static at_redis *open_one(const at_config *cfg, const char *host, int port, const char *path,
                          bool tls, char *err, size_t errlen)
{
    at_redis *r = redis_new(cfg->timeout_ms);
    if (!r) { snprintf(err, errlen, "out of memory"); return NULL; }
    long long deadline = now_ms() + r->timeout_ms;
    if (path) snprintf(r->describe, sizeof r->describe, "unix:%.300s", path);
    else snprintf(r->describe, sizeof r->describe, "%.255s:%d", host, port);
    r->fd = connect_fd(r, host, port, path, deadline);
    if (r->fd < 0 || (tls && tls_start(r, cfg, host, deadline) < 0)) {
        snprintf(err, errlen, "Redis %s: %s", r->describe, r->err);
        at_redis_close(r);
        return NULL;
    }
    return r;
}

/* AUTH and SELECT on a fresh connection; on failure it is closed and err
 * says why. */
static at_redis *login(at_redis *r, const at_redis_target *t, char *err, size_t errlen)
{
    if (redis_auth(r, t->username, t->password) < 0) {
        snprintf(err, errlen, "Redis %s: %s", r->describe, r->err);
        at_redis_close(r);
        return NULL;
    }
    if (t->db != 0) {
        redisReply *rep = at_redis_commandf(r, "SELECT %d", t->db);
        bool ok = rep && rep->type != REDIS_REPLY_ERROR;
        if (rep) freeReplyObject(rep);
        if (!ok) {
            snprintf(err, errlen, "Redis %s: SELECT %d failed: %s", r->describe, t->db, r->err);
            at_redis_close(r);
            return NULL;
        }
    }
    size_t dl = strlen(r->describe);
    snprintf(r->describe + dl, sizeof r->describe - dl, "/%d", t->db);
    return r;
}

/* Ask sentinel i for the master's address (the sentinel gets AUTH with
 * the password too; one that has none is asked again without). 0, or -1
 * with why in err. */
static int sentinel_ask(const at_config *cfg, size_t i, char *host, size_t hostlen, int *port,
                        char *err, size_t errlen)
{
    const at_redis_target *t = &cfg->redis;
    const at_hostport *sp = &t->sentinels[i];
    char e[640];
    at_redis *s = open_one(cfg, sp->host, sp->port, NULL, false, e, sizeof e);
    if (s && t->password && *t->password) {
        int rc = redis_auth(s, NULL, t->password);
        if (rc == -1) snprintf(e, sizeof e, "%s", at_redis_error(s));
        if (rc < 0) {
            at_redis_close(s);
            s = rc == -2 ? open_one(cfg, sp->host, sp->port, NULL, false, e, sizeof e) : NULL;
        }
    }
    if (!s) {
        snprintf(err, errlen, "%s", e);
        return -1;
    }
    const char *svc = at_sentinel_service(t);
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", svc};
    redisReply *rep = at_redis_command(s, 3, argv, NULL);
    int rc = -1;
    if (!rep) {
        snprintf(err, errlen, "%s", at_redis_error(s));
    } else if (rep->type == REDIS_REPLY_NIL) {
        snprintf(err, errlen, "does not know master \"%.100s\"", svc);
    } else if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "answered: %.200s", rep->str);
    } else {
        long p = 0;
        char *end = NULL;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
            rep->element[0]->type == REDIS_REPLY_STRING && rep->element[1]->type == REDIS_REPLY_STRING &&
            rep->element[0]->len > 0 && rep->element[0]->len < hostlen) {
            errno = 0;
            p = strtol(rep->element[1]->str, &end, 10);
        }
        if (end && !*end && end != rep->element[1]->str && errno == 0 && p >= 1 && p <= 65535) {
            snprintf(host, hostlen, "%s", rep->element[0]->str);
            *port = (int)p;
            rc = 0;
        } else {
            snprintf(err, errlen, "answered something that is not a host and port for \"%.100s\"", svc);
        }
    }
    if (rep) freeReplyObject(rep);
    at_redis_close(s);
    return rc;
}

int at_redis_role(at_redis *r, char *role, size_t n)
{
    redisReply *rep = at_redis_commandf(r, "ROLE");
    if (!rep) return -1;
    int rc = 1;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 && rep->element[0]->type == REDIS_REPLY_STRING) {
        snprintf(role, n, "%s", rep->element[0]->str);
        rc = 0;
    }
    freeReplyObject(rep);
    return rc;
}

/* The server really is a master (ROLE), not a replica a stale sentinel
 * still names. 0 yes; -1 with why in err. A server that refuses ROLE (an
 * ACL) is taken at the sentinel's word. */
static int check_master(at_redis *r, char *err, size_t errlen)
{
    char role[41];
    int rc = at_redis_role(r, role, sizeof role);
    if (rc < 0) {
        snprintf(err, errlen, "Redis %s: %.300s", r->describe, at_redis_error(r));
        return -1;
    }
    r->err[0] = '\0';
    if (rc == 0 && strcmp(role, "master") != 0) {
        snprintf(err, errlen, "%s is not a master (ROLE: %s)", r->describe, role);
        return -1;
    }
    return 0;
}

static void add_note(char *notes, size_t cap, const char *fmt, ...)
{
    size_t l = strlen(notes);
    if (l + 3 >= cap) return;
    if (l) { memcpy(notes + l, "; ", 3); l += 2; }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(notes + l, cap - l, fmt, ap);
    va_end(ap);
}

/* Each sentinel in turn: ask it for the master, connect, log in, check
 * that the server is a master. A sentinel that is down, answers nonsense
 * or names a server that is down or not a master is skipped with a note
 * (at_redis_note); the first master found is used. */
static at_redis *open_via_sentinels(const at_config *cfg, char *err, size_t errlen)
{
    const at_redis_target *t = &cfg->redis;
    char notes[sizeof ((at_redis *)0)->note] = "";
    char last[640] = "no sentinel configured";
    for (size_t i = 0; i < t->n_sentinels; i++) {
        const at_hostport *sp = &t->sentinels[i];
        char host[256], e[640];
        int port = 0;
        if (sentinel_ask(cfg, i, host, sizeof host, &port, e, sizeof e) < 0) {
            snprintf(last, sizeof last, "sentinel %.100s:%d: %.400s", sp->host, sp->port, e);
            add_note(notes, sizeof notes, "%s", last);
            continue;
        }
        at_redis *r = open_one(cfg, host, port, NULL, false, e, sizeof e);
        if (r) r = login(r, t, e, sizeof e);
        if (r && check_master(r, e, sizeof e) < 0) {
            at_redis_close(r);
            r = NULL;
        }
        if (!r) {
            snprintf(last, sizeof last, "sentinel %.100s:%d names %.255s:%d: %.240s", sp->host, sp->port,
                     host, port, e);
            add_note(notes, sizeof notes, "%s", last);
            continue;
        }
        if (notes[0]) snprintf(r->note, sizeof r->note, "skipped %s", notes);
        return r;
    }
    snprintf(err, errlen, "Redis sentinel: no master for \"%.100s\": %s",
             at_sentinel_service(t), notes[0] ? notes : last);
    return NULL;
}

at_redis *at_redis_open(const at_config *cfg, char *err, size_t errlen)
{
    const at_redis_target *t = &cfg->redis;
    if (t->n_sentinels) return open_via_sentinels(cfg, err, errlen);
    at_redis *r;
    if (t->transport == AT_REDIS_UNIX)
        r = open_one(cfg, NULL, 0, t->socket_path, false, err, errlen);
    else
        r = open_one(cfg, t->host ? t->host : "localhost", t->port, NULL, t->transport == AT_REDIS_TLS,
                     err, errlen);
    return r ? login(r, t, err, errlen) : NULL;
}

const char *at_redis_note(const at_redis *r) { return r->note; }
