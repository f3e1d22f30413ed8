/* What the scheduler's own files share, and nothing else includes: the
 * scheduler's global state and the calls between its parts. The parts, each
 * depending only on those listed before it:
 *   queues.h/.c  each worker's local queue policy and the global queue
 *   wake.c       an idle worker's one sleep and its wake (unpark, wakep)
 *   steal.c      a spinning worker's search of the other workers
 *   worker.c     a worker's loop and life: find work, retire, replace
 *   lend.c       a plain thread blocked in goc runs coroutines as a worker
 *   start.c      the runtime's start (and its end in a forked child)
 *   sched.c      the switch: park, ready, yield, spawn and exit
 *
 * Invariants: sched.nidle is the length of the idle list; nspinning counts
 * workers with w->spinning plus those popped by wakep that have not yet woken;
 * a worker is spinning only while it looks for work, and at most about half
 * of the busy workers spin; a coroutine is in at most one queue, and only
 * when it is not running.
 *
 * Locking: goc__sched.lock guards the global queue and the idle and spare
 * lists, and is held while timers move between heaps (so a timer never lands
 * in a heap that is retiring). Where it stands among the other locks:
 * lockrank.h, the one statement of the lock order.
 */
#ifndef GOC_SCHED_INT_H
#define GOC_SCHED_INT_H

#include "sched.h"

struct goc__sched {
    goc__lock lock;
    goc__g *gq_head, *gq_tail;       /* (s) global run queue             */
    _Atomic size_t ngq;              /* written under s                  */
    goc__w *idle, *spare;            /* (s)                              */
    _Atomic int nidle;               /* written under s                  */
    _Atomic int nspinning;
    _Atomic int nactive;             /* workers not SPARE                */
    _Atomic int nallw;
    int nprocs;
    _Atomic int64_t spawned_off;     /* coroutines started off the workers */
    goc__w *allw[GOC__MAXW];
};
extern struct goc__sched goc__sched;

/* sched.c: binds the calling thread to worker w (worker.c's thread start). */
void goc__tls_set(goc__w *w);

/* One spinner fewer; returns how many there were (never 0: see above). */
static inline int goc__spinning_dec(void) {
    int old = atomic_fetch_sub(&goc__sched.nspinning, 1);
    GOC_ASSERT(old > 0);
    return old;
}

/* With sched.lock: the idle list's invariants (above): nidle is its length,
 * and every worker on it is IDLE and knows it is listed. O(idle workers),
 * GOC_DEBUG_CHECKS builds only; called where the list changes. */
static inline void goc__idle_check_locked(void) {
    GOC_ASSERT_HELD(&goc__sched.lock);
#if GOC_DEBUG_CHECKS
    int n = 0;
    for (goc__w *w = goc__sched.idle; w; w = w->idle_next, n++)
        GOC_ASSERT(w->in_idle && atomic_load(&w->state) == GOC__W_IDLE);
    GOC_ASSERT(n == atomic_load_explicit(&goc__sched.nidle, memory_order_relaxed));
#endif
}

/* Runs what the context that left w asked to be done off its stack. */
static inline void goc__run_hook(goc__w *w) {
    void (*h)(goc__w *, void *) = w->hook;
    if (h) {
        w->hook = NULL;
        h(w, w->hook_arg);
    }
#if GOC_LOCKRANK
    goc__lockrank_none_held("a context switch");
#endif
}

/* One more coroutine scheduled on w (the monitor watches this count). */
static inline void goc__tick(goc__w *w) {
    atomic_store_explicit(&w->tick, atomic_load_explicit(&w->tick, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* goc__wakep with its common case, nobody idle, inline for the hot paths. */
static inline void goc__wakep_fast(void) {
    if (atomic_load_explicit(&goc__sched.nidle, memory_order_relaxed) != 0) goc__wakep();
}

/* wake.c */
void goc__unpark(goc__w *w);
goc__g *goc__idle(goc__w *w);
void goc__spare_wait(goc__w *w);

/* steal.c */
goc__g *goc__spin(goc__w *w);
bool goc__run_timers(goc__w *w, goc__w *v, int64_t now);

/* worker.c */
void goc__worker_run(goc__w *w, goc__g *g); /* from w's g0: g until it switches out */
goc__w *goc__worker_new(void);
int goc__worker_start(goc__w *w);
void goc__worker_free(goc__w *w);

#endif
