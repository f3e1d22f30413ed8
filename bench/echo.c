/* echo: a TCP echo server and its clients in one process over loopback,
 * CONNS connections (64; echo1k: 1000), each a coroutine on both sides, each
 * client doing 512-byte round trips; n round trips in all. The figure is
 * wall time per round trip; cpu_s is the process's. Default n = 200,000.
 * Go peers: go/echo, go/echo1k; the floor: floor/echo.c, a hand-written
 * epoll loop per side. */
#include <stdatomic.h>
#include <string.h>

#include "bench.h"

#ifndef CONNS
#define CONNS 64
#endif
#ifndef NAME
#define NAME "echo"
#endif
#define MSG 512

static long per_conn;
static char addr[64];
static goc_wg wg = GOC_WG_INIT;
static atomic_long rounds;

static void serve(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[MSG];
    for (;;) {
        ssize_t n = goc_read(fd, buf, sizeof buf, GOC_FOREVER);
        if (n <= 0 || goc_write(fd, buf, (size_t)n, GOC_FOREVER) != n) break;
    }
    goc_fd_close(fd);
}

static void accept_loop(void *arg) {
    int l = (int)(intptr_t)arg;
    for (int fd; (fd = goc_accept(l, GOC_FOREVER)) >= 0;)
        if (goc_go(serve, (void *)(intptr_t)fd) != GOC_OK) bench_fail(NAME, "goc_go failed");
}

static void client(void *arg) {
    (void)arg;
    int fd = goc_dial("tcp", addr, 10 * GOC_SEC);
    if (fd < 0) bench_fail(NAME, "dial: %s", goc_strerror(fd));
    char out[MSG], in[MSG];
    memset(out, 'e', sizeof out);
    for (long i = 0; i < per_conn; i++) {
        out[0] = (char)i;
        if (goc_write(fd, out, MSG, GOC_FOREVER) != MSG) bench_fail(NAME, "write failed");
        for (size_t got = 0; got < MSG;) {
            ssize_t n = goc_read(fd, in + got, MSG - got, GOC_FOREVER);
            if (n <= 0) bench_fail(NAME, "read: %s", goc_strerror((int)n));
            got += (size_t)n;
        }
        if (memcmp(in, out, MSG) != 0) bench_fail(NAME, "echo differs");
        atomic_fetch_add_explicit(&rounds, 1, memory_order_relaxed);
    }
    goc_fd_close(fd);
    goc_wg_done(&wg);
}

static void run(void *arg) {
    long n = (long)(intptr_t)arg;
    per_conn = n / CONNS > 0 ? n / CONNS : 1;
    int l = bench_listen(NAME, addr, sizeof addr);
    if (goc_go(accept_loop, (void *)(intptr_t)l) != GOC_OK) bench_fail(NAME, "goc_go failed");
    bench_clock c = bench_start();
    goc_wg_add(&wg, CONNS);
    for (int i = 0; i < CONNS; i++)
        if (goc_go(client, NULL) != GOC_OK) bench_fail(NAME, "goc_go failed");
    goc_wg_wait(&wg);
    long total = per_conn * CONNS;
    if (atomic_load(&rounds) != total) bench_fail(NAME, "%ld round trips, want %ld", (long)rounds, total);
    char extra[32];
    snprintf(extra, sizeof extra, "conns=%d", CONNS);
    bench_report(NAME, n, (double)total, c, extra);
    goc_fd_close(l);
}

int main(int argc, char **argv) {
    long n = bench_arg(argc, argv, 200000);
    bench_run_main(run, (void *)(intptr_t)n);
    return 0;
}
