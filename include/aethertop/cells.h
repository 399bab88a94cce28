/* cells.h — laying text out in terminal cells: display width of UTF-8 text
 * (wide CJK = 2, combining = 0) and fitting it to a column, after making it
 * safe (control characters become visible placeholders). */
#ifndef AETHERTOP_CELLS_H
#define AETHERTOP_CELLS_H

#include <stddef.h>

/* Display width of already-safe UTF-8 text. */
int at_cells_width(const char *s);
/* Sanitize s (NULL shows as "-"), then cut to at most `width` cells (ending
 * in "…" when cut) and pad with spaces to exactly `width` (right-aligned
 * when align_right). Writes into out (outlen bytes). Returns out. */
char *at_cells_fit(const char *s, int width, int align_right, char *out, size_t outlen);

#endif
