/* Workers, run queues, stealing, parking and the coroutine switch.
 *
 * (coro.c starts coroutines; this file runs them.)
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
 * A worker's states (sched.lock for every transition but the first):
 *   RUNNING --nothing to do, in idle()---------> IDLE    (on the idle list)
 *   IDLE    --wakep() pops it, it spins--------> RUNNING
 *   IDLE    --its timer is due / kicked--------> RUNNING (it unlinks itself)
 *   RUNNING --monitor replaced it, it retires--> SPARE   (on the spare list)
 *   SPARE   --replace() reuses it--------------> RUNNING
 * A replacement (the heir) takes over the queue of the worker it replaced:
 * see hand_over().
 *
 * Invariants: sched.nidle is the length of the idle list; nspinning counts
 * workers with w->spinning plus those popped by wakep that have not yet woken;
 * a worker is spinning only while it looks for work, and at most about half
 * of the busy workers spin; a coroutine is in at most one queue, and only
 * when it is not running.
 *
 * Wake-up policy (Go's, but for one case): work added to a ring wakes an
 * idle worker only when none is spinning; a spinner that finds work wakes
 * another; a spinner that gives up rechecks every queue after it stops
 * counting as one, so a producer that saw it spinning and woke nobody is never
 * stranded. A spinner searches for SPIN (5 us) before it sleeps, so a burst
 * of readies costs one futex wake, not one each. Unlike Go, a coroutine
 * readied into an empty `next` slot wakes nobody: its readier usually blocks
 * next (a send answered by a receive), and waking a worker per message made
 * unbuffered ping-pong on two workers twice as slow. If the readier keeps
 * running instead, a spinner takes it after GRACE (3 us), and with no
 * spinner the monitor wakes one within about a millisecond.
 *
 * Locking: sched.lock guards the global queue and the idle and spare lists,
 * and is held while timers move between heaps (so a timer never lands in a
 * heap that is retiring). Lock order: channel/sync locks < sched.lock <
 * timer heap locks; stack class locks never nest with others.
 */
#include "sched.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "debug.h"
#include "goc.h"
#include "netpoll.h"
#include "rand.h"
#include "trace.h"

#define MAXW 1024       /* workers ever, replacements included          */
#define MAXPROCS 256
#define ALTSTACK (64 * 1024)
#define SPIN (5 * GOC_US)       /* a spinning worker's search before it sleeps */
#define GRACE (3 * GOC_US) /* a busy worker's `next` and short ring are its own this long */
#define RING_SHARE 4       /* a ring this long on a busy worker is worth sharing */
#define SHY (1 * GOC_MS)   /* after contention, share only stalled rings this long */
#define NEXT_RUN 4         /* `next` picks in a row before the ring gets a turn */

static _Atomic bool test_shy; /* goc__test_steal_shyly */

static struct {
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
    goc__w *allw[MAXW];
} sched;

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

int goc__nworkers(void) { return atomic_load(&sched.nallw); }
goc__w *goc__worker(int i) { return sched.allw[i]; }

int goc__worker_index(void) {
    goc__w *w = goc__tls_w();
    return w ? w->index : -1;
}

/* ---- the global queue ------------------------------------------------- */

static void gq_append_locked(goc__g *head, goc__g *tail, size_t n) {
    tail->next = NULL;
    if (sched.gq_tail)
        sched.gq_tail->next = head;
    else
        sched.gq_head = head;
    sched.gq_tail = tail;
    atomic_fetch_add(&sched.ngq, n);
}

static void gq_prepend_locked(goc__g *head, goc__g *tail, size_t n) {
    tail->next = sched.gq_head;
    if (!sched.gq_head) sched.gq_tail = tail;
    sched.gq_head = head;
    atomic_fetch_add(&sched.ngq, n);
}

static void gq_append(goc__g *head, goc__g *tail, size_t n) {
    goc__lock_acquire(&sched.lock);
    gq_append_locked(head, tail, n);
    goc__lock_release(&sched.lock);
}

/* With sched.lock: takes one coroutine to run and, unless `one`, a fair share
 * more into w's ring. */
static goc__g *gq_take_locked(goc__w *w, bool one) {
    size_t n = atomic_load_explicit(&sched.ngq, memory_order_relaxed);
    if (n == 0) return NULL;
    size_t share = n / (size_t)atomic_load(&sched.nactive) + 1;
    if (one || share > GOC_RUNQ_SIZE / 2) share = one ? 1 : GOC_RUNQ_SIZE / 2;
    if (share > n) share = n;
    goc__g *g = sched.gq_head;
    sched.gq_head = g->next;
    size_t taken = 1;
    while (taken < share && goc__runq_push(&w->q, sched.gq_head)) {
        sched.gq_head = sched.gq_head->next;
        taken++;
    }
    if (!sched.gq_head) sched.gq_tail = NULL;
    atomic_fetch_sub(&sched.ngq, taken);
    return g;
}

