/* fanin: 8 producer coroutines send into one channel (capacity 128) that the
 * driver drains: n values in all. The figure is wall time per value. In the
 * thread form the driver is main itself, the first program a C programmer
 * writes. Default n = 2,000,000. Go peer: go/fanin. */
#include "bench.h"

#define PRODUCERS 8
#define CAP 128

static long per;
static goc_chan *ch;

static void producer(void *arg) {
    long base = (long)(intptr_t)arg * per;
    for (long i = 0; i < per; i++) {
        long v = base + i;
        if (goc_send(ch, &v) != GOC_OK) bench_fail("fanin", "send failed");
    }
}

static void run(void *arg) {
    long n = (long)(intptr_t)arg;
    per = n / PRODUCERS > 0 ? n / PRODUCERS : 1;
    ch = goc_chan_make(sizeof(long), CAP);
    if (!ch) bench_fail("fanin", "goc_chan_make failed");
    bench_clock c = bench_start();
    for (intptr_t p = 0; p < PRODUCERS; p++)
        if (goc_go(producer, (void *)p) != GOC_OK) bench_fail("fanin", "goc_go failed");
    long total = per * PRODUCERS;
    long long sum = 0;
    for (long i = 0; i < total; i++) {
        long v;
        if (goc_recv(ch, &v) != GOC_OK) bench_fail("fanin", "recv failed");
        sum += v;
    }
    if (sum != (long long)total * (total - 1) / 2) bench_fail("fanin", "sum %lld", sum);
    bench_report("fanin", n, (double)total, c, NULL);
    goc_chan_release(ch);
}

int main(int argc, char **argv) {
    long n = bench_arg(argc, argv, 2000000);
    bench_run_main(run, (void *)(intptr_t)n);
    return 0;
}
