/* The monitor thread (Go's sysmon): watches the workers from outside.
 *
 * Every TICK it looks at each worker's schedule counter. A worker that has
 * run the same coroutine for SLOW (one tick apart) is marked slow (its `next`
 * slot becomes stealable) and, if it has queued work or due timers, an idle
 * worker is woken to take them: a coroutine readied by one that keeps
 * running waits at most about two ticks. One stuck for STUCK (a blocking syscall, a long loop)
 * with work waiting is replaced: a spare worker takes its place and the stuck
 * one retires when its coroutine finally switches out. A worker whose thread
 * is runnable but has not run since it turned slow was preempted by the OS,
 * not stuck, and is left alone until it runs. Every TRIM it returns
 * the pages of stacks that stayed free to the kernel.
 *
 * Every TICK it also publishes the time (goc__sched_clock), so that switches
 * need not read the clock while every timer is far off.
 *
 * When every worker is idle and no stack awaits trimming it sleeps until a
 * worker wakes (goc__monitor_kick), so an idle program uses no CPU.
 *
 * Invariants: only this thread writes w->mon_*; it never takes a lock while
 * holding another.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "debug.h"
#include "goc.h"
#include "netpoll.h"
#include "sched.h"

#define TICK (1 * GOC_MS)
#define SLOW (1 * GOC_MS)
#define POLL_STALE (10 * GOC_MS) /* poll for the workers when none has this long */
#define STUCK (10 * GOC_MS)
#define TRIM (100 * GOC_MS)
#define RECHECK (10 * GOC_MS) /* a suspected deadlock is confirmed this late */

static _Atomic uint32_t asleep;
static _Atomic int64_t stuck_after = STUCK; /* goc__test_stuck_after */
static _Atomic uint64_t deferred; /* wakes left to the monitor (goc__monitor_defer) */

void goc__monitor_kick(void) {
    if (atomic_load(&asleep) && atomic_exchange(&asleep, 0)) goc__futex_wake(&asleep, 1);
}

/* deferred is written before asleep is read, and the monitor writes asleep
 * before it reads deferred (both seq_cst): a deferral it misses sees it
 * asleep, and the caller wakes a worker itself. */
bool goc__monitor_defer(void) {
    atomic_fetch_add(&deferred, 1);
    return !atomic_load(&asleep);
}

/* Work waits in the global queue (readied off the workers, wake deferred)
 * for a second tick in a row: wake a worker for it. */
static void rescue(void) {
    static bool waited;
    bool queued = goc__sched_gq_len() > 0;
    if (queued && waited) goc__wakep();
    waited = queued;
}

