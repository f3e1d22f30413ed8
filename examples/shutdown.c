/* Graceful shutdown: a signal arrives as a message, cancels a context, and
 * the workers finish what they are doing and stop.
 *
 * Mirrors signal.Notify with a context and an errgroup, the usual shape of
 * a Go server's main:
 *
 *     sigs := make(chan os.Signal, 1)
 *     signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
 *     ctx, cancel := context.WithCancel(context.Background())
 *     g, ctx := errgroup.WithContext(ctx)
 *     for i := 0; i < 3; i++ { g.Go(func() error { return worker(ctx) }) }
 *     sig := <-sigs
 *     cancel()
 *     g.Wait()
 *
 * No handler runs goc code: goc's own handler hands the signal to a runtime
 * thread, which sends it on the channel (without blocking, so the channel
 * needs room: capacity 1, as Go advises). From there it is an ordinary
 * message, and stopping is an ordinary cancellation.
 *
 *     shutdown          run until Ctrl-C (SIGINT) or SIGTERM
 *     shutdown ms       send ourselves SIGINT after ms, as if Ctrl-C
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

/* Does a job every 10 ms until ctx is cancelled. */
static int worker(goc_ctx *ctx, void *arg) {
    (void)arg;
    goc_ticker *jobs = goc_ticker_new(10 * GOC_MS);
    for (;;) {
        goc_case cases[] = {GOC_RECV(goc_ticker_chan(jobs), NULL),
                            GOC_RECV(goc_ctx_done(ctx), NULL)};
        if (goc_select(cases, 2, GOC_FOREVER) == 1) break;
        /* … a job … */
    }
    goc_ticker_free(jobs);
    return 0; /* stopping when asked is not an error */
}

/* Plays the user: presses Ctrl-C after a while. */
static void press_ctrl_c(void *arg) {
    goc_sleep(*(int64_t *)arg);
    raise(SIGINT); /* what Ctrl-C sends */
}

int main(int argc, char **argv) {
    goc_chan *sigs = goc_chan_make(sizeof(int), 1);
    goc_signal_notify(sigs, (const int[]){SIGINT, SIGTERM}, 2);

    goc_ctx *ctx = goc_ctx_with_cancel(goc_ctx_background());
    goc_group *g = goc_group_new(ctx);
    for (int i = 0; i < 3; i++) goc_group_go(g, worker, NULL);

    int64_t after = argc > 1 ? atoi(argv[1]) * GOC_MS : 0;
    if (after) goc_go(press_ctrl_c, &after);
    printf("3 workers running; Ctrl-C (SIGINT) or SIGTERM stops them\n");
    fflush(stdout);

    int sig;
    goc_recv(sigs, &sig);
    printf("got %s: shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    goc_ctx_cancel(ctx); /* reaches the group's context, and every worker */
    int err = goc_group_wait(g);
    printf("workers stopped%s; bye\n", err ? " with an error" : " cleanly");

    goc_group_free(g);
    goc_ctx_release(ctx);
    goc_signal_stop(sigs);
    goc_chan_release(sigs);
    return 0;
}
