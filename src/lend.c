/* A plain thread that blocks in goc lends itself to the scheduler: until
 * its own wait completes it runs coroutines, as the worker it borrows, on
 * its own thread. Its own context stays on its stack, like Go's main
 * goroutine pinned to its thread: only this thread resumes it.
 *
 * Why: waking a thread parked on a futex costs microseconds, and a hand-off
 * between main and a coroutine (a send answered by a receive) would pay two
 * such wakes: the coroutine's worker, then main. Lending, main's send
 * readies the coroutine into the global queue without waking anyone (the
 * wake is deferred, below), main's receive blocks and runs that coroutine
 * itself, and the coroutine's reply only sets main's wake word: two context
 * switches and no system call (bench/pingpong, thread form).
 *
 * GOC_PROCS still bounds the coroutines running at once: a lender borrows
 * an idle worker, off the idle list and marked LENT, whose thread stays
 * asleep (wake.c: lent_wait) until the worker is given back; the lender runs
 * that worker's queue and timers. A worker asleep in epoll_wait is never
 * borrowed: its thread would ready coroutines into the queue the lender
 * owns (wake.c: worker_sleep checks state after setting polling, borrow
 * checks polling after setting state). No idle worker: the thread sleeps on
 * its futex, as it would without lending.
 *
 * A thread lends while work is at hand (its borrowed queue, the global
 * queue, the network) until its wait completes or its deadline passes; a
 * coroutine it runs delays its return until that coroutine switches out.
 * If nothing is left it gives the worker back and sleeps.
 *
 * Holding: a thread whose wait completed keeps the worker (hold AWAY) while
 * it runs its own code, as Go's main goroutine keeps its P: its readies go
 * onto that worker's ring and its next wait takes the worker back with one
 * CAS, so a thread trading values with coroutines takes no scheduler lock.
 * A held worker is not idle, so GOC_PROCS still bounds what runs. Whoever
 * needs it back takes it with a CAS from AWAY: the monitor once the thread
 * has not lent it for a tick (monitor.c: watch), the thread itself before it
 * sleeps outside goc's waits or spawns with no worker idle. The thread takes
 * it with a CAS from AWAY to USED, so exactly one side wins.
 *
 * Deferred wakes: a thread readies coroutines onto the worker it holds
 * without waking anyone: it will most likely block soon and run them
 * itself. If it keeps running instead, the monitor takes the worker back
 * and wakes one for them within two ticks (monitor.c), the same bound as a
 * coroutine readied into a busy worker's `next` slot; if they compute, it
 * wakes a helper to share them. A thread that holds none readies into the
 * global queue, and wakes a worker unless its last wait in goc ended within
 * about a millisecond and the monitor is awake to do it later.
 *
 * GOC_LEND=0 turns lending off (a thread that holds a lock while it blocks
 * in goc, which a coroutine it would run also takes, would deadlock).
 */
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "netpoll.h"
#include "queues.h"

static _Atomic int lend_on = -1;      /* GOC_LEND, read once */

/* The worker this thread holds between its waits (w->hold USED or AWAY),
 * or was holding until somebody took it back. */
static _Thread_local goc__w *tls_held;

/* Not goc's own threads (goc_blocking's helpers, the resolver's): they
 * have their own work to get back to. */
static bool lending_allowed(void) {
    if (goc__tls_internal) return false;
    int on = atomic_load_explicit(&lend_on, memory_order_relaxed);
    if (GOC_UNLIKELY(on < 0)) {
        const char *s = getenv("GOC_LEND");
        on = !(s && strcmp(s, "0") == 0);
        atomic_store(&lend_on, on);
    }
    return on;
}

static void give_back_locked(goc__w *w) {
    GOC_ASSERT(!w->in_idle && atomic_load(&w->state) == GOC__W_LENT);
    atomic_store(&w->state, GOC__W_IDLE);
    w->in_idle = true;
    w->idle_next = goc__sched.idle;
    goc__sched.idle = w;
    atomic_fetch_add(&goc__sched.nidle, 1);
    goc__idle_check_locked();
}

/* An idle worker whose thread is not polling, now LENT; NULL if none. */
static goc__w *borrow(void) {
    if (atomic_load_explicit(&goc__sched.nidle, memory_order_relaxed) == 0) return NULL;
    goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
    goc__w **p = &goc__sched.idle, *w;
    while ((w = *p) && atomic_load(&w->polling)) p = &w->idle_next;
    if (w) {
        *p = w->idle_next;
        w->in_idle = false;
        atomic_fetch_sub(&goc__sched.nidle, 1);
        atomic_store(&w->state, GOC__W_LENT);
    }
    goc__idle_check_locked();
    goc__lock_release(&goc__sched.lock);
    if (w && atomic_load(&w->polling)) { /* it went polling meanwhile */
        goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
        give_back_locked(w);
        goc__lock_release(&goc__sched.lock);
        return NULL;
    }
    return w;
}

/* w back on the idle list, its thread never the wiser unless it has to act:
 * queued work wakes a worker, and an alarm set later than w's earliest
 * timer (one armed while lent) wakes w's thread to set it again. */
static void give_back(goc__w *w) {
    bool work = !goc__runq_empty(&w->q);
    int64_t t = goc__timers_next(&w->timers);
    goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
    give_back_locked(w);
    goc__lock_release(&goc__sched.lock);
    if (t < atomic_load(&w->sleep_until)) goc__unpark(w);
    if (work) goc__wakep();
}

/* The next coroutine for a lender running as w: w's timers and queue, the
 * global queue, the network; no stealing from busy workers. */
