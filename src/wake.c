/* An idle worker's one sleep (worker_sleep) and its one wake (goc__unpark),
 * the idle list, and when to wake a worker for new work (goc__wakep).
 *
 * Wake-up policy (Go's, but for one case): work added to a ring wakes an
 * idle worker only when none is spinning; a spinner that finds work wakes
 * another; a spinner that gives up rechecks every queue after it stops
 * counting as one, so a producer that saw it spinning and woke nobody is never
 * stranded. A spinner searches for a few microseconds before it sleeps
 * (steal.c), so a burst of readies costs one futex wake, not one each.
 * Unlike Go, a coroutine readied into an empty `next` slot wakes nobody: its
 * readier usually blocks next (a send answered by a receive), and a wake per
 * message would make unbuffered ping-pong on two workers pay a futex wake
 * and a cross-core hand-off each time (bench/pingpong). If the readier keeps
 * running instead, a spinner takes it after a grace period (steal.c), and
 * with no spinner the monitor wakes one within about a millisecond.
 *
 * Invariants and locking: sched_int.h.
 */
#include "goc.h"
#include "queues.h"

#include "netpoll.h"

static void idle_unlink_locked(goc__w *w) {
    GOC_ASSERT(w->in_idle);
    for (goc__w **p = &goc__sched.idle; *p; p = &(*p)->idle_next) {
        if (*p == w) {
            *p = w->idle_next;
            break;
        }
    }
    w->in_idle = false;
    atomic_fetch_sub(&goc__sched.nidle, 1);
    goc__idle_check_locked();
}

/* worker_sleep's counterpart. A worker asleep in epoll_wait sets `polling`
 * before it reads `park`, and unpark writes `park` before it reads `polling`
 * (both seq_cst): one of them sees the other, so the wake-up is never lost. */
void goc__unpark(goc__w *w) {
    atomic_store(&w->park, 1);
    goc__futex_wake(&w->park, 1);
    if (atomic_load(&w->polling)) goc__netpoll_break();
}

void goc__wakep(void) {
    if (atomic_load_explicit(&goc__sched.nidle, memory_order_relaxed) == 0) return;
    int zero = 0;
    if (atomic_load_explicit(&goc__sched.nspinning, memory_order_relaxed) != 0 ||
        !atomic_compare_exchange_strong(&goc__sched.nspinning, &zero, 1))
        return;
    goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
    goc__w *w = goc__sched.idle;
    if (w) {
        goc__sched.idle = w->idle_next;
        w->in_idle = false;
        atomic_fetch_sub(&goc__sched.nidle, 1);
        atomic_store(&w->state, GOC__W_RUNNING);
    }
    goc__idle_check_locked();
    goc__lock_release(&goc__sched.lock);
    if (!w) {
        goc__spinning_dec();
        return;
    }
    goc__unpark(w);
    goc__monitor_kick();
}

bool goc__sched_idle_all(void) {
    return atomic_load(&goc__sched.nidle) == atomic_load(&goc__sched.nactive);
}

bool goc__has_work(goc__w *w, int64_t now) {
    return !goc__runq_empty(&w->q) || goc__timers_next(&w->timers) <= now || !goc__gq_empty();
}

static bool work_anywhere(void) {
    if (atomic_load(&goc__sched.ngq) > 0) return true;
    int n = atomic_load(&goc__sched.nallw);
    int64_t now = goc__now();
    for (int i = 0; i < n; i++) {
        goc__w *v = goc__sched.allw[i];
        if (!goc__runq_empty(&v->q) || goc__timers_next(&v->timers) <= now) return true;
    }
    return false;
}

/* With sched.lock: w leaves the idle list (or was popped by wakep, which
 * counted it as spinning). */
static void idle_leave_locked(goc__w *w) {
    if (w->in_idle)
        idle_unlink_locked(w);
    else
        w->spinning = true;
    atomic_store(&w->state, GOC__W_RUNNING);
}

/* w's thread while a blocked thread runs as w (lend.c): it waits to be
 * given back, and the lender runs w's timers meanwhile. Any wake-up then
 * sends it looking for work, so clearing `park` here loses none. */
