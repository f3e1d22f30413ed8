/* spawn: fork/join sum over 0..n-1. Every node of a binary tree over the
 * range is a coroutine: a leaf returns its number, an inner node starts two
 * children for the halves and waits for both (a WaitGroup). n leaves make
 * 2n-1 coroutines; the figure is wall time per coroutine, spawn to join.
 * Default n = 1,000,000 (2e6 coroutines), default stacks. Go peer: go/spawn. */
#include "bench.h"

typedef struct node {
    long lo, hi;
    long long sum;   /* out */
    goc_wg *parent;  /* done when sum is written */
} node;

static void sum(void *p) {
    node *me = p;
    if (me->hi - me->lo == 1) {
        me->sum = me->lo;
    } else {
        long mid = me->lo + (me->hi - me->lo) / 2;
        goc_wg wg = GOC_WG_INIT;
        node a = {.lo = me->lo, .hi = mid, .parent = &wg};
        node b = {.lo = mid, .hi = me->hi, .parent = &wg};
        goc_wg_add(&wg, 2);
        if (goc_go(sum, &a) != GOC_OK || goc_go(sum, &b) != GOC_OK)
            bench_fail("spawn", "goc_go failed");
        goc_wg_wait(&wg);
        me->sum = a.sum + b.sum;
    }
    goc_wg_done(me->parent);
}

static long n;

static void run(void *arg) {
    (void)arg;
    goc_wg wg = GOC_WG_INIT;
    node root = {.lo = 0, .hi = n, .parent = &wg};
    bench_clock c = bench_start();
    goc_wg_add(&wg, 1);
    if (goc_go(sum, &root) != GOC_OK) bench_fail("spawn", "goc_go failed");
    goc_wg_wait(&wg);
    long long want = (long long)n * (n - 1) / 2;
    if (root.sum != want) bench_fail("spawn", "sum %lld, want %lld", root.sum, want);
    bench_report("spawn", n, 2.0 * n - 1, c, NULL);
}

int main(int argc, char **argv) {
    n = bench_arg(argc, argv, 1000000);
    bench_run_main(run, NULL);
    return 0;
}
