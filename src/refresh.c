/* refresh.c — the refresh pacer: interval = max(requested, walk / budget), so
 * the time Redis spends serving aethertop stays under AT_REFRESH_BUDGET of its
 * wall time whatever the key count; big walks are also spread out. */
#include "aethertop/refresh.h"

void at_refresh_pacer_init(at_refresh_pacer *p, double requested_s)
{
    p->requested_s = requested_s > 0 ? requested_s : 2.0;
    p->interval_s = p->requested_s;
    p->last_walk_s = 0;
    p->last_rows = 0;
}

static void recompute(at_refresh_pacer *p)
{
    /* the walk time is an upper bound of Redis's busy time for it */
    double needed = p->last_walk_s / AT_REFRESH_BUDGET;
    p->interval_s = needed > p->requested_s ? needed : p->requested_s;
}

void at_refresh_pacer_request(at_refresh_pacer *p, double requested_s)
{
    if (requested_s > 0) p->requested_s = requested_s;
    recompute(p);
}

void at_refresh_pacer_done(at_refresh_pacer *p, double walk_s, size_t rows)
{
    p->last_walk_s = walk_s;
    p->last_rows = rows;
    recompute(p);
}

double at_refresh_pacer_interval(const at_refresh_pacer *p)
{
    return p->interval_s;
}

unsigned at_refresh_pacer_pause_us(const at_refresh_pacer *p)
{
    /* beyond 200k keys, breathe 1 ms between batches so other clients of
     * Redis are served between our SCAN/MGET batches */
    return p->last_rows > 200000 ? 1000u : 0u;
}

int at_refresh_pacer_stretched(const at_refresh_pacer *p)
{
    return p->interval_s > p->requested_s + 1e-9;
}
