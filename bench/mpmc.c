/* mpmc: 4 producers and 4 consumers on one channel of capacity 1024; n
 * messages in all (n/4 per producer, n a multiple of 4). The last producer to
 * finish closes the channel; consumers sum until it is closed and drained.
 * The figure is wall time per message. Default n = 4,000,000. Go peer:
 * go/mpmc. */
#include "bench.h"

#define PRODUCERS 4
#define CONSUMERS 4
#define CAP 1024

static long n;
static goc_chan *ch;
static goc_wg producing = GOC_WG_INIT, consuming = GOC_WG_INIT;
static long long sums[CONSUMERS];
static long counts[CONSUMERS];

static void producer(void *p) {
    long base = (long)(intptr_t)p * (n / PRODUCERS);
    for (long i = 0; i < n / PRODUCERS; i++) {
        long v = base + i;
        if (goc_send(ch, &v) != GOC_OK) bench_fail("mpmc", "send failed");
    }
    goc_wg_done(&producing);
}

static void closer(void *arg) {
    (void)arg;
    goc_wg_wait(&producing);
    goc_close(ch);
}

static void consumer(void *p) {
    intptr_t k = (intptr_t)p;
    long v;
    long long sum = 0;
    long count = 0;
    while (goc_recv(ch, &v) == GOC_OK) {
        sum += v;
        count++;
    }
    sums[k] = sum;
    counts[k] = count;
    goc_wg_done(&consuming);
}

static void run(void *arg) {
    (void)arg;
    ch = goc_chan_make(sizeof(long), CAP);
    if (!ch) bench_fail("mpmc", "goc_chan_make failed");
    bench_clock c = bench_start();
    goc_wg_add(&producing, PRODUCERS);
    goc_wg_add(&consuming, CONSUMERS);
    for (intptr_t i = 0; i < CONSUMERS; i++)
        if (goc_go(consumer, (void *)i) != GOC_OK) bench_fail("mpmc", "goc_go failed");
    for (intptr_t i = 0; i < PRODUCERS; i++)
        if (goc_go(producer, (void *)i) != GOC_OK) bench_fail("mpmc", "goc_go failed");
    if (goc_go(closer, NULL) != GOC_OK) bench_fail("mpmc", "goc_go failed");
    goc_wg_wait(&consuming);
    long long sum = 0;
    long count = 0;
    for (int i = 0; i < CONSUMERS; i++) {
        sum += sums[i];
        count += counts[i];
    }
    long long want = (long long)n * (n - 1) / 2;
    if (count != n || sum != want)
        bench_fail("mpmc", "%ld messages summing to %lld, want %ld and %lld", count, sum, n, want);
    bench_report("mpmc", n, (double)n, c, NULL);
    goc_chan_release(ch);
}

int main(int argc, char **argv) {
    n = bench_arg(argc, argv, 4000000);
    if (n % PRODUCERS) bench_fail("mpmc", "n must be a multiple of %d", PRODUCERS);
    bench_run_main(run, NULL);
    return 0;
}
