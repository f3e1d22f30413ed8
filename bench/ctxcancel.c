/* ctxcancel: a tree of n cancel contexts (node i > 0 is a child of node
 * (i-1)/10), every node's done channel fetched as a watcher would; then the
 * root is cancelled, which must cancel every node. The figure is the time of
 * that one goc_ctx_cancel per node, over 10 trees built and cancelled in turn.
 * Default n = 100,000. Go peer: go/ctxcancel. */
#include "bench.h"

#define FANOUT 10
#define TREES 10

static long n;

static void run(void *arg) {
    (void)arg;
    goc_ctx **nodes = calloc(n, sizeof *nodes);
    if (!nodes) bench_fail("ctxcancel", "out of memory");
    int64_t wall = 0;
    bench_clock c = bench_start();
    for (int t = 0; t < TREES; t++) {
        for (long i = 0; i < n; i++) {
            nodes[i] = goc_ctx_with_cancel(i ? nodes[(i - 1) / FANOUT] : goc_ctx_background());
            if (!nodes[i] || !goc_ctx_done(nodes[i])) bench_fail("ctxcancel", "out of memory");
        }
        int64_t t0 = goc_now();
        goc_ctx_cancel(nodes[0]);
        wall += goc_now() - t0;
        for (long i = 0; i < n; i++) {
            int err = goc_ctx_err(nodes[i]);
            if (err != GOC_ECANCELED)
                bench_fail("ctxcancel", "node %ld: %s, want GOC_ECANCELED", i, goc_err_name(err));
            if (goc_try_recv(goc_ctx_done(nodes[i]), NULL) != GOC_CLOSED)
                bench_fail("ctxcancel", "node %ld: done is not closed", i);
        }
        for (long i = n - 1; i >= 0; i--) goc_ctx_release(nodes[i]);
    }
    bench_print("ctxcancel", n, (double)n * TREES, wall, bench_cpu_ns() - c.cpu, NULL);
    free(nodes);
}

int main(int argc, char **argv) {
    n = bench_arg(argc, argv, 100000);
    bench_run_main(run, NULL);
    return 0;
}
