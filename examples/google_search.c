/* Google Search 1.0 → 2.0 → 2.1 → 3.0: from sequential to replicated, with
 * a deadline, in a few lines each.
 *
 * Mirrors "Example: Google Search" from Rob Pike's "Go Concurrency
 * Patterns". Fake backends (web, image, video) answer after a random
 * latency of up to 100 ms:
 *
 *   1.0  call them one after the other: the latencies add up.
 *   2.0  call them concurrently and fan in the results: the slowest counts.
 *           go func() { c <- Web(query) }() …
 *   2.1  stop waiting at 80 ms: don't wait for slow servers.
 *           timeout := time.After(80 * time.Millisecond)
 *           select { case result := <-c: …  case <-timeout: return }
 *   3.0  ask replicas of each backend and take the first answer: fast and
 *        (nearly) always complete within the deadline.
 *           func First(query string, replicas ...Search) Result {
 *               c := make(chan Result)
 *               searchReplica := func(i int) { c <- replicas[i](query) }
 *               for i := range replicas { go searchReplica(i) }
 *               return <-c
 *           }
 *
 * One change from the slides: the result channels are buffered with room
 * for every sender. In Pike's code a search that loses the race (or misses
 * the deadline) blocks forever on its send, a leaked goroutine; with the
 * buffer it drops its answer into it and returns.
 *
 *     google_search [rounds]   run each version `rounds` times (default 1)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"

typedef struct {
    char text[64];
} result;

/* A fake search backend: kind ("web", "image", "video") and replica name. */
typedef struct {
    const char *kind, *replica;
} search;

static int rand_intn(int n) {
    /* rand() is fine single-threaded; backends run in parallel, so each
     * draw takes a ticket from an atomic counter and mixes it (splitmix64). */
    static _Atomic uint64_t seed;
    uint64_t z = atomic_fetch_add(&seed, 0x9e3779b97f4a7c15u) + (uint64_t)goc_now();
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (int)((z ^ (z >> 31)) % (uint64_t)n);
}

/* func fakeSearch(kind string) Search */
static result run_search(const search *s, const char *query) {
    goc_sleep(rand_intn(100) * GOC_MS);
    result r;
    snprintf(r.text, sizeof r.text, "%s result for \"%s\" (%s)", s->kind, query, s->replica);
    return r;
}

static const search web = {"web", "web1"}, web2 = {"web", "web2"};
static const search image = {"image", "image1"}, image2 = {"image", "image2"};
static const search video = {"video", "video1"}, video2 = {"video", "video2"};

/* ---- 1.0: sequential ------------------------------------------------- */

static int google_1_0(const char *query, result *results) {
    results[0] = run_search(&web, query);
    results[1] = run_search(&image, query);
    results[2] = run_search(&video, query);
    return 3;
}

/* ---- 2.0: concurrent, fan-in ------------------------------------------ */

struct call {
    const search *s;
    const char *query;
    goc_chan *c;
};

/* go func() { c <- s(query) }() */
static void call_search(void *p) {
    struct call a = *(struct call *)p;
    free(p);
    result r = run_search(a.s, a.query);
    goc_send(a.c, &r); /* never blocks: c has room for every caller */
    goc_chan_release(a.c);
}

static void go_search(const search *s, const char *query, goc_chan *c) {
    struct call *a = malloc(sizeof *a);
    *a = (struct call){s, query, goc_chan_retain(c)};
    goc_go(call_search, a);
}

static int google_2_0(const char *query, result *results) {
    goc_chan *c = goc_chan_make(sizeof(result), 3);
    go_search(&web, query, c);
    go_search(&image, query, c);
    go_search(&video, query, c);
    for (int i = 0; i < 3; i++) goc_recv(c, &results[i]);
    goc_chan_release(c);
    return 3;
}

/* ---- 2.1: don't wait for slow servers --------------------------------- */

/* Up to three results from c, or as many as arrive within 80 ms:
 *   timeout := time.After(80 * time.Millisecond)
 *   for i := 0; i < 3; i++ { select { case r := <-c: ... case <-timeout: return } } */
static int gather(goc_chan *c, result *results) {
    goc_chan *timeout = goc_after(80 * GOC_MS);
    int n = 0;
    while (n < 3) {
        goc_case cases[] = {GOC_RECV(c, &results[n]), GOC_RECV(timeout, NULL)};
        if (goc_select(cases, 2, GOC_FOREVER) == 1) {
            printf("  timed out\n");
            break;
        }
        n++;
    }
    goc_chan_release(timeout);
    return n;
}

static int google_2_1(const char *query, result *results) {
    goc_chan *c = goc_chan_make(sizeof(result), 3);
    go_search(&web, query, c);
    go_search(&image, query, c);
    go_search(&video, query, c);
    int n = gather(c, results);
    goc_chan_release(c);
    return n;
}

/* ---- 3.0: replicas, first answer wins ----------------------------------- */

/* func First(query string, replicas ...Search) Result */
static result first(const char *query, const search *replica1, const search *replica2) {
    goc_chan *c = goc_chan_make(sizeof(result), 2); /* room for the loser too */
    go_search(replica1, query, c);
    go_search(replica2, query, c);
    result r;
    goc_recv(c, &r);
    goc_chan_release(c);
    return r;
}

struct call_first {
    const search *replica1, *replica2;
    const char *query;
    goc_chan *c;
};

/* go func() { c <- First(query, Web1, Web2) }() */
static void call_first(void *p) {
    struct call_first a = *(struct call_first *)p;
    free(p);
    result r = first(a.query, a.replica1, a.replica2);
    goc_send(a.c, &r);
    goc_chan_release(a.c);
}

static void go_first(const search *r1, const search *r2, const char *query, goc_chan *c) {
    struct call_first *a = malloc(sizeof *a);
    *a = (struct call_first){r1, r2, query, goc_chan_retain(c)};
    goc_go(call_first, a);
}

static int google_3_0(const char *query, result *results) {
    goc_chan *c = goc_chan_make(sizeof(result), 3);
    go_first(&web, &web2, query, c);
    go_first(&image, &image2, query, c);
    go_first(&video, &video2, query, c);
    int n = gather(c, results);
    goc_chan_release(c);
    return n;
}

static void run(const char *version, int (*google)(const char *, result *)) {
    result results[3];
    printf("Google Search %s:\n", version);
    int64_t start = goc_now();
    int n = google("golang", results);
    int64_t elapsed = goc_now() - start;
    for (int i = 0; i < n; i++) printf("  %s\n", results[i].text);
    printf("  %d results in %lld ms\n", n, (long long)(elapsed / GOC_MS));
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 1;
    for (int i = 0; i < rounds; i++) {
        run("1.0", google_1_0);
        run("2.0", google_2_0);
        run("2.1", google_2_1);
        run("3.0", google_3_0);
    }
    return 0;
}
