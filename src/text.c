/* text.c — owns UTF-8 handling for aethertop: strict validation, code point
 * decode/encode, case-insensitive search, terminal sanitising, JSON hardening
 * and Python-compatible float formatting (repr()). */
#include "aethertop/text.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

/* ---------------------------------------------------------------- decoding */

/* Strict decoder: returns the number of bytes of one well-formed UTF-8
 * sequence at s, storing the code point, or 0 when the bytes at s do not
 * start a well-formed sequence (overlong, surrogate, > U+10FFFF, truncated,
 * stray continuation byte). len must be >= 1. */
static size_t decode_strict(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t need;
    uint32_t v, min;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
        v = b0 & 0x1Fu;
        min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        v = b0 & 0x0Fu;
        min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        v = b0 & 0x07u;
        min = 0x10000;
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
    }
    if (len < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return need;
}

bool at_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    if (!s)
        return len == 0;
    while (i < len) {
        /* fast path: runs of ASCII, eight bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        while (i < len && p[i] < 0x80)
            i++;
        if (i >= len)
            break;
        uint32_t cp;
        size_t n = decode_strict(p + i, len - i, &cp);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

size_t at_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    if (!s || len == 0) {
        *cp = 0;
        return 0;
    }
    size_t n = decode_strict((const unsigned char *)s, len, cp);
    if (n == 0) {
        *cp = 0xFFFD;
        return 1;
    }
    return n;
}

size_t at_utf8_encode(uint32_t cp, char out[4])
{
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool at_cp_is_unsafe(uint32_t cp)
{
    if (cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F))
        return true;
    if (cp == 0x061C || cp == 0x200E || cp == 0x200F) /* ALM, LRM, RLM */
        return true;
    if (cp >= 0x202A && cp <= 0x202E)
        return true;
    if (cp >= 0x2066 && cp <= 0x2069)
        return true;
    return false;
}

/* ---------------------------------------------------------------- lowering */

static pthread_once_t utf8_locale_once = PTHREAD_ONCE_INIT;
static locale_t utf8_locale = (locale_t)0;

static void utf8_locale_init(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (utf8_locale == (locale_t)0)
        utf8_locale = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", (locale_t)0);
}

/* Lower one code point independently of the process locale. Without a
 * UTF-8 locale object only ASCII is lowered. */
static uint32_t cp_lower(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    pthread_once(&utf8_locale_once, utf8_locale_init);
    if (utf8_locale == (locale_t)0)
        return cp;
    wint_t r = towlower_l((wint_t)cp, utf8_locale);
    if ((uint32_t)r > 0x10FFFF || ((uint32_t)r >= 0xD800 && (uint32_t)r <= 0xDFFF))
        return cp;
    return (uint32_t)r;
}

/* Python's str.lower() lowers U+03A3 (capital sigma) to the final form
 * U+03C2 when it ends a word: a cased letter before it and none after it,
 * looking through case-ignorable characters both ways. These two are
 * approximations of Unicode's Cased and Case_Ignorable from what the C
 * library knows, plus the marks, modifiers and word-internal punctuation
 * (apostrophes, periods, colons) that Greek text meets. */
static bool cp_cased(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z');
    pthread_once(&utf8_locale_once, utf8_locale_init);
    if (utf8_locale == (locale_t)0)
        return false;
    return iswupper_l((wint_t)cp, utf8_locale) || iswlower_l((wint_t)cp, utf8_locale) ||
           towlower_l((wint_t)cp, utf8_locale) != (wint_t)cp || towupper_l((wint_t)cp, utf8_locale) != (wint_t)cp;
}

