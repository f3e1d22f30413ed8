/* Groups (errgroup): wait for all, first error wins and cancels the others,
 * the limit is never exceeded and blocks goc_group_go, members' writes are
 * visible after wait, and out-of-memory leaves no trace. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"
#include "../src/sys.h"

TEST(wait_with_no_members_returns_ok_and_cancels) {
    goc_group *g = goc_group_new(NULL);
    CHECK(g != NULL);
    CHECK_ERR(GOC_OK, goc_ctx_err(goc_group_ctx(g)));
    CHECK_OK(goc_group_wait(g));
    /* As errgroup's Wait: the group's context ends with the group. */
    CHECK_ERR(GOC_ECANCELED, goc_ctx_err(goc_group_ctx(g)));
    goc_group_free(g);
    goc_group_free(NULL);
}

/* Each member writes its own slot without atomics: wait must order these
 * writes before the reads (TSan checks the edge). */
static int write_slot(goc_ctx *ctx, void *arg) {
    (void)ctx;
    *(int *)arg += 1;
    return 0;
}

TEST(all_members_run_once_and_are_visible_after_wait) {
    int n = CHECK_SCALE(20000);
    int *slots = calloc((size_t)n, sizeof *slots);
    goc_group *g = goc_group_new(goc_ctx_background());
    for (int i = 0; i < n; i++) CHECK_OK(goc_group_go(g, write_slot, &slots[i]));
    CHECK_OK(goc_group_wait(g));
    for (int i = 0; i < n; i++) CHECK_EQ(slots[i], 1);
    goc_group_free(g);
    free(slots);
}

static int fail_now(goc_ctx *ctx, void *arg) {
    (void)ctx;
    return (int)(intptr_t)arg;
}

/* Returns only once the group's context is cancelled, with another error. */
static int wait_for_cancel(goc_ctx *ctx, void *arg) {
    _Atomic int *observed = arg;
    CHECK_ERR(GOC_CLOSED, goc_recv(goc_ctx_done(ctx), NULL));
    CHECK_ERR(GOC_ECANCELED, goc_ctx_err(ctx));
    atomic_fetch_add(observed, 1);
    return GOC_ECANCELED;
}

TEST(first_error_wins_and_cancels_the_others) {
    enum { N = 50 };
    _Atomic int observed = 0;
    goc_group *g = goc_group_new(NULL);
    for (int i = 0; i < N; i++) CHECK_OK(goc_group_go(g, wait_for_cancel, &observed));
    CHECK_OK(goc_group_go(g, fail_now, (void *)(intptr_t)-7));
    CHECK_EQ(goc_group_wait(g), -7);
    CHECK_EQ(atomic_load(&observed), N);
    goc_group_free(g);
}

TEST(later_errors_are_ignored) {
    goc_group *g = goc_group_new(NULL);
    goc_group_limit(g, 1); /* members run one after the other, in order */
    CHECK_OK(goc_group_go(g, fail_now, (void *)(intptr_t)0));
    CHECK_OK(goc_group_go(g, fail_now, (void *)(intptr_t)-3));
    CHECK_OK(goc_group_go(g, fail_now, (void *)(intptr_t)-4));
    CHECK_EQ(goc_group_wait(g), -3);
    goc_group_free(g);
}

TEST(parent_cancel_reaches_the_members) {
    _Atomic int observed = 0;
    goc_ctx *parent = goc_ctx_with_cancel(NULL);
    goc_group *g = goc_group_new(parent);
    for (int i = 0; i < 10; i++) CHECK_OK(goc_group_go(g, wait_for_cancel, &observed));
    goc_ctx_cancel(parent);
    CHECK_ERR(GOC_ECANCELED, goc_group_wait(g)); /* the members' own results */
    CHECK_EQ(atomic_load(&observed), 10);
    goc_group_free(g);
    goc_ctx_release(parent);
}

/* ---- limit ------------------------------------------------------------------ */

struct bounded {
    _Atomic int running, max, total;
    int limit;
    _Atomic bool filled; /* limit members have run at once */
};

/* A member starts: counts it running and raises *max to the new count. */
static void enter(_Atomic int *running, _Atomic int *max) {
    int now = atomic_fetch_add(running, 1) + 1;
    int m = atomic_load(max);
    while (now > m && !atomic_compare_exchange_weak(max, &m, now)) {
    }
}

static int count_running(goc_ctx *ctx, void *arg) {
    (void)ctx;
    struct bounded *b = arg;
    enter(&b->running, &b->max);
    /* The first wave waits until every slot is taken, so the limit is
     * reached, not only respected (n >= limit here). */
    while (!atomic_load(&b->filled)) {
        if (atomic_load(&b->running) >= b->limit)
            atomic_store(&b->filled, true);
        else
            goc_yield();
    }
    for (int i = 0; i < 3; i++) goc_yield(); /* let others start, if they may */
    atomic_fetch_add(&b->total, 1);
    atomic_fetch_sub(&b->running, 1);
    return 0;
}

