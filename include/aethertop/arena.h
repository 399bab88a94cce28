/* arena.h — bump allocation for one snapshot's strings and rows, plus
 * string interning so each distinct id is stored once. */
#ifndef AETHERTOP_ARENA_H
#define AETHERTOP_ARENA_H

#include <stddef.h>

typedef struct at_arena at_arena;

at_arena *at_arena_new(void);
void at_arena_free(at_arena *a);
void *at_arena_alloc(at_arena *a, size_t n);     /* 8-byte aligned, zeroed */
char *at_arena_strndup(at_arena *a, const char *s, size_t n);
char *at_arena_strdup(at_arena *a, const char *s); /* NULL -> NULL */
size_t at_arena_bytes(const at_arena *a);

#endif
