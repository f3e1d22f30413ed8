/* idle: n coroutines block on one unbuffered channel that nobody sends on.
 * Two figures: spawn time per coroutine (from the first goc_go until every
 * coroutine has started and is about to block; the spawner polls a counter
 * every 100 us) and resident memory per blocked coroutine (RSS growth over
 * that span / n). Then the channel is closed and all n must see GOC_CLOSED.
 * Stacks: 8 KiB each (goc_go_with), stated in the result line; Go's start at
 * 2 KiB and grow. Default n = 1,000,000. Go peer: go/idle. */
#include <stdatomic.h>

#include "bench.h"

#define STACK_KB 8

static long n;
static goc_chan *ch;
static goc_wg wg = GOC_WG_INIT;
static atomic_long started, closed;

static void blocker(void *arg) {
    (void)arg;
    atomic_fetch_add(&started, 1);
    if (goc_recv(ch, NULL) == GOC_CLOSED) atomic_fetch_add(&closed, 1);
    goc_wg_done(&wg);
}

static void run(void *arg) {
    (void)arg;
    ch = goc_chan_make(0, 0);
    if (!ch) bench_fail("idle", "goc_chan_make failed");
    goc_opts opts = {.stack_size = STACK_KB * 1024, .name = "idle"};
    long rss0 = bench_rss_kb();
    bench_clock c = bench_start();
    goc_wg_add(&wg, n);
    for (long i = 0; i < n; i++)
        if (goc_go_with(&opts, blocker, NULL) != GOC_OK) bench_fail("idle", "goc_go_with failed");
    while (atomic_load(&started) < n) goc_sleep(100 * GOC_US);
    int64_t wall = goc_now() - c.wall;
    int64_t cpu = bench_cpu_ns() - c.cpu;
    long rss1 = bench_rss_kb();
    goc_close(ch);
    goc_wg_wait(&wg);
    if (closed != n) bench_fail("idle", "%ld of %ld saw the close", (long)closed, n);
    char extra[128];
    snprintf(extra, sizeof extra, "bytes_per_coro=%.1f stack_kb=%d",
             (double)(rss1 - rss0) * 1024 / n, STACK_KB);
    bench_print("idle", n, (double)n, wall, cpu, extra);
    goc_chan_release(ch);
}

int main(int argc, char **argv) {
    n = bench_arg(argc, argv, 1000000);
    bench_run_main(run, NULL);
    return 0;
}
