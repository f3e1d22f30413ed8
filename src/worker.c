/* A worker's loop (find a coroutine, switch to it, run what it left behind)
 * and its life: started at the runtime's start or by the monitor to replace
 * a stuck worker, retired when replaced, reused as a spare.
 *
 * A worker's states (sched.lock for every transition but the first):
 *   RUNNING --nothing to do, in goc__idle()----> IDLE    (on the idle list)
 *   IDLE    --wakep() pops it, it spins--------> RUNNING
 *   IDLE    --its timer is due / kicked--------> RUNNING (it unlinks itself)
 *   RUNNING --monitor replaced it, it retires--> SPARE   (on the spare list)
 *   SPARE   --replace() reuses it--------------> RUNNING
 * A replacement (the heir) takes over the queue of the worker it replaced:
 * see hand_over().
 *
 * Invariants and locking: sched_int.h.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "goc.h"
#include "netpoll.h"
#include "queues.h"
#include "trace.h"

#define ALTSTACK (64 * 1024)

struct goc__sched goc__sched;

int goc__nworkers(void) { return atomic_load(&goc__sched.nallw); }
goc__w *goc__worker(int i) { return goc__sched.allw[i]; }

int goc__worker_index(void) {
    goc__w *w = goc__tls_w();
    return w ? w->index : -1;
}

/* ---- finding work ----------------------------------------------------- */

static goc__g *found(goc__w *w, goc__g *g) {
    if (w->spinning) {
        w->spinning = false;
        if (goc__spinning_dec() == 1) goc__wakep();
    }
    return g;
}

static void retire(goc__w *w);

static goc__g *find_runnable(goc__w *w) {
    for (;;) {
        if (atomic_load_explicit(&w->retire, memory_order_relaxed)) retire(w);
        if (goc__timers_next(&w->timers) != INT64_MAX) goc__run_timers(w, w, goc__now());
        goc__g *g;
        if (atomic_load_explicit(&w->tick, memory_order_relaxed) % 61 == 60 &&
            (g = goc__gq_take(w, true)))
            return found(w, g);
        if ((g = goc__lq_get(w))) return found(w, g);
        if ((g = goc__gq_take(w, false))) return found(w, g);
        if (goc__netpoll_try() > 0 && (g = goc__lq_get(w))) return found(w, g);
        if (!w->spinning) {
            int busy = atomic_load(&goc__sched.nactive) - atomic_load(&goc__sched.nidle);
            if (2 * atomic_load(&goc__sched.nspinning) < busy) {
                w->spinning = true;
                atomic_fetch_add(&goc__sched.nspinning, 1);
            }
        }
        if (w->spinning && (g = goc__spin(w))) return found(w, g);
        if ((g = goc__idle(w))) return found(w, g);
    }
}

/* ---- a worker's thread ------------------------------------------------ */

