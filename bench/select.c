/* select: fan-in. 4 producers each send n/4 values on their own unbuffered
 * channel and close it; one consumer selects over the 4 channels, dropping
 * each (setting it to NULL, as Go sets it to nil) when it is closed, until all
 * are. The figure is wall time per message. Default n = 1,000,000 (a multiple
 * of 4). Go peer: go/select. */
#include "bench.h"

#define FANIN 4

static long n;
static goc_chan *chans[FANIN];

static void producer(void *p) {
    intptr_t k = (intptr_t)p;
    long base = k * (n / FANIN);
    for (long i = 0; i < n / FANIN; i++) {
        long v = base + i;
        if (goc_send(chans[k], &v) != GOC_OK) bench_fail("select", "send failed");
    }
    goc_close(chans[k]);
}

static void run(void *arg) {
    (void)arg;
    for (int i = 0; i < FANIN; i++)
        if (!(chans[i] = goc_chan_make(sizeof(long), 0))) bench_fail("select", "no channel");
    bench_clock c = bench_start();
    for (intptr_t i = 0; i < FANIN; i++)
        if (goc_go(producer, (void *)i) != GOC_OK) bench_fail("select", "goc_go failed");
    long v;
    goc_case cs[FANIN];
    for (int i = 0; i < FANIN; i++) cs[i] = GOC_RECV(chans[i], &v);
    long long sum = 0;
    long count = 0;
    for (int open = FANIN; open > 0;) {
        int i = goc_select(cs, FANIN, GOC_FOREVER);
        if (i < 0) bench_fail("select", "goc_select: %s", goc_err_name(i));
        if (!cs[i].ok) {
            cs[i].ch = NULL;
            open--;
            continue;
        }
        sum += v;
        count++;
    }
    long long want = (long long)n * (n - 1) / 2;
    if (count != n || sum != want)
        bench_fail("select", "%ld messages summing to %lld, want %ld and %lld", count, sum, n,
                   want);
    bench_report("select", n, (double)n, c, NULL);
    for (int i = 0; i < FANIN; i++) goc_chan_release(chans[i]);
}

int main(int argc, char **argv) {
    n = bench_arg(argc, argv, 1000000);
    if (n % FANIN) bench_fail("select", "n must be a multiple of %d", FANIN);
    bench_run_main(run, NULL);
    return 0;
}
