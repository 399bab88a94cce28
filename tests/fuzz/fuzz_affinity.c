/* fuzz_affinity.c — libFuzzer target for one cache-affinity record:
 * at_affinity_parse(key, value) the way the walk hands records over, and the
 * two functions that make such text harmless for the terminal and for JSON
 * (at_text_sanitize, at_json_harden). Input: "KEY\nVALUE" (no '\n': the key
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