static bool cp_case_ignorable(uint32_t cp)
{
    static const uint32_t ranges[][2] = {
        {0x27, 0x27}, {0x2E, 0x2E}, {0x3A, 0x3A}, {0x5E, 0x5E}, {0x60, 0x60}, {0xA8, 0xA8},
        {0xAD, 0xAD}, {0xAF, 0xAF}, {0xB4, 0xB4}, {0xB7, 0xB8}, {0x2B0, 0x36F}, {0x374, 0x375},
        {0x37A, 0x37A}, {0x384, 0x385}, {0x387, 0x387}, {0x483, 0x489}, {0x591, 0x5BD},
        {0x1AB0, 0x1AFF}, {0x1D2C, 0x1D6A}, {0x1D78, 0x1D78}, {0x1D9B, 0x1DFF}, {0x1FBD, 0x1FBD},
        {0x1FBF, 0x1FC1}, {0x1FCD, 0x1FCF}, {0x1FDD, 0x1FDF}, {0x1FED, 0x1FEF}, {0x1FFD, 0x1FFE},
        {0x200B, 0x200F}, {0x2018, 0x2019}, {0x2024, 0x2024}, {0x2027, 0x2027}, {0x202A, 0x202E},
        {0x2060, 0x2064}, {0x2066, 0x206F}, {0x2071, 0x2071}, {0x207F, 0x207F}, {0x2090, 0x209C},
        {0x20D0, 0x20F0}, {0x2C7C, 0x2C7D}, {0x2D6F, 0x2D6F}, {0x2DE0, 0x2DFF}, {0x3005, 0x3005},
        {0x302A, 0x302D}, {0x3031, 0x3035}, {0x303B, 0x303B}, {0x3099, 0x309E}, {0x30FC, 0x30FE},
        {0xA670, 0xA67F}, {0xA69C, 0xA69F}, {0xA700, 0xA721}, {0xA788, 0xA78A}, {0xA7F8, 0xA7F9},
        {0xFE00, 0xFE0F}, {0xFE13, 0xFE13}, {0xFE20, 0xFE2F}, {0xFE52, 0xFE52}, {0xFE55, 0xFE55},
        {0xFEFF, 0xFEFF}, {0xFF07, 0xFF07}, {0xFF0E, 0xFF0E}, {0xFF1A, 0xFF1A}, {0xFF3E, 0xFF3E},
        {0xFF40, 0xFF40}, {0xFF70, 0xFF70}, {0xFF9E, 0xFF9F}, {0xFFE3, 0xFFE3}, {0xFFF9, 0xFFFB},
        {0xE0001, 0xE0001}, {0xE0020, 0xE007F}, {0xE0100, 0xE01EF},
    };
    size_t lo = 0, hi = sizeof ranges / sizeof ranges[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < ranges[mid][0]) hi = mid;
        else if (cp > ranges[mid][1]) lo = mid + 1;
        else return true;
    }
    return false;
}

/* The code point before s[i] (0 at the start; an invalid byte is U+FFFD,
 * which is neither cased nor ignorable); *at moves to its first byte. */
static uint32_t prev_cp(const unsigned char *s, size_t len, size_t *at)
{
    if (*at == 0)
        return 0;
    size_t j = *at - 1;
    while (j > 0 && *at - j < 4 && (s[j] & 0xC0) == 0x80)
        j--;
    uint32_t cp;
    size_t n = decode_strict(s + j, len - j, &cp);
    if (n == 0 || j + n != *at) {
        *at -= 1;
        return 0xFFFD;
    }
    *at = j;
    return cp;
}

/* Python's Final_Sigma test for the capital sigma at s[i, i + n). */
static bool final_sigma(const unsigned char *s, size_t len, size_t i, size_t n)
{
    size_t at = i;
    uint32_t cp = 0;
    bool before = false;
    while (at > 0) {
        cp = prev_cp(s, len, &at);
        if (!cp_case_ignorable(cp)) {
            before = cp_cased(cp);
            break;
        }
    }
    if (!before)
        return false;
    for (size_t j = i + n; j < len;) {
        size_t m = decode_strict(s + j, len - j, &cp);
        if (m == 0)
            return true; /* an invalid byte: not cased */
        if (!cp_case_ignorable(cp))
            return !cp_cased(cp);
        j += m;
    }
    return true;
}

/* One lowered unit of s at i, as Python's str.lower() lowers it: the encoded
 * bytes go to out (at most 4: U+0130 lowers to "i" + U+0307, U+03A3 to the
 * final sigma at the end of a word); invalid bytes are passed through
 * unchanged (one byte). Returns bytes consumed from s. */
static size_t lower_unit(const unsigned char *s, size_t len, size_t i, char out[4], size_t *outn)
{
    uint32_t cp;
    size_t n = decode_strict(s + i, len - i, &cp);
    if (n == 0) {
        out[0] = (char)s[i];
        *outn = 1;
        return 1;
    }
    if (cp == 0x130) {
        memcpy(out, "i\xcc\x87", 3); /* i, U+0307 */
        *outn = 3;
        return n;
    }
    if (cp == 0x3A3 && final_sigma(s, len, i, n)) {
        *outn = at_utf8_encode(0x3C2, out);
        return n;
    }
    *outn = at_utf8_encode(cp_lower(cp), out);
    return n;
}

/* s (len bytes) lowered into out, which has room for 2 * len + 1 bytes.
 * Lowering can grow a code point by at most one byte (e.g. U+023A, 2 bytes,
 * lowers to U+2C65, 3 bytes; U+0130, 2 bytes, to "i" + U+0307, 3 bytes).
 * Returns the length written (NUL-terminated). */
static size_t lower_into(const char *s, size_t len, char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < len) {
        size_t bn;
        i += lower_unit(p, len, i, out + o, &bn);
        o += bn;
    }
    out[o] = '\0';
    return o;
}