static void limit_holds(int limit, int n) {
    struct bounded b = {.limit = limit};
    CHECK_OP(n, >=, limit);
    goc_group *g = goc_group_new(NULL);
    goc_group_limit(g, limit);
    for (int i = 0; i < n; i++) CHECK_OK(goc_group_go(g, count_running, &b));
    CHECK_OK(goc_group_wait(g));
    CHECK_EQ(atomic_load(&b.total), n);
    CHECK_EQ(atomic_load(&b.max), limit);
    goc_group_free(g);
}

TEST(limit_is_never_exceeded_from_a_thread) { limit_holds(3, CHECK_SCALE(5000)); }

struct limit_arg {
    int limit, n;
    goc_chan *done;
};

static void limit_in_coroutine(void *arg) {
    struct limit_arg *a = arg;
    limit_holds(a->limit, a->n);
    goc_send(a->done, NULL);
}

TEST(limit_is_never_exceeded_from_coroutines) {
    enum { K = 4 };
    struct limit_arg a[K];
    goc_chan *done = goc_chan_make(0, K);
    for (int i = 0; i < K; i++) {
        a[i] = (struct limit_arg){i + 1, CHECK_SCALE(2000), done};
        CHECK_OK(goc_go(limit_in_coroutine, &a[i]));
    }
    for (int i = 0; i < K; i++) CHECK_OK(goc_recv(done, NULL));
    goc_chan_release(done);
}

/* Returns 0 once the gate yields a value or is closed. */
static int block_on(goc_ctx *ctx, void *arg) {
    (void)ctx;
    goc_recv(arg, NULL);
    return 0;
}

struct blocked_go {
    goc_group *g;
    goc_chan *gate;
    _Atomic int stage;
    goc_chan *done;
};

static void go_second(void *arg) {
    struct blocked_go *b = arg;
    atomic_store(&b->stage, 1);
    CHECK_OK(goc_group_go(b->g, block_on, b->gate)); /* waits for a slot */
    atomic_store(&b->stage, 2);
    goc_send(b->done, NULL);
}

TEST(go_waits_for_a_free_slot) {
    struct blocked_go b = {goc_group_new(NULL), goc_chan_make(0, 0), 0, goc_chan_make(0, 1)};
    goc_group_limit(b.g, 1);
    CHECK_OK(goc_group_go(b.g, block_on, b.gate));
    CHECK_OK(goc_go(go_second, &b));
    while (atomic_load(&b.stage) == 0) goc_sleep(GOC_MS);
    goc_sleep(5 * GOC_MS);
    CHECK_EQ(atomic_load(&b.stage), 1); /* still waiting: the one slot is held */
    CHECK_OK(goc_send(b.gate, NULL));   /* the first member returns */
    CHECK_OK(goc_recv(b.done, NULL));
    CHECK_EQ(atomic_load(&b.stage), 2);
    CHECK_OK(goc_send(b.gate, NULL));
    CHECK_OK(goc_group_wait(b.g));
    goc_group_free(b.g);
    goc_chan_release(b.gate);
    goc_chan_release(b.done);
}

TEST(raising_the_limit_admits_waiters) {
    struct blocked_go b = {goc_group_new(NULL), goc_chan_make(0, 0), 0, goc_chan_make(0, 1)};
    goc_group_limit(b.g, 1);
    CHECK_OK(goc_group_go(b.g, block_on, b.gate));
    CHECK_OK(goc_go(go_second, &b));
    while (atomic_load(&b.stage) == 0) goc_sleep(GOC_MS);
    goc_group_limit(b.g, 0); /* no limit: the waiter gets in */
    CHECK_OK(goc_recv(b.done, NULL));
    CHECK_OK(goc_send(b.gate, NULL));
    CHECK_OK(goc_send(b.gate, NULL));
    CHECK_OK(goc_group_wait(b.g));
    goc_group_free(b.g);
    goc_chan_release(b.gate);
    goc_chan_release(b.done);
}

/* Lowering the limit while members run takes effect as they return: the
 * members that start after it run one at a time. */
struct lowered {
    _Atomic int running, max;
    goc_chan *gate;
};

static int count_lowered(goc_ctx *ctx, void *arg) {
    (void)ctx;
    struct lowered *l = arg;
    enter(&l->running, &l->max);
    goc_recv(l->gate, NULL);
    atomic_fetch_sub(&l->running, 1);
    return 0;
}

