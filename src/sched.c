/* The switch: a coroutine parks, yields or exits, and the next one runs;
 * goc__ready makes a parked one runnable again. (coro.c starts coroutines;
 * worker.c runs the loop a worker returns to when it has nothing queued.)
 *
 * A coroutine that parks, yields or exits switches directly to the next
 * coroutine of its worker's local queue when there is one (one context switch)
 * and otherwise to the worker's scheduler context (g0), which looks at timers,
 * the global queue and other workers, and sleeps when there is nothing. What
 * the leaving coroutine still needs done off its own stack (unlock the channel
 * it waits on, requeue itself, free its stack) is a hook that the next context
 * runs first: once the hook runs, the coroutine's registers are saved, so
 * whoever takes the lock next may ready it at once.
 *
 * Invariants and locking: sched_int.h.
 */
#include <sched.h>

#include "debug.h"
#include "goc.h"
#include "netpoll.h"
#include "queues.h"
#include "trace.h"

/* initial-exec: a plain %fs load on every channel operation, not a
 * __tls_get_addr call site; a dlopen of libgoc then needs 8 bytes of static TLS. */
static _Thread_local goc__w *tls_w __attribute__((tls_model("initial-exec")));
static _Thread_local goc__g tls_thread_g; /* zeroed: kind GOC__G_THREAD */

GOC_NOINLINE goc__w *goc__tls_w(void) {
    goc__w *w = tls_w;
    __asm__ __volatile__("" : "+r"(w)); /* an opaque read, never cached */
    return w;
}

GOC_NOINLINE goc__g *goc__self(void) {
    goc__w *w = goc__tls_w();
    if (w && w->cur) return w->cur;
    goc__g *g = &tls_thread_g;
    __asm__ __volatile__("" : "+r"(g));
    return g;
}

void goc__tls_set(goc__w *w) { tls_w = w; }

/* ---- readying --------------------------------------------------------- */

static GOC_NOINLINE void ready_traced(goc__w *w, goc__g *g, bool next) {
    goc__trace_event(w, GOC__TEV_UNPARK, g);
    if (goc__lq_put(w, g, next)) goc__wakep_fast();
}

void goc__ready(goc__g *g, bool next) {
    if (g->kind == GOC__G_THREAD) {
        if (atomic_exchange(&g->wake, GOC__WAKE_WOKEN) == GOC__WAKE_ASLEEP)
            goc__futex_wake(&g->wake, 1);
        return;
    }
    atomic_store_explicit(&g->wait, 0, memory_order_relaxed);
    goc__w *w = goc__tls_w();
    if (w) {
        GOC__STAT_ADD(w, wakes, 1);
        if (GOC__TRACING()) {
            ready_traced(w, g, next);
            return;
        }
        if (goc__lq_put(w, g, next)) goc__wakep_fast();
        return;
    }
    goc__stat_global(&goc__stat_wakes_off, 1);
    goc__lend_ready(g, next);
}

/* ---- switching -------------------------------------------------------- */

/* Tracing's detours are separate calls on cold paths, so the hot paths keep
 * no registers alive across a call that does not happen. */
static GOC_NOINLINE void resumed_traced(goc__w *w) {
    goc__trace_event(w, GOC__TEV_RUN, w->cur);
    goc__race_acquire(&w->g0san);
    goc__run_hook(w);
}

/* First thing a coroutine does on w after a switch. It runs only once
 * readied (goc__ready clears its wait reason). */
static inline void resumed(goc__w *w) {
    GOC_ASSERT(atomic_load_explicit(&w->cur->wait, memory_order_relaxed) == 0);
    if (GOC__TRACING()) {
        resumed_traced(w);
        return;
    }
    goc__race_acquire(&w->g0san); /* this thread's setup (its TLS: errno) */
    goc__run_hook(w);
}

/* A recent goc_now reading, never ahead of the clock: the monitor refreshes
 * it every millisecond while any worker runs, and sets it to INT64_MAX
 * (unknown) before it sleeps. A switch reads the clock for due timers only
 * when the earliest is within CLOCK_SLACK of it: a clock read on every
 * switch would cost ping-pong dearly whenever some timer is pending, however
 * far off (bench/pingpong with a far timer armed; docs/benchmarks.md). */
#define CLOCK_SLACK (4 * GOC_MS)
_Atomic int64_t goc__recent_now = INT64_MAX;

void goc__sched_clock(int64_t now) { atomic_store_explicit(&goc__recent_now, now, memory_order_relaxed); }

/* Is a timer at t (not INT64_MAX) due? */
static inline bool timer_due(int64_t t) {
    int64_t recent = atomic_load_explicit(&goc__recent_now, memory_order_relaxed);
    if (recent != INT64_MAX && t > recent + CLOCK_SLACK) return false;
    return t <= goc__now();
}

/* Is w run by a thread lending itself (lend.c) whose own wait is over? Then
 * the running coroutine's next switch goes back to that thread. */
static inline bool lender_woken(goc__w *w) {
    return GOC_UNLIKELY(w->lender != NULL) &&
           atomic_load_explicit(&w->lender->wake, memory_order_relaxed) == GOC__WAKE_WOKEN;
}

/* The next coroutine from w's own queue, unless the scheduler should look
 * around first: every 61st pick (fairness for the global queue), when a
 * timer is due, when the monitor asked w to retire, or when the thread
 * lending itself as w (lend.c) has been woken. */
