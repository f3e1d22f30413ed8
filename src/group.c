/* Groups: coroutines working on one task that fail together, with an
 * optional bound on how many run at once (golang.org/x/sync/errgroup with
 * SetLimit).
 *
 * A member is a coroutine running fn(group ctx, arg). It holds a slot from
 * the moment goc_group_go takes one until fn has returned and its error, if
 * any, is recorded. The first non-zero result is kept and cancels the group's
 * context; goc_group_wait waits until no slot is held, cancels the context (as
 * errgroup's Wait does) and returns that first result.
 *
 * Invariants (group lock held):
 *   - active counts slots held: members started and not finished, plus
 *     callers of goc_group_go that were handed a slot and have not yet started
 *     their member (or given the slot back);
 *   - with a limit, active <= limit, except after goc_group_limit lowered it
 *     (then no slot is handed out until active is below the new limit);
 *   - a caller waits in slotq only while slots are exhausted, FIFO: a slot
 *     freed while someone waits goes to the oldest waiter (active unchanged);
 *   - waitq is non-empty only while active > 0; err changes once, from 0.
 *
 * Locking: one spin lock per group (rank: lockrank.h), never held across a
 * wait (goc__wait_block releases it in the park hook) or a wake-up (waiters
 * are collected under the lock and woken after it).
 *
 * Happens-before (TSan, see san.h): a member's return happens-before
 * goc_group_wait returns (release/acquire on the group), and, in a group
 * with a limit, before every later goc_group_go returns, waiting or not
 * (errgroup's semaphore channel gives the one whose slot it takes).
 *
 * Design: built on sync.h's waiter queues directly rather than on a
 * WaitGroup and a semaphore channel: one lock covers the slot count, the
 * first error and both wait queues, a freed slot is handed to the next caller
 * without a wake-up race, and the waiting nodes live on the waiters' stacks. The cost is one
 * allocation per member, for the (group, fn, arg) record the coroutine takes.
 */
#include "goc.h"
#include "sync.h"

/* Fields: (l) the group lock, (i) immutable. */
struct goc_group {
    goc__lock lock;
    goc_ctx *ctx;          /* (i) cancel context, child of the parent       */
    int err;               /* (l) first non-zero result                     */
    int limit;             /* (l) 0: no limit                               */
    size_t active;         /* (l) slots held                                */
    goc__list slotq;       /* (l) goc_group_go callers waiting, oldest first */
    goc__list waitq;       /* (l) goc_group_wait callers, newest first      */
};

typedef struct member {
    goc_group *g;
    int (*fn)(goc_ctx *, void *);
    void *arg;
} member;

goc_group *goc_group_new(goc_ctx *parent) {
    goc_group *g = goc__calloc(1, sizeof *g);
    if (!g) return NULL;
    g->ctx = goc_ctx_with_cancel(parent);
    if (!g->ctx) {
        goc__free(g);
        return NULL;
    }
    return g;
}

goc_ctx *goc_group_ctx(goc_group *g) { return g ? g->ctx : NULL; }

void goc_group_free(goc_group *g) {
    if (!g) return;
    /* Under the lock: the last member may still be releasing it. */
    goc__lock_acquire(&g->lock, GOC__RANK_GROUP);
    size_t active = g->active;
    goc__lock_release(&g->lock);
    if (active) goc__throw("goc_group_free: %zu members still running", active);
    goc_ctx_release(g->ctx);
    goc__free(g);
}

/* ---- waiting and waking ---------------------------------------------- */

/* With g locked: hands free slots to the oldest slot waiters, onto the front
 * of wake. */
static void grant_slots(goc_group *g, goc__list *wake) {
    GOC_ASSERT_HELD(&g->lock);
    while (!goc__list_empty(&g->slotq) && (g->limit == 0 || g->active < (size_t)g->limit)) {
        goc__syncw *w = goc__syncq_pop(&g->slotq);
        g->active++;
        goc__sync_claim(w);
        goc__list_push_front(wake, &w->link);
    }
}

/* Takes a slot, waiting in line for one when the limit is reached. */
static void acquire_slot(goc_group *g) {
    goc__lock_acquire(&g->lock, GOC__RANK_GROUP);
    if (goc__list_empty(&g->slotq) && (g->limit == 0 || g->active < (size_t)g->limit)) {
        bool limited = g->limit != 0;
        g->active++;
        goc__lock_release(&g->lock);
        if (limited) goc__race_acquire(g); /* as the waiting path below */
        return;
    }
    goc__syncw w;
    goc__wait_init(&w.wt, goc__self(), false);
    /* Woken holding a slot handed over by release_slot. */
    goc__sync_block(&g->lock, &g->slotq, &w, false, GOC__WAIT_GROUP, g);
    goc__race_acquire(g);
}

/* Gives a slot back; the last one wakes goc_group_wait. g may be freed by a
 * waiter as soon as the lock is released: it is not touched after. */
static void release_slot(goc_group *g) {
    goc__list wake = {0};
    goc__lock_acquire(&g->lock, GOC__RANK_GROUP);
    GOC_ASSERT(g->active > 0);
    g->active--;
    grant_slots(g, &wake);
    if (g->active == 0) {
        goc__syncw *w;
        while ((w = goc__syncq_pop(&g->waitq))) {
            goc__sync_claim(w);
            goc__list_push_front(&wake, &w->link);
        }
    }
    GOC_ASSERT(g->active > 0 || goc__list_empty(&g->waitq));
    goc__lock_release(&g->lock);
    goc__sync_wake_list(&wake);
}

/* ---- members --------------------------------------------------------- */

static void record(goc_group *g, int err) {
    goc__lock_acquire(&g->lock, GOC__RANK_GROUP);
    bool first = g->err == 0;
    if (first) g->err = err;
    goc__lock_release(&g->lock);
    if (first) goc_ctx_cancel(g->ctx);
}

static void member_main(void *arg) {
    member m = *(member *)arg;
    goc__free(arg);
    int err = m.fn(m.g->ctx, m.arg);
    if (err) record(m.g, err);
    goc__race_release(m.g);
    release_slot(m.g);
}

int goc_group_go(goc_group *g, int (*fn)(goc_ctx *, void *), void *arg) {
    if (!g || !fn) return GOC_EINVAL;
    member *m = goc__malloc(sizeof *m);
    if (!m) return GOC_ENOMEM;
    *m = (member){g, fn, arg};
    acquire_slot(g);
    int r = goc_go(member_main, m);
    if (r != GOC_OK) {
        goc__free(m);
        release_slot(g);
    }
    return r;
}

void goc_group_limit(goc_group *g, int n) {
    if (!g) return;
    goc__list wake = {0};
    goc__lock_acquire(&g->lock, GOC__RANK_GROUP);
    g->limit = n > 0 ? n : 0;
    grant_slots(g, &wake);
    goc__lock_release(&g->lock);
    goc__sync_wake_list(&wake);
}

int goc_group_wait(goc_group *g) {
    if (!g) return GOC_EINVAL;
    goc__lock_acquire(&g->lock, GOC__RANK_GROUP);
    if (g->active > 0) {
        goc__syncw w;
        goc__wait_init(&w.wt, goc__self(), false);
        goc__sync_block(&g->lock, &g->waitq, &w, true, GOC__WAIT_GROUP, g);
        goc__lock_acquire(&g->lock, GOC__RANK_GROUP);
    }
    int err = g->err;
    goc__lock_release(&g->lock);
    goc__race_acquire(g);
    goc_ctx_cancel(g->ctx);
    return err;
}
