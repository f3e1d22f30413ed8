/* stream: 4 TCP connections over loopback, each a client coroutine writing
 * 64 KiB at a time and a server coroutine reading all of it; n writes in
 * all. The figure is wall time per 64 KiB (lower is faster; MB/s in the
 * result line). Default n = 40,000 (2.6 GB). Go peer: go/stream; the
 * floor: floor/stream.c. */
#include <stdatomic.h>
#include <string.h>

#include "bench.h"

#define CONNS 4
#define CHUNK (64 * 1024)

static long per_conn;
static char addr[64];
static goc_wg wg = GOC_WG_INIT;
static atomic_long received;

static void sink(void *arg) {
    int fd = (int)(intptr_t)arg;
    char *b = malloc(CHUNK);
    for (ssize_t n; (n = goc_read(fd, b, CHUNK, GOC_FOREVER)) > 0;)
        atomic_fetch_add_explicit(&received, n, memory_order_relaxed);
    free(b);
    goc_fd_close(fd);
    goc_wg_done(&wg);
}

static void accept_loop(void *arg) {
    int l = (int)(intptr_t)arg;
    for (int i = 0; i < CONNS; i++) {
        int fd = goc_accept(l, GOC_FOREVER);
        if (fd < 0 || goc_go(sink, (void *)(intptr_t)fd) != GOC_OK) bench_fail("stream", "accept failed");
    }
}

static void source(void *arg) {
    (void)arg;
    int fd = goc_dial("tcp", addr, 10 * GOC_SEC);
    if (fd < 0) bench_fail("stream", "dial: %s", goc_strerror(fd));
    char *b = malloc(CHUNK);
    memset(b, 's', CHUNK);
    for (long i = 0; i < per_conn; i++)
        if (goc_write(fd, b, CHUNK, GOC_FOREVER) != CHUNK) bench_fail("stream", "write failed");
    free(b);
    goc_fd_close(fd);
    goc_wg_done(&wg);
}

static void run(void *arg) {
    long n = (long)(intptr_t)arg;
    per_conn = n / CONNS > 0 ? n / CONNS : 1;
    int l = bench_listen("stream", addr, sizeof addr);
    bench_clock c = bench_start();
    goc_wg_add(&wg, 2 * CONNS);
    if (goc_go(accept_loop, (void *)(intptr_t)l) != GOC_OK) bench_fail("stream", "goc_go failed");
    for (int i = 0; i < CONNS; i++)
        if (goc_go(source, NULL) != GOC_OK) bench_fail("stream", "goc_go failed");
    goc_wg_wait(&wg);
    long total = per_conn * CONNS;
    if (atomic_load(&received) != total * CHUNK) bench_fail("stream", "bytes lost");
    double secs = (double)(goc_now() - c.wall) / 1e9;
    char extra[64];
    snprintf(extra, sizeof extra, "mb_per_s=%.0f", (double)total * CHUNK / 1e6 / secs);
    bench_report("stream", n, (double)total, c, extra);
    goc_fd_close(l);
}

int main(int argc, char **argv) {
    long n = bench_arg(argc, argv, 40000);
    bench_run_main(run, (void *)(intptr_t)n);
    return 0;
}
