/* The order a worker runs new coroutines in: a fork/join tree unfolds depth
 * first (few coroutines alive at once), and a storm of spawns falls back to
 * first come, first served, so nothing queued waits behind an endless line. */
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"

struct node {
    int depth;
    goc_wg *parent;
};

static _Atomic long alive, peak;

static void tree(void *arg) {
    struct node *me = arg;
    long now = atomic_fetch_add(&alive, 1) + 1, p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now)) {
    }
    if (me->depth > 0) {
        goc_wg wg = GOC_WG_INIT;
        struct node a = {me->depth - 1, &wg}, b = {me->depth - 1, &wg};
        goc_wg_add(&wg, 2);
        CHECK_OK(goc_go(tree, &a));
        CHECK_OK(goc_go(tree, &b));
        goc_wg_wait(&wg);
    }
    atomic_fetch_sub(&alive, 1);
    goc_wg_done(me->parent);
}

TEST(fork_join_unfolds_depth_first) {
#ifdef CHECK_SANITIZED
    enum { DEPTH = 10 }; /* a spawn costs a mapping and a TSan fiber */
#else
    enum { DEPTH = 20 }; /* 2,097,151 coroutines: long enough to trip the LIFO bound */
#endif
    goc_wg wg = GOC_WG_INIT;
    struct node root = {DEPTH, &wg};
    goc_wg_add(&wg, 1);
    CHECK_OK(goc_go(tree, &root));
    goc_wg_wait(&wg);
    long p = atomic_load(&peak);
    printf("peak alive: %ld of %d (procs %d)\n", p, (1 << (DEPTH + 1)) - 1, goc_procs());
    /* Breadth first, tens of thousands are alive at once; depth first, about
     * two per level per worker, plus what thieves hold. The sanitizer builds
     * shrink the run queue to 8 entries, which a tree overflows sooner. */
    long total = (1L << (DEPTH + 1)) - 1;
    (void)total;
    if (goc_procs() == 1) CHECK_OP(p, <=, CHECK_SANITIZED_OR(total / 8, 4 * DEPTH));
    /* With thieves the LIFO bound trips now and then; the tree must come
     * back to depth first after it (it used to peak at ~30,000 when the
     * FIFO phase lasted until the ring emptied). */
    CHECK_OP(p, <=, CHECK_SANITIZED_OR(total / 4, 32 * DEPTH));
}

enum { STORM = CHECK_SANITIZED_OR(1000, 5000) };
static _Atomic int started, finished;
static _Atomic int rank_of[STORM];

static void storm_child(void *arg) {
    atomic_store(&rank_of[(intptr_t)arg], atomic_fetch_add(&started, 1));
    atomic_fetch_add(&finished, 1);
}

static void storm(void *arg) {
    for (intptr_t i = 0; i < STORM; i++) CHECK_OK(goc_go(storm_child, (void *)i));
    goc_send(arg, NULL);
}

TEST(spawn_storm_is_served_in_order_past_a_bound) {
    goc_chan *done = goc_chan_make(0, 1);
    CHECK_OK(goc_go(storm, done));
    CHECK_OK(goc_recv(done, NULL));
    while (atomic_load(&finished) < STORM) goc_sleep(GOC_MS);
    /* The first spawned must not wait for the thousands after it. Before
     * it go at most the head-pushed batch (256, spilled to the global queue
     * ahead of it) and one ring (257), which the spawner's worker runs
     * before the global queue, or its heir, when the monitor replaced it
     * mid-storm (as it usually does at GOC_PROCS=1). */
    int first = atomic_load(&rank_of[0]), last = atomic_load(&rank_of[STORM - 1]);
    printf("first spawned ran %dth, last %dth\n", first, last);
    CHECK_OP(first, <, 600);
    goc_chan_release(done);
}

/* A hand-off chain through `next` (two coroutines answering each other over
 * unbuffered channels) must not starve what waits in the ring: after a few
 * picks from `next` in a row the ring's head gets a turn. Before that rule,
 * on one worker the waiting coroutine ran only once the chain ended. */
enum { CHAIN_MAX = 1000000 }; /* round trips before we call it starved */
static _Atomic int bystander_ran;
static _Atomic long chain_trips;
static goc_chan *ping, *pong;

static void bystander(void *arg) {
    (void)arg;
    atomic_store(&bystander_ran, 1);
}

static void ponger(void *done) {
    long v;
    while (goc_recv(ping, &v) == GOC_OK) CHECK_OK(goc_send(pong, &v));
    goc_send(done, NULL); /* ping is released only after its last receive */
}

static void pinger(void *done) {
    CHECK_OK(goc_go(bystander, NULL)); /* into `next`...                    */
    CHECK_OK(goc_go(ponger, done));    /* ...displaced to the ring by this  */
    long v = 0;
    while (!atomic_load(&bystander_ran) && v < CHAIN_MAX) {
        CHECK_OK(goc_send(ping, &v));
        CHECK_OK(goc_recv(pong, &v));
        v++;
    }
    atomic_store(&chain_trips, v);
    goc_close(ping);
    goc_send(done, NULL);
}

TEST(next_chain_does_not_starve_the_ring) {
    ping = goc_chan_make(sizeof(long), 0);
    pong = goc_chan_make(sizeof(long), 0);
    goc_chan *done = goc_chan_make(0, 2);
    CHECK_OK(goc_go(pinger, done));
    CHECK_OK(goc_recv(done, NULL));
    CHECK_OK(goc_recv(done, NULL));
    printf("bystander ran after %ld round trips\n", atomic_load(&chain_trips));
    CHECK(atomic_load(&bystander_ran));
    CHECK_OP(atomic_load(&chain_trips), <, CHAIN_MAX);
    goc_chan_release(ping);
    goc_chan_release(pong);
    goc_chan_release(done);
}
