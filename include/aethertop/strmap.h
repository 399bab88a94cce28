/* strmap.h — open-addressing hash map from strings to int32 values; also the
 * interning table (a string maps to its one stored copy). Keys are not copied:
 * they must outlive the map (arena strings do). */
#ifndef AETHERTOP_STRMAP_H
#define AETHERTOP_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char **keys;
    uint32_t *hashes;
    int32_t *values;
    size_t cap, n;
} at_strmap;

void at_strmap_init(at_strmap *m);
void at_strmap_free(at_strmap *m);
uint32_t at_strhash(const char *s, size_t len);
/* Value for key or -1. */
int32_t at_strmap_get(const at_strmap *m, const char *key);
/* Insert or overwrite. */
void at_strmap_put(at_strmap *m, const char *key, int32_t value);
/* Stored key equal to (s,len), or NULL. */
const char *at_strmap_find(const at_strmap *m, const char *s, size_t len, int32_t *value);

/* Pointer-keyed map (for interned strings: one pointer per distinct text). */
typedef struct {
    const void **keys;
    int32_t *values;
    size_t cap, n;
} at_ptrmap;
void at_ptrmap_init(at_ptrmap *m);
void at_ptrmap_free(at_ptrmap *m);
int32_t at_ptrmap_get(const at_ptrmap *m, const void *key);   /* -1 when absent */
void at_ptrmap_put(at_ptrmap *m, const void *key, int32_t value);

/* Intern table: one copy of every distinct string, in an arena. */
typedef struct {
    at_strmap map;
    struct at_arena *arena;
} at_interner;
void at_interner_init(at_interner *in, struct at_arena *arena);
void at_interner_free(at_interner *in);
const char *at_intern(at_interner *in, const char *s, size_t len);

#endif