static goc__g *gq_take(goc__w *w, bool one) {
    if (atomic_load_explicit(&sched.ngq, memory_order_relaxed) == 0) return NULL;
    goc__lock_acquire(&sched.lock);
    goc__g *g = gq_take_locked(w, one);
    goc__lock_release(&sched.lock);
    return g;
}

/* ---- local queue ------------------------------------------------------ */

/* Owner: the ring is full; moves half of it and g to the global queue. */
static void runq_spill(goc__w *w, goc__g *g) {
    goc__g *batch[GOC_RUNQ_SIZE / 2 + 1];
    for (;;) {
        uint32_t n = goc__runq_grab_half(&w->q, batch);
        if (n == 0) {
            if (goc__runq_push(&w->q, g)) return; /* thieves made room */
            continue;
        }
        batch[n++] = g;
        for (uint32_t i = 0; i + 1 < n; i++) batch[i]->next = batch[i + 1];
        gq_append(batch[0], batch[n - 1], n);
        return;
    }
}

/* Owner: queues g in `next` (the previous occupant moves to the ring) or at
 * the tail of the ring. True when the ring grew: time to wake a helper. */
static GOC_INLINE bool runq_put(goc__w *w, goc__g *g, bool next) {
    if (next && !(g = goc__runq_put_next(&w->q, g))) return false;
    if (!goc__runq_push(&w->q, g)) runq_spill(w, g);
    return true;
}

/* Owner: the next coroutine of w's own queue: `next`, then the ring's head,
 * except that after NEXT_RUN picks in a row from `next` the ring's head goes
 * first, so a hand-off chain cannot starve the ring. Keeps the count of
 * head-pushed entries (see spawn_put) roughly right: the owner takes them
 * first; thieves' takes are forgiven when the ring empties. */
static inline goc__g *local_get(goc__w *w) {
    goc__g *g = w->nnext < NEXT_RUN ? goc__runq_get_next(&w->q) : NULL;
    if (g) {
        w->nnext++;
        return g;
    }
    w->nnext = 0;
    g = goc__runq_pop(&w->q);
    if (g) {
        if (w->nhead) w->nhead--;
    } else {
        w->nhead = 0;
        w->lifo_off = false;
        g = goc__runq_get_next(&w->q);
    }
    return g;
}

/* Has head passed lifo_until: is everything queued before FIFO began taken? */
static bool lifo_done(goc__w *w) {
    uint32_t h = goc__runq_idx(atomic_load_explicit(&w->q.head, memory_order_relaxed));
    return (int32_t)(h - w->lifo_until) >= 0;
}

/* Owner: queues a new coroutine in `next`; what it displaces goes to the head
 * of the ring, so a fork/join tree unfolds depth first: only about its depth
 * is alive at once, on warm stacks, instead of a breadth-first frontier of
 * fresh ones (2M spawns: ~120,000 alive and 500 MB FIFO, a few dozen LIFO).
 * LIFO is unfair to what waits behind, so after HEAD_MAX head pushes spawns
 * queue at the tail until everything queued before has been taken (by w or
 * by thieves); then LIFO resumes. (Waiting for the ring to empty instead
 * let a fork/join tree go breadth first for good once the bound tripped,
 * since its FIFO spawns keep the ring full.) True when it woke nobody it
 * should have: the ring grew. */
#define HEAD_MAX 256
static GOC_INLINE bool spawn_put(goc__w *w, goc__g *g) {
    g = goc__runq_put_next(&w->q, g);
    if (!g) return false;
    if (w->lifo_off && lifo_done(w)) {
        w->lifo_off = false;
        w->nhead = 0;
    }
    if (!w->lifo_off && w->nhead < HEAD_MAX && goc__runq_push_head(&w->q, g)) {
        w->nhead++;
        return true;
    }
    if (!w->lifo_off) {
        w->lifo_off = true;
        w->lifo_until = atomic_load_explicit(&w->q.tail, memory_order_relaxed);
    }
    if (!goc__runq_push(&w->q, g)) runq_spill(w, g);
    return true;
}

/* ---- waking workers --------------------------------------------------- */

static void idle_unlink_locked(goc__w *w) {
    for (goc__w **p = &sched.idle; *p; p = &(*p)->idle_next) {
        if (*p == w) {
            *p = w->idle_next;
            break;
        }
    }
    w->in_idle = false;
    atomic_fetch_sub(&sched.nidle, 1);
}