TEST(lowering_the_limit_takes_effect_as_members_return) {
    struct lowered l = {0, 0, goc_chan_make(0, 0)};
    goc_group *g = goc_group_new(NULL);
    goc_group_limit(g, 4);
    for (int i = 0; i < 4; i++) CHECK_OK(goc_group_go(g, count_lowered, &l));
    while (atomic_load(&l.running) < 4) goc_sleep(GOC_MS / 10);
    goc_group_limit(g, 1);
    for (int i = 0; i < 4; i++) CHECK_OK(goc_send(l.gate, NULL));
    while (atomic_load(&l.running) > 0) goc_sleep(GOC_MS / 10);
    atomic_store(&l.max, 0);
    goc_close(l.gate); /* members now return at once */
    for (int i = 0; i < 20; i++) CHECK_OK(goc_group_go(g, count_lowered, &l));
    CHECK_OK(goc_group_wait(g));
    CHECK_EQ(atomic_load(&l.max), 1);
    goc_group_free(g);
    goc_chan_release(l.gate);
}

/* A group may be used again after wait; the first error stays its result
 * (Go's TestZeroGroup). */
static int return_arg(goc_ctx *ctx, void *arg) {
    (void)ctx;
    return (int)(intptr_t)arg;
}

TEST(reused_after_wait_keeps_the_first_error) {
    goc_group *g = goc_group_new(NULL);
    CHECK_OK(goc_group_wait(g));
    CHECK_OK(goc_group_go(g, return_arg, (void *)0));
    CHECK_OK(goc_group_wait(g));
    CHECK_OK(goc_group_go(g, return_arg, (void *)(intptr_t)-5));
    CHECK_EQ(goc_group_wait(g), -5);
    CHECK_OK(goc_group_go(g, return_arg, (void *)0));
    CHECK_EQ(goc_group_wait(g), -5);
    CHECK_OK(goc_group_go(g, return_arg, (void *)(intptr_t)-6));
    CHECK_EQ(goc_group_wait(g), -5);
    goc_group_free(g);
}

/* ---- waiters ---------------------------------------------------------------- */

struct waiter_arg {
    goc_group *g;
    _Atomic int returned;
};

static void *thread_wait(void *arg) {
    struct waiter_arg *w = arg;
    CHECK_EQ(goc_group_wait(w->g), -9);
    atomic_fetch_add(&w->returned, 1);
    return NULL;
}

TEST(many_waiters_coroutines_and_threads) {
    goc_chan *gate = goc_chan_make(0, 0);
    struct waiter_arg w = {goc_group_new(NULL), 0};
    CHECK_OK(goc_group_go(w.g, block_on, gate));
    CHECK_OK(goc_group_go(w.g, fail_now, (void *)(intptr_t)-9));
    pthread_t t[3];
    for (int i = 0; i < 3; i++) CHECK_EQ(pthread_create(&t[i], NULL, thread_wait, &w), 0);
    goc_sleep(2 * GOC_MS);
    CHECK_EQ(atomic_load(&w.returned), 0); /* gate still holds a member */
    goc_close(gate);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    CHECK_EQ(goc_group_wait(w.g), -9);
    goc_group_free(w.g);
    goc_chan_release(gate);
}

/* Members may start members; wait covers them if started before returning. */
static int spawn_children(goc_ctx *ctx, void *arg) {
    (void)ctx;
    goc_group *g = *(goc_group **)arg;
    for (int i = 0; i < 10; i++) CHECK_OK(goc_group_go(g, fail_now, (void *)(intptr_t)0));
    return 0;
}

TEST(members_may_start_members) {
    goc_group *g = goc_group_new(NULL);
    for (int i = 0; i < 10; i++) CHECK_OK(goc_group_go(g, spawn_children, &g));
    CHECK_OK(goc_group_wait(g));
    goc_group_free(g);
}

/* ---- errors ----------------------------------------------------------------- */

TEST(bad_arguments_and_out_of_memory) {
    goc_group *g = goc_group_new(NULL);
    CHECK_ERR(GOC_EINVAL, goc_group_go(g, NULL, NULL));
    CHECK_ERR(GOC_EINVAL, goc_group_go(NULL, fail_now, NULL));
    CHECK_OK(goc_group_go(g, fail_now, NULL)); /* starts the runtime */
    CHECK_OK(goc_group_wait(g));
    goc__fault_arm(GOC__FAULT_ALLOC, 1);
    CHECK_ERR(GOC_ENOMEM, goc_group_go(g, fail_now, (void *)(intptr_t)-1));
    CHECK_OK(goc_group_wait(g)); /* nothing ran */
    goc_group_free(g);
    goc__fault_arm(GOC__FAULT_ALLOC, 1);
    CHECK(goc_group_new(NULL) == NULL);
    goc__fault_arm(GOC__FAULT_ALLOC, 2);
    CHECK(goc_group_new(NULL) == NULL);
    goc__fault_arm(GOC__FAULT_ALLOC, 0);
    CHECK_ERR(GOC_EINVAL, goc_group_wait(NULL));
    goc_group_limit(NULL, 3);
    CHECK(goc_group_ctx(NULL) == NULL);
    goc_group_free(NULL);
}
