/* fuzz_mapping.c — libFuzzer target for the model-mapping cache values, one
 * value at a time through the pure rules at_mapping_stats_build uses:
 * at_mapping_classify_resolve (global_model:resolve:{name}),
 * at_mapping_parse_provider_value (model:provider_global:{p}:{g}) and
 * at_mapping_parse_hits (the hit counter). Input: "NAME\nVALUE" (no '\n':
 * the whole input is the value and the name is empty). */
#include "aethertop/mapping.h"
#include "aethertop/text.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *name, *val;
    size_t nlen, vlen;
    fz_split(data, size, &name, &nlen, &val, &vlen);
    if (!val) {
        val = name;
        vlen = nlen;
        name = fz_dup((const uint8_t *)"", 0);
    }

    at_resolve_value rv;
    at_resolve_kind k = at_mapping_classify_resolve(name, val, vlen, &rv);
    FZ_CHECK(k >= AT_RESOLVE_NOT_FOUND && k <= AT_RESOLVE_MAPPING);
    if (k == AT_RESOLVE_MAPPING) {
        /* a mapping resolves to another name (or to no name at all) */
        FZ_CHECK(!rv.global_model_name || strcmp(rv.global_model_name, name) != 0);
        FZ_CHECK(at_utf8_valid(val, vlen));
        at_resolve_value_free(&rv);
    } else {
        FZ_CHECK(!rv.global_model_id && !rv.global_model_name && !rv.global_model_display_name);
    }
    if (k == AT_RESOLVE_INVALID || k == AT_RESOLVE_SAME_NAME) FZ_CHECK(at_utf8_valid(val, vlen));

    at_provider_value pv;
    if (at_mapping_parse_provider_value(val, vlen, &pv)) {
        FZ_CHECK(pv.provider_model_name && *pv.provider_model_name);
        for (size_t i = 0; i < pv.n_aliases; i++) FZ_CHECK(pv.aliases[i] && *pv.aliases[i]);
        at_provider_value_free(&pv);
    } else {
        FZ_CHECK(!pv.provider_model_name && !pv.aliases && pv.n_aliases == 0);
    }

    long long hits;
    bool ok = at_mapping_parse_hits(val, vlen, &hits);
    if (vlen == 0) FZ_CHECK(ok && hits == 0);
    FZ_CHECK(at_mapping_parse_hits(NULL, 0, &hits) && hits == 0);

    free(name);
    free(val);
    return 0;
}
