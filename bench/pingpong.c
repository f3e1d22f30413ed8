/* pingpong: the driver and a coroutine, two unbuffered channels; the
 * driver sends i, the coroutine answers i+1, n round trips. The figure is
 * wall time per round trip. In the thread form the driver is main itself.
 * Default n = 1,000,000. Go peer: go/pingpong. */
#include "bench.h"

static long n;
static goc_chan *ping_ch, *pong_ch;
static goc_wg wg = GOC_WG_INIT;
static long long total;

static void ponger(void *arg) {
    (void)arg;
    long v;
    while (goc_recv(ping_ch, &v) == GOC_OK) {
        v++;
        if (goc_send(pong_ch, &v) != GOC_OK) bench_fail("pingpong", "send failed");
    }
    goc_wg_done(&wg);
}

static void pinger(void) {
    for (long i = 0; i < n; i++) {
        long v = i;
        if (goc_send(ping_ch, &v) != GOC_OK || goc_recv(pong_ch, &v) != GOC_OK)
            bench_fail("pingpong", "send/recv failed");
        if (v != i + 1) bench_fail("pingpong", "got %ld, want %ld", v, i + 1);
        total += v;
    }
    goc_close(ping_ch);
}

static void run(void *arg) {
    (void)arg;
    ping_ch = goc_chan_make(sizeof(long), 0);
    pong_ch = goc_chan_make(sizeof(long), 0);
    if (!ping_ch || !pong_ch) bench_fail("pingpong", "goc_chan_make failed");
    bench_clock c = bench_start();
    goc_wg_add(&wg, 1);
    if (goc_go(ponger, NULL) != GOC_OK) bench_fail("pingpong", "goc_go failed");
    pinger();
    goc_wg_wait(&wg);
    long long want = (long long)n * (n + 1) / 2;
    if (total != want) bench_fail("pingpong", "sum %lld, want %lld", total, want);
    bench_report("pingpong", n, (double)n, c, NULL);
    goc_chan_release(ping_ch);
    goc_chan_release(pong_ch);
}

int main(int argc, char **argv) {
    n = bench_arg(argc, argv, 1000000);
    bench_run_main(run, NULL);
    return 0;
}
