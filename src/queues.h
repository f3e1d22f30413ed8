/* The scheduler's run queues: a worker's local queue as its owner uses it
 * (a `next` slot and a ring, runq.h, with the order policy below), and the
 * global queue, where coroutines readied or spawned off the workers, and
 * the spill of full rings, wait under goc__sched.lock.
 *
 * Owner-only calls (goc__lq_*) run on the worker that owns the queue; the
 * global queue's calls take goc__sched.lock unless named _locked.
 */
#ifndef GOC_QUEUES_H
#define GOC_QUEUES_H

#include "sched_int.h"

#define GOC__NEXT_RUN 4  /* `next` picks in a row before the ring gets a turn */
#define GOC__HEAD_MAX 256 /* spawns pushed at the ring's head before FIFO */

/* queues.c */
void goc__gq_append(goc__g *head, goc__g *tail, size_t n);
void goc__gq_append_locked(goc__g *head, goc__g *tail, size_t n);
void goc__gq_prepend_locked(goc__g *head, goc__g *tail, size_t n);
goc__g *goc__gq_take_locked(goc__w *w, bool one);
goc__g *goc__gq_take_slow(goc__w *w, bool one);
void goc__lq_spill(goc__w *w, goc__g *g);
size_t goc__lq_drain(goc__w *w, goc__g **head, goc__g **tail);

static inline bool goc__gq_empty(void) {
    return atomic_load_explicit(&goc__sched.ngq, memory_order_relaxed) == 0;
}

/* One coroutine to run from the global queue and, unless `one`, a fair
 * share more into w's ring; NULL when it is empty. */
static inline goc__g *goc__gq_take(goc__w *w, bool one) {
    return goc__gq_empty() ? NULL : goc__gq_take_slow(w, one);
}

/* Owner: queues g in `next` (the previous occupant moves to the ring) or at
 * the tail of the ring. True when the ring grew: time to wake a helper. */
static GOC_INLINE bool goc__lq_put(goc__w *w, goc__g *g, bool next) {
    /* Cheap signs of a coroutine queued twice or while it runs. */
    GOC_ASSERT(g != w->cur && g->kind == GOC__G_CORO && !atomic_load(&g->wait));
    if (next && !(g = goc__runq_put_next(&w->q, g))) return false;
    if (!goc__runq_push(&w->q, g)) goc__lq_spill(w, g);
    return true;
}

/* Owner: the next coroutine of w's own queue: `next`, then the ring's head,
 * except that after NEXT_RUN picks in a row from `next` the ring's head goes
 * first, so a hand-off chain cannot starve the ring. Keeps the count of
 * head-pushed entries (see goc__lq_spawn) roughly right: the owner takes
 * them first; thieves' takes are forgiven when the ring empties. */
static inline goc__g *goc__lq_get(goc__w *w) {
    goc__g *g = w->nnext < GOC__NEXT_RUN ? goc__runq_get_next(&w->q) : NULL;
    if (g) {
        w->nnext++;
        return g;
    }
    w->nnext = 0;
    g = goc__runq_pop(&w->q);
    if (g) {
        if (w->nhead) w->nhead--;
    } else {
        w->nhead = 0;
        w->lifo_off = false;
        g = goc__runq_get_next(&w->q);
    }
    return g;
}

/* Has head passed lifo_until: is everything queued before FIFO began taken? */
static inline bool goc__lq_lifo_done(goc__w *w) {
    uint32_t h = goc__runq_idx(atomic_load_explicit(&w->q.head, memory_order_relaxed));
    return (int32_t)(h - w->lifo_until) >= 0;
}

/* Owner: queues a new coroutine in `next`; what it displaces goes to the head
 * of the ring, so a fork/join tree unfolds depth first: only about its depth
 * is alive at once, on warm stacks, instead of a breadth-first frontier of
 * fresh ones. LIFO is unfair
 * to what waits behind, so after HEAD_MAX head pushes spawns queue at the
 * tail until everything queued before has been taken (by w or by thieves);
 * then LIFO resumes. Waiting for the ring to empty instead would let a
 * fork/join tree go breadth first for good once the bound tripped, since its
 * FIFO spawns keep the ring full. True when the ring grew. */
static GOC_INLINE bool goc__lq_spawn(goc__w *w, goc__g *g) {
    GOC_ASSERT(g != w->cur && g->kind == GOC__G_CORO);
    g = goc__runq_put_next(&w->q, g);
    if (!g) return false;
    if (w->lifo_off && goc__lq_lifo_done(w)) {
        w->lifo_off = false;
        w->nhead = 0;
    }
    if (!w->lifo_off && w->nhead < GOC__HEAD_MAX && goc__runq_push_head(&w->q, g)) {
        w->nhead++;
        return true;
    }
    if (!w->lifo_off) {
        w->lifo_off = true;
        w->lifo_until = atomic_load_explicit(&w->q.tail, memory_order_relaxed);
    }
    if (!goc__runq_push(&w->q, g)) goc__lq_spill(w, g);
    return true;
}

#endif
