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
 * Zero-initialised means unlocked. */
#ifndef GOC_LOCK_H
#define GOC_LOCK_H

#include "sys.h"

typedef struct goc__lock {
    _Atomic uint32_t v;
} goc__lock;

void goc__lock_slow(goc__lock *l);

static inline int goc__lock_try(goc__lock *l) {
    uint32_t z = 0;
    return atomic_compare_exchange_strong_explicit(&l->v, &z, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

static inline void goc__lock_acquire(goc__lock *l) {
    if (GOC_LIKELY(goc__lock_try(l))) return;
    goc__lock_slow(l);
}

static inline void goc__lock_release(goc__lock *l) {
    atomic_store_explicit(&l->v, 0, memory_order_release);
}

#endif
