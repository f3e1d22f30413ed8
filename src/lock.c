/* The slow path of goc__lock: spin a little, then sleep on the futex.
 *
 * Invariants: the word is 2 whenever a thread may be asleep on it, so the
 * releaser's exchange sees 2 and wakes one.
 */
#include "lock.h"

#define SPINS 100

void goc__lock_slow(goc__lock *l) {
    for (int i = 0; i < SPINS; i++) {
        uint32_t v = atomic_load_explicit(&l->v, memory_order_relaxed);
        if (v == 0 && goc__lock_try(l)) return;
        if (v == 2) break;
        goc__cpu_relax();
    }
    /* From here on, take it as 2: we cannot know whether others sleep. */
    while (atomic_exchange_explicit(&l->v, 2, memory_order_acquire) != 0)
        goc__futex_wait(&l->v, 2, -1);
}
