/* goc_sem: a weighted semaphore with FIFO waiters, Go's
 * golang.org/x/sync/semaphore.Weighted.
 *
 * Invariants:
 *   - 0 <= cur <= size; cur is the sum of the weights held;
 *   - a waiter is queued only with a weight <= size, and no waiter is queued
 *     while the head waiter fits (size - cur >= head's weight) when `lock`
 *     is free: release serves the queue from the head until the head does
 *     not fit, and never serves a waiter behind one that does not fit;
 *   - an acquire or try_acquire takes weight directly only when the queue is
 *     empty, so nobody passes a queued waiter (a large request at the head is
 *     not starved by a stream of small ones).
 *
 * Locking: `lock` guards everything; waiters are woken after it is released.
 * Nothing nests with it.
 *
 * Memory orders: all state is under `lock`. ThreadSanitizer: release merges
 * into &s (goc__race_release) before giving weight back, and acquire and a
 * successful try_acquire acquire &s, so a release happens-before the
 * acquires it made possible (and, conservatively, later ones).
 *
 * Design: Go's x/sync/semaphore: a plain lock and a FIFO list, because a
 * weighted FIFO cannot be a single atomic word; the lock is held for a few
 * loads and stores. Unlike Go, acquiring more than the size fails at once
 * with GOC_EINVAL (Go blocks until its context ends), and releasing more
 * than is held is fatal, as Go's panic.
 */
#include "goc.h"
#include "sync.h"

typedef struct sem {
    goc__lock lock;
    int64_t size; /* (lock) set by goc_sem_init           */
    int64_t cur;  /* (lock) weight held                  */
    goc__syncq q; /* (lock) waiters, FIFO, weight in n   */
} sem;

_Static_assert(sizeof(sem) <= sizeof(goc_sem), "goc_sem storage too small");
_Static_assert(_Alignof(sem) <= _Alignof(goc_sem), "goc_sem storage misaligned");

static inline sem *S(goc_sem *s) { return (sem *)(void *)s; }

void goc_sem_init(goc_sem *gs, int64_t n) {
    sem *s = S(gs);
    *s = (sem){.size = n > 0 ? n : 0};
}

int goc_sem_acquire(goc_sem *gs, int64_t n) {
    sem *s = S(gs);
    if (n < 0) return GOC_EINVAL;
    goc__lock_acquire(&s->lock);
    if (n > s->size) {
        goc__lock_release(&s->lock);
        return GOC_EINVAL;
    }
    if (!s->q.head && s->size - s->cur >= n) {
        s->cur += n;
        goc__lock_release(&s->lock);
    } else {
        goc__syncw w;
        goc__wait_init(&w.wt, goc__self(), false);
        w.n = n;
        goc__sync_block(&s->lock, &s->q, &w, false); /* release adds n to cur for us */
    }
    goc__race_acquire(s);
    return GOC_OK;
}

bool goc_sem_try_acquire(goc_sem *gs, int64_t n) {
    sem *s = S(gs);
    if (n < 0) return false;
    goc__lock_acquire(&s->lock);
    bool ok = !s->q.head && s->size - s->cur >= n;
    if (ok) s->cur += n;
    goc__lock_release(&s->lock);
    if (ok) goc__race_acquire(s);
    return ok;
}

void goc_sem_release(goc_sem *gs, int64_t n) {
    sem *s = S(gs);
    goc__race_release(s);
    goc__syncw *woken = NULL, **tail = &woken;
    goc__lock_acquire(&s->lock);
    if (n < 0 || n > s->cur) {
        long long held = (long long)s->cur;
        goc__lock_release(&s->lock);
        goc__throw("goc_sem_release: released %lld of %lld held", (long long)n, held);
    }
    s->cur -= n;
    /* Serve from the head while the head fits; stop at the first that does
     * not, so it is not passed by smaller ones behind it. */
    goc__syncw *w;
    while ((w = s->q.head) && s->size - s->cur >= w->n) {
        s->cur += w->n;
        goc__syncq_pop(&s->q);
        goc__sync_claim(w);
        *tail = w;
        tail = &w->next;
    }
    goc__lock_release(&s->lock);
    goc__sync_wake_list(woken);
}

size_t goc__sem_waiters(goc_sem *gs) {
    sem *s = S(gs);
    return goc__syncq_count(&s->lock, &s->q);
}

int64_t goc__sem_held(goc_sem *gs) {
    sem *s = S(gs);
    goc__lock_acquire(&s->lock);
    int64_t n = s->cur;
    goc__lock_release(&s->lock);
    return n;
}
