/* goc_mutex: a coroutine-aware mutual exclusion lock, Go's sync.Mutex.
 *
 * The state word holds LOCKED, WOKEN, STARVING and, above them, the number of
 * waiters blocked (or about to block) on the semaphore. Two modes, as in Go:
 *   normal:   an unlock wakes one waiter, which then competes with arriving
 *             lockers (who are on a CPU already and usually win, which is
 *             what makes the mutex fast); a waiter that loses is re-queued at
 *             the head.
 *   starving: entered by a waiter that has waited more than 1 ms; unlock
 *             hands the lock straight to the head waiter (a coroutine
 *             unlocker then yields to it), arrivals neither take it nor spin
 *             but queue at the tail. The last waiter, or one that waited
 *             under 1 ms, switches back to normal mode.
 *
 * Invariants (state s):
 *   - the waiter count is the number of lockers that counted themselves in
 *     and have neither been given a semaphore permit by unlock (which
 *     uncounts the one it wakes) nor, after a hand-off, uncounted themselves;
 *   - STARVING is set only by a waiter that has waited over 1 ms, while the
 *     mutex is locked, and cleared only by a waiter taking a hand-off;
 *     while it is set, LOCKED is never set by anyone but that waiter;
 *   - WOKEN is set only while a woken (or spinning) locker is still going to
 *     look at the state, so unlock need not wake another;
 *   - when nobody holds the mutex or is inside goc_mutex_lock, s == 0 and the
 *     semaphore has count 0 and an empty queue (tests check this).
 *
 * Locking: the state word is lock-free; sema.lock guards the waiter queue and
 * is held only inside goc__sema_*, never while waking (rank: lockrank.h).
 *
 * Memory orders: the CAS that sets LOCKED is acquire and unlock's fetch_sub
 * is release, so unlock happens-before the next lock; in starvation mode the
 * new owner's fetch_add reads from that same release sequence. Other updates
 * are acq_rel for simplicity (slow path only). ThreadSanitizer does not see
 * the runtime's atomics: lock does goc__race_acquire(m) and unlock
 * goc__race_release(m) on the mutex's own address, so only this mutex's
 * holders are ordered.
 *
 * Design: a one-word state with a separate semaphore (Go's design) keeps
 * lock and unlock to one atomic each when uncontended and lets a woken
 * waiter race with running lockers, which is far faster than FIFO hand-off
 * under contention (a hand-off costs a wake-up per acquisition). A pure
 * queue lock (MCS, ticket) was rejected for that reason, and a futex-only
 * lock because a coroutine must park, not sleep its worker. Spinning is
 * brief (4 x 30 pauses) and only where it can pay: on more than one CPU, with
 * nothing else queued on this worker, and another worker running (the holder
 * can only be running there).
 */
#include <unistd.h>

#include "goc.h"
#include "sync.h"

enum {
    LOCKED = 1u << 0,
    WOKEN = 1u << 1,
    STARVING = 1u << 2,
    WAITER_SHIFT = 3,
    WAITER = 1u << WAITER_SHIFT,
};

#define ACTIVE_SPIN 4
#define SPIN_PAUSES 30
#define STARVATION_NS GOC_MS

typedef struct mutex {
    _Atomic uint32_t state; /* (a) LOCKED | WOKEN | STARVING | waiters * WAITER */
    goc__sema sema;         /* own lock                                       */
} mutex;

_Static_assert(sizeof(mutex) <= sizeof(goc_mutex), "goc_mutex storage too small");
_Static_assert(_Alignof(mutex) <= _Alignof(goc_mutex), "goc_mutex storage misaligned");

static inline mutex *M(goc_mutex *m) { return (mutex *)(void *)m; }

static int ncpu(void) {
    static _Atomic int cached;
    int n = atomic_load_explicit(&cached, memory_order_relaxed);
    if (n == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
        atomic_store_explicit(&cached, n, memory_order_relaxed);
    }
    return n;
}

static bool other_worker_busy(goc__w *self) {
    int n = goc__nworkers();
    for (int i = 0; i < n; i++) {
        goc__w *v = goc__worker(i);
        if (v && v != self && atomic_load_explicit(&v->busy, memory_order_relaxed)) return true;
    }
    return false;
}

/* Go's runtime_canSpin: spinning pays only if the holder runs on another CPU
 * and nothing on this worker waits for it. */
static bool can_spin(int iter) {
    if (iter >= ACTIVE_SPIN || ncpu() <= 1) return false;
    goc__w *w = goc__tls_w();
    if (!w) return true; /* a plain thread */
    return goc__runq_empty(&w->q) && other_worker_busy(w);
}

static void spin(void) {
    for (int i = 0; i < SPIN_PAUSES; i++) goc__cpu_relax();
}

static bool cas(mutex *m, uint32_t *old, uint32_t new) {
    return atomic_compare_exchange_weak_explicit(&m->state, old, new, memory_order_acq_rel,
                                                 memory_order_relaxed);
}

/* The state to try after `old`, for a locker that may be `starving` and may be
 * the one `awoke` (owner of WOKEN). Go's lockSlow, step for step. */
