/* What every goc workload shares: its size argument, the clock, the resource
 * counters, the one result line the runner parses, and the verdict.
 *
 * A workload is `prog [n]`: n overrides its main count (the smoke test passes
 * tiny sizes). It runs its work once, checks the result and prints
 *
 *   BENCH name=<w> impl=goc procs=<P> n=<n> ops=<ops> ns_per_op=<x>
 *         wall_s=<s> cpu_s=<s> rss_kb=<peak> [key=value ...]
 *
 * on one line, or a FAIL line on stderr and exit status 1. Times cover the
 * measured section only (not start-up); cpu_s is user+system time of the
 * process over that section; rss_kb is the process's peak RSS. The Go peers
 * (bench/go/) print the same line with impl=go.
 */
#ifndef GOC_BENCH_H
#define GOC_BENCH_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "goc.h"

typedef struct bench_clock {
    int64_t wall;  /* goc_now() at start */
    int64_t cpu;   /* user+system ns at start */
    int64_t user;  /* user ns at start */
} bench_clock;

static inline int64_t bench_user_ns(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_utime.tv_sec * GOC_SEC + (int64_t)ru.ru_utime.tv_usec * GOC_US;
}

static inline int64_t bench_cpu_ns(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * GOC_SEC +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * GOC_US;
}

static inline long bench_maxrss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Resident set size now, in KiB (/proc/self/statm), or -1. */
static inline long bench_rss_kb(void) {
    long pages = -1, resident = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * 4;
}

static inline bench_clock bench_start(void) {
    bench_clock c = {.cpu = bench_cpu_ns(), .user = bench_user_ns(), .wall = goc_now()};
    return c;
}

/* n from argv[1], else def. */
static inline long bench_arg(int argc, char **argv, long def) {
    if (argc < 2) return def;
    char *end;
    long n = strtol(argv[1], &end, 10);
    if (*end || n <= 0) {
        fprintf(stderr, "usage: %s [n > 0]\n", argv[0]);
        exit(2);
    }
    return n;
}

/* Fails the run: the result was wrong. */
__attribute__((format(printf, 2, 3), noreturn)) static inline void bench_fail(const char *name,
                                                                               const char *fmt,
                                                                               ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s: ", name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* The form of the run: the driver in a coroutine (the default), or on the
 * main thread itself (env GOC_BENCH_MAIN=thread; the result's name gets
 * "_t"), since users write both. */
static int bench_thread_form;

/* Sockets parked in goc_read during the run (GOC_BENCH_IDLE_FDS, below). */
static long bench_idle_fds;

/* Prints the result line for a section that took wall and cpu ns; extra
 * ("key=value ...", may be NULL) goes last. */
static inline void bench_print(const char *name, long n, double ops, int64_t wall, int64_t cpu,
                               const char *extra) {
    char fds[40] = "";
    if (bench_idle_fds) snprintf(fds, sizeof fds, " idle_fds=%ld", bench_idle_fds);
    printf("BENCH name=%s%s impl=goc procs=%d n=%ld ops=%.0f ns_per_op=%.3f wall_s=%.6f "
           "cpu_s=%.6f rss_kb=%ld%s%s%s\n",
           name, bench_thread_form ? "_t" : "", goc_procs(), n, ops, (double)wall / ops, (double)wall / 1e9, (double)cpu / 1e9,
           bench_maxrss_kb(), fds, extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

/* Prints the result line for the section that began at c, with its user
 * CPU time (user_s) before extra. */
static inline void bench_report(const char *name, long n, double ops, bench_clock c,
                                const char *extra) {
    int64_t wall = goc_now() - c.wall;
    char more[256];
    snprintf(more, sizeof more, "user_s=%.6f%s%s", (double)(bench_user_ns() - c.user) / 1e9,
             extra ? " " : "", extra ? extra : "");
    bench_print(name, n, ops, wall, bench_cpu_ns() - c.cpu, more);
}

/* Env GOC_BENCH_IDLE_FDS=N: before the workload, N sockets (N/2 socket
 * pairs) that never get data, each with a coroutine parked in goc_read, so
 * the workload runs with N fds registered in the netpoller and its waiters
 * live. The poller must cost the other workloads nothing for them. */
static _Atomic long bench_idle_parked;

static void bench_idle_reader(void *arg) {
    char c;
    atomic_fetch_add(&bench_idle_parked, 1);
    (void)goc_read((int)(intptr_t)arg, &c, 1, GOC_FOREVER); /* returns only at exit */
}

static inline void bench_park_idle_fds(void) {
    const char *s = getenv("GOC_BENCH_IDLE_FDS");
    long n = s ? strtol(s, NULL, 10) / 2 * 2 : 0;
    for (long i = 0; i < n; i += 2) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
            bench_fail("idle fds", "socketpair after %ld fds (raise ulimit -n)", i);
        for (int k = 0; k < 2; k++) {
            int r = goc_go(bench_idle_reader, (void *)(intptr_t)sv[k]);
            if (r != GOC_OK) bench_fail("idle fds", "goc_go: %s", goc_strerror(r));
        }
    }
    while (atomic_load(&bench_idle_parked) < n) goc_sleep(GOC_MS);
    goc_sleep(20 * GOC_MS); /* the last readers reach epoll */
    bench_idle_fds = n;
}

/* Starts the runtime outside the measured section (Go's is up before main). */
static inline void bench_runtime_up(void) {
    (void)goc_procs();
    bench_park_idle_fds();
}

/* Runs fn(arg) in a coroutine and waits for it: the workload's driver runs
 * where Go's main does, in a coroutine; or, in the thread form, on the main
 * thread, as a C program's main does. */
typedef struct bench_main {
    void (*fn)(void *);
    void *arg;
    goc_wg done;
} bench_main;

static void bench_main_tramp(void *p) {
    bench_main *m = p;
    m->fn(m->arg);
    goc_wg_done(&m->done);
}

static inline void bench_run_main(void (*fn)(void *), void *arg) {
    static bench_main m = {.done = GOC_WG_INIT};
    const char *form = getenv("GOC_BENCH_MAIN");
    if (form && strcmp(form, "thread") == 0) {
        bench_thread_form = 1;
        bench_runtime_up();
        fn(arg);
        return;
    }
    m.fn = fn;
    m.arg = arg;
    bench_runtime_up();
    goc_wg_add(&m.done, 1);
    int r = goc_go(bench_main_tramp, &m);
    if (r != GOC_OK) bench_fail("main", "goc_go: %s", goc_strerror(r));
    goc_wg_wait(&m.done);
}

/* A goc listener on a free loopback port; its "127.0.0.1:port" into addr. */
static inline int bench_listen(const char *name, char *addr, size_t n) {
    int l = goc_listen("tcp", "127.0.0.1:0");
    if (l < 0) bench_fail(name, "listen: %s", goc_strerror(l));
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    if (getsockname(l, (struct sockaddr *)&sa, &len) != 0) bench_fail(name, "getsockname");
    snprintf(addr, n, "127.0.0.1:%d", ntohs(sa.sin_port));
    return l;
}

/* The same xorshift32 as bench/go/report: identical sequences on both sides. */
static inline uint32_t bench_rand(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

#endif
