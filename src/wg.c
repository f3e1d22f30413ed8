/* goc_wg: a wait group, Go's sync.WaitGroup: wait blocks until the counter
 * that add and done move is zero.
 *
 * state packs the counter (bits 32..62, 0..INT32_MAX), WAKING (bit 63) and
 * the number of queued waiters (low 32 bits). The add that brings the
 * counter to zero with waiters sets the word to WAKING, dequeues exactly
 * that many waiters from the head of the queue, and only then stores 0 and
 * wakes them: the store of 0 is its last access to the group.
 *
 * Invariants:
 *   - the counter never goes below zero: an add that would make it negative
 *     (or above INT32_MAX) returns GOC_ERANGE and changes nothing;
 *   - a waiter is counted in state iff it is in q or has been dequeued by
 *     the add that zeroed the word; the waiters one zeroing add wakes are the
 *     first `n` in q, and they are exactly the ones it counted (see Locking);
 *   - when nobody waits and the counter is zero, state == 0 and q is empty;
 *   - nobody returns from wait, and no add or wait changes state, while
 *     WAKING is set: a waker touches the group after its zeroing CAS, and a
 *     waiter that saw zero may return and free the group (Go's usage: a
 *     WaitGroup in a frame that returns once Wait does), so zero becomes
 *     visible only in the waker's last store. Whoever sees WAKING spins
 *     (settle) through the waker's short critical section, which never
 *     blocks, as on a goc__lock.
 *
 * Locking: `lock` guards q. A waiter increments the waiter count with a CAS
 * while holding `lock` and queues itself before releasing it, so counting and
 * queueing are one step as seen by the waker, which takes `lock` after its
 * zeroing CAS: every waiter it counted is queued by then, and waiters of a
 * later wave (counted after the zeroing) are queued behind them. Its rank:
 * lockrank.h.
 *
 * Memory orders: add's CAS is acq_rel, the waiter's loads acquire, so every
 * done happens-before a wait that returns (the zeroing CAS reads from each
 * earlier done's CAS, and the waker's release store of 0 follows it).
 * ThreadSanitizer: add with delta < 0 merges into &wg (goc__race_release). A
 * wait that saw zero itself acquires &wg before it returns, as Go does; a
 * queued waiter is handed the edge on its own node instead (the waker acquires
 * &wg and releases each node it dequeues), because once woken it must not
 * touch a group that another returning waiter may already have freed.
 *
 * Design: Go's word-plus-semaphore layout keeps add and done to one CAS
 * when nobody waits. Go releases waiters through a counting semaphore; here
 * the waker dequeues its own waiters instead, so a wait group reused while
 * the previous wave's waiters are still waking (a misuse Go only sometimes
 * detects) cannot let a new waiter take an old permit and return early. A
 * CAS loop instead of Go's atomic add is what lets an out-of-range add
 * change nothing.
 */
#include <sched.h>

#include "goc.h"
#include "sync.h"

typedef struct wg {
    _Atomic uint64_t state; /* (a) WAKING | counter << 32 | waiters */
    goc__lock lock;
    goc__list q;            /* (lock) */
} wg;

_Static_assert(sizeof(wg) <= sizeof(goc_wg), "goc_wg storage too small");
_Static_assert(_Alignof(wg) <= _Alignof(goc_wg), "goc_wg storage misaligned");

static inline wg *WG(goc_wg *g) { return (wg *)(void *)g; }

#define WAKING ((uint64_t)1 << 63)

static inline int64_t counter(uint64_t s) { return (int64_t)(s >> 32 & INT32_MAX); }
static inline uint32_t waiters(uint64_t s) { return (uint32_t)s; }

/* Waits until the waker of the moment has stored 0 (or WAKING was already
 * gone); returns the state it then read. */
