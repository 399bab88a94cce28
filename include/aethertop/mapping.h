/* mapping.h — the model-mapping cache view (SPEC section 3; reference
 * AdminModelMappingCacheStatsAdapter), inspecting every key, not the first 100. */
#ifndef AETHERTOP_MAPPING_H
#define AETHERTOP_MAPPING_H

#include <stdbool.h>
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

/* ---- one cached value at a time (pure: no Redis, no PostgreSQL) ----------
 * The per-value rules of the mapping view, used by at_mapping_stats_build
 * (and the fuzz target). Values are Redis bulk strings: vlen bytes, with a
 * NUL at val[vlen]. */

typedef enum {
    AT_RESOLVE_NOT_FOUND,    /* "NOT_FOUND" (negative cache): unmapped, not_found */
    AT_RESOLVE_ERROR,        /* not UTF-8, or JSON that is not an object: unmapped, error */
    AT_RESOLVE_INVALID,      /* not JSON: unmapped, invalid */
    AT_RESOLVE_SAME_NAME,    /* resolves to the GlobalModel of that very name: not a mapping */
    AT_RESOLVE_EMPTY,        /* an empty value: skipped, as the reference's `if cached_value:` */
    AT_RESOLVE_MAPPING       /* a name mapping; the fields below are filled */
} at_resolve_kind;

typedef struct {
    char *global_model_id, *global_model_name, *global_model_display_name; /* malloc'd or NULL */
} at_resolve_value;

/* Classify the value of global_model:resolve:{name}. out is filled (and must
 * be released with at_resolve_value_free) only for AT_RESOLVE_MAPPING. */
at_resolve_kind at_mapping_classify_resolve(const char *name, const char *val, size_t vlen,
                                            at_resolve_value *out);
void at_resolve_value_free(at_resolve_value *v);

typedef struct {
    char *provider_model_name;   /* malloc'd, non-empty */
    char **aliases;              /* names of provider_model_mappings (non-empty strings) */
    size_t n_aliases;
} at_provider_value;

/* The value of model:provider_global:{provider}:{global_model}. false: the
 * entry is skipped (not UTF-8, not a JSON object, no provider_model_name). */
bool at_mapping_parse_provider_value(const char *val, size_t vlen, at_provider_value *out);
void at_provider_value_free(at_provider_value *v);

/* The hit counter model:provider_global:hits:{...} the way the reference's
 * int() reads it: val NULL (no key) or "" is 0; false when it is not an
 * integer (the reference then skips the entry). */
bool at_mapping_parse_hits(const char *val, size_t vlen, long long *out);

#endif
