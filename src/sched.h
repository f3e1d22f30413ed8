/* The scheduler's interface to the rest of goc.
 *
 * Normally there is one worker (g.h) per processor (GOC_PROCS); when the
 * monitor finds a worker stuck in one coroutine it starts a replacement, and
 * the stuck one retires when its coroutine finally switches out.
 *
 * Everything above the scheduler (channels, sync, timers' users) blocks and
 * wakes through two calls only: goc__park (switch out, then run a hook on the
 * next context, typically "unlock the channel") and goc__ready. park.h builds
 * waits with deadlines that work for coroutines and threads alike on top.
 */
#ifndef GOC_SCHED_H
#define GOC_SCHED_H

#include "g.h"

/* The worker of the calling thread, or NULL on a plain thread. Never cached
 * across a switch by the compiler (it is an opaque call). */
goc__w *goc__tls_w(void);

/* The running coroutine, or the calling thread's stand-in. */
goc__g *goc__self(void);

/* Starts the runtime if needed: GOC_OK, GOC_EAGAIN (no thread could start)
 * or GOC_EFORKED (a child of fork: see fork.c). */
int goc__rt_start(void);

/* fork.c's child handler: the runtime that was on stays off for good. */
void goc__rt_forked(void);
bool goc__rt_is_forked(void);

/* Registers fork.c's handler once: at runtime start, at the first signal. */
void goc__fork_watch(void);

/* Coroutine only: switches away from g (running on w); hook(w', arg) runs
 * on the next context of this thread once g is off its stack. Returns the
 * worker g resumes on, after goc__ready(g). */
goc__w *goc__park(goc__w *w, goc__g *g, void (*hook)(goc__w *, void *), void *arg);

/* A coroutine's life, scheduler side (coro.c starts them). spawn queues a
 * new g on worker w (NULL off the workers); entered runs first on a new
 * coroutine's stack; exit switches away from a returned coroutine for good. */
void goc__sched_spawn(goc__w *w, goc__g *g);
void goc__sched_entered(goc__w *w);
GOC_NORETURN void goc__sched_exit(goc__g *g);

/* The running coroutine found a channel lock held (by another worker, in
 * all likelihood): what this worker steals may fight its victim for locks. */
void goc__sched_contended(void);

/* Yields if the running coroutine has held its worker for a while (the
 * monitor marked it slow); a no-op elsewhere. For calls that may complete
 * again and again without blocking. */
void goc__preempt_point(void);

/* A plain thread blocked in goc (park.c): runs coroutines as a borrowed
 * idle worker until self->wake is set, deadline (goc_now; < 0 none) passes
 * or no work is at hand. True if it ran any (lend.c). */
bool goc__lend(goc__g *self, int64_t deadline);

/* goc__ready of a coroutine by a plain thread: queued where this thread
 * will run it when it blocks, or woken for (lend.c). */
void goc__lend_ready(goc__g *g, bool next);
void goc__lend_resumed(void); /* a plain thread's wait in goc just ended */
/* The calling thread gives back the worker it holds between waits, if any:
 * it is about to wait outside goc's waits, or has work for a worker. */
void goc__lend_drop(void);
/* Monitor: is w held by a thread between its waits? Takes it back from
 * that thread; true if it did. */
bool goc__lend_held_away(goc__w *w);
bool goc__lend_reclaim(goc__w *w);
void goc__lend_forked(void); /* fork.c, in the child */

/* Makes a parked g runnable: next = run it before other queued work on this
 * worker (hand-off), else at the tail. A thread stand-in is woken. */
void goc__ready(goc__g *g, bool next);

/* The g's id, name and stack, for a fatal report; then aborts. */
GOC_NORETURN void goc__stack_overflow(const goc__g *g);

/* Monitor interface (monitor.c). */
int goc__monitor_start(void);
void goc__monitor_kick(void);
bool goc__monitor_defer(void); /* a wake left to the monitor: false if it sleeps */
void goc__wakep(void);
void goc__replace_worker(goc__w *stuck);
bool goc__has_work(goc__w *w, int64_t now);
#define GOC__MAXW 1024 /* workers ever, replacements included */
int goc__nworkers(void); /* workers published so far (< GOC__MAXW) */
goc__w *goc__worker(int i);
bool goc__sched_idle_all(void);
void goc__sched_clock(int64_t now); /* the monitor's reading; INT64_MAX: none */
extern _Atomic int64_t goc__recent_now; /* that reading (sched.c)         */
int64_t goc__sched_spawned_off(void); /* coroutines started off the workers */
size_t goc__sched_gq_len(void);       /* coroutines in the global queue   */

/* Test hooks (tests link the static library). */
int goc__worker_index(void);          /* -1 off the workers                 */
size_t goc__stack_rss_slots(void);    /* slots whose pages may be resident  */
void goc__test_publish_delay(int64_t ns); /* a new worker thread runs this long unpublished */
void goc__test_steal_shyly(bool on);       /* every worker steals as after contention */
uint32_t goc__test_contended(void);        /* channel lock waits, all workers        */
void goc__test_unpark(int i);         /* a late wake-up for worker i        */
int goc__test_worker_state(int i);    /* GOC__W_*                           */
bool goc__test_spare_has_timers(void); /* a timer left in a spare's heap    */
void goc__test_stuck_after(int64_t ns); /* the monitor's STUCK (10 ms)          */
void goc__test_signal_stall(void (*fn)(int)); /* runs in the handler before its write */

#endif