static GOC_NOINLINE uint64_t settle(wg *w) {
    for (unsigned i = 0;; i++) {
        uint64_t s = atomic_load_explicit(&w->state, memory_order_acquire);
        if (!(s & WAKING)) return s;
        GOC_ASSERT(s == WAKING); /* a zeroing add wrote WAKING alone */
        if (i < 64)
            goc__cpu_relax();
        else
            sched_yield();
    }
}

/* With state WAKING: dequeues the first n waiters, publishes zero (the last
 * access to w), then wakes them. */
static GOC_NOINLINE void wake_waiters(wg *w, uint32_t n) {
    GOC_ASSERT(atomic_load_explicit(&w->state, memory_order_relaxed) == WAKING);
    goc__list woken = {0};
    goc__race_acquire(w); /* every done of the wave, passed on to each waiter */
    goc__lock_acquire(&w->lock, GOC__RANK_WG);
    for (; n > 0; n--) {
        goc__syncw *x = goc__syncq_pop(&w->q);
        if (!x) goc__throw("goc_wg: a counted waiter is not queued");
        goc__race_release(x);
        goc__sync_claim(x);
        goc__list_push_back(&woken, &x->link);
    }
    goc__lock_release(&w->lock);
    atomic_store_explicit(&w->state, 0, memory_order_release);
    goc__sync_wake_list(&woken);
}

int goc_wg_add(goc_wg *g, int64_t delta) {
    wg *w = WG(g);
    uint64_t old = atomic_load_explicit(&w->state, memory_order_relaxed);
    for (;;) {
        if (old & WAKING) old = settle(w); /* the last wave's waker is busy */
        int64_t c = counter(old);
        if (delta < -c || delta > (int64_t)INT32_MAX - c) return GOC_ERANGE;
        int64_t nc = c + delta;
        GOC_ASSERT(!(old & WAKING) && nc >= 0 && nc <= INT32_MAX);
        uint32_t nw = waiters(old);
        /* zero: 0 at once if nobody waits, else WAKING until they are taken */
        uint64_t new = nc != 0 ? (uint64_t)nc << 32 | nw : nw ? WAKING : 0;
        if (delta < 0) goc__race_release(w);
        if (atomic_compare_exchange_weak_explicit(&w->state, &old, new, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            if (nc == 0 && nw > 0) wake_waiters(w, nw);
            return GOC_OK;
        }
    }
}

int goc_wg_done(goc_wg *g) { return goc_wg_add(g, -1); }

void goc_wg_wait(goc_wg *g) {
    wg *w = WG(g);
    uint64_t s = atomic_load_explicit(&w->state, memory_order_acquire);
    if (s & WAKING) {
        settle(w); /* zero is being published: return once it is */
    } else if (counter(s) != 0) {
        goc__syncw x;
        goc__wait_init(&x.wt, goc__self(), false);
        goc__lock_acquire(&w->lock, GOC__RANK_WG);
        uint64_t old = atomic_load_explicit(&w->state, memory_order_acquire);
        for (;;) {
            if (old & WAKING) { /* it reached zero meanwhile, being published */
                goc__lock_release(&w->lock);
                settle(w);
                break;
            }
            if (counter(old) == 0) { /* it reached zero meanwhile */
                goc__lock_release(&w->lock);
                break;
            }
            if (waiters(old) == UINT32_MAX) goc__throw("goc_wg: too many waiters");
            if (atomic_compare_exchange_weak_explicit(&w->state, &old, old + 1,
                                                      memory_order_acq_rel,
                                                      memory_order_acquire)) {
                goc__sync_block(&w->lock, &w->q, &x, false, GOC__WAIT_WG, g);
                goc__race_acquire(&x); /* w may be freed by now */
                return;
            }
        }
    }
    goc__race_acquire(w);
}

uint32_t goc__wg_waiters(goc_wg *g) {
    return waiters(atomic_load_explicit(&WG(g)->state, memory_order_relaxed));
}

int64_t goc__wg_counter(goc_wg *g) {
    return counter(atomic_load_explicit(&WG(g)->state, memory_order_acquire));
}
