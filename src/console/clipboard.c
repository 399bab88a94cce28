/* clipboard.c — copying text to the clipboard of the engineer's own
 * machine with OSC 52 (works over SSH). The sequence is written straight to
 * the terminal, not through ncurses; inside tmux it is sent both plainly (for
 * `set-clipboard on`) and wrapped in tmux's DCS passthrough (for
 * `allow-passthrough on`), inside GNU screen wrapped in its DCS. */
#include "con.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLIP_MAX 8192

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int con_clipboard_copy(const char *text, char *err, size_t errlen)
{
    size_t n = strlen(text);
    if (n > CLIP_MAX) {
        snprintf(err, errlen, "too long for the clipboard (%zu bytes)", n);
        return -1;
    }
    size_t b64len = 4 * ((n + 2) / 3) + 1;
    unsigned char *b64 = malloc(b64len);
    if (!b64) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    EVP_EncodeBlock(b64, (const unsigned char *)text, (int)n);
    size_t seqlen = b64len + 64;
    char *seq = malloc(seqlen * 2 + 64);
    if (!seq) {
        free(b64);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    const char *tmux = getenv("TMUX");
    const char *term = getenv("TERM");
    int len = snprintf(seq, seqlen, "\033]52;c;%s\007", (const char *)b64);
    if (tmux && *tmux) {
        rc |= write_all(STDOUT_FILENO, seq, (size_t)len);
        len = snprintf(seq, seqlen * 2 + 64, "\033Ptmux;\033\033]52;c;%s\007\033\\", (const char *)b64);
        rc |= write_all(STDOUT_FILENO, seq, (size_t)len);
    } else if (term && strncmp(term, "screen", 6) == 0) {
        len = snprintf(seq, seqlen * 2 + 64, "\033P\033]52;c;%s\007\033\\", (const char *)b64);
        rc |= write_all(STDOUT_FILENO, seq, (size_t)len);
    } else {
        rc |= write_all(STDOUT_FILENO, seq, (size_t)len);
    }
    free(seq);
    free(b64);
    if (rc < 0) snprintf(err, errlen, "writing to the terminal failed: %s", strerror(errno));
    return rc < 0 ? -1 : 0;
}