static goc__g *lend_find(goc__w *w) {
    if (goc__timers_next(&w->timers) != INT64_MAX) goc__run_timers(w, w, goc__now());
    goc__g *g = goc__lq_get(w);
    if (!g) g = goc__gq_take(w, false);
    if (!g && goc__netpoll_try() > 0) g = goc__lq_get(w);
    return g;
}

/* The thread's own context, as the sanitizers see it: set up once. */
static void lender_san(goc__g *self) {
    if (self->san.size) return;
    void *lo;
    size_t size;
    goc__thread_stack(&lo, &size);
    goc__san_thread(&self->san, lo, size ? size : 1); /* size 1: set up */
}

/* This thread's hold word in state st: its token is the address of its
 * tls_held, unique among live threads. */
static uintptr_t hold_word(int st) { return (uintptr_t)(void *)&tls_held | (uintptr_t)st; }

/* The worker this thread holds, back in its hands (USED); NULL if none, or
 * if it was taken back meanwhile. */
static goc__w *hold_take(void) {
    goc__w *w = tls_held;
    if (!w) return NULL;
    uintptr_t away = hold_word(GOC__HOLD_AWAY);
    if (atomic_compare_exchange_strong_explicit(&w->hold, &away, hold_word(GOC__HOLD_USED),
                                                memory_order_acquire, memory_order_relaxed))
        return w;
    tls_held = NULL;
    return NULL;
}

/* The thread goes back to its own code, keeping w. The monitor, which
 * takes w back if the thread stays away, sleeps only while every worker is
 * idle: borrowing w made one busy before this reads whether it sleeps. */
static void hold_leave(goc__w *w) {
    atomic_store_explicit(&w->hold, hold_word(GOC__HOLD_AWAY), memory_order_release);
    goc__monitor_kick();
}

/* The thread gives w up for good. */
static void hold_end(goc__w *w) {
    tls_held = NULL;
    atomic_store_explicit(&w->hold, GOC__HOLD_NONE, memory_order_relaxed);
    give_back(w);
}

bool goc__lend_held_away(goc__w *w) {
    return (atomic_load_explicit(&w->hold, memory_order_relaxed) & GOC__HOLD_MASK) ==
           GOC__HOLD_AWAY;
}

bool goc__lend_reclaim(goc__w *w) {
    uintptr_t h = atomic_load_explicit(&w->hold, memory_order_relaxed);
    if ((h & GOC__HOLD_MASK) != GOC__HOLD_AWAY ||
        !atomic_compare_exchange_strong_explicit(&w->hold, &h, GOC__HOLD_NONE,
                                                 memory_order_acq_rel, memory_order_relaxed))
        return false;
    give_back(w);
    return true;
}

void goc__lend_drop(void) {
    goc__w *w = hold_take();
    if (w) hold_end(w);
}

/* fork.c: the child has none of the parent's workers. */
void goc__lend_forked(void) { tls_held = NULL; }

bool goc__lend(goc__g *self, int64_t deadline) {
    if (!lending_allowed()) return false;
    goc__w *w = hold_take();
    if (!w) w = borrow();
    if (!w) return false;
    atomic_store_explicit(&w->hold, hold_word(GOC__HOLD_USED), memory_order_relaxed);
    tls_held = w;
    if (GOC_UNLIKELY(atomic_load(&w->retire))) { /* replaced while it went idle */
        hold_end(w);
        goc__unpark(w); /* its thread retires */
        return false;
    }
    lender_san(self);
    goc__san own = w->g0san; /* w's thread's, back when it is given back */
    w->g0san = self->san;
    goc__race_release(&w->g0san); /* this thread's TLS, for the coroutines it runs */
    w->lender = self;
    goc__tls_set(w);
    int ran = 0;
    bool idle = false;
    while (!goc__thread_woken(self)) {
        if (deadline >= 0 && goc__now() >= deadline) break;
        goc__g *g = lend_find(w);
        if (!g) {
            idle = true;
            break;
        }
        goc__worker_run(w, g);
        ran++;
    }
    goc__tls_set(NULL);
    w->lender = NULL;
    w->g0san = own;
    if (idle)
        hold_end(w); /* the thread sleeps: w must not wait for it */
    else
        hold_leave(w);
    return ran > 0;
}

/* When this thread's last wait in goc ended, by the monitor's clock
 * (goc__recent_now: no clock read on these paths). */
static _Thread_local int64_t tls_resumed = INT64_MIN / 2;

void goc__lend_resumed(void) {
    int64_t now = atomic_load_explicit(&goc__recent_now, memory_order_relaxed);
    tls_resumed = now == INT64_MAX ? INT64_MIN / 2 : now;
}

/* Only a thread that blocked within about a tick of the monitor is likely
 * to block again before the coroutine it readies needs a worker: main
 * answering coroutines, a producer that fills a channel. One that readies
 * now and then (a line read from a file) wakes a worker at once, not
 * within the monitor's two ticks. */
#define DEFER_WINDOW GOC_MS

static bool defer_wake(void) {
    int64_t now = atomic_load_explicit(&goc__recent_now, memory_order_relaxed);
    return lending_allowed() && now != INT64_MAX && now - tls_resumed <= DEFER_WINDOW &&
           goc__monitor_defer();
}

void goc__lend_ready(goc__g *g, bool next) {
    goc__w *w = hold_take();
    if (w) {
        /* Run when this thread blocks next, or by whoever the monitor wakes
         * when it does not (within two ticks), or when they compute. No
         * wake here: a helper would fight the thread for the channel they
         * share. */
        goc__lq_put(w, g, next);
        hold_leave(w);
        return;
    }
    goc__gq_append(g, g, 1);
    if (!defer_wake()) goc__wakep_fast();
}
