/* What the sync primitives share: a waiter node, queued at either end of a
 * goc__list (list.h) for FIFO or LIFO order, and goc__sema, the counting semaphore that mutex and rwmutex park on (Go's
 * runtime_Semacquire/Semrelease).
 *
 * A goc__syncw lives on the waiting coroutine's (or thread's) stack from the
 * moment it is queued until goc__wait_block returns. Every queue here is
 * guarded by one goc__lock of its primitive; a waker dequeues and claims a
 * node under that lock, releases the lock, and only then wakes it (park.h).
 * These waits have no deadline and no other place a waker could find them
 * (goc__wait_init(..., multi = false)), so the claim is a plain store by the
 * one waker that dequeued the node, never a lost race.
 *
 * goc__sema invariants: count > 0 implies the queue is empty (a release hands
 * its permit to the head waiter directly when there is one); a node is in the
 * queue iff it has not been claimed.
 */
#ifndef GOC_SYNC_H
#define GOC_SYNC_H

#include "goc.h"
#include "debug.h"
#include "list.h"
#include "park.h"

typedef struct goc__syncw {
    goc__wait wt;
    goc__link link; /* in a queue; once dequeued, in its waker's wake list */
    int64_t n; /* a weight (sem) or a ticket (cond); unused elsewhere */
    bool queued; /* sem: in the queue (a wait its context won may have left it) */
} goc__syncw;

static inline goc__syncw *goc__syncw_of(goc__link *l) {
    return GOC__LIST_ENTRY(l, goc__syncw, link);
}

/* Dequeues q's head, or returns NULL when q is empty. */
static inline goc__syncw *goc__syncq_pop(goc__list *q) {
    goc__link *l = goc__list_pop_front(q);
    return l ? goc__syncw_of(l) : NULL;
}

/* Test hooks: how many wait in q, counted under l (of rank r). */
static inline size_t goc__syncq_count(goc__lock *l, enum goc__lockrank r, goc__list *q) {
    size_t n = 0;
    goc__lock_acquire(l, r);
    for (goc__link *x = q->head; x; x = x->next) n++;
    goc__lock_release(l);
    return n;
}

/* goc__wait_block's unlock callback for a goc__lock. */
static inline void goc__sync_unlock(void *l) { goc__lock_release(l); }

/* Queues w (already goc__wait_init'ed) and blocks; l is held on entry and
 * released once the wait cannot miss its wake-up. Returns the waker's `why`. */
static inline int goc__sync_block(goc__lock *l, goc__list *q, goc__syncw *w, bool lifo,
                                  uint8_t why, const void *obj) {
    if (lifo)
        goc__list_push_front(q, &w->link);
    else
        goc__list_push_back(q, &w->link);
    goc__waiting(w->wt.g, why, obj, 0);
    return goc__wait_block(&w->wt, -1, goc__sync_unlock, l);
}

/* Claims a node just dequeued under its lock (it cannot fail, see above). */
static inline void goc__sync_claim(goc__syncw *w) { (void)goc__wait_claim(&w->wt, GOC_OK); }

/* Wakes the claimed nodes of a wake list, front first; call with no lock
 * held. A node may vanish once woken, so each is popped before its wake. */
static inline void goc__sync_wake_list(goc__list *woken) {
    goc__syncw *w;
    while ((w = goc__syncq_pop(woken))) goc__wait_wake(&w->wt);
}

/* ---- goc__sema ---------------------------------------------------------- */

typedef struct goc__sema {
    goc__lock lock;
    uint32_t count; /* (l) permits nobody has taken                      */
    goc__list q;    /* (l) waiters; LIFO entries are re-queued old waiters */
} goc__sema;

/* Takes one permit, blocking while there is none. lifo queues the caller at
 * the head (a mutex waiter that was woken and lost the race again); why and
 * obj say what the caller waits for (goc_dump). */
static inline void goc__sema_acquire(goc__sema *s, bool lifo, uint8_t why, const void *obj) {
    goc__lock_acquire(&s->lock, GOC__RANK_SEMA);
    GOC_ASSERT(s->count == 0 || goc__list_empty(&s->q));
    if (s->count > 0) {
        s->count--;
        goc__lock_release(&s->lock);
        return;
    }
    goc__syncw w;
    goc__wait_init(&w.wt, goc__self(), false);
    goc__sync_block(&s->lock, &s->q, &w, lifo, why, obj);
}

/* Gives n permits: to waiters from the head, one each, and the rest to the
 * count. Woken coroutines are readied onto the caller's worker (hand-off:
 * the last one woken runs next). */
static inline void goc__sema_release_n(goc__sema *s, uint32_t n) {
    goc__list woken = {0};
    goc__lock_acquire(&s->lock, GOC__RANK_SEMA);
    for (; n > 0 && !goc__list_empty(&s->q); n--) {
        goc__syncw *w = goc__syncq_pop(&s->q);
        goc__sync_claim(w);
        goc__list_push_back(&woken, &w->link);
    }
    s->count += n;
    GOC_ASSERT(s->count == 0 || goc__list_empty(&s->q));
    goc__lock_release(&s->lock);
    goc__sync_wake_list(&woken);
}

static inline void goc__sema_release(goc__sema *s) { goc__sema_release_n(s, 1); }

/* ---- test hooks (white-box views for tests/test_sync.c) ------------------- */

uint32_t goc__mutex_state(goc_mutex *m);       /* the state word; 0 when idle  */
int32_t goc__rwmutex_readers(goc_rwmutex *m);  /* < 0 once a writer is pending */
uint32_t goc__wg_waiters(goc_wg *wg);          /* waiters counted (queued)     */
int64_t goc__wg_counter(goc_wg *wg);           /* the counter                  */
size_t goc__cond_waiters(goc_cond *c);         /* waiters queued               */
size_t goc__sem_waiters(goc_sem *s);           /* waiters queued               */
int64_t goc__sem_held(goc_sem *s);             /* weight held                  */
goc__lock *goc__sem_lock(goc_sem *s);          /* its lock                     */

#endif
