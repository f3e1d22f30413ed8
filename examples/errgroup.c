/* Error group: run related tasks, wait for all, get the first error, and
 * cancel the rest as soon as one fails.
 *
 * Mirrors golang.org/x/sync/errgroup's examples:
 *
 *     g, ctx := errgroup.WithContext(ctx)
 *     for i, url := range urls {
 *         i, url := i, url
 *         g.Go(func() error {
 *             result, err := fetch(ctx, url)
 *             results[i] = result
 *             return err
 *         })
 *     }
 *     if err := g.Wait(); err != nil { … }
 *
 * goc_group_go starts a task; goc_group_wait waits for all and returns the
 * first non-zero result. That first failure also cancels the group's
 * context, so tasks still running (which watch it) give up instead of
 * finishing for nothing. Each task writes only its own results[i]: no lock,
 * and goc_group_wait orders the writes before main reads them.
 *
 * goc_group_limit (errgroup's SetLimit) bounds how many run at once: a
 * second group digests twelve chunks two at a time.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "goc.h"

/* ---- fetch everything, fail fast -------------------------------------------- */

struct fetch {
    const char *url;
    int64_t latency;
    int fails_with; /* 0, or the error the fake server answers with */
    int result;     /* out: 0, the error, or why it was cancelled */
};

static int fetch(goc_ctx *ctx, void *arg) {
    struct fetch *f = arg;
    goc_timer *t = goc_timer_new(f->latency);
    goc_case cases[] = {GOC_RECV(goc_timer_chan(t), NULL), GOC_RECV(goc_ctx_done(ctx), NULL)};
    f->result = goc_select(cases, 2, GOC_FOREVER) == 0 ? f->fails_with : goc_ctx_err(ctx);
    goc_timer_free(t);
    return f->result;
}

static void fetch_all(void) {
    struct fetch urls[] = {
        {"http://www.golang.org/", 5 * GOC_MS, 0, 0},
        {"http://www.google.com/", 10 * GOC_SEC, 0, 0}, /* slow: cancelled */
        {"http://www.somestupidname.com/", 50 * GOC_MS, -EHOSTUNREACH, 0},
    };
    goc_group *g = goc_group_new(goc_ctx_background());
    for (int i = 0; i < 3; i++) goc_group_go(g, fetch, &urls[i]);
    int err = goc_group_wait(g);
    goc_group_free(g);

    for (int i = 0; i < 3; i++)
        printf("  %s: %s\n", urls[i].url, urls[i].result ? strerror(-urls[i].result) : "fetched");
    if (err) printf("  first error: %s\n", strerror(-err));
    else printf("  successfully fetched all URLs\n");
}

/* ---- at most two at a time ---------------------------------------------------- */

static atomic_int running, most;

static int digest_chunk(goc_ctx *ctx, void *arg) {
    (void)ctx, (void)arg;
    int now = atomic_fetch_add(&running, 1) + 1;
    for (int m = atomic_load(&most); now > m && !atomic_compare_exchange_weak(&most, &m, now);) {
    }
    goc_sleep(20 * GOC_MS); /* the work: long enough that the next chunk starts meanwhile */
    atomic_fetch_sub(&running, 1);
    return 0;
}

static void limited(void) {
    goc_group *g = goc_group_new(goc_ctx_background());
    goc_group_limit(g, 2);
    for (int i = 0; i < 12; i++) goc_group_go(g, digest_chunk, NULL); /* waits for a slot */
    int err = goc_group_wait(g);
    goc_group_free(g);
    printf("  12 chunks, %s, at most %d at once\n", err ? strerror(-err) : "all done",
           atomic_load(&most));
}

int main(void) {
    printf("fetch three URLs, one fails:\n");
    fetch_all();
    printf("limit 2:\n");
    limited();
    return 0;
}
