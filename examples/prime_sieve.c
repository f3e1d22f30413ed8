/* Prime sieve: a chain of filter coroutines, one per prime found so far.
 *
 * Mirrors the concurrent prime sieve from the Go tour and Go's test suite
 * (test/chan/sieve1.go): generate sends 2, 3, 4, …; each filter passes on the
 * numbers its prime does not divide; the first number out of the chain is
 * always the next prime, which gets a filter of its own.
 *
 * Go's version counts forever and leaves every goroutine blocked when main
 * returns. Here generate stops at a limit and closes its channel; each filter
 * closes its output when its input closes (Go's `for i := range in`), so the
 * whole chain winds down by itself and main's loop ends.
 *
 *     prime_sieve [limit]      primes below limit (default 100)
 */
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

struct generate_args {
    goc_chan *out;
    int limit;
};

/* Sends 2, 3, …, limit-1 on out, then closes it. */
static void generate(void *p) {
    struct generate_args a = *(struct generate_args *)p;
    free(p);
    for (int i = 2; i < a.limit; i++) goc_send(a.out, &i);
    goc_close(a.out);
    goc_chan_release(a.out);
}

struct filter_args {
    goc_chan *in, *out;
    int prime;
};

/* Copies the values from in to out, removing those divisible by prime. */
static void filter(void *p) {
    struct filter_args a = *(struct filter_args *)p;
    free(p);
    int i;
    while (goc_recv(a.in, &i) == GOC_OK)
        if (i % a.prime != 0) goc_send(a.out, &i);
    goc_close(a.out);
    goc_chan_release(a.in);
    goc_chan_release(a.out);
}

int main(int argc, char **argv) {
    int limit = argc > 1 ? atoi(argv[1]) : 100;

    /* Each coroutine gets its own reference to the channels it uses: there
     * is no garbage collector to keep them alive for it. */
    goc_chan *ch = goc_chan_make(sizeof(int), 0);
    struct generate_args *g = malloc(sizeof *g);
    *g = (struct generate_args){goc_chan_retain(ch), limit};
    goc_go(generate, g); /* go generate(ch) */

    int prime, n = 0;
    while (goc_recv(ch, &prime) == GOC_OK) {
        printf(n ? " %d" : "%d", prime);
        n++;
        goc_chan *ch1 = goc_chan_make(sizeof(int), 0);
        struct filter_args *f = malloc(sizeof *f);
        *f = (struct filter_args){goc_chan_retain(ch), goc_chan_retain(ch1), prime};
        goc_go(filter, f); /* go filter(ch, ch1, prime) */
        goc_chan_release(ch);
        ch = ch1;
    }
    goc_chan_release(ch);
    printf("\n%d primes below %d\n", n, limit);
    return 0;
}