/* The one wake of a sleeping worker, worker_sleep's counterpart. A worker
 * asleep in epoll_wait sets `polling` before it reads `park`, and unpark
 * writes `park` before it reads `polling` (both seq_cst): one of them sees
 * the other, so the wake-up is never lost. */
static void unpark(goc__w *w) {
    atomic_store(&w->park, 1);
    goc__futex_wake(&w->park, 1);
    if (atomic_load(&w->polling)) goc__netpoll_break();
}

void goc__wakep(void) {
    if (atomic_load_explicit(&sched.nidle, memory_order_relaxed) == 0) return;
    int zero = 0;
    if (atomic_load_explicit(&sched.nspinning, memory_order_relaxed) != 0 ||
        !atomic_compare_exchange_strong(&sched.nspinning, &zero, 1))
        return;
    goc__lock_acquire(&sched.lock);
    goc__w *w = sched.idle;
    if (w) {
        sched.idle = w->idle_next;
        w->in_idle = false;
        atomic_fetch_sub(&sched.nidle, 1);
        atomic_store(&w->state, GOC__W_RUNNING);
    }
    goc__lock_release(&sched.lock);
    if (!w) {
        atomic_fetch_sub(&sched.nspinning, 1);
        return;
    }
    unpark(w);
    goc__monitor_kick();
}

bool goc__sched_idle_all(void) {
    return atomic_load(&sched.nidle) == atomic_load(&sched.nactive);
}

bool goc__has_work(goc__w *w, int64_t now) {
    return !goc__runq_empty(&w->q) || goc__timers_next(&w->timers) <= now ||
           atomic_load_explicit(&sched.ngq, memory_order_relaxed) > 0;
}

void goc__sched_contended(void) {
    goc__w *w = goc__tls_w();
    if (w)
        atomic_store_explicit(&w->contended,
                              atomic_load_explicit(&w->contended, memory_order_relaxed) + 1,
                              memory_order_relaxed);
}

static GOC_NOINLINE void ready_traced(goc__w *w, goc__g *g, bool next) {
    goc__trace_event(w, GOC__TEV_UNPARK, g);
    if (runq_put(w, g, next)) goc__wakep();
}

void goc__ready(goc__g *g, bool next) {
    if (g->kind == GOC__G_THREAD) {
        atomic_store_explicit(&g->wake, 1, memory_order_release);
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
        if (runq_put(w, g, next)) goc__wakep();
        return;
    }
    goc__stat_global(&goc__stat_wakes_off, 1);
    gq_append(g, g, 1);
    goc__wakep();
}

/* ---- switching -------------------------------------------------------- */

static inline void run_hook(goc__w *w) {
    void (*h)(goc__w *, void *) = w->hook;
    if (h) {
        w->hook = NULL;
        h(w, w->hook_arg);
    }
}

/* Tracing's detours are separate calls on cold paths, so the hot paths keep
 * no registers alive across a call that does not happen. */
static GOC_NOINLINE void resumed_traced(goc__w *w) {
    goc__trace_event(w, GOC__TEV_RUN, w->cur);
    goc__race_acquire(&w->g0san);
    run_hook(w);
}

/* First thing a coroutine does on w after a switch. */
static inline void resumed(goc__w *w) {
    if (GOC__TRACING()) {
        resumed_traced(w);
        return;
    }
    goc__race_acquire(&w->g0san); /* this thread's setup (its TLS: errno) */
    run_hook(w);
}

/* A recent goc_now reading, never ahead of the clock: the monitor refreshes
 * it every millisecond while any worker runs, and sets it to INT64_MAX
 * (unknown) before it sleeps. A switch reads the clock for due timers only
 * when the earliest is within CLOCK_SLACK of it: a clock read (31 ns on the
 * reference VM) on every switch made ping-pong 40% slower whenever some
 * timer was pending, however far off. */
#define CLOCK_SLACK (4 * GOC_MS)
_Atomic int64_t goc__recent_now = INT64_MAX;

void goc__sched_clock(int64_t now) { atomic_store_explicit(&goc__recent_now, now, memory_order_relaxed); }

/* Is a timer at t (not INT64_MAX) due? */
static inline bool timer_due(int64_t t) {
    int64_t recent = atomic_load_explicit(&goc__recent_now, memory_order_relaxed);
    if (recent != INT64_MAX && t > recent + CLOCK_SLACK) return false;
    return t <= goc__now();
}

