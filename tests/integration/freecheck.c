/* freecheck.c — owns a test-only LD_PRELOAD library for test_secrets.py:
 * reports every heap block given back to malloc (free, or left behind by a
 * realloc that moved) while it still holds one of the byte strings named in
 * FREECHECK_NEEDLES (hex, comma-separated), and, at exit, any of them still
 * in the program's own static memory (its writable segments: .data, .bss).
 * One line per finding goes to the file FREECHECK_REPORT. For a build
 * without sanitizers (ASan has its own allocator). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void __libc_free(void *p);
extern void *__libc_realloc(void *p, size_t n);

#define MAX_NEEDLES 8
#define MAX_NEEDLE 64

static unsigned char needles[MAX_NEEDLES][MAX_NEEDLE];
static size_t needle_len[MAX_NEEDLES];
static int n_needles;
static int report_fd = -1;

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

__attribute__((constructor)) static void freecheck_setup(void)
{
    const char *spec = getenv("FREECHECK_NEEDLES"), *path = getenv("FREECHECK_REPORT");
    if (!spec || !path) return;
    int n = 0;
    for (const char *p = spec; *p && n < MAX_NEEDLES;) {
        size_t len = 0;
        while (hexval(p[0]) >= 0 && hexval(p[1]) >= 0 && len < MAX_NEEDLE) {
            needles[n][len++] = (unsigned char)(hexval(p[0]) * 16 + hexval(p[1]));
            p += 2;
        }
        if (len) needle_len[n++] = len;
        while (*p && *p != ',') p++;
        if (*p == ',') p++;
    }
    report_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (report_fd >= 0) n_needles = n;
}

/* Index of the first needle found in [p, p + n), or -1. */
static int find(const void *p, size_t n)
{
    for (int i = 0; i < n_needles; i++)
        if (memmem(p, n, needles[i], needle_len[i])) return i;
    return -1;
}

static void report(const char *what, int needle, size_t size, const void *caller)
{
    Dl_info info;
    const char *obj = "?";
    uintptr_t off = 0;
    if (caller && dladdr(caller, &info) && info.dli_fname) {
        obj = info.dli_fname;
        off = (uintptr_t)caller - (uintptr_t)info.dli_fbase;
    }
    char line[512];
    int len = snprintf(line, sizeof line, "%s: needle %d in a block of %zu bytes, called from %s+0x%zx\n", what,
                       needle, size, obj, (size_t)off);
    if (len > 0) (void)!write(report_fd, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
}

void free(void *p)
{
    if (p && n_needles > 0) {
        size_t size = malloc_usable_size(p);
        int i = find(p, size);
        if (i >= 0) report("freed", i, size, __builtin_return_address(0));
    }
    __libc_free(p);
}

void *realloc(void *p, size_t n)
{
    int i = -1;
    size_t size = 0;
    if (p && n_needles > 0) {
        size = malloc_usable_size(p);
        i = find(p, size);
    }
    void *r = __libc_realloc(p, n);
    if (i >= 0 && r != p) report("moved by realloc", i, size, __builtin_return_address(0));
    return r;
}

static int scan_program(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    for (int k = 0; k < info->dlpi_phnum; k++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[k];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W)) continue;
        const void *start = (const void *)(info->dlpi_addr + ph->p_vaddr);
        int i = find(start, ph->p_memsz);
        if (i >= 0) report("in static memory at exit", i, ph->p_memsz, NULL);
    }
    return 1; /* the program itself comes first: stop there */
}

__attribute__((destructor)) static void freecheck_finish(void)
{
    if (n_needles > 0) dl_iterate_phdr(scan_program, NULL);
}
