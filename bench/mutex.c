/* mutex: 8 coroutines contend for one goc_mutex, each taking it n/8 times to
 * increment a shared counter. The figure is wall time per lock/unlock pair.
 * Default n = 10,000,000 (a multiple of 8), long enough to time: an
 * uncontended lock costs a few ns. Go peer: go/mutex (sync.Mutex). */
#include "bench.h"

#define WORKERS 8

static long n;
static goc_mutex mu = GOC_MUTEX_INIT;
static long counter; /* guarded by mu */
static goc_wg wg = GOC_WG_INIT;

static void worker(void *arg) {
    (void)arg;
    for (long i = 0; i < n / WORKERS; i++) {
        goc_mutex_lock(&mu);
        counter++;
        goc_mutex_unlock(&mu);
    }
    goc_wg_done(&wg);
}

static void run(void *arg) {
    (void)arg;
    bench_clock c = bench_start();
    goc_wg_add(&wg, WORKERS);
    for (int i = 0; i < WORKERS; i++)
        if (goc_go(worker, NULL) != GOC_OK) bench_fail("mutex", "goc_go failed");
    goc_wg_wait(&wg);
    if (counter != n) bench_fail("mutex", "counter %ld, want %ld", counter, n);
    bench_report("mutex", n, (double)n, c, NULL);
}

int main(int argc, char **argv) {
    n = bench_arg(argc, argv, 10000000);
    if (n % WORKERS) bench_fail("mutex", "n must be a multiple of %d", WORKERS);
    bench_run_main(run, NULL);
    return 0;
}
