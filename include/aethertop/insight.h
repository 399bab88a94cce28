/* insight.h — beyond the admin page: prompt-cache effectiveness from the
 * gateway's `usage` table (does caching actually work, and for whom) and the
 * gateway's TTL advice (intervals between a user's requests → affinity TTL). */
#ifndef AETHERTOP_INSIGHT_H
#define AETHERTOP_INSIGHT_H

#include <stddef.h>

struct at_pg;

typedef struct {
    char *id;                    /* provider id / model name / user id ("" = none) */
    char *label;                 /* provider name / model / username */
    long long requests, cached_requests;
    long long input_tokens, cache_read_tokens, cache_creation_tokens;
    double cache_read_cost_usd;
    double token_hit_rate;       /* cache_read / (input + cache_read); -1 when no tokens */
    double savings_usd;          /* cache_read_cost × 9, as the gateway estimates */
} at_hits_row;

typedef struct {
    long window_s;
    at_hits_row total;
    at_hits_row *by_provider; size_t n_by_provider;
    at_hits_row *by_model; size_t n_by_model;
    at_hits_row *by_user; size_t n_by_user;
    double query_ms;
} at_hits_report;

/* One indexed range scan of `usage` (created_at >= now() - window), grouped
 * by provider, model and user at once. Returns 0 or -1 (reason in err). */
int at_hits_build(struct at_pg *pg, long window_s, at_hits_report *out, char *err, size_t errlen);
void at_hits_free(at_hits_report *r);
/* Parse "5m", "1h", "24h", "90s", "2d" into seconds; -1 when malformed. */
long at_parse_window(const char *text);

typedef struct {
    char *user_id, *username;
    long long requests;
    double p50_min, p75_min, p90_min;   /* intervals between consecutive requests, minutes */
    int recommended_ttl_min;            /* 5, 15, 30 or 60 */
} at_ttl_user;

typedef struct {
    double hours;
    at_ttl_user *users; size_t n_users;
    long long bucket_users[4];          /* users recommended 5, 15, 30, 60 minutes */
    double query_ms;
} at_ttl_advice;

/* p90 <= 5 min -> 5; p75 <= 15 -> 15; p75 <= 30 -> 30; else 60. */
int at_ttl_recommend(double p75_min, double p90_min);
int at_ttl_advice_build(struct at_pg *pg, double hours, at_ttl_advice *out, char *err, size_t errlen);
void at_ttl_advice_free(at_ttl_advice *a);

#endif