static void lent_wait(goc__w *w) {
    atomic_store(&w->sleep_until, INT64_MAX);
    for (;;) {
        atomic_store(&w->park, 0);
        if (atomic_load(&w->state) != GOC__W_LENT) return;
        goc__futex_wait(&w->park, 0, -1);
    }
}

/* w's thread leaves idle (once w is not lent); true if it was still on the
 * idle list, false if wakep popped it. */
static bool idle_leave(goc__w *w) {
    for (;;) {
        goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
        if (atomic_load(&w->state) != GOC__W_LENT) {
            bool listed = w->in_idle;
            idle_leave_locked(w);
            goc__lock_release(&goc__sched.lock);
            return listed;
        }
        goc__lock_release(&goc__sched.lock);
        lent_wait(w);
    }
}

/* The one sleep of an idle worker, until unpark or deadline (goc_now; < 0
 * none); spurious returns are allowed. While fds are waited on, one idle
 * worker sleeps in epoll_wait instead of its futex, so an fd event wakes it
 * directly. True when the poll readied something. */
static bool worker_sleep(goc__w *w, int64_t deadline) {
    atomic_store(&w->sleep_until, deadline < 0 ? INT64_MAX : deadline);
    if (goc__netpoll_active() && goc__netpoll_acquire()) {
        /* polling before state, as lend.c's borrow writes state before it
         * reads polling: a lent worker's thread never readies into the
         * queue its lender owns. */
        atomic_store(&w->polling, true);
        if (atomic_load(&w->state) == GOC__W_LENT) {
            goc__netpoll_release();
            atomic_store(&w->polling, false);
            return false;
        }
        int readied = 0;
        if (!atomic_load(&w->park)) readied = goc__netpoll_run(deadline < 0 ? -1 : deadline);
        else goc__netpoll_run(0);
        atomic_store(&w->polling, false);
        return readied > 0;
    }
    goc__futex_wait(&w->park, 0, deadline);
    return false;
}

/* Nothing to run: sleeps until woken or w's next timer. Returns a coroutine
 * found on the way, or NULL to look again. */
goc__g *goc__idle(goc__w *w) {
    goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
    if (atomic_load(&w->retire)) {
        goc__lock_release(&goc__sched.lock);
        return NULL;
    }
    goc__g *g = goc__gq_take_locked(w, false);
    if (g) {
        goc__lock_release(&goc__sched.lock);
        return g;
    }
    atomic_store(&w->park, 0);
    GOC_ASSERT(!w->in_idle);
    w->in_idle = true;
    w->idle_next = goc__sched.idle;
    goc__sched.idle = w;
    atomic_store(&w->state, GOC__W_IDLE);
    atomic_fetch_add(&goc__sched.nidle, 1);
    goc__idle_check_locked();
    goc__lock_release(&goc__sched.lock);

    if (w->spinning) {
        w->spinning = false;
        goc__spinning_dec();
        if (work_anywhere()) {
            if (idle_leave(w)) {
                w->spinning = true;
                atomic_fetch_add(&goc__sched.nspinning, 1);
            }
            goc__monitor_kick(); /* it may have gone to sleep: all were idle */
            return NULL;
        }
    }
    for (;;) {
        if (atomic_load(&w->state) == GOC__W_LENT) break; /* idle_leave waits */
        int64_t deadline = goc__timers_next(&w->timers);
        if (deadline != INT64_MAX && deadline <= goc__now()) break;
        if (atomic_load(&w->park)) break;
        if (worker_sleep(w, deadline == INT64_MAX ? -1 : deadline)) break;
    }
    idle_leave(w);
    goc__monitor_kick();
    return NULL;
}

/* A spare waits until goc__replace_worker makes it RUNNING again. An unpark
 * meant for w before it retired (wakep, timer_start and retire wake a worker
 * after dropping sched.lock) may arrive late: it is absorbed here, or w
 * would run while still on the spare list. */
void goc__spare_wait(goc__w *w) {
    for (;;) {
        atomic_store(&w->park, 0);
        if (atomic_load(&w->state) != GOC__W_SPARE) return;
        goc__futex_wait(&w->park, 0, -1);
    }
}
