/* mapping.h — the model-mapping cache view (SPEC section 3; reference
 * AdminModelMappingCacheStatsAdapter), inspecting every key, not the first 100. */
#ifndef AETHERTOP_MAPPING_H
#define AETHERTOP_MAPPING_H

#include <stddef.h>

struct at_redis;
struct at_pg;

typedef struct {
    char *mapping_name, *global_model_name, *global_model_display_name;
    char **providers; size_t n_providers;
    long long ttl;               /* -1 = none (JSON null) */
} at_name_mapping;

typedef struct {
    char *provider_id, *provider_name, *global_model_id, *global_model_name,
         *global_model_display_name, *provider_model_name;
    char **aliases; size_t n_aliases;
    long long ttl;               /* -1 = none */
    long long hit_count;
} at_provider_mapping;

typedef struct {
    char *mapping_name;
    const char *status;          /* "not_found" | "invalid" | "error" */
    long long ttl;               /* -1 = none */
} at_unmapped;

typedef struct {
    long long model_by_id, model_by_provider_global, global_model_by_id,
              global_model_by_name, global_model_resolve, total_keys;
    at_name_mapping *mappings; size_t n_mappings;
    at_provider_mapping *provider_mappings; size_t n_provider_mappings;
    at_unmapped *unmapped; size_t n_unmapped;
    char warning[256];           /* e.g. PostgreSQL unavailable */
} at_mapping_stats;

/* pg may be NULL (provider names then unknown). Returns 0 or -1. */
int at_mapping_stats_build(struct at_redis *r, struct at_pg *pg, at_mapping_stats *out,
                           char *err, size_t errlen);
void at_mapping_stats_free(at_mapping_stats *m);

#define AT_MODEL_CACHE_TTL 300

#endif
