/* The contended path of goc__lock: spin on a plain load (no cache-line
 * ping-pong), pause between tries, and yield the CPU once spinning has gone
 * on long enough that the holder has probably been descheduled.
 *
 * Invariants: v is 1 exactly while some thread holds the lock.
 */
#include "lock.h"

#include <sched.h>

#define SPINS 64

void goc__lock_slow(goc__lock *l) {
    for (unsigned i = 0;; i++) {
        if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 && goc__lock_try(l)) return;
        if (i < SPINS) {
            for (unsigned k = 0; k < (1u << (i < 6 ? i : 6)); k++) goc__cpu_relax();
        } else {
            sched_yield();
        }
    }
}
