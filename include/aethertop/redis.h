/* redis.h — one connection to the gateway's Redis: our own transport (TCP,
 * unix socket, TLS) carrying hiredis's command formatter and reply reader,
 * with every wait bounded by the configured timeout. */
#ifndef AETHERTOP_REDIS_H
#define AETHERTOP_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <hiredis/hiredis.h>
#include "aethertop/config.h"

typedef struct at_redis at_redis;

/* Connect (asking sentinels for the master when configured: each in turn
 * until one names a server that answers ROLE as a master), AUTH, SELECT.
 * NULL with a one-line reason in err. */
at_redis *at_redis_open(const at_config *cfg, char *err, size_t errlen);
/* What was skipped on the way (sentinels down, answering nonsense, naming
 * a replica): one line, "" if nothing. */
const char *at_redis_note(const at_redis *r);
/* ROLE's first word ("master", "slave", "sentinel") into role: 0; -1 no
 * reply (the connection failed); 1 a reply without one (an ACL error). */
int at_redis_role(at_redis *r, char *role, size_t n);
void at_redis_close(at_redis *r);

/* Queue a command (pipelining); nothing is sent until a reply is read. */
int at_redis_append(at_redis *r, int argc, const char **argv, const size_t *argvlen);
/* Send what is queued without waiting for replies. 0 or -1. */
int at_redis_flush(at_redis *r);
/* Flush what is queued and read the next reply (bounded by the timeout).
 * Returns NULL on failure (see at_redis_error); the caller frees the reply. */
redisReply *at_redis_read(at_redis *r);
/* append + read. */
redisReply *at_redis_command(at_redis *r, int argc, const char **argv, const size_t *argvlen);
/* printf-style convenience for fixed commands (hiredis format rules). */
redisReply *at_redis_commandf(at_redis *r, const char *fmt, ...);

/* The error of the last reply read, or of the transport ("" if none). */
const char *at_redis_error(const at_redis *r);
/* True once the connection failed; the handle must then be reopened. */
bool at_redis_broken(const at_redis *r);
/* The caller leaves replies unread (it gave up part-way through a
 * pipeline): mark the connection broken so it is reopened rather than read
 * out of step. The error already recorded stays; why is used if there is
 * none. */
void at_redis_abandon(at_redis *r, const char *why);
/* "host:port/db" of the server actually connected to. */
const char *at_redis_describe(const at_redis *r);
/* Round-trip count (for the load figures). */
unsigned long long at_redis_round_trips(const at_redis *r);

#endif
