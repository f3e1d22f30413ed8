/* goc_sem: a weighted semaphore with FIFO waiters, Go's
 * golang.org/x/sync/semaphore.Weighted.
 *
 * Invariants:
 *   - 0 <= cur <= size; cur is the sum of the weights held;
 *   - a waiter is queued only with a weight <= size, and no waiter is queued
 *     while the head waiter fits (size - cur >= head's weight) when `lock`
 *     is free: release serves the queue from the head until the head does
 *     not fit, and never serves a waiter behind one that does not fit. The
 *     one exception: a head whose context has claimed it stays queued, and
 *     holds back those behind it, until it leaves or a release drops it;
 *   - an acquire or try_acquire takes weight directly only when the queue is
 *     empty, so nobody passes a queued waiter (a large request at the head is
 *     not starved by a stream of small ones).
 *
 * Locking: `lock` guards everything; waiters are woken after it is released.
 * goc_sem_acquire_ctx also reads its context's error (which may take the
 * context node's lock) and takes its done channel's lock inside it, so it
 * ranks before both (lockrank.h), the order cancellation already uses.
 *
 * acquire_ctx waits in two places at once, one goc__wait shared by its node
 * in the queue and a receive node on the context's done channel: a release
 * that reaches it claims it with GOC_OK and adds its weight to cur, a
 * cancellation (done closed) claims it with CTX_WON. A release that finds
 * the head claimed by its context drops it and serves on; a cancelled
 * waiter still queued leaves the queue itself and, if it was the head,
 * serves the waiters behind it that now fit. As in Go's x/sync, the context
 * is checked under `lock`: a cancellation that happened before the acquirer
 * held it wins even when the weight is free, and a waiter that finds its
 * context done once served gives the weight back and fails. A send on the
 * done channel (a misuse) wakes the waiter, which queues again at the tail.
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
#include "chan.h"
#include "goc.h"
#include "sync.h"

#define CTX_WON 1 /* why, when the context's done channel woke the waiter */

typedef struct sem {
    goc__lock lock;
    int64_t size; /* (lock) set by goc_sem_init           */
    int64_t cur;  /* (lock) weight held                  */
    goc__list q;  /* (lock) waiters, FIFO, weight in n   */
} sem;

_Static_assert(sizeof(sem) <= sizeof(goc_sem), "goc_sem storage too small");
_Static_assert(_Alignof(sem) <= _Alignof(goc_sem), "goc_sem storage misaligned");

static inline sem *S(goc_sem *s) { return (sem *)(void *)s; }

/* With s locked: serves the queue from the head while the head fits, onto
 * the back of the wake list woken; stops at the first that does not fit, so
 * it is not passed by smaller ones behind it. A head already claimed by its
 * context is dropped, fit or not (it takes nothing). */
static void serve(sem *s, goc__list *woken) {
    while (!goc__list_empty(&s->q)) {
        goc__syncw *w = goc__syncw_of(s->q.head);
        bool gone = w->wt.multi && atomic_load_explicit(&w->wt.claimed, memory_order_relaxed);
        if (!gone && s->size - s->cur < w->n) break;
        goc__list_pop_front(&s->q);
        w->queued = false;
        if (gone || !goc__wait_claim(&w->wt, GOC_OK)) continue;
        s->cur += w->n;
        goc__list_push_back(woken, &w->link);
    }
    GOC_ASSERT(0 <= s->cur && s->cur <= s->size);
}

void goc_sem_init(goc_sem *gs, int64_t n) {
    sem *s = S(gs);
    *s = (sem){.size = n > 0 ? n : 0};
}

/* With s locked: takes n (n >= 0) if that needs no waiting: GOC_OK, or
 * GOC_EINVAL (more than the size), or GOC_EAGAIN (someone is queued, or n
 * is not free). */
static int take_locked(sem *s, int64_t n) {
    if (n > s->size) return GOC_EINVAL;
    if (!goc__list_empty(&s->q) || s->size - s->cur < n) return GOC_EAGAIN;
    s->cur += n;
    GOC_ASSERT(0 <= s->cur && s->cur <= s->size);
    return GOC_OK;
}

int goc_sem_acquire(goc_sem *gs, int64_t n) {
    sem *s = S(gs);
    if (n < 0) return GOC_EINVAL;
    goc__lock_acquire(&s->lock, GOC__RANK_SEM);
    int r = take_locked(s, n);
    if (r == GOC_EAGAIN) {
        goc__syncw w;
        goc__wait_init(&w.wt, goc__self(), false);
        w.n = n;
        goc__sync_block(&s->lock, &s->q, &w, false, GOC__WAIT_SEM, s); /* release adds n to cur for us */
        r = GOC_OK;
    } else {
        goc__lock_release(&s->lock);
    }
    if (r == GOC_OK) goc__race_acquire(s);
    return r;
}

struct both {
    sem *s;
    goc_chan *done;
};

