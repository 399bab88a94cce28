/* refresh.h — how often to refresh so aethertop never becomes the load on the
 * production Redis: the interval stretches by itself as the key space grows,
 * keeping aethertop's own commands under a fixed share of Redis's time. */
#ifndef AETHERTOP_REFRESH_H
#define AETHERTOP_REFRESH_H

#include <stddef.h>

/* Share of Redis's time a refresh may use, in steady state. */
#define AT_REFRESH_BUDGET 0.08

typedef struct {
    double requested_s;   /* what the engineer asked for (--delay, +/-) */
    double interval_s;    /* what we will actually wait */
    double last_walk_s;   /* how long the last Redis walk took */
    size_t last_rows;
} at_refresh_pacer;

void at_refresh_pacer_init(at_refresh_pacer *p, double requested_s);
void at_refresh_pacer_request(at_refresh_pacer *p, double requested_s);
/* Record a finished refresh: walk_s = time spent walking Redis. */
void at_refresh_pacer_done(at_refresh_pacer *p, double walk_s, size_t rows);
double at_refresh_pacer_interval(const at_refresh_pacer *p);
/* Pause between SCAN batches (spreads a big walk out; 0 for small spaces). */
unsigned at_refresh_pacer_pause_us(const at_refresh_pacer *p);
/* True when the interval was stretched beyond the request. */
int at_refresh_pacer_stretched(const at_refresh_pacer *p);

#endif