char *at_utf8_lower(const char *s)
{
    if (!s)
        return NULL;
    size_t len = strlen(s);
    char *out = malloc(len * 2 + 1);
    if (!out)
        return NULL;
    lower_into(s, len, out);
    return out;
}

/* As Python's `needle in hay.lower()`: the whole of hay is lowered (a
 * sigma's form depends on its neighbours, and one code point can lower to
 * two, of which the needle may take either). */
bool at_utf8_icontains(const char *hay, const char *needle_lower)
{
    if (!needle_lower || !*needle_lower)
        return true;
    if (!hay)
        return false;
    size_t hlen = strlen(hay);
    char small[512];
    char *low = hlen * 2 + 1 <= sizeof small ? small : malloc(hlen * 2 + 1);
    if (!low)
        abort();
    size_t n = lower_into(hay, hlen, low);
    bool found = memmem(low, n, needle_lower, strlen(needle_lower)) != NULL;
    if (low != small)
        free(low);
    return found;
}

/* ---------------------------------------------------------------- buffers */

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_cp(sbuf *b, uint32_t cp)
{
    char buf[4];
    sb_put(b, buf, at_utf8_encode(cp, buf));
}

static char *sb_finish(sbuf *b)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    if (!b->p) {
        b->p = malloc(1);
        if (b->p)
            b->p[0] = '\0';
    }
    return b->p;
}

/* ---------------------------------------------------------------- sanitize */

char *at_text_sanitize(const char *s)
{
    if (!s)
        return NULL;
    sbuf b = {0};
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i = 0;
    sb_put(&b, "", 0);
    while (i < len) {
        uint32_t cp;
        size_t n = decode_strict(p + i, len - i, &cp);
        if (n == 0) {
            sb_cp(&b, 0xFFFD);
            i++;
            continue;
        }
        if (at_cp_is_unsafe(cp)) {
            if (cp <= 0x1F)
                sb_cp(&b, 0x2400 + cp);  /* control pictures: ESC -> U+241B */
            else if (cp == 0x7F)
                sb_cp(&b, 0x2421);       /* DEL symbol */
            else
                sb_cp(&b, 0xFFFD);
        } else {
            sb_put(&b, (const char *)p + i, n);
        }
        i += n;
    }
    return sb_finish(&b);
}

char *at_text_shown(const char *s, size_t max_cps)
{
    char *safe = at_text_sanitize(s ? s : "");
    if (!safe)
        abort(); /* out of memory */
    /* cut after max_cps code points (never inside one), marked with an ellipsis */
    size_t len = strlen(safe), i = 0, n = 0;
    while (i < len && n < max_cps) {
        uint32_t cp;
        i += at_utf8_decode(safe + i, len - i, &cp);
        n++;
    }
    if (i < len) {
        char *cut = realloc(safe, i + sizeof "…");
        if (!cut)
            abort();
        memcpy(cut + i, "…", sizeof "…");
        safe = cut;
    }
    return safe;
}

void at_eprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *line = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (line)
        vsnprintf(line, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    /* the message's own line end is kept; any other line break, control
     * character or invalid byte in it is shown as a symbol */
    bool eol = line && n > 0 && line[n - 1] == '\n';
    if (eol)
        line[n - 1] = '\0';
    char *safe = line ? at_text_sanitize(line) : NULL;
    if (safe)
        fprintf(stderr, "%s%s", safe, eol ? "\n" : "");
    else
        fputs("aethertop: out of memory\n", stderr);
    free(safe);
    free(line);
}

/* ---------------------------------------------------------------- JSON */

static bool json_needs_escape(uint32_t cp)
{
    return cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x061C && at_cp_is_unsafe(cp));
}

char *at_json_harden(const char *json)
{
    if (!json)
        return NULL;
    sbuf b = {0};
    const unsigned char *p = (const unsigned char *)json;
    size_t len = strlen(json), i = 0;
    bool in_str = false;
    sb_put(&b, "", 0);
    while (i < len) {
        unsigned char c = p[i];
        if (c < 0x80 && c != 0x7F) {
            if (in_str && c == '\\' && i + 1 < len && p[i + 1] < 0x80) {
                /* An escape pair: copy both so '\"' does not end the string.
                 * (A non-ASCII byte after '\' is handled on the next turn.) */
                sb_put(&b, (const char *)p + i, 2);
                i += 2;
                continue;
            }
            if (c == '"')
                in_str = !in_str;
            sb_put(&b, (const char *)p + i, 1);
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = decode_strict(p + i, len - i, &cp);
        if (n == 0) {
            if (in_str)
                sb_put(&b, "\\ufffd", 6);
            else
                sb_cp(&b, 0xFFFD);
            i++;
            continue;
        }
        if (in_str && json_needs_escape(cp)) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
            sb_put(&b, esc, 6);
        } else {
            sb_put(&b, (const char *)p + i, n);
        }
        i += n;
    }
    return sb_finish(&b);
}

