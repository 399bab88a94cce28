/* text.h — UTF-8 helpers: validation, code points, display width, case-folded
 * substring search, and making outside text harmless for a terminal or JSON. */
#ifndef AETHERTOP_TEXT_H
#define AETHERTOP_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool at_utf8_valid(const char *s, size_t len);
/* Decode one code point at s (len bytes left); returns bytes used (>=1);
 * invalid sequences decode as U+FFFD using 1 byte. */
size_t at_utf8_decode(const char *s, size_t len, uint32_t *cp);
size_t at_utf8_encode(uint32_t cp, char out[4]);
/* True for C0, DEL, C1, the bidi marks (ALM, LRM, RLM) and the bidi
 * embedding, override and isolate controls. */
bool at_cp_is_unsafe(uint32_t cp);
/* Lower-case copy as Python's str.lower() makes it (towlower, plus U+0130
 * to "i" + U+0307 and the final sigma), malloc'd. */
char *at_utf8_lower(const char *s);
/* needle_lower in hay.lower(): needle_lower must already be lowered. */
bool at_utf8_icontains(const char *hay, const char *needle_lower);
/* Copy for a terminal: unsafe code points and invalid bytes become visible
 * placeholders (U+FFFD or "\xNN"-free glyphs). malloc'd. */
char *at_text_sanitize(const char *s);
/* at_text_sanitize, cut after max_cps code points (never inside one) with
 * "…": outside text that is not secret (a name) as a message quotes it.
 * malloc'd (aborts when out of memory). */
char *at_text_shown(const char *s, size_t max_cps);
/* printf to stderr through at_text_sanitize: whatever the arguments hold,
 * the terminal gets visible symbols, never a control character, bidi
 * control or invalid byte; a final newline of the message is kept. Values
 * that may hold a secret are passed through at_value_shown (config.h). */
void at_eprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Make JSON text printed by cJSON safe: escape DEL, C1, bidi controls as
 * \uXXXX and replace invalid UTF-8 by \ufffd. malloc'd. */
char *at_json_harden(const char *json);
/* Python repr() of a float ("300.0", "0.1", "1e+16"). */
void at_format_pyfloat(double v, char *out, size_t outlen);
/* A JSON number of unknown form as Python would most likely print what it
 * read: a whole number below 2^53 as an integer, anything else as repr(). */
void at_format_json_number(double v, char *out, size_t outlen);

#endif
