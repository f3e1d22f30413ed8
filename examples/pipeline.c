/* Pipeline with cancellation: gen → sq ×2 → merge, stopped early without
 * leaking a coroutine.
 *
 * Mirrors the Go blog's "Go Concurrency Patterns: Pipelines and
 * cancellation". Each stage is a coroutine that receives from upstream,
 * works, and sends downstream; fan-out (two sq stages reading one channel)
 * and fan-in (merge) spread the work. A stage closes its output when it is
 * done, so the next stage's receive loop ends.
 *
 * The receiver may stop early; the stages upstream would then block on
 * their sends forever. The cure is a done channel that main closes (Go:
 * `defer close(done)`): every send selects on it too,
 *
 *     select {
 *     case out <- n * n:
 *     case <-done:
 *         return
 *     }
 *
 * and a closed channel is ready for every receiver at once, so one close
 * stops every stage. merge closes its output after a WaitGroup says all its
 * forwarders have returned.
 *
 * goc_count() (Go's runtime.NumGoroutine) shows that nothing is left.
 */
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

/* ---- gen: the numbers ------------------------------------------------------ */

struct gen_args {
    goc_chan *done, *out;
    int n;
};

static void gen_loop(void *p) {
    struct gen_args a = *(struct gen_args *)p;
    free(p);
    for (int i = 1; i <= a.n; i++) {
        goc_case cases[] = {GOC_SEND(a.out, &i), GOC_RECV(a.done, NULL)};
        if (goc_select(cases, 2, GOC_FOREVER) == 1) break;
    }
    goc_close(a.out); /* defer close(out) */
    goc_chan_release(a.done);
    goc_chan_release(a.out);
}

/* Sends 1..n, stopping early when done closes. */
static goc_chan *gen(goc_chan *done, int n) {
    goc_chan *out = goc_chan_make(sizeof(int), 0);
    struct gen_args *a = malloc(sizeof *a);
    *a = (struct gen_args){goc_chan_retain(done), goc_chan_retain(out), n};
    goc_go(gen_loop, a);
    return out;
}

/* ---- sq: square each ------------------------------------------------------- */

struct sq_args {
    goc_chan *done, *in, *out;
};

static void sq_loop(void *p) {
    struct sq_args a = *(struct sq_args *)p;
    free(p);
    int n;
    while (goc_recv(a.in, &n) == GOC_OK) {
        int square = n * n;
        goc_case cases[] = {GOC_SEND(a.out, &square), GOC_RECV(a.done, NULL)};
        if (goc_select(cases, 2, GOC_FOREVER) == 1) break;
    }
    goc_close(a.out);
    goc_chan_release(a.done);
    goc_chan_release(a.in);
    goc_chan_release(a.out);
}

static goc_chan *sq(goc_chan *done, goc_chan *in) {
    goc_chan *out = goc_chan_make(sizeof(int), 0);
    struct sq_args *a = malloc(sizeof *a);
    *a = (struct sq_args){goc_chan_retain(done), goc_chan_retain(in), goc_chan_retain(out)};
    goc_go(sq_loop, a);
    return out;
}

/* ---- merge: fan in --------------------------------------------------------- */

/* What merge's closures share in Go; freed by the last one to finish. */
struct merge {
    goc_wg wg;
    goc_chan *done, *out;
};

struct output_args {
    struct merge *m;
    goc_chan *in;
};

/* output := func(c <-chan int) { … } */
static void output(void *p) {
    struct output_args a = *(struct output_args *)p;
    free(p);
    int n;
    while (goc_recv(a.in, &n) == GOC_OK) {
        goc_case cases[] = {GOC_SEND(a.m->out, &n), GOC_RECV(a.m->done, NULL)};
        if (goc_select(cases, 2, GOC_FOREVER) == 1) break;
    }
    goc_chan_release(a.in);
    goc_wg_done(&a.m->wg); /* the last touch of m */
}

/* go func() { wg.Wait(); close(out) }() */
static void close_when_done(void *p) {
    struct merge *m = p;
    goc_wg_wait(&m->wg);
    goc_close(m->out);
    goc_chan_release(m->done);
    goc_chan_release(m->out);
    free(m);
}

static goc_chan *merge(goc_chan *done, goc_chan **cs, int n) {
    struct merge *m = malloc(sizeof *m);
    *m = (struct merge){GOC_WG_INIT, goc_chan_retain(done), goc_chan_make(sizeof(int), 0)};
    goc_chan *out = goc_chan_retain(m->out);
    goc_wg_add(&m->wg, n);
    for (int i = 0; i < n; i++) {
        struct output_args *a = malloc(sizeof *a);
        *a = (struct output_args){m, goc_chan_retain(cs[i])};
        goc_go(output, a);
    }
    goc_go(close_when_done, m);
    return out;
}

/* ---- main -------------------------------------------------------------------- */

/* gen → two sq → merge; returns merge's output. */
static goc_chan *squares(goc_chan *done, int n) {
    goc_chan *in = gen(done, n);
    goc_chan *c[2] = {sq(done, in), sq(done, in)}; /* fan out */
    goc_chan *out = merge(done, c, 2);             /* fan in  */
    goc_chan_release(in);
    goc_chan_release(c[0]);
    goc_chan_release(c[1]);
    return out;
}

/* Go would just look at runtime.NumGoroutine(); the stages need a moment
 * to see done and return. */
static size_t coroutines_after_a_while(void) {
    for (int i = 0; i < 1000 && goc_count() > 0; i++) goc_sleep(GOC_MS);
    return goc_count();
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000;

    /* All of it: sum the squares of 1..n. */
    goc_chan *done = goc_chan_make(0, 0);
    goc_chan *out = squares(done, n);
    long long sum = 0;
    for (int v; goc_recv(out, &v) == GOC_OK;) sum += v;
    printf("sum of the squares of 1..%d: %lld\n", n, sum);
    goc_close(done);
    goc_chan_release(out);
    goc_chan_release(done);

    /* Stop early: take one value and leave; closing done stops the rest. */
    done = goc_chan_make(0, 0);
    out = squares(done, n);
    int first;
    goc_recv(out, &first);
    printf("first square: %d\n", first);
    goc_close(done); /* Go: defer close(done) */
    goc_chan_release(out);
    goc_chan_release(done);
    printf("coroutines left: %zu\n", coroutines_after_a_while());
    return 0;
}
