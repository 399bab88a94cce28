/* floor.c — the least work of reading every affinity: SCAN MATCH
 * cache_affinity:* COUNT 1000 with one MGET per batch, values counted and
 * nothing parsed. Plain hiredis, blocking. The benchmark's yardstick. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 6379;
    int db = argc > 3 ? atoi(argv[3]) : 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    redisContext *c = redisConnect(host, port);
    if (!c || c->err) { fprintf(stderr, "floor: cannot connect\n"); return 3; }
    redisReply *r = redisCommand(c, "SELECT %d", db);
    freeReplyObject(r);
    char cursor[32] = "0";
    long long keys = 0, values = 0, bytes = 0;
    const char **argvv = NULL;
    size_t *lens = NULL, cap = 0;
    do {
        r = redisCommand(c, "SCAN %s MATCH cache_affinity:* COUNT 1000", cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY) { fprintf(stderr, "floor: SCAN failed\n"); return 3; }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *k = r->element[1];
        if (k->elements) {
            if (k->elements + 1 > cap) {
                cap = k->elements + 1;
                argvv = realloc(argvv, cap * sizeof *argvv);
                lens = realloc(lens, cap * sizeof *lens);
            }
            argvv[0] = "MGET";
            lens[0] = 4;
            for (size_t i = 0; i < k->elements; i++) {
                argvv[i + 1] = k->element[i]->str;
                lens[i + 1] = k->element[i]->len;
            }
            redisReply *m = redisCommandArgv(c, (int)k->elements + 1, argvv, lens);
            for (size_t i = 0; m && i < m->elements; i++)
                if (m->element[i]->type == REDIS_REPLY_STRING) { values++; bytes += (long long)m->element[i]->len; }
            keys += (long long)k->elements;
            freeReplyObject(m);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("keys %lld values %lld bytes %lld ms %.1f\n", keys, values, bytes, ms);
    redisFree(c);
    free(argvv);
    free(lens);
    return 0;
}
