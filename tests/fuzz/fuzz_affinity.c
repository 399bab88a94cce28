/* fuzz_affinity.c — libFuzzer target for one cache-affinity record:
 * at_affinity_parse(key, value) the way the walk hands records over, and the
 * two functions that make such text harmless for the terminal and for JSON
 * (at_text_sanitize, at_json_harden); the fast reader and the general one
 * must read every input the same. Input: "KEY\nVALUE" (no '\n': the key
 * vanished between SCAN and MGET, value NULL). */
#include "aethertop/affinity.h"
#include "aethertop/arena.h"
#include "aethertop/strmap.h"
#include "aethertop/text.h"

#include <math.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *key, *val;
    size_t klen, vlen;
    fz_split(data, size, &key, &klen, &val, &vlen);

    at_arena *arena = at_arena_new();
    at_interner in;
    at_interner_init(&in, arena);
    at_affinity row;
    at_record_status st = at_affinity_parse(&in, key, klen, val, vlen, &row);
    FZ_CHECK(st < AT_REC__COUNT);
    FZ_CHECK(at_record_status_id(st) != NULL && at_record_status_name(st) != NULL);
    if (!val) FZ_CHECK(st == AT_REC_GONE);
    if (st == AT_REC_OK) {
        /* a readable record always has its affinity key; every string is UTF-8 */
        FZ_CHECK(row.affinity_key && *row.affinity_key);
        const char *s[] = {row.affinity_key, row.api_format, row.model_name, row.provider_id,
                           row.endpoint_id, row.key_id};
        for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
            if (s[i]) FZ_CHECK(at_utf8_valid(s[i], strlen(s[i])));
        FZ_CHECK(!isinf(row.created_at) && !isinf(row.expire_at));
        FZ_CHECK(row.request_count <= 999999999999999LL && row.request_count >= -999999999999999LL);
    }
    at_affinity general;
    FZ_CHECK(at_affinity_parse_general(&in, key, klen, val, vlen, &general) == st);
    if (st == AT_REC_OK) {
        const char *a[] = {row.affinity_key, row.api_format, row.model_name, row.provider_id,
                           row.endpoint_id, row.key_id};
        const char *b[] = {general.affinity_key, general.api_format, general.model_name,
                           general.provider_id, general.endpoint_id, general.key_id};
        for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
            FZ_CHECK((!a[i] && !b[i]) || (a[i] && b[i] && strcmp(a[i], b[i]) == 0));
        FZ_CHECK((isnan(row.created_at) && isnan(general.created_at)) || row.created_at == general.created_at);
        FZ_CHECK((isnan(row.expire_at) && isnan(general.expire_at)) || row.expire_at == general.expire_at);
        FZ_CHECK(row.request_count == general.request_count);
        FZ_CHECK((!row.odd && !general.odd) || (row.odd && general.odd && strcmp(row.odd, general.odd) == 0));
    }
    at_interner_free(&in);
    at_arena_free(arena);

    /* the same bytes as text shown on a terminal: no control survives */
    char *safe = at_text_sanitize(key);
    FZ_CHECK(safe != NULL);
    FZ_CHECK(fz_no_controls(safe, strlen(safe)));
    FZ_CHECK(at_utf8_valid(safe, strlen(safe)));
    free(safe);
    if (val) {
        char *hard = at_json_harden(val);
        FZ_CHECK(hard != NULL);
        FZ_CHECK(at_utf8_valid(hard, strlen(hard)));
        free(hard);
    }
    free(key);
    free(val);
    return 0;
}
