/* goc__lock: the runtime's internal mutex (channels, timer heaps, the global
 * queue). A 32-bit futex word: 0 free, 1 locked, 2 locked with sleepers.
 * Critical sections are a few hundred instructions at most, so it spins
 * briefly before it sleeps; it never parks a coroutine (it is below the
 * scheduler). It is invisible to ThreadSanitizer on purpose: the runtime states
 * Go's happens-before edges explicitly (san.h), and a lock shared by unrelated
 * channels must not hide user races. Zero-initialised means unlocked. */
#ifndef GOC_LOCK_H
#define GOC_LOCK_H

#include "sys.h"

typedef struct goc__lock {
    _Atomic uint32_t v;
} goc__lock;

void goc__lock_slow(goc__lock *l);

static inline void goc__lock_acquire(goc__lock *l) {
    uint32_t z = 0;
    if (GOC_LIKELY(atomic_compare_exchange_strong_explicit(&l->v, &z, 1, memory_order_acquire,
                                                           memory_order_relaxed)))
        return;
    goc__lock_slow(l);
}

static inline void goc__lock_release(goc__lock *l) {
    if (GOC_UNLIKELY(atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2))
        goc__futex_wake(&l->v, 1);
}

static inline int goc__lock_try(goc__lock *l) {
    uint32_t z = 0;
    return atomic_compare_exchange_strong_explicit(&l->v, &z, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

#endif