static uint32_t next_state(uint32_t old, bool starving, bool awoke) {
    uint32_t new = old;
    if (!(old & STARVING)) new |= LOCKED;            /* don't take a starving mutex */
    if (old & (LOCKED | STARVING)) new += WAITER;    /* we will queue              */
    if (starving && (old & LOCKED)) new |= STARVING; /* only while someone holds it */
    if (awoke) {
        if (!(new & WOKEN)) goc__throw("goc_mutex: inconsistent state %#x", old);
        new &= ~(uint32_t)WOKEN;
    }
    return new;
}

/* A waiter woken in starvation mode owns the lock: take LOCKED, leave the
 * waiter count, and leave starvation if it is the last or was not starving. */
static void take_handoff(mutex *m, uint32_t old, bool starving) {
    if ((old & (LOCKED | WOKEN)) || (old >> WAITER_SHIFT) == 0)
        goc__throw("goc_mutex: inconsistent state %#x on hand-off", old);
    uint32_t delta = LOCKED - WAITER;
    if (!starving || (old >> WAITER_SHIFT) == 1) delta -= STARVING;
    atomic_fetch_add_explicit(&m->state, delta, memory_order_acq_rel);
}

static GOC_NOINLINE void lock_slow(mutex *m) {
    int64_t wait_start = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    uint32_t old = atomic_load_explicit(&m->state, memory_order_relaxed);
    for (;;) {
        if ((old & (LOCKED | STARVING)) == LOCKED && can_spin(iter)) {
            /* Tell unlock not to wake anyone: we are about to take it. */
            if (!awoke && !(old & WOKEN) && (old >> WAITER_SHIFT) != 0 &&
                cas(m, &old, old | WOKEN))
                awoke = true;
            spin();
            iter++;
            old = atomic_load_explicit(&m->state, memory_order_relaxed);
            continue;
        }
        uint32_t new = next_state(old, starving, awoke);
        if (!cas(m, &old, new)) continue;
        if (!(old & (LOCKED | STARVING))) return; /* took it */
        bool requeue = wait_start != 0;
        if (!requeue) wait_start = goc__now();
        goc__sema_acquire(&m->sema, requeue, GOC__WAIT_MUTEX, m);
        starving = starving || goc__now() - wait_start > STARVATION_NS;
        old = atomic_load_explicit(&m->state, memory_order_relaxed);
        if (old & STARVING) {
            take_handoff(m, old, starving);
            return;
        }
        awoke = true;
        iter = 0;
    }
}

void goc_mutex_lock(goc_mutex *gm) {
    mutex *m = M(gm);
    /* Fast path: one CAS (acquire pairs with unlock's release) whenever the
     * mutex is free, waiters or not. Under contention the waiter count is
     * rarely 0, so a CAS from 0 alone would fail there and cost a second
     * atomic in lock_slow for the same outcome (bench/mutex; the figures are
     * in docs/benchmarks.md). */
    uint32_t old = atomic_load_explicit(&m->state, memory_order_relaxed);
    if (GOC_UNLIKELY((old & (LOCKED | STARVING)) ||
                     !atomic_compare_exchange_strong_explicit(&m->state, &old, old | LOCKED,
                                                              memory_order_acquire,
                                                              memory_order_relaxed)))
        lock_slow(m);
    goc__race_acquire(m);
}

bool goc_mutex_trylock(goc_mutex *gm) {
    mutex *m = M(gm);
    uint32_t old = atomic_load_explicit(&m->state, memory_order_relaxed);
    if (old & (LOCKED | STARVING)) return false;
    if (!atomic_compare_exchange_strong_explicit(&m->state, &old, old | LOCKED,
                                                 memory_order_acquire, memory_order_relaxed))
        return false;
    goc__race_acquire(m);
    return true;
}

/* new: the state just after clearing LOCKED. */
static GOC_NOINLINE void unlock_slow(mutex *m, uint32_t new) {
    if (!((new + LOCKED) & LOCKED)) goc__throw("goc_mutex_unlock of an unlocked mutex");
    if (new & STARVING) {
        /* Hand-off: the head waiter owns the lock now. A coroutine yields
         * so that it runs at once (it sits in our worker's `next` slot), as
         * Go's semrelease(handoff) does; a thread just returns. */
        goc__sema_release(&m->sema);
        goc__w *w = goc__tls_w();
        if (w && w->cur) goc_yield();
        return;
    }
    uint32_t old = new;
    for (;;) {
        /* Nobody to wake, or someone else is already taking care of it. */
        if ((old >> WAITER_SHIFT) == 0 || (old & (LOCKED | WOKEN | STARVING))) return;
        if (cas(m, &old, (old - WAITER) | WOKEN)) {
            goc__sema_release(&m->sema);
            return;
        }
    }
}

void goc_mutex_unlock(goc_mutex *gm) {
    mutex *m = M(gm);
    goc__race_release(m);
    /* Fast path: one atomic; release pairs with the next lock's acquire. */
    uint32_t new = atomic_fetch_sub_explicit(&m->state, LOCKED, memory_order_release) - LOCKED;
    if (GOC_UNLIKELY(new != 0)) unlock_slow(m, new);
}

uint32_t goc__mutex_state(goc_mutex *m) {
    return atomic_load_explicit(&M(m)->state, memory_order_relaxed);
}