/* ---------------------------------------------------------------- floats */

/* Digits and decimal exponent of v (> 0, finite) printed with `prec` digits
 * after the point in %e form: digits "d.ddd" -> "dddd", exp10 = e. */
static void split_e(const char *e_text, char *digits, size_t dcap, int *exp10)
{
    size_t n = 0;
    const char *q = e_text;
    for (; *q && *q != 'e'; q++) {
        if (*q >= '0' && *q <= '9' && n + 1 < dcap)
            digits[n++] = *q;
    }
    digits[n] = '\0';
    *exp10 = (*q == 'e') ? atoi(q + 1) : 0;
}

/* Add delta (+1/-1) to the last digit of a digit string; returns false when
 * that would change the digit count (carry out / borrow below 1). */
static bool bump_digits(char *d, int delta)
{
    size_t n = strlen(d);
    if (n == 0)
        return false;
    if (delta > 0) {
        size_t i = n;
        while (i > 0) {
            i--;
            if (d[i] != '9') {
                d[i]++;
                return true;
            }
            d[i] = '0';
        }
        return false;
    }
    size_t i = n;
    while (i > 0) {
        i--;
        if (d[i] != '0') {
            d[i]--;
            return d[0] != '0';
        }
        d[i] = '9';
    }
    return false;
}

static double digits_value(const char *d, int exp10)
{
    /* No decimal point, so the result does not depend on LC_NUMERIC. */
    char buf[64];
    snprintf(buf, sizeof buf, "%se%d", d, exp10 - (int)(strlen(d) - 1));
    return strtod(buf, NULL);
}

/* Shortest digit string that reads back as v (v > 0, finite), like
 * Python's repr (David Gay's shortest mode), with its decimal exponent. */
static void shortest_digits(double v, char *digits, size_t dcap, int *exp10)
{
    char buf[64];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec, v);
        split_e(buf, digits, dcap, exp10);
        if (strtod(buf, NULL) == v)
            return;
        /* The nearest (prec+1)-digit decimal missed. Next to a power of two
         * the rounding interval is lopsided, so a neighbour of it may still
         * read back as v (both cannot: the interval is convex). */
        for (int delta = -1; delta <= 1; delta += 2) {
            char alt[32];
            snprintf(alt, sizeof alt, "%s", digits);
            if (bump_digits(alt, delta) && digits_value(alt, *exp10) == v) {
                snprintf(digits, dcap, "%s", alt);
                return;
            }
        }
    }
    snprintf(buf, sizeof buf, "%.16e", v);
    split_e(buf, digits, dcap, exp10);
}

void at_format_pyfloat(double v, char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return;
    if (isnan(v)) {
        snprintf(out, outlen, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(out, outlen, "%s", v < 0 ? "-inf" : "inf");
        return;
    }
    const char *sign = signbit(v) ? "-" : "";
    if (v == 0) {
        snprintf(out, outlen, "%s0.0", sign);
        return;
    }
    char digits[32];
    int e10;
    shortest_digits(fabs(v), digits, sizeof digits, &e10);
    /* strip trailing zeros (keep at least one digit) */
    size_t nd = strlen(digits);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    int decpt = e10 + 1; /* value = 0.DIGITS * 10^decpt */
    char body[64];
    if (decpt <= -4 || decpt > 16) {
        /* exponent form: d[.ddd]e[+-]XX */
        int x = decpt - 1;
        if (nd > 1)
            snprintf(body, sizeof body, "%c.%se%c%02d", digits[0], digits + 1,
                     x < 0 ? '-' : '+', x < 0 ? -x : x);
        else
            snprintf(body, sizeof body, "%ce%c%02d", digits[0], x < 0 ? '-' : '+', x < 0 ? -x : x);
    } else if (decpt <= 0) {
        /* 0.000ddd */
        char zeros[8] = {0};
        for (int k = 0; k < -decpt; k++)
            zeros[k] = '0';
        snprintf(body, sizeof body, "0.%s%s", zeros, digits);
    } else if ((size_t)decpt >= nd) {
        /* integral: digits followed by zeros, then ".0" */
        char zeros[20] = {0};
        for (size_t k = 0; k < (size_t)decpt - nd; k++)
            zeros[k] = '0';
        snprintf(body, sizeof body, "%s%s.0", digits, zeros);
    } else {
        snprintf(body, sizeof body, "%.*s.%s", decpt, digits, digits + decpt);
    }
    snprintf(out, outlen, "%s%s", sign, body);
}

void at_format_json_number(double v, char *out, size_t outlen)
{
    if (isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(out, outlen, "%.0f", v == 0 ? 0.0 : v);
    else
        at_format_pyfloat(v, out, outlen);
}
