/* Context: cancel a slow request by timeout, or because its parent was
 * cancelled.
 *
 * Mirrors the Go blog's "Go Concurrency Patterns: Context" (httpDo) and
 * context.WithTimeout:
 *
 *     ctx, cancel := context.WithTimeout(parent, 20*time.Millisecond)
 *     defer cancel()
 *     c := make(chan error, 1)
 *     go func() { c <- f(http.DefaultClient.Do(req)) }()
 *     select {
 *     case <-ctx.Done():
 *         <-c // wait for f to return
 *         return ctx.Err()
 *     case err := <-c:
 *         return err
 *     }
 *
 * A context is how a request tells everything working on it to stop: its
 * done channel is closed on cancellation, so any number of coroutines can
 * select on it. Cancelling a context cancels every context derived from it,
 * so cancelling the parent (the user hit stop, the server shuts down)
 * reaches the request too; a deadline is a cancellation that fires by
 * itself.
 *
 * The backend here watches the context as well, so a cancelled request
 * stops working at once instead of finishing for nobody.
 */
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

struct backend_args {
    goc_ctx *ctx;
    int64_t latency;
    goc_chan *reply; /* of int: 0 or the context's error; capacity 1 */
};

/* Works for `latency`, or until the request is cancelled. */
static void backend(void *p) {
    struct backend_args a = *(struct backend_args *)p;
    free(p);
    goc_timer *work = goc_timer_new(a.latency); /* freed (so stopped) below */
    goc_case cases[] = {GOC_RECV(goc_timer_chan(work), NULL),
                        GOC_RECV(goc_ctx_done(a.ctx), NULL)};
    int err = goc_select(cases, 2, GOC_FOREVER) == 0 ? 0 : goc_ctx_err(a.ctx);
    goc_send(a.reply, &err); /* capacity 1: never blocks */
    goc_timer_free(work);
    goc_chan_release(a.reply);
    goc_ctx_release(a.ctx);
}

/* httpDo: a request that takes `latency`, bounded by ctx. Returns 0 or why
 * it was cancelled (GOC_ETIMEDOUT, GOC_ECANCELED). */
static int request(goc_ctx *ctx, int64_t latency) {
    goc_chan *c = goc_chan_make(sizeof(int), 1);
    struct backend_args *a = malloc(sizeof *a);
    *a = (struct backend_args){goc_ctx_retain(ctx), latency, goc_chan_retain(c)};
    goc_go(backend, a);

    int err;
    goc_case cases[] = {GOC_RECV(goc_ctx_done(ctx), NULL), GOC_RECV(c, &err)};
    if (goc_select(cases, 2, GOC_FOREVER) == 0) {
        goc_recv(c, NULL); /* wait for the backend to stop */
        err = goc_ctx_err(ctx);
    }
    goc_chan_release(c);
    return err;
}

static const char *outcome(int err) { return err ? goc_strerror(err) : "done"; }

struct canceller_args {
    goc_ctx *ctx;
    int64_t after;
};

/* The user hits stop after a while. */
static void cancel_later(void *p) {
    struct canceller_args a = *(struct canceller_args *)p;
    free(p);
    goc_sleep(a.after);
    goc_ctx_cancel(a.ctx);
    goc_ctx_release(a.ctx);
}

int main(void) {
    goc_ctx *bg = goc_ctx_background();

    /* 1. Fast enough: 10 ms of work in a 500 ms budget. */
    goc_ctx *ctx = goc_ctx_with_timeout(bg, 500 * GOC_MS);
    printf("10 ms request, 500 ms timeout: %s\n", outcome(request(ctx, 10 * GOC_MS)));
    goc_ctx_cancel(ctx); /* Go: defer cancel(), frees the timer now */
    goc_ctx_release(ctx);

    /* 2. Too slow: 10 s of work in a 20 ms budget. */
    ctx = goc_ctx_with_timeout(bg, 20 * GOC_MS);
    printf("10 s request, 20 ms timeout: %s\n", outcome(request(ctx, 10 * GOC_SEC)));
    goc_ctx_cancel(ctx);
    goc_ctx_release(ctx);

    /* 3. The parent goes: a generous timeout, but whoever made the request
     *    gives up after 20 ms, and cancelling the parent reaches the child. */
    goc_ctx *parent = goc_ctx_with_cancel(bg);
    ctx = goc_ctx_with_timeout(parent, 10 * GOC_SEC);
    struct canceller_args *a = malloc(sizeof *a);
    *a = (struct canceller_args){goc_ctx_retain(parent), 20 * GOC_MS};
    goc_go(cancel_later, a);
    printf("10 s request, parent cancelled at 20 ms: %s\n", outcome(request(ctx, 10 * GOC_SEC)));
    goc_ctx_cancel(ctx);
    goc_ctx_release(ctx);
    goc_ctx_release(parent);
    return 0;
}
