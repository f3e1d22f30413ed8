/* yield: two coroutines, each calling goc_yield n times. The figure is wall
 * time per yield: elapsed / (2n). With two or more workers the two may run
 * in parallel, one per worker, exactly as the two goroutines of the Go peer
 * (go/yield, runtime.Gosched) may. Default n = 1,000,000. */
#include "bench.h"

static long n;
static goc_wg wg = GOC_WG_INIT;
static long counts[2];

static void yielder(void *p) {
    long count = 0; /* local: the two counters would share a cache line */
    for (long i = 0; i < n; i++) {
        goc_yield();
        count++;
    }
    *(long *)p = count;
    goc_wg_done(&wg);
}

static void run(void *arg) {
    (void)arg;
    bench_clock c = bench_start();
    goc_wg_add(&wg, 2);
    for (int i = 0; i < 2; i++)
        if (goc_go(yielder, &counts[i]) != GOC_OK) bench_fail("yield", "goc_go failed");
    goc_wg_wait(&wg);
    if (counts[0] != n || counts[1] != n)
        bench_fail("yield", "counts %ld %ld, want %ld", counts[0], counts[1], n);
    bench_report("yield", n, 2.0 * n, c, NULL);
}

int main(int argc, char **argv) {
    n = bench_arg(argc, argv, 1000000);
    bench_run_main(run, NULL);
    return 0;
}
