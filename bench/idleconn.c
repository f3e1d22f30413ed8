/* idleconn: n TCP connections over loopback, each with a server coroutine
 * parked in goc_read. Figures: resident memory per connection (RSS growth
 * from before the first dial until all n readers are parked, over n; both
 * ends of each connection live in this process, the client end as a bare
 * fd), and the CPU the process uses over 200 ms while they all wait (it
 * should be none). Then the clients close and every reader must see EOF.
 * Default n = 9,000 (two fds each, under a 20,000 fd limit). Go peer:
 * go/idleconn. */
#include <stdatomic.h>

#include "bench.h"

#define STACK_KB 8

static long n;
static atomic_long parked, eofs;
static goc_wg wg = GOC_WG_INIT;
static int *clients;

static void reader(void *arg) {
    int fd = (int)(intptr_t)arg;
    char c;
    atomic_fetch_add(&parked, 1);
    if (goc_read(fd, &c, 1, GOC_FOREVER) == 0) atomic_fetch_add(&eofs, 1);
    goc_fd_close(fd);
    goc_wg_done(&wg);
}

static void run(void *arg) {
    (void)arg;
    char addr[64];
    int l = bench_listen("idleconn", addr, sizeof addr);
    clients = malloc(sizeof *clients * (size_t)n);
    goc_opts opts = {.stack_size = STACK_KB * 1024, .name = "reader"};
    long rss0 = bench_rss_kb();
    bench_clock c = bench_start();
    goc_wg_add(&wg, n);
    for (long i = 0; i < n; i++) {
        if ((clients[i] = goc_dial("tcp", addr, 10 * GOC_SEC)) < 0)
            bench_fail("idleconn", "dial %ld: %s", i, goc_strerror(clients[i]));
        int s = goc_accept(l, 10 * GOC_SEC);
        if (s < 0 || goc_go_with(&opts, reader, (void *)(intptr_t)s) != GOC_OK)
            bench_fail("idleconn", "accept %ld: %s", i, goc_strerror(s));
    }
    while (atomic_load(&parked) < n) goc_sleep(100 * GOC_US);
    goc_sleep(10 * GOC_MS); /* the last readers park */
    int64_t wall = goc_now() - c.wall, cpu = bench_cpu_ns() - c.cpu;
    long rss1 = bench_rss_kb();
    int64_t idle0 = bench_cpu_ns();
    goc_sleep(200 * GOC_MS);
    int64_t idle_cpu = bench_cpu_ns() - idle0;
    for (long i = 0; i < n; i++) goc_fd_close(clients[i]);
    goc_wg_wait(&wg);
    if (eofs != n) bench_fail("idleconn", "%ld of %ld readers saw EOF", (long)eofs, n);
    char extra[128];
    snprintf(extra, sizeof extra, "bytes_per_conn=%.1f idle_cpu_ms=%.2f stack_kb=%d",
             (double)(rss1 - rss0) * 1024 / n, (double)idle_cpu / 1e6, STACK_KB);
    bench_print("idleconn", n, (double)n, wall, cpu, extra);
    goc_fd_close(l);
    free(clients);
}

int main(int argc, char **argv) {
    n = bench_arg(argc, argv, 9000);
    bench_run_main(run, NULL);
    return 0;
}