static void *worker_main(void *arg) {
    goc__w *w = arg;
    goc__tls_set(w);
    w->tid = (int)syscall(SYS_gettid);
    if (pthread_getcpuclockid(pthread_self(), &w->cpuclock) != 0) w->cpuclock = CLOCK_THREAD_CPUTIME_ID;
    stack_t ss = {.ss_sp = w->altstack, .ss_size = ALTSTACK, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    void *lo;
    size_t size;
    goc__thread_stack(&lo, &size);
    goc__san_thread(&w->g0san, lo, size);
    /* Under TSan a coroutine fiber did not start this thread, yet it uses the
     * thread's TLS (errno, libc state) that TSan saw the thread set up: every
     * coroutine switched onto it acquires this edge from its start. */
    goc__race_release(&w->g0san);
    for (;;) goc__worker_run(w, find_runnable(w));
    return NULL;
}

void goc__worker_run(goc__w *w, goc__g *g) {
    goc__tick(w);
    w->cur = g;
    atomic_store_explicit(&w->busy, true, memory_order_relaxed);
    goc__san_switch(&w->g0san, &g->san, false);
    goc__ctx_swap(&w->g0, &g->ctx, w);
    GOC__TRACE(w, GOC__TEV_STOP, NULL); /* back in the scheduler */
    goc__san_resumed(&w->g0san);
    goc__run_hook(w);
}

/* A new worker in state RUNNING (not yet started), or NULL. */
goc__w *goc__worker_new(void) {
    int i = atomic_load(&goc__sched.nallw);
    if (i >= GOC__MAXW) return NULL;
    goc__w *w;
    if (posix_memalign((void **)&w, GOC_CACHELINE, sizeof *w) != 0) return NULL;
    *w = (goc__w){0};
    w->altstack = goc__malloc(ALTSTACK);
    if (!w->altstack) {
        free(w);
        return NULL;
    }
    goc__timers_init(&w->timers);
    w->index = i;
    w->rnd = 0x9e3779b9u * (uint32_t)(i + 1);
    atomic_init(&w->state, GOC__W_RUNNING);
    return w;
}

void goc__worker_free(goc__w *w) {
    goc__free(w->altstack);
    free(w);
}

static int64_t test_publish_delay; /* goc__test_publish_delay */

/* Starts w's thread, then publishes w in allw (readers scan allw without a
 * lock, so a worker that failed to start must never have been visible).
 * GOC_OK, or GOC_EAGAIN with w untouched: the caller drains and frees it. */
int goc__worker_start(goc__w *w) {
    if (goc__thread_start(worker_main, w, 0) != 0) return GOC_EAGAIN;
    if (test_publish_delay) {
        struct timespec ts = {test_publish_delay / GOC_SEC, test_publish_delay % GOC_SEC};
        nanosleep(&ts, NULL);
    }
    goc__sched.allw[w->index] = w;
    atomic_store(&goc__sched.nallw, w->index + 1);
    return GOC_OK;
}

/* ---- retiring and replacing ------------------------------------------- */

/* With sched.lock: an active worker other than w (RUNNING or IDLE). */
static goc__w *active_worker_locked(goc__w *w) {
    int n = atomic_load(&goc__sched.nallw);
    for (int i = 0; i < n; i++) {
        goc__w *v = goc__sched.allw[i];
        if (v != w && atomic_load(&v->state) != GOC__W_SPARE && !atomic_load(&v->retire)) return v;
    }
    return NULL;
}

/* The monitor replaced w: hand everything over and wait as a spare. The
 * timers go to a worker that is active at that moment (under sched.lock, so
 * no other retirement can strand them), which is then woken to reset its
 * alarm: it may be asleep with no deadline. */
static void retire(goc__w *w) {
    goc__g *head, *tail;
    size_t n = goc__lq_drain(w, &head, &tail);
    if (n) goc__gq_append(head, tail, n);
    if (w->spinning) {
        w->spinning = false;
        goc__spinning_dec();
    }
    goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
    atomic_store(&w->retire, false);
    goc__w *heir = active_worker_locked(w);
    if (!heir || !goc__timers_move(&w->timers, &heir->timers)) {
        /* No heir, or its heap cannot grow: stay active, one worker over
         * GOC_PROCS, rather than leave the timers with a spare. */
        goc__lock_release(&goc__sched.lock);
        return;
    }
    atomic_store(&w->park, 0);
    atomic_store(&w->state, GOC__W_SPARE);
    w->idle_next = goc__sched.spare;
    goc__sched.spare = w;
    atomic_fetch_sub(&goc__sched.nactive, 1);
    goc__lock_release(&goc__sched.lock);
    goc__unpark(heir);
    goc__wakep();
    goc__spare_wait(w);
    w->spinning = true; /* counted by goc__replace_worker */
}

/* With sched.lock, from the monitor: w replaces stuck and does not run yet,
 * and stuck's queue becomes w's, ring to ring and `next` to `next`, as a Go
 * P's local queue goes with the P to another thread; left with stuck, it
 * would run only once w found the global queue empty, behind everything
 * queued after it (tests/test_sched.c:
 * replaced_workers_queue_goes_before_the_global_queue). The stuck coroutine
 * may still push, so this steals, and no more than was queued when it
 * looked; what is queued later goes to the global queue when stuck retires.
 * Until w runs, the monitor is the only producer of w's ring. */
static void hand_over(goc__w *stuck, goc__w *w) {
    uint32_t left = goc__runq_len(&stuck->q);
    goc__g *g;
    while (left > 0) {
        uint32_t before = goc__runq_len(&w->q), room = GOC_RUNQ_SIZE - before;
        if (room < 2) break;
        g = goc__runq_steal(&w->q, &stuck->q, left < room - 1 ? left : room - 1, false);
        if (!g) break;
        uint32_t took = goc__runq_len(&w->q) - before + 1;
        (void)goc__runq_push(&w->q, g); /* the last taken: order kept */
        left -= took < left ? took : left;
    }
    if ((g = goc__runq_get_next(&stuck->q))) (void)goc__runq_put_next(&w->q, g);
}

void goc__replace_worker(goc__w *stuck) {
    goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
    if (atomic_load(&stuck->retire) || atomic_load(&stuck->state) != GOC__W_RUNNING) {
        goc__lock_release(&goc__sched.lock);
        return;
    }
    goc__w *w = goc__sched.spare;
    if (w) goc__sched.spare = w->idle_next;
    goc__lock_release(&goc__sched.lock);
    bool fresh = !w;
    if (fresh && !(w = goc__worker_new())) return;
    goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
    hand_over(stuck, w);
    atomic_store(&w->state, GOC__W_RUNNING);
    atomic_fetch_add(&goc__sched.nactive, 1);
    atomic_fetch_add(&goc__sched.nspinning, 1);
    if (!fresh) atomic_store(&stuck->retire, true);
    goc__lock_release(&goc__sched.lock);
    if (!fresh) {
        goc__unpark(w);
        return;
    }
    w->spinning = true;
    if (goc__worker_start(w) != GOC_OK) { /* undo: the work goes first in line */
        goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
        goc__g *head, *tail;
        size_t n = goc__lq_drain(w, &head, &tail);
        if (n) goc__gq_prepend_locked(head, tail, n); /* queued before the rest */
        atomic_fetch_sub(&goc__sched.nactive, 1);
        goc__spinning_dec();
        goc__lock_release(&goc__sched.lock);
        goc__worker_free(w);
        return;
    }
    /* Only now: a worker that retires must find its heir in allw, or its
     * timers stay behind in a spare's heap, where no one waits for them. */
    goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
    atomic_store(&stuck->retire, true);
    goc__lock_release(&goc__sched.lock);
    goc__unpark(stuck); /* it may have gone idle meanwhile: retire now */
}

/* ---- timers on workers ------------------------------------------------ */

int goc__timer_start(goc__timer *t, int64_t when, int64_t period) {
    int r = goc__rt_start();
    if (r != GOC_OK) return r;
    bool earliest = false;
    goc__w *w = goc__tls_w();
    if (w) /* a worker arms its own heap; it retires only from its g0 */
        return goc__timers_add(&w->timers, t, when, period, &earliest);
    /* Off the workers: a heap of an active worker, chosen under sched.lock
     * so that it cannot retire in between and strand the timer; not a lent
     * one if another will do, since a lent worker's thread cannot run it
     * (its lender may have gone back to its own code, lend.c). */
    static _Atomic uint32_t rr;
    goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
    int n = atomic_load(&goc__sched.nallw);
    uint32_t start = atomic_fetch_add(&rr, 1);
    w = NULL;
    for (int pass = 0; pass < 2 && !w; pass++) {
        for (int i = 0; i < n && !w; i++) {
            goc__w *v = goc__sched.allw[(start + (uint32_t)i) % (uint32_t)n];
            int st = atomic_load(&v->state);
            if (st != GOC__W_SPARE && (pass || st != GOC__W_LENT) && !atomic_load(&v->retire)) w = v;
        }
    }
    if (!w) w = active_worker_locked(NULL);
    if (!w) w = goc__sched.allw[0];
    r = goc__timers_add(&w->timers, t, when, period, &earliest);
    goc__lock_release(&goc__sched.lock);
    /* A sleeping worker set its alarm by its earliest timer: reset it. */
    if (r == GOC_OK && earliest) goc__unpark(w);
    return r;
}

/* ---- counts ----------------------------------------------------------- */

int64_t goc__sched_spawned_off(void) { return atomic_load(&goc__sched.spawned_off); }

size_t goc_count(void) {
    if (goc__rt_is_forked()) return 0; /* the parent's coroutines are not here */
    int64_t n = atomic_load(&goc__sched.spawned_off);
    int nw = atomic_load(&goc__sched.nallw);
    for (int i = 0; i < nw; i++)
        n += atomic_load(&goc__sched.allw[i]->spawned) - atomic_load(&goc__sched.allw[i]->exited);
    return n > 0 ? (size_t)n : 0;
}

/* ---- test hooks ------------------------------------------------------- */

void goc__test_publish_delay(int64_t ns) { test_publish_delay = ns; }

void goc__test_unpark(int i) { goc__unpark(goc__sched.allw[i]); }

int goc__test_worker_state(int i) { return atomic_load(&goc__sched.allw[i]->state); }

bool goc__test_spare_has_timers(void) {
    int n = atomic_load(&goc__sched.nallw);
    for (int i = 0; i < n; i++) {
        goc__w *w = goc__sched.allw[i];
        if (atomic_load(&w->state) == GOC__W_SPARE && goc__timers_next(&w->timers) != INT64_MAX)
            return true;
    }
    return false;
}