static inline void tick(goc__w *w) {
    atomic_store_explicit(&w->tick, atomic_load_explicit(&w->tick, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* The next coroutine from w's own queue, unless the scheduler should look
 * around first: every 61st pick (fairness for the global queue), when a
 * timer is due, or when the monitor asked w to retire. */
static inline goc__g *pick_local(goc__w *w) {
    if (atomic_load_explicit(&w->tick, memory_order_relaxed) % 61 == 60) return NULL;
    if (atomic_load_explicit(&w->retire, memory_order_relaxed)) return NULL;
    int64_t t = goc__timers_next(&w->timers);
    if (GOC_UNLIKELY(t != INT64_MAX) && timer_due(t)) return NULL;
    return local_get(w);
}

/* Switches from coroutine g (on w) to the next one or to g0, leaving hook. */
static goc__w *sched_switch(goc__w *w, goc__g *g, void (*hook)(goc__w *, void *), void *arg,
                            bool dying) {
    if (GOC_UNLIKELY(g->canary) && goc__stack_canary_dead(g)) goc__stack_overflow(g);
    w->hook = hook;
    w->hook_arg = arg;
    goc__g *next = pick_local(w);
    goc__ctx *to;
    goc__san *to_san;
    if (next) {
        tick(w);
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
    if (runq_put(w, arg, false)) goc__wakep();
}

/* Yield with an empty local queue and work in the global one: go to the
 * global queue's tail, as Go's Gosched does, so the work there runs first.
 * Requeued locally, the yielder would be picked again at once, and the
 * global queue only every 61st pick. */
static void hook_requeue_global(goc__w *w, void *arg) {
    (void)w;
    goc__g *g = arg;
    gq_append(g, g, 1);
    goc__wakep();
}

void goc_yield(void) {
    goc__w *w = goc__tls_w();
    if (!w || !w->cur) {
        sched_yield();
        return;
    }
    if (goc__runq_empty(&w->q)) {
        if (atomic_load_explicit(&sched.ngq, memory_order_relaxed) > 0) {
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
 * preemption, dialers that never blocked kept the accept loop waiting until
 * the listen backlog overflowed (bench/accept). So each such call polls the
 * network when nobody has for POLL_BUSY, and yields when that readied
 * someone or when the monitor found the worker held for 1 ms (`slow`),
 * standing in for Go's preemption. */
#define POLL_BUSY (100 * GOC_US)

void goc__preempt_point(void) {
    goc__w *w = goc__tls_w();
    if (!w || !w->cur) return;
    bool yield = atomic_load_explicit(&w->slow, memory_order_relaxed);
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
    if (spawn_put(w, g)) goc__wakep();
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
        if (spawn_put(w, g)) goc__wakep();
        return;
    }
    atomic_fetch_add(&sched.spawned_off, 1);
    gq_append(g, g, 1);
    goc__wakep();
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

int64_t goc__sched_spawned_off(void) { return atomic_load(&sched.spawned_off); }

size_t goc_count(void) {
    if (goc__rt_is_forked()) return 0; /* the parent's coroutines are not here */
    int64_t n = atomic_load(&sched.spawned_off);
    int nw = atomic_load(&sched.nallw);
    for (int i = 0; i < nw; i++)
        n += atomic_load(&sched.allw[i]->spawned) - atomic_load(&sched.allw[i]->exited);
    return n > 0 ? (size_t)n : 0;
}

/* ---- finding work ----------------------------------------------------- */

static goc__g *found(goc__w *w, goc__g *g) {
    if (w->spinning) {
        w->spinning = false;
        if (atomic_fetch_sub(&sched.nspinning, 1) == 1) goc__wakep();
    }
    return g;
}

/* w runs due timers of v (w itself or another worker); true if any ran.
 * A timer's callback readies its sleeper into w's ring, so no more fire than
 * the ring has room for: an overflow would spill the earlier-woken half to
 * the global queue, behind everything there, and later deadlines would run
 * first. The rest fire once the ring has drained. */
static bool run_timers(goc__w *w, goc__w *v, int64_t now) {
    if (goc__timers_next(&v->timers) > now) return false;
    int room = GOC_RUNQ_SIZE - (int)goc__runq_len(&w->q);
    int fired = room > 0 ? goc__timers_run(&v->timers, &w->timers, now, room) : 0;
    if (fired > 0) GOC__STAT_ADD(w, timer_fires, fired);
    return fired > 0;
}

/* Has mark (of victim v) stayed the same for GRACE since s first saw it? */
static bool stale(struct goc__seen *s, goc__w *v, uint64_t mark, int64_t now) {
    if (s->victim != v || s->mark != mark) {
        *s = (struct goc__seen){v, mark, now};
        return false;
    }
    return now - s->since >= GRACE;
}

/* v is not running a coroutine, or is slow or retiring: all of its queue is
 * fair game. */
static bool victim_absent(goc__w *v) {
    return !atomic_load_explicit(&v->busy, memory_order_relaxed) ||
           atomic_load_explicit(&v->slow, memory_order_relaxed) ||
           atomic_load_explicit(&v->retire, memory_order_relaxed);
}

/* May a spinner take v's `next` slot? Yes when v is absent, or has run the
 * same coroutine for GRACE since we first saw the slot occupied: then v's
 * coroutine readied it and went on running instead of blocking. Before
 * that, `next` is v's own (hand-off locality; Go waits 3 us the same way). */
static bool next_stealable(goc__w *w, goc__w *v, int64_t now) {
    if (victim_absent(v)) return true;
    if (!atomic_load_explicit(&v->q.next, memory_order_relaxed)) return false;
    return stale(&w->seen_next[v->index % GOC__SEEN], v,
                 atomic_load_explicit(&v->tick, memory_order_relaxed), now);
}

/* May a spinner take half of v's ring? Yes when v is absent, when the ring
 * holds RING_SHARE or more, or when its head has not moved for GRACE (v is
 * not getting to it). A short ring that v is draining stays on v: moving a
 * coroutine to another core costs more than its wait there (fan-in of 4
 * producers into one select ran 3x slower on two workers than on one when
 * every short ring was stolen, as Go does). For SHY after w's coroutines
 * last found a channel lock held, a long ring is no reason either: what w
 * stole was fighting its victim over channels, not running beside it (the
 * worker pool, 36 receivers of one channel: ~40 -> ~29 ns per task on two
 * workers, one worker's ~26). Rings whose head stalls are still shared, so
 * work that runs for more than GRACE at a time still spreads. */
static bool ring_stealable(goc__w *w, goc__w *v, int64_t now) {
    if (victim_absent(v)) return true;
    uint64_t hv = atomic_load_explicit(&v->q.head, memory_order_relaxed);
    uint32_t len = atomic_load_explicit(&v->q.tail, memory_order_relaxed) - goc__runq_idx(hv);
    if (len == 0) return false;
    bool shy = now < w->shy_until || atomic_load_explicit(&test_shy, memory_order_relaxed);
    if (len >= RING_SHARE && len <= GOC_RUNQ_SIZE && !shy) return true;
    return stale(&w->seen_ring[v->index % GOC__SEEN], v, hv, now);
}

/* One pass over the other workers: their due timers, then half a queue. */
static goc__g *steal_round(goc__w *w, int64_t now) {
    uint32_t contended = atomic_load_explicit(&w->contended, memory_order_relaxed);
    if (contended != w->contended_seen) {
        w->contended_seen = contended;
        w->shy_until = now + SHY;
    }
    int n = atomic_load(&sched.nallw);
    if (n == 0) return NULL; /* we started before we were published */
    uint32_t start = goc__rand(&w->rnd) % (uint32_t)n;
    for (int i = 0; i < n; i++) {
        goc__w *v = sched.allw[(start + (uint32_t)i) % (uint32_t)n];
        if (v == w) continue;
        goc__g *g;
        if (run_timers(w, v, now) && (g = local_get(w))) return g;
        bool ring = ring_stealable(w, v, now), next = next_stealable(w, v, now);
        if ((ring || next) && (g = goc__runq_steal(&w->q, &v->q, ring ? GOC_RUNQ_SIZE : 0, next))) {
            GOC__STAT_ADD(w, steals, 1);
            return g;
        }
    }
    return NULL;
}

/* A spinning worker looks for work for up to SPIN before it sleeps: waking a
 * sleeping worker costs tens of microseconds here, and while one spins,
 * readies elsewhere wake nobody. */
static goc__g *spin(goc__w *w) {
    GOC__STAT_ADD(w, spins, 1);
    int64_t start = goc__now();
    for (int round = 0;; round++) {
        int64_t now = round ? goc__now() : start; /* one clock read a round */
        goc__g *g = steal_round(w, now);
        if (g) return g;
        run_timers(w, w, now);
        if ((g = local_get(w)) || (g = gq_take(w, false))) return g;
        if (round >= 3 && now - start >= SPIN) return NULL;
        for (int k = 0; k < 64; k++) goc__cpu_relax(); /* spare the victims' cache lines */
    }
}

static bool work_anywhere(void) {
    if (atomic_load(&sched.ngq) > 0) return true;
    int n = atomic_load(&sched.nallw);
    int64_t now = goc__now();
    for (int i = 0; i < n; i++) {
        goc__w *v = sched.allw[i];
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

/* The one sleep of an idle worker, until unpark or deadline (goc_now; < 0
 * none); spurious returns are allowed. While fds are waited on, one idle
 * worker sleeps in epoll_wait instead of its futex, so an fd event wakes it
 * directly. True when the poll readied something. */
static bool worker_sleep(goc__w *w, int64_t deadline) {
    if (goc__netpoll_active() && goc__netpoll_acquire()) {
        atomic_store(&w->polling, true);
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
static goc__g *idle(goc__w *w) {
    goc__lock_acquire(&sched.lock);
    if (atomic_load(&w->retire)) {
        goc__lock_release(&sched.lock);
        return NULL;
    }
    goc__g *g = gq_take_locked(w, false);
    if (g) {
        goc__lock_release(&sched.lock);
        return g;
    }
    atomic_store(&w->park, 0);
    w->in_idle = true;
    w->idle_next = sched.idle;
    sched.idle = w;
    atomic_store(&w->state, GOC__W_IDLE);
    atomic_fetch_add(&sched.nidle, 1);
    goc__lock_release(&sched.lock);

    if (w->spinning) {
        w->spinning = false;
        atomic_fetch_sub(&sched.nspinning, 1);
        if (work_anywhere()) {
            goc__lock_acquire(&sched.lock);
            bool counted = w->in_idle;
            idle_leave_locked(w);
            goc__lock_release(&sched.lock);
            if (counted) {
                w->spinning = true;
                atomic_fetch_add(&sched.nspinning, 1);
            }
            goc__monitor_kick(); /* it may have gone to sleep: all were idle */
            return NULL;
        }
    }
    for (;;) {
        int64_t deadline = goc__timers_next(&w->timers);
        if (deadline != INT64_MAX && deadline <= goc__now()) break;
        if (atomic_load(&w->park)) break;
        if (worker_sleep(w, deadline == INT64_MAX ? -1 : deadline)) break;
    }
    goc__lock_acquire(&sched.lock);
    idle_leave_locked(w);
    goc__lock_release(&sched.lock);
    goc__monitor_kick();
    return NULL;
}

/* With sched.lock: an active worker other than w (RUNNING or IDLE). */
static goc__w *active_worker_locked(goc__w *w) {
    int n = atomic_load(&sched.nallw);
    for (int i = 0; i < n; i++) {
        goc__w *v = sched.allw[i];
        if (v != w && atomic_load(&v->state) != GOC__W_SPARE && !atomic_load(&v->retire)) return v;
    }
    return NULL;
}

/* A spare waits until goc__replace_worker makes it RUNNING again. An unpark
 * meant for w before it retired (wakep, timer_start and retire wake a worker
 * after dropping sched.lock) may arrive late: it is absorbed here, or w
 * would run while still on the spare list. */
static void spare_wait(goc__w *w) {
    for (;;) {
        atomic_store(&w->park, 0);
        if (atomic_load(&w->state) != GOC__W_SPARE) return;
        goc__futex_wait(&w->park, 0, -1);
    }
}

/* Empties w's queue, which w does not run meanwhile (w retires, or never
 * started), into a list: the ring, then `next`, the newest. */
static size_t drain(goc__w *w, goc__g **head, goc__g **tail) {
    goc__g *g;
    size_t n = 0;
    *head = *tail = NULL;
    while ((g = goc__runq_pop(&w->q)) || (g = goc__runq_get_next(&w->q))) {
        g->next = NULL;
        if (*tail)
            (*tail)->next = g;
        else
            *head = g;
        *tail = g;
        n++;
    }
    w->nhead = w->nnext = 0;
    w->lifo_off = false;
    return n;
}

/* The monitor replaced w: hand everything over and wait as a spare. The
 * timers go to a worker that is active at that moment (under sched.lock, so
 * no other retirement can strand them), which is then woken to reset its
 * alarm: it may be asleep with no deadline. */
static void retire(goc__w *w) {
    goc__g *head, *tail;
    size_t n = drain(w, &head, &tail);
    if (n) gq_append(head, tail, n);
    if (w->spinning) {
        w->spinning = false;
        atomic_fetch_sub(&sched.nspinning, 1);
    }
    goc__lock_acquire(&sched.lock);
    atomic_store(&w->retire, false);
    goc__w *heir = active_worker_locked(w);
    if (!heir || !goc__timers_move(&w->timers, &heir->timers)) {
        /* No heir, or its heap cannot grow: stay active, one worker over
         * GOC_PROCS, rather than leave the timers with a spare. */
        goc__lock_release(&sched.lock);
        return;
    }
    atomic_store(&w->park, 0);
    atomic_store(&w->state, GOC__W_SPARE);
    w->idle_next = sched.spare;
    sched.spare = w;
    atomic_fetch_sub(&sched.nactive, 1);
    goc__lock_release(&sched.lock);
    unpark(heir);
    goc__wakep();
    spare_wait(w);
    w->spinning = true; /* counted by goc__replace_worker */
}

static goc__g *find_runnable(goc__w *w) {
    for (;;) {
        if (atomic_load_explicit(&w->retire, memory_order_relaxed)) retire(w);
        if (goc__timers_next(&w->timers) != INT64_MAX) run_timers(w, w, goc__now());
        goc__g *g;
        if (atomic_load_explicit(&w->tick, memory_order_relaxed) % 61 == 60 &&
            (g = gq_take(w, true)))
            return found(w, g);
        if ((g = local_get(w))) return found(w, g);
        if ((g = gq_take(w, false))) return found(w, g);
        if (goc__netpoll_try() > 0 && (g = local_get(w))) return found(w, g);
        if (!w->spinning) {
            int busy = atomic_load(&sched.nactive) - atomic_load(&sched.nidle);
            if (2 * atomic_load(&sched.nspinning) < busy) {
                w->spinning = true;
                atomic_fetch_add(&sched.nspinning, 1);
            }
        }
        if (w->spinning && (g = spin(w))) return found(w, g);
        if ((g = idle(w))) return found(w, g);
    }
}

/* ---- workers ---------------------------------------------------------- */

static void *worker_main(void *arg) {
    goc__w *w = arg;
    tls_w = w;
    w->tid = (int)syscall(SYS_gettid);
    if (pthread_getcpuclockid(pthread_self(), &w->cpuclock) != 0) w->cpuclock = CLOCK_THREAD_CPUTIME_ID;
    stack_t ss = {.ss_sp = w->altstack, .ss_size = ALTSTACK, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    pthread_attr_t attr;
    void *lo = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &lo, &size);
        pthread_attr_destroy(&attr);
    }
    goc__san_thread(&w->g0san, lo, size);
    /* Under TSan a coroutine fiber did not start this thread, yet it uses the
     * thread's TLS (errno, libc state) that TSan saw the thread set up: every
     * coroutine switched onto it acquires this edge from its start. */
    goc__race_release(&w->g0san);
    for (;;) {
        goc__g *g = find_runnable(w);
        tick(w);
        w->cur = g;
        atomic_store_explicit(&w->busy, true, memory_order_relaxed);
        goc__san_switch(&w->g0san, &g->san, false);
        goc__ctx_swap(&w->g0, &g->ctx, w);
        GOC__TRACE(w, GOC__TEV_STOP, NULL); /* back in the scheduler */
        goc__san_resumed(&w->g0san);
        run_hook(w);
    }
    return NULL;
}

/* A new worker in state RUNNING (not yet started), or NULL. */
static goc__w *worker_new(void) {
    int i = atomic_load(&sched.nallw);
    if (i >= MAXW) return NULL;
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

static void worker_free(goc__w *w) {
    goc__free(w->altstack);
    free(w);
}

static int64_t test_publish_delay; /* goc__test_publish_delay */

/* Starts w's thread, then publishes w in allw (readers scan allw without a
 * lock, so a worker that failed to start must never have been visible).
 * GOC_OK, or GOC_EAGAIN with w untouched: the caller drains and frees it. */
static int worker_start(goc__w *w) {
    if (goc__thread_start(worker_main, w, 0) != 0) return GOC_EAGAIN;
    if (test_publish_delay) {
        struct timespec ts = {test_publish_delay / GOC_SEC, test_publish_delay % GOC_SEC};
        nanosleep(&ts, NULL);
    }
    sched.allw[w->index] = w;
    atomic_store(&sched.nallw, w->index + 1);
    return GOC_OK;
}

/* With sched.lock, from the monitor: w replaces stuck and does not run yet,
 * and stuck's queue becomes w's, ring to ring and `next` to `next`, as a Go
 * P's local queue goes with the P to another thread. (Left with stuck, it ran
 * only once w found the global queue empty, behind everything queued after
 * it: a spawn storm's first child ran 4995th of 5000.) The stuck coroutine
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
    goc__lock_acquire(&sched.lock);
    if (atomic_load(&stuck->retire) || atomic_load(&stuck->state) != GOC__W_RUNNING) {
        goc__lock_release(&sched.lock);
        return;
    }
    goc__w *w = sched.spare;
    if (w) sched.spare = w->idle_next;
    goc__lock_release(&sched.lock);
    bool fresh = !w;
    if (fresh && !(w = worker_new())) return;
    goc__lock_acquire(&sched.lock);
    hand_over(stuck, w);
    atomic_store(&w->state, GOC__W_RUNNING);
    atomic_fetch_add(&sched.nactive, 1);
    atomic_fetch_add(&sched.nspinning, 1);
    if (!fresh) atomic_store(&stuck->retire, true);
    goc__lock_release(&sched.lock);
    if (!fresh) {
        unpark(w);
        return;
    }
    w->spinning = true;
    if (worker_start(w) != GOC_OK) { /* undo: the work goes first in line */
        goc__lock_acquire(&sched.lock);
        goc__g *head, *tail;
        size_t n = drain(w, &head, &tail);
        if (n) gq_prepend_locked(head, tail, n); /* queued before the rest */
        atomic_fetch_sub(&sched.nactive, 1);
        atomic_fetch_sub(&sched.nspinning, 1);
        goc__lock_release(&sched.lock);
        worker_free(w);
        return;
    }
    /* Only now: a worker that retires must find its heir in allw, or its
     * timers stay behind in a spare's heap, where no one waits for them. */
    goc__lock_acquire(&sched.lock);
    atomic_store(&stuck->retire, true);
    goc__lock_release(&sched.lock);
    unpark(stuck); /* it may have gone idle meanwhile: retire now */
}

void goc__test_publish_delay(int64_t ns) { test_publish_delay = ns; }

void goc__test_steal_shyly(bool on) { atomic_store(&test_shy, on); }

uint32_t goc__test_contended(void) {
    uint32_t n = 0;
    for (int i = 0; i < atomic_load(&sched.nallw); i++)
        n += atomic_load_explicit(&sched.allw[i]->contended, memory_order_relaxed);
    return n;
}

void goc__test_unpark(int i) { unpark(sched.allw[i]); }

int goc__test_worker_state(int i) { return atomic_load(&sched.allw[i]->state); }

bool goc__test_spare_has_timers(void) {
    int n = atomic_load(&sched.nallw);
    for (int i = 0; i < n; i++) {
        goc__w *w = sched.allw[i];
        if (atomic_load(&w->state) == GOC__W_SPARE && goc__timers_next(&w->timers) != INT64_MAX)
            return true;
    }
    return false;
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
     * so that it cannot retire in between and strand the timer. */
    static _Atomic uint32_t rr;
    goc__lock_acquire(&sched.lock);
    int n = atomic_load(&sched.nallw);
    uint32_t start = atomic_fetch_add(&rr, 1);
    w = NULL;
    for (int i = 0; i < n && !w; i++) {
        goc__w *v = sched.allw[(start + (uint32_t)i) % (uint32_t)n];
        if (atomic_load(&v->state) != GOC__W_SPARE && !atomic_load(&v->retire)) w = v;
    }
    if (!w) w = active_worker_locked(NULL);
    if (!w) w = sched.allw[0];
    r = goc__timers_add(&w->timers, t, when, period, &earliest);
    goc__lock_release(&sched.lock);
    /* A sleeping worker set its alarm by its earliest timer: reset it. */
    if (r == GOC_OK && earliest) unpark(w);
    return r;
}

/* ---- start ------------------------------------------------------------ */

enum { RT_OFF, RT_ON, RT_FORKED };
static _Atomic int rt_state; /* RT_*: RT_FORKED in a child of fork(2) */
static goc__lock rt_lock;

static int procs_from_env(void) {
    const char *s = getenv("GOC_PROCS");
    long n = s ? strtol(s, NULL, 10) : 0;
    if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0) n = 1;
    return n > MAXPROCS ? MAXPROCS : (int)n;
}

void goc__overflow_handler_install(void);

static int rt_start_slow(void) {
    if (atomic_load(&rt_state) == RT_FORKED) return GOC_EFORKED; /* rt_lock may be a parent's */
    goc__lock_acquire(&rt_lock);
    if (atomic_load(&rt_state)) {
        goc__lock_release(&rt_lock);
        return GOC_OK;
    }
    goc__fork_watch();
    goc__stack_init();
    goc__overflow_handler_install();
    int want = procs_from_env(), n = 0;
    while (n < want) {
        goc__w *w = worker_new();
        if (!w) break;
        atomic_fetch_add(&sched.nactive, 1);
        if (worker_start(w) != GOC_OK) {
            atomic_fetch_sub(&sched.nactive, 1);
            worker_free(w);
            break;
        }
        n++;
    }
    if (n == 0) {
        goc__lock_release(&rt_lock);
        return GOC_EAGAIN;
    }
    sched.nprocs = n;
    goc__monitor_start(); /* without it goc still runs; stuck workers stay stuck */
    goc__debug_start();
    atomic_store_explicit(&rt_state, RT_ON, memory_order_release);
    goc__lock_release(&rt_lock);
    return GOC_OK;
}

int goc__rt_start(void) {
    if (GOC_LIKELY(atomic_load_explicit(&rt_state, memory_order_acquire) == RT_ON)) return GOC_OK;
    return rt_start_slow();
}

void goc__rt_forked(void) {
    if (atomic_load(&rt_state) == RT_ON) atomic_store(&rt_state, RT_FORKED);
}

bool goc__rt_is_forked(void) {
    return atomic_load_explicit(&rt_state, memory_order_relaxed) == RT_FORKED;
}

int goc_procs(void) {
    return goc__rt_start() == GOC_OK ? sched.nprocs : 0;
}