/* The park hook. b lives on the waiter's stack and is read after the done
 * lock is released: safe, because every way back to the waiter (a release
 * claiming it, or leave_queue after a cancellation) needs s->lock first. */
static void unlock_both(void *p) {
    struct both *b = p;
    goc__lock_release(&b->done->lock);
    goc__lock_release(&b->s->lock);
}

/* After a wait that the context won: w leaves the queue if no release
 * dropped it, and if it stood at the head, the waiters it held back that
 * fit now are served. */
static void leave_queue(sem *s, goc__syncw *w) {
    goc__list woken = {0};
    goc__lock_acquire(&s->lock, GOC__RANK_SEM);
    if (w->queued) {
        bool head = s->q.head == &w->link;
        goc__list_remove(&s->q, &w->link);
        w->queued = false;
        if (head) serve(s, &woken);
    }
    goc__lock_release(&s->lock);
    goc__sync_wake_list(&woken);
}

/* One blocking attempt, with s locked on entry (unlocked on return): GOC_OK
 * with n held, the context's error, or CTX_WON when something other than a
 * cancellation woke the done node (a send on done: try again). */
static int wait_ctx(goc_sem *gs, goc_ctx *ctx, goc_chan *done, int64_t n) {
    sem *s = S(gs);
    goc__chan_lock(done);
    if (done->closed) { /* cancelled since the caller looked */
        goc__lock_release(&done->lock);
        goc__lock_release(&s->lock);
        return goc_ctx_err(ctx);
    }
    goc__syncw w;
    goc__wait_init(&w.wt, goc__self(), true);
    w.n = n;
    w.queued = true;
    goc__list_push_back(&s->q, &w.link);
    goc__node nd = {.wt = &w.wt, .index = CTX_WON};
    goc__waitq_push(&done->recvq, &nd);
    struct both b = {s, done};
    goc__waiting(w.wt.g, GOC__WAIT_SEM, s, 0);
    if (goc__wait_block(&w.wt, -1, unlock_both, &b) == GOC_OK) {
        goc__chan_lock(done);
        if (nd.queued) goc__waitq_unlink(&done->recvq, &nd);
        bool cancelled = done->closed;
        goc__lock_release(&done->lock);
        if (!cancelled) return GOC_OK;
        goc_sem_release(gs, n); /* served, but done too: fail, as Go */
        return goc_ctx_err(ctx);
    }
    leave_queue(s, &w); /* the done channel's close or send unlinked nd */
    int err = goc_ctx_err(ctx);
    return err ? err : CTX_WON;
}

int goc_sem_acquire_ctx(goc_sem *gs, goc_ctx *ctx, int64_t n) {
    sem *s = S(gs);
    goc_chan *done = goc_ctx_done(ctx);
    if (!done) return goc_sem_acquire(gs, n); /* never cancelled */
    if (n < 0) return GOC_EINVAL;
    for (;;) {
        goc__lock_acquire(&s->lock, GOC__RANK_SEM);
        int r = goc_ctx_err(ctx); /* done before we hold the lock: fail, as Go */
        if (r == 0) r = take_locked(s, n);
        if (r != GOC_EAGAIN) {
            goc__lock_release(&s->lock);
            if (r == GOC_OK) break;
            return r;
        }
        r = wait_ctx(gs, ctx, done, n);
        if (r == GOC_OK) break;
        if (r != CTX_WON) return r;
    }
    goc__race_acquire(s);
    return GOC_OK;
}

bool goc_sem_try_acquire(goc_sem *gs, int64_t n) {
    sem *s = S(gs);
    if (n < 0) return false;
    goc__lock_acquire(&s->lock, GOC__RANK_SEM);
    bool ok = take_locked(s, n) == GOC_OK;
    goc__lock_release(&s->lock);
    if (ok) goc__race_acquire(s);
    return ok;
}

void goc_sem_release(goc_sem *gs, int64_t n) {
    sem *s = S(gs);
    goc__race_release(s);
    goc__list woken = {0};
    goc__lock_acquire(&s->lock, GOC__RANK_SEM);
    if (n < 0 || n > s->cur) {
        long long held = (long long)s->cur;
        goc__lock_release(&s->lock);
        goc__throw("goc_sem_release: released %lld of %lld held", (long long)n, held);
    }
    s->cur -= n;
    serve(s, &woken);
    goc__lock_release(&s->lock);
    goc__sync_wake_list(&woken);
}

size_t goc__sem_waiters(goc_sem *gs) {
    sem *s = S(gs);
    return goc__syncq_count(&s->lock, GOC__RANK_SEM, &s->q);
}

goc__lock *goc__sem_lock(goc_sem *gs) { return &S(gs)->lock; }

int64_t goc__sem_held(goc_sem *gs) {
    sem *s = S(gs);
    goc__lock_acquire(&s->lock, GOC__RANK_SEM);
    int64_t n = s->cur;
    goc__lock_release(&s->lock);
    return n;
}
