/* sleepers: n coroutines each sleep a random 0-100 ms (xorshift32 from seed 1,
 * the same durations in the Go peer) and check they slept at least that long.
 * The figure is the process's CPU time (user + system, getrusage) from the
 * first spawn until the last sleeper is joined: what timers and idle workers
 * cost while nothing runs. Default n = 100,000. Go peer: go/sleepers. */
#include <stdatomic.h>

#include "bench.h"

#define MAX_MS 100

typedef struct sleeper {
    int64_t ns;
} sleeper;

static long n;
static sleeper *sleepers;
static goc_wg wg = GOC_WG_INIT;
static atomic_long early;

static void sleep_one(void *p) {
    sleeper *s = p;
    int64_t t0 = goc_now();
    if (goc_sleep(s->ns) != GOC_OK) bench_fail("sleepers", "goc_sleep failed");
    if (goc_now() - t0 < s->ns) atomic_fetch_add(&early, 1);
    goc_wg_done(&wg);
}

static void run(void *arg) {
    (void)arg;
    uint32_t seed = 1;
    for (long i = 0; i < n; i++) sleepers[i].ns = (bench_rand(&seed) % (MAX_MS + 1)) * GOC_MS;
    bench_clock c = bench_start();
    goc_wg_add(&wg, n);
    for (long i = 0; i < n; i++)
        if (goc_go(sleep_one, &sleepers[i]) != GOC_OK) bench_fail("sleepers", "goc_go failed");
    goc_wg_wait(&wg);
    if (early) bench_fail("sleepers", "%ld sleepers woke early", (long)early);
    bench_report("sleepers", n, (double)n, c, NULL);
}

int main(int argc, char **argv) {
    n = bench_arg(argc, argv, 100000);
    sleepers = calloc(n, sizeof *sleepers);
    if (!sleepers) bench_fail("sleepers", "out of memory");
    bench_run_main(run, NULL);
    free(sleepers);
    return 0;
}
