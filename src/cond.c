/* goc_cond: a condition variable used with a goc_mutex, Go's sync.Cond.
 *
 * A waiter takes a ticket (wait++) while it still holds the mutex, then
 * unlocks it and queues. A signal notifies the oldest ticket not yet
 * notified (notify++), a broadcast every ticket handed out (notify = wait).
 * A waiter that finds its ticket already notified when it comes to queue
 * does not block, so a signal sent between a waiter's unlock and its queueing
 * is not lost (Go's notifyList).
 *
 * Invariants (tickets compare modulo 2^32):
 *   - notify <= wait; tickets in [notify, wait) belong to waiters that have
 *     not been notified, those below notify to waiters that have been;
 *   - every node in q holds a ticket >= notify, and each ticket is in q at
 *     most once;
 *   - a signal wakes at most one waiter, a broadcast every waiter whose
 *     ticket was handed out before it; a wait returns only after one of them.
 *
 * Locking: `lock` guards q and all writes of notify; wait is an atomic
 * counter and notify an atomic so that a signal with no waiter takes no lock.
 * `lock` is never held while the user's mutex is locked or unlocked, or while
 * waking. Callers may hold the user's mutex or not (as in Go).
 *
 * Memory orders: the tickets need only be totally ordered (relaxed RMW); the
 * lock orders queueing against notifying. Happens-before for the user's data
 * comes from the mutex, which wait re-locks before it returns, as in Go (no
 * extra ThreadSanitizer edges, which would hide races on data accessed
 * outside the mutex).
 *
 * Design: tickets instead of queueing under the user's mutex: queueing
 * before the unlock would mean waking the mutex's waiters (in unlock) while
 * holding this lock. Signal searches q for its ticket: waiters usually queue
 * in ticket order, so it is at the head.
 */
#include "goc.h"
#include "sync.h"

typedef struct cond {
    goc__lock lock;
    _Atomic uint32_t wait;   /* (a) next ticket to hand out            */
    _Atomic uint32_t notify; /* (a, written under lock) next to notify */
    goc__list q;             /* (lock) queued waiters, ticket in n     */
} cond;

_Static_assert(sizeof(cond) <= sizeof(goc_cond), "goc_cond storage too small");
_Static_assert(_Alignof(cond) <= _Alignof(goc_cond), "goc_cond storage misaligned");

static inline cond *C(goc_cond *c) { return (cond *)(void *)c; }

static inline bool before(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

void goc_cond_wait(goc_cond *gc, goc_mutex *m) {
    cond *c = C(gc);
    uint32_t t = atomic_fetch_add_explicit(&c->wait, 1, memory_order_relaxed);
    goc_mutex_unlock(m);
    goc__syncw w;
    goc__wait_init(&w.wt, goc__self(), false);
    w.n = t;
    goc__lock_acquire(&c->lock, GOC__RANK_COND);
    if (before(t, atomic_load_explicit(&c->notify, memory_order_relaxed)))
        goc__lock_release(&c->lock); /* notified before we queued */
    else
        goc__sync_block(&c->lock, &c->q, &w, false, GOC__WAIT_COND, c);
    goc_mutex_lock(m);
}

void goc_cond_signal(goc_cond *gc) {
    cond *c = C(gc);
    if (atomic_load_explicit(&c->wait, memory_order_relaxed) ==
        atomic_load_explicit(&c->notify, memory_order_relaxed))
        return; /* nobody waits (a ticket taken after this load is not ours) */
    goc__lock_acquire(&c->lock, GOC__RANK_COND);
    uint32_t t = atomic_load_explicit(&c->notify, memory_order_relaxed);
    /* notify <= wait */
    GOC_ASSERT(!before(atomic_load_explicit(&c->wait, memory_order_relaxed), t));
    if (t == atomic_load_explicit(&c->wait, memory_order_relaxed)) {
        goc__lock_release(&c->lock);
        return;
    }
    atomic_store_explicit(&c->notify, t + 1, memory_order_relaxed);
    goc__link *l = c->q.head;
    while (l && (uint32_t)goc__syncw_of(l)->n != t) l = l->next;
    goc__syncw *w = l ? goc__syncw_of(l) : NULL;
    if (w) { /* else its owner has not queued yet and will see notify */
        goc__list_remove(&c->q, &w->link);
        goc__sync_claim(w);
    }
    goc__lock_release(&c->lock);
    if (w) goc__wait_wake(&w->wt);
}

void goc_cond_broadcast(goc_cond *gc) {
    cond *c = C(gc);
    if (atomic_load_explicit(&c->wait, memory_order_relaxed) ==
        atomic_load_explicit(&c->notify, memory_order_relaxed))
        return;
    goc__lock_acquire(&c->lock, GOC__RANK_COND);
    atomic_store_explicit(&c->notify, atomic_load_explicit(&c->wait, memory_order_relaxed),
                          memory_order_relaxed);
    goc__list all = c->q; /* moved out whole (list.h) */
    c->q = (goc__list){0};
    for (goc__link *l = all.head; l; l = l->next) goc__sync_claim(goc__syncw_of(l));
    goc__lock_release(&c->lock);
    goc__sync_wake_list(&all);
}

size_t goc__cond_waiters(goc_cond *gc) {
    cond *c = C(gc);
    return goc__syncq_count(&c->lock, GOC__RANK_COND, &c->q);
}
