/* goc__wait_block for coroutines and threads, and goc_sleep on top of it.
 *
 * Invariants: a wait is claimed at most once; a coroutine's deadline timer is
 * stopped (and its callback finished) before goc__wait_block returns, since
 * the wait lives on the waiter's stack; a thread's wake word is 1 only after a
 * claim by someone else, and is consumed before the wait returns.
 */
#include "park.h"

#include <errno.h>
#include <time.h>

#include "debug.h"
#include "goc.h"

static void on_deadline(goc__timer *t, int64_t now) {
    (void)now;
    goc__wait *wt = t->arg;
    if (goc__wait_claim(wt, GOC_ETIMEDOUT)) goc__ready(wt->g, false);
}

/* Park hook: arm the deadline, then release the waiter's lock. */
static void arm_and_unlock(goc__w *w, void *p) {
    goc__wait *wt = p;
    void (*unlock)(void *) = wt->unlock;
    void *arg = wt->unlock_arg;
    if (wt->deadline >= 0) {
        bool earliest;
        if (goc__timers_add(&w->timers, &wt->timer, wt->deadline, 0, &earliest) != GOC_OK &&
            goc__wait_claim(wt, GOC_ENOMEM))
            goc__ready(wt->g, false);
    }
    /* wt may be gone once the timer is armed: use the copies. */
    if (unlock) unlock(arg);
}

/* The thread sleeps on its wake word until woken or deadline, unless it
 * was woken already; spurious returns are allowed. ASLEEP is written before
 * the futex call reads it and the waker's exchange reads it (both seq_cst):
 * either the waker sees ASLEEP and wakes the futex, or the CAS sees WOKEN. */
static void thread_sleep(goc__g *g, int64_t deadline) {
    uint32_t v = GOC__WAKE_NONE;
    if (!atomic_compare_exchange_strong(&g->wake, &v, GOC__WAKE_ASLEEP)) return;
    goc__futex_wait(&g->wake, GOC__WAKE_ASLEEP, deadline);
    v = GOC__WAKE_ASLEEP;
    atomic_compare_exchange_strong(&g->wake, &v, GOC__WAKE_NONE); /* unless woken meanwhile */
}

static int block_thread(goc__wait *wt, int64_t deadline, void (*unlock)(void *), void *arg) {
    goc__g *g = wt->g;
    if (GOC_UNLIKELY(goc__rt_is_forked()))
        goc__throw("goc: a call would block in a child of fork(); goc's threads are in the "
                   "parent (exec first, or use posix_spawn)");
    goc__tblock tb;
    bool forever = deadline < 0;
    if (forever) goc__thread_blocked(&tb, g); /* for goc_dump and deadlock.c */
    if (unlock) unlock(arg);
#if GOC_LOCKRANK
    goc__lockrank_none_held("a thread's wait");
#endif
    for (;;) {
        if (goc__thread_woken(g)) break;
        if (deadline >= 0 && goc__now() >= deadline) {
            if (goc__wait_claim(wt, GOC_ETIMEDOUT)) return GOC_ETIMEDOUT;
            deadline = -1; /* claimed by a waker: its wake-up is on the way */
            continue;
        }
        if (goc__lend(g, deadline)) continue; /* ran coroutines meanwhile */
        thread_sleep(g, deadline);
    }
    if (forever) goc__thread_unblocked(&tb);
    atomic_store_explicit(&g->wake, GOC__WAKE_NONE, memory_order_relaxed);
    goc__lend_resumed();
    return wt->why;
}

/* A coroutine's wait, its deadline (if any) armed in the park hook. */
static int block_coro(goc__wait *wt, int64_t deadline, void (*unlock)(void *), void *arg) {
    wt->deadline = deadline;
    wt->unlock = unlock;
    wt->unlock_arg = arg;
    if (deadline >= 0) goc__timer_init(&wt->timer, on_deadline, wt);
    goc__park(goc__tls_w(), wt->g, arm_and_unlock, wt);
    if (deadline >= 0) goc__timer_stop(&wt->timer);
    return wt->why;
}

int goc__wait_block(goc__wait *wt, int64_t deadline, void (*unlock)(void *), void *arg) {
    /* Set before the lock is released: wakers read it under that lock, and
     * so does a last goc_chan_release (chan.c: abandon). */
    wt->multi |= deadline >= 0;
    wt->deadline = deadline;
    if (wt->g->kind == GOC__G_THREAD) return block_thread(wt, deadline, unlock, arg);
    if (deadline >= 0 && goc__now() >= deadline && goc__wait_claim(wt, GOC_ETIMEDOUT)) {
        atomic_store_explicit(&wt->g->wait, 0, memory_order_relaxed); /* it never parked */
        if (unlock) unlock(arg);
        return GOC_ETIMEDOUT;
    }
    return block_coro(wt, deadline, unlock, arg);
}

int goc_sleep(int64_t ns) {
    goc__g *self = goc__self();
    if (self->kind == GOC__G_THREAD) {
        if (ns <= 0) {
            goc_yield();
            return GOC_OK;
        }
        goc__lend_drop(); /* its queue would wait for the monitor */
        int64_t d = goc__deadline(ns);
        struct timespec ts = {.tv_sec = d / GOC_SEC, .tv_nsec = d % GOC_SEC};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
        return GOC_OK;
    }
    if (ns <= 0) {
        goc_yield();
        return GOC_OK;
    }
    /* ns > 0: the deadline is ahead of the clock read that made it, so no
     * second read to see whether it passed already (a few % of a sleep). */
    goc__wait wt;
    goc__wait_init(&wt, self, true);
    goc__waiting(self, GOC__WAIT_SLEEP, NULL, 0);
    int r = block_coro(&wt, goc__deadline(ns), NULL, NULL);
    return r == GOC_ETIMEDOUT ? GOC_OK : r;
}

int64_t goc_now(void) { return goc__now(); }
