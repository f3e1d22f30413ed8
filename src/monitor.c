/* The monitor thread (Go's sysmon): watches the workers from outside.
 *
 * Every TICK it looks at each worker's schedule counter. A worker that has
 * run the same coroutine for SLOW (one tick apart) is marked slow (its `next`
 * slot becomes stealable) and, if it has queued work or due timers, an idle
 * worker is woken to take them: a coroutine readied by one that keeps
 * running waits at most about two ticks. One stuck for STUCK (a blocking syscall, a long loop)
 * with work waiting is replaced: a spare worker takes its place and the stuck
 * one retires when its coroutine finally switches out. Every TRIM it returns
 * the pages of stacks that stayed free to the kernel.
 *
 * When every worker is idle and no stack awaits trimming it sleeps until a
 * worker wakes (goc__monitor_kick), so an idle program uses no CPU.
 *
 * Invariants: only this thread writes w->mon_*; it never takes a lock while
 * holding another.
 */
#include "goc.h"
#include "sched.h"

#define TICK (1 * GOC_MS)
#define SLOW (1 * GOC_MS)
#define STUCK (10 * GOC_MS)
#define TRIM (100 * GOC_MS)

static _Atomic uint32_t asleep;

void goc__monitor_kick(void) {
    if (atomic_load(&asleep) && atomic_exchange(&asleep, 0)) goc__futex_wake(&asleep, 1);
}

static void watch(goc__w *w, int64_t now) {
    uint64_t t = atomic_load_explicit(&w->tick, memory_order_relaxed);
    bool busy = atomic_load_explicit(&w->busy, memory_order_relaxed);
    if (t != w->mon_tick || !busy || atomic_load(&w->state) != GOC__W_RUNNING) {
        w->mon_tick = t;
        w->mon_since = now;
        if (atomic_load_explicit(&w->slow, memory_order_relaxed))
            atomic_store_explicit(&w->slow, false, memory_order_relaxed);
        return;
    }
    int64_t held = now - w->mon_since;
    if (held < SLOW || !goc__has_work(w, now)) return;
    atomic_store_explicit(&w->slow, true, memory_order_relaxed);
    goc__wakep();
    if (held >= STUCK && !atomic_load(&w->retire)) goc__replace_worker(w);
}

static void *monitor_main(void *arg) {
    (void)arg;
    int64_t last_trim = goc__now();
    bool trim_pending = true;
    for (;;) {
        if (!trim_pending && goc__sched_idle_all()) {
            atomic_store(&asleep, 1);
            if (goc__sched_idle_all()) goc__futex_wait(&asleep, 1, -1);
            atomic_store(&asleep, 0);
            trim_pending = true; /* whatever ran may have freed stacks */
        } else {
            goc__futex_wait(&asleep, 0, goc__now() + TICK);
        }
        int64_t now = goc__now();
        int n = goc__nworkers();
        for (int i = 0; i < n; i++) watch(goc__worker(i), now);
        if (now - last_trim >= TRIM) {
            trim_pending = goc__stack_trim();
            last_trim = now;
        }
    }
    return NULL;
}

int goc__monitor_start(void) { return goc__thread_start(monitor_main, NULL, 256 * 1024); }
