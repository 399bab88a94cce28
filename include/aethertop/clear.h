/* clear.h — every destructive operation, through one executor: read-only
 * gate, audit line of intent, bounded SCAN + UNLINK batches or server-side
 * compare-and-delete scripts, audit line of outcome. Never KEYS, never one
 * unbounded DEL. */
#ifndef AETHERTOP_CLEAR_H
#define AETHERTOP_CLEAR_H

#include <stdbool.h>
#include <stddef.h>
#include "aethertop/config.h"

struct at_redis;

typedef enum {
    AT_CLEAR_AFFINITY,        /* args: affinity_key endpoint_id model_id api_format [exact key] */
    AT_CLEAR_API_KEYS,        /* args: the API key ids whose affinities go (user / key) */
    AT_CLEAR_ALL,
    AT_CLEAR_PROVIDER,        /* args: provider_id */
    AT_CLEAR_MAPPINGS_ALL,
    AT_CLEAR_MAPPING_NAME,    /* args: model_name */
    AT_CLEAR_PROVIDER_MAPPING /* args: provider_id global_model_id */
} at_clear_kind;

typedef struct {
    at_clear_kind kind;
    const char *const *args;
    size_t n_args;
    const char *label;        /* human description for audit and messages */
} at_clear_request;

typedef enum {
    AT_CLEAR_DONE = 0,
    AT_CLEAR_NOT_FOUND,
    AT_CLEAR_FAILED,
    AT_CLEAR_REFUSED,
    AT_CLEAR_INTERRUPTED      /* at_clear_interrupt(): stopped between batches */
} at_clear_outcome;

typedef struct {
    at_clear_outcome outcome;
    long long deleted;        /* keys actually removed */
    long long examined;       /* keys looked at */
    long long unreadable;     /* records skipped and left in place because the gateway
                                 cannot read their value: AT_CLEAR_API_KEYS those named
                                 after a target key, AT_CLEAR_PROVIDER those whose value
                                 holds the provider id */
    char **deleted_keys;      /* for the mapping clears (reference lists them) */
    size_t n_deleted_keys;
    char error[512];          /* what failed, and what was/was not done */
} at_clear_result;

void at_clear_result_free(at_clear_result *r);

/* Count what a request would delete now (for the confirmation prompt). */
int at_clear_count(struct at_redis *r, const at_clear_request *req, long long *n,
                   char *err, size_t errlen);

/* The one executor: refuses when cfg->read_only or against a replica;
 * appends an audit line of intent ("started") and refuses if it cannot;
 * runs the request; appends the outcome line before returning. */
at_clear_outcome at_clear_execute(struct at_redis *r, const at_config *cfg,
                                  const at_clear_request *req, at_clear_result *res);

/* Ask a running clear to stop before its next batch (async-signal-safe:
 * for a SIGINT handler). The executor resets it when a clear starts. */
void at_clear_interrupt(void);

#endif