static int64_t thread_cpu(goc__w *w) {
    struct timespec ts;
    if (clock_gettime(w->cpuclock, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * GOC_SEC + ts.tv_nsec;
}

/* The scheduler state of w's thread from /proc: 'R' running or runnable,
 * 'S'/'D' blocked in the kernel; '?' when unknown. */
static char thread_state(goc__w *w) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", w->tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return '?';
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return '?';
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the name may contain spaces */
    return p && p[1] == ' ' ? p[2] : '?';
}

/* A worker held by one coroutine for STUCK: replace it if the coroutine is
 * blocked in the kernel or really computing (its thread ran a millisecond or
 * more since it was first seen slow, however loaded the machine). A thread
 * that is runnable but has not run at all was only preempted by the OS:
 * another thread would compete for the same CPUs, so wait a tick more. */
static bool really_stuck(goc__w *w) {
    if (thread_state(w) != 'R') return true;
    return thread_cpu(w) - w->mon_cpu >= GOC_MS;
}

/* A lent worker's queue, which a thread feeds without waking anyone
 * (lend.c), still holds work a tick later while its lender got through
 * fewer than LENT_RUNS coroutines in that tick: they compute (a thread
 * handing out jobs), so wake a helper to share them, as a worker's own
 * ready would have at once. Short runs (a pool's feeder and its receivers)
 * are left to the thread: a helper would fight it for their channel. */
#define LENT_RUNS 64

static void watch_lent(goc__w *w, uint64_t t) {
    bool queued = atomic_load(&w->state) == GOC__W_LENT && !goc__runq_empty(&w->q);
    if (queued && w->mon_queued && t - w->mon_lent_tick < LENT_RUNS) goc__wakep();
    w->mon_queued = queued;
    w->mon_lent_tick = t;
}

static void watch(goc__w *w, int64_t now) {
    uint64_t t = atomic_load_explicit(&w->tick, memory_order_relaxed);
    watch_lent(w, t);
    if (goc__lend_held_away(w)) {
        /* A thread keeps w between its waits (lend.c): after a tick in which
         * it ran nothing there, w goes back to the idle list, and its queue
         * and timers to whoever wakes for them. */
        if (t == w->mon_tick && now - w->mon_since >= TICK) {
            goc__lend_reclaim(w);
        } else if (t != w->mon_tick) {
            w->mon_tick = t;
            w->mon_since = now;
        }
        return;
    }
    bool busy = atomic_load_explicit(&w->busy, memory_order_relaxed);
    int state = atomic_load(&w->state); /* LENT: a lending thread runs it */
    if (t != w->mon_tick || !busy || (state != GOC__W_RUNNING && state != GOC__W_LENT)) {
        w->mon_tick = t;
        w->mon_since = now;
        w->mon_cpu = -1; /* read lazily: only slow workers need it */
        if (atomic_load_explicit(&w->slow, memory_order_relaxed))
            atomic_store_explicit(&w->slow, false, memory_order_relaxed);
        return;
    }
    int64_t held = now - w->mon_since;
    if (held < SLOW || !goc__has_work(w, now)) return;
    if (w->mon_cpu < 0) w->mon_cpu = thread_cpu(w);
    atomic_store_explicit(&w->slow, true, memory_order_relaxed);
    goc__wakep();
    if (held >= atomic_load_explicit(&stuck_after, memory_order_relaxed) &&
        !atomic_load(&w->retire) && really_stuck(w))
        goc__replace_worker(w);
}

static void *monitor_main(void *arg) {
    (void)arg;
    int64_t last_trim = goc__now();
    bool trim_pending = true;
    for (;;) {
        /* SIGQUIT's dump; a deadlock to confirm: look again in a while. */
        bool recheck = goc__debug_monitor(goc__sched_idle_all());
        uint64_t seen = atomic_load(&deferred);
        if (goc__sched_idle_all() && goc__sched_gq_len() == 0) {
            /* Nothing to watch: sleep until kicked, or until the next trim
             * when stacks await one (not a tick a millisecond: an idle
             * program uses no CPU, bench/idleconn), or the recheck. */
            int64_t until = trim_pending ? last_trim + TRIM : -1;
            if (recheck && (until < 0 || goc__now() + RECHECK < until)) until = goc__now() + RECHECK;
            goc__sched_clock(INT64_MAX); /* it goes stale while we sleep */
            atomic_store(&asleep, 1);
            if (goc__sched_idle_all() && atomic_load(&deferred) == seen)
                goc__futex_wait(&asleep, 1, until);
            atomic_store(&asleep, 0);
            trim_pending = true; /* whatever ran may have freed stacks */
        } else {
            goc__futex_wait(&asleep, 0, goc__now() + TICK);
        }
        int64_t now = goc__now();
        goc__sched_clock(now);
        int n = goc__nworkers();
        for (int i = 0; i < n; i++) watch(goc__worker(i), now);
        rescue();
        /* Every worker busy in long-running coroutines: nobody polls. */
        if (goc__netpoll_active() && now - goc__netpoll_last() >= POLL_STALE) goc__netpoll_try();
        if (now - last_trim >= TRIM) {
            trim_pending = goc__stack_trim();
            last_trim = now;
        }
        goc__sched_clock(goc__now()); /* watching and trimming may take a while */
    }
    return NULL;
}

int goc__monitor_start(void) { return goc__thread_start(monitor_main, NULL, 256 * 1024); }

void goc__test_stuck_after(int64_t ns) { atomic_store(&stuck_after, ns); }