static inline goc__g *pick_local(goc__w *w) {
    if (atomic_load_explicit(&w->tick, memory_order_relaxed) % 61 == 60) return NULL;
    if (atomic_load_explicit(&w->retire, memory_order_relaxed)) return NULL;
    if (lender_woken(w)) return NULL;
    int64_t t = goc__timers_next(&w->timers);
    if (GOC_UNLIKELY(t != INT64_MAX) && timer_due(t)) return NULL;
    return goc__lq_get(w);
}

/* Switches from coroutine g (on w) to the next one or to g0, leaving hook. */
static goc__w *sched_switch(goc__w *w, goc__g *g, void (*hook)(goc__w *, void *), void *arg,
                            bool dying) {
    if (GOC_UNLIKELY(g->canary) && goc__stack_canary_dead(g)) goc__stack_overflow(g);
    w->hook = hook;
    w->hook_arg = arg;
    goc__g *next = pick_local(w);
    GOC_ASSERT(next != g);
    goc__ctx *to;
    goc__san *to_san;
    if (next) {
        goc__tick(w);
        w->cur = next;
        to = &next->ctx;
        to_san = &next->san;
    } else {
        w->cur = NULL;
        atomic_store_explicit(&w->busy, false, memory_order_relaxed);
        to = &w->g0;
        to_san = &w->g0san;
    }
    goc__san_switch(&g->san, to_san, dying);
    w = goc__ctx_swap(&g->ctx, to, w);
    goc__san_resumed(&g->san);
    resumed(w);
    return w;
}

goc__w *goc__park(goc__w *w, goc__g *g, void (*hook)(goc__w *, void *), void *arg) {
    GOC__STAT_ADD(w, parks, 1);
    return sched_switch(w, g, hook, arg, false);
}

static void hook_requeue(goc__w *w, void *arg) {
    if (goc__lq_put(w, arg, false)) goc__wakep_fast();
}

/* Yield with an empty local queue and work in the global one: go to the
 * global queue's tail, as Go's Gosched does, so the work there runs first.
 * Requeued locally, the yielder would be picked again at once, and the
 * global queue only every 61st pick. Also where a yield goes when w's
 * lending thread is woken and takes w back to the idle list. */
static void hook_requeue_global(goc__w *w, void *arg) {
    (void)w;
    goc__g *g = arg;
    goc__gq_append(g, g, 1);
    goc__wakep_fast();
}

void goc_yield(void) {
    goc__w *w = goc__tls_w();
    if (!w || !w->cur) {
        sched_yield();
        return;
    }
    if (goc__runq_empty(&w->q)) {
        if (!goc__gq_empty() || lender_woken(w)) {
            sched_switch(w, w->cur, hook_requeue_global, w->cur, false);
            return;
        }
        /* Nothing else could run here, unless a timer is due: read the clock
         * (a yield loop does not switch, so no scheduler pass would catch a
         * timer the recent clock missed). */
        int64_t t = goc__timers_next(&w->timers);
        if (t == INT64_MAX || t > goc__now()) return;
    }
    sched_switch(w, w->cur, hook_requeue, w->cur, false);
}

/* I/O calls that complete without blocking (loopback connects, accepts
 * from a full backlog, reads of a busy socket) can keep a coroutine running
 * for ever, and the coroutines its worker owes a turn with it: without
 * preemption, dialers that never block keep the accept loop waiting until
 * the listen backlog overflows (bench/accept). So each such call polls the
 * network when nobody has for POLL_BUSY, and yields when that readied
 * someone or when the monitor found the worker held for 1 ms (`slow`),
 * standing in for Go's preemption. */
#define POLL_BUSY (100 * GOC_US)

void goc__preempt_point(void) {
    goc__w *w = goc__tls_w();
    if (!w || !w->cur) return;
    bool yield = atomic_load_explicit(&w->slow, memory_order_relaxed) || lender_woken(w);
    if (goc__netpoll_active() && goc__now() - goc__netpoll_last() >= POLL_BUSY &&
        goc__netpoll_try() > 0)
        yield = true;
    if (!yield) return;
    atomic_store_explicit(&w->slow, false, memory_order_relaxed);
    goc_yield();
}

/* ---- a coroutine's life, scheduler side (coro.c has the rest) --------- */

static GOC_NOINLINE void spawn_traced(goc__w *w, goc__g *g) {
    goc__trace_event(w, GOC__TEV_SPAWN, g);
    if (goc__lq_spawn(w, g)) goc__wakep_fast();
}

void goc__sched_spawn(goc__w *w, goc__g *g) {
    if (w) {
        atomic_store_explicit(&w->spawned,
                              atomic_load_explicit(&w->spawned, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        if (GOC__TRACING()) {
            spawn_traced(w, g);
            return;
        }
        if (goc__lq_spawn(w, g)) goc__wakep_fast();
        return;
    }
    atomic_fetch_add(&goc__sched.spawned_off, 1);
    if (atomic_load_explicit(&goc__sched.nidle, memory_order_relaxed) == 0) goc__lend_drop();
    goc__gq_append(g, g, 1);
    goc__wakep_fast();
}

void goc__sched_entered(goc__w *w) { resumed(w); }

static void hook_exit(goc__w *w, void *arg) {
    goc__g *g = arg;
    goc__reg_exit(g);
    goc__san_stack_free(&g->san);
    atomic_store_explicit(&w->exited, atomic_load_explicit(&w->exited, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    goc__stack_free(&w->stacks, g);
}

void goc__sched_exit(goc__g *g) {
    sched_switch(goc__tls_w(), g, hook_exit, g, true);
    goc__throw("a dead coroutine was resumed");
}
