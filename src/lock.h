/* goc__lock: the runtime's internal lock (channels, timer heaps, the global
 * queue, sync primitives' wait queues). A test-and-test-and-set spin lock:
 * unlock is a plain release store, so an uncontended lock/unlock pair costs
 * one atomic read-modify-write. Critical sections are a few hundred
 * instructions and never block (a coroutine releases its lock in the park
 * hook, after it is off its stack), so waiters spin, backing off to
 * sched_yield when the holder's thread was descheduled. It never parks a
 * coroutine (it is below the scheduler). It is invisible to ThreadSanitizer
 * on purpose: the runtime states Go's happens-before edges explicitly (san.h),
 * and a lock shared by unrelated operations must not hide user races.
 * Zero-initialised means unlocked.
 *
 * Every acquire names the lock's rank (lockrank.h, the lock order). In
 * GOC_LOCKRANK builds the acquire checks it against the locks the thread
 * holds, and the held word says which thread holds the lock at which rank;
 * in other builds the rank is ignored and a held lock's word is 1: the
 * struct and the fast path are the same either way.
 */
#ifndef GOC_LOCK_H
#define GOC_LOCK_H

#include "lockrank.h"
#include "sys.h"

typedef struct goc__lock {
    _Atomic uint32_t v; /* 0 free; else the holder's word */
} goc__lock;

static inline int goc__lock_cas(goc__lock *l, uint32_t held) {
    uint32_t z = 0;
    return atomic_compare_exchange_strong_explicit(&l->v, &z, held, memory_order_acquire,
                                                   memory_order_relaxed);
}

/* An acquire is goc__lock_take, then, if that failed, goc__lock_spin:
 *   take   the first attempt: in GOC_LOCKRANK builds, checks that l of rank r
 *          may be taken now and records it as held (lockrank.h);
 *   spin   the contended rest (lock.c), which then must follow.
 * goc__lock_try is a try-lock: never waits, so it is recorded but not
 * checked. */
#if GOC_LOCKRANK

void goc__lock_slow(goc__lock *l, uint32_t held);

static inline int goc__lock_take(goc__lock *l, enum goc__lockrank r) {
    return goc__lock_cas(l, goc__lockrank_acquire(l, r, NULL));
}

static inline void goc__lock_spin(goc__lock *l, enum goc__lockrank r) {
    goc__lock_slow(l, goc__lockrank_word(r));
}

static inline int goc__lock_try(goc__lock *l, enum goc__lockrank r) {
    if (!goc__lock_cas(l, goc__lockrank_word(r))) return 0;
    goc__lockrank_took(l, r);
    return 1;
}

/* Takes l, of a CHILD rank, whose parent lock (same rank) this thread
 * holds: the one way to hold two locks of such a rank. */
static inline void goc__lock_acquire_child(goc__lock *l, enum goc__lockrank r,
                                           const goc__lock *parent) {
    if (GOC_LIKELY(goc__lock_cas(l, goc__lockrank_acquire(l, r, parent)))) return;
    goc__lock_spin(l, r);
}

static inline void goc__lock_release(goc__lock *l) {
    goc__lockrank_release(l);
    atomic_store_explicit(&l->v, 0, memory_order_release);
}

#else /* the rank is not used: a held lock's word is 1 */

void goc__lock_slow(goc__lock *l);

static inline int goc__lock_take(goc__lock *l, enum goc__lockrank r) {
    (void)r;
    return goc__lock_cas(l, 1);
}

static inline void goc__lock_spin(goc__lock *l, enum goc__lockrank r) {
    (void)r;
    goc__lock_slow(l);
}

static inline int goc__lock_try(goc__lock *l, enum goc__lockrank r) {
    return goc__lock_take(l, r);
}

static inline void goc__lock_release(goc__lock *l) {
    atomic_store_explicit(&l->v, 0, memory_order_release);
}

#define goc__lock_acquire_child(l, r, parent) goc__lock_acquire(l, r)

#endif

static inline void goc__lock_acquire(goc__lock *l, enum goc__lockrank r) {
    if (GOC_LIKELY(goc__lock_take(l, r))) return;
    goc__lock_spin(l, r);
}

/* GOC_ASSERT_HELD(l): this thread holds l. Checked in builds with both
 * GOC_LOCKRANK (which knows the holder) and GOC_DEBUG_CHECKS. */
#if GOC_LOCKRANK
#define GOC_ASSERT_HELD(l) GOC_ASSERT(goc__lockrank_held(l))
#else
#define GOC_ASSERT_HELD(l) ((void)sizeof(l))
#endif

#endif
