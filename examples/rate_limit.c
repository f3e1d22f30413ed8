/* Rate limiting with a ticker, and a limiter that allows short bursts.
 *
 * Mirrors Go by Example's "Rate Limiting":
 *
 *     limiter := time.Tick(200 * time.Millisecond)
 *     for req := range requests {
 *         <-limiter
 *         fmt.Println("request", req, time.Now())
 *     }
 *
 *     burstyLimiter := make(chan time.Time, 3)
 *     for i := 0; i < 3; i++ { burstyLimiter <- time.Now() }
 *     go func() {
 *         for t := range time.Tick(200 * time.Millisecond) { burstyLimiter <- t }
 *     }()
 *     for req := range burstyRequests {
 *         <-burstyLimiter
 *         fmt.Println("request", req, time.Now())
 *     }
 *
 * Receiving a tick before each request spaces them one period apart. The
 * bursty limiter is a buffered channel of tokens: it starts full (three
 * requests go at once) and the ticker refills it one token per period.
 *
 * Go's time.Tick cannot be stopped; goc_ticker can and must be freed, and
 * the refilling coroutine stops when main closes done.
 */
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

#define PERIOD (10 * GOC_MS)

/* requests := make(chan int, 5), filled with 1..5 and closed */
static goc_chan *requests(int n) {
    goc_chan *c = goc_chan_make(sizeof(int), (size_t)n);
    for (int i = 1; i <= n; i++) goc_send(c, &i);
    goc_close(c);
    return c;
}

static void steady(void) {
    printf("one request per %lld ms:\n", (long long)(PERIOD / GOC_MS));
    goc_chan *reqs = requests(5);
    int64_t start = goc_now();
    goc_ticker *limiter = goc_ticker_new(PERIOD);
    int req;
    while (goc_recv(reqs, &req) == GOC_OK) {
        goc_recv(goc_ticker_chan(limiter), NULL);
        printf("  request %d at +%lld ms\n", req, (long long)((goc_now() - start) / GOC_MS));
    }
    goc_ticker_free(limiter);
    goc_chan_release(reqs);
}

struct refill_args {
    goc_chan *tokens, *done;
};

/* for t := range time.Tick(PERIOD) { burstyLimiter <- t }, until done */
static void refill(void *p) {
    struct refill_args a = *(struct refill_args *)p;
    free(p);
    goc_ticker *tick = goc_ticker_new(PERIOD);
    for (;;) {
        int64_t t;
        goc_case wait[] = {GOC_RECV(goc_ticker_chan(tick), &t), GOC_RECV(a.done, NULL)};
        if (goc_select(wait, 2, GOC_FOREVER) == 1) break;
        goc_case put[] = {GOC_SEND(a.tokens, &t), GOC_RECV(a.done, NULL)};
        if (goc_select(put, 2, GOC_FOREVER) == 1) break;
    }
    goc_ticker_free(tick);
    goc_chan_release(a.tokens);
    goc_chan_release(a.done);
}

static void bursty(void) {
    printf("bursts of 3, then one per %lld ms:\n", (long long)(PERIOD / GOC_MS));
    int64_t start = goc_now();
    goc_chan *tokens = goc_chan_make(sizeof(int64_t), 3);
    for (int i = 0; i < 3; i++) goc_send(tokens, &(int64_t){goc_now()});
    goc_chan *done = goc_chan_make(0, 0);
    struct refill_args *a = malloc(sizeof *a);
    *a = (struct refill_args){goc_chan_retain(tokens), goc_chan_retain(done)};
    goc_go(refill, a);

    goc_chan *reqs = requests(5);
    int req;
    while (goc_recv(reqs, &req) == GOC_OK) {
        goc_recv(tokens, NULL);
        printf("  request %d at +%lld ms\n", req, (long long)((goc_now() - start) / GOC_MS));
    }
    goc_close(done);
    goc_chan_release(done);
    goc_chan_release(tokens);
    goc_chan_release(reqs);
}

int main(void) {
    steady();
    bursty();
    return 0;
}
