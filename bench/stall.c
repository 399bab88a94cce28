/* stall.c — what this machine alone makes a program wait, with no Redis and
 * no aethertop in it: for SECONDS, half the time a loop that only reads the
 * clock (the longest gap between two reads: the CPU taken away), half the
 * time first touches of fresh pages (map 64 MiB, write one byte per page,
 * unmap; the longest single touch: a page fault the kernel or the
 * hypervisor is slow to serve). bench/run runs it on Redis's core, next to
 * the clears' PING waits, so that a wait can be set beside what the machine
 * does on its own. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    char *end = NULL;
    double seconds = argc > 1 ? strtod(argv[1], &end) : 10;
    if (argc > 2 || (end && (end == argv[1] || *end)) || !isfinite(seconds) || seconds <= 0 || seconds > 3600) {
        fprintf(stderr, "stall: expected SECONDS, a number from 0 to 3600, got '%s'\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    double half = seconds * 500.0;

    double start = now_ms(), prev = start, spin_max = 0;
    long spin_over5 = 0;
    for (double t = start; t - start < half; prev = t) {
        t = now_ms();
        if (t - prev > spin_max) spin_max = t - prev;
        if (t - prev > 5) spin_over5++;
    }

    const size_t size = (size_t)64 << 20, page = (size_t)sysconf(_SC_PAGESIZE);
    double touch_max = 0;
    long touches = 0, touch_over5 = 0;
    start = now_ms();
    while (now_ms() - start < half) {
        volatile char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { perror("stall: mmap"); return 3; }
        madvise((void *)p, size, MADV_NOHUGEPAGE); /* one fault per small page */
        for (size_t off = 0; off < size; off += page) {
            double t0 = now_ms();
            p[off] = 1;
            double d = now_ms() - t0;
            if (d > touch_max) touch_max = d;
            if (d > 5) touch_over5++;
            touches++;
        }
        munmap((void *)p, size);
    }
    printf("spin_max_gap_ms %.2f spin_gaps_over_5ms %ld\n", spin_max, spin_over5);
    printf("page_touch_max_ms %.2f page_touches %ld page_touches_over_5ms %ld\n", touch_max, touches,
           touch_over5);
    return 0;
}
