/* The contended path of goc__lock: spin on a plain load (no cache-line
 * ping-pong), pause between tries, and yield the CPU once spinning has gone
 * on long enough that the holder has probably been descheduled.
 *
 * Invariants: v is non-zero exactly while some thread holds the lock (1, or
 * in GOC_LOCKRANK builds the holder's tag and the rank: lockrank.h).
 */
#include "lock.h"

#include <sched.h>

#define SPINS 64

#if GOC_LOCKRANK
void goc__lock_slow(goc__lock *l, uint32_t held) {
#else
void goc__lock_slow(goc__lock *l) {
    const uint32_t held = 1;
#endif
    for (unsigned i = 0;; i++) {
        if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 && goc__lock_cas(l, held)) return;
        if (i < SPINS) {
            for (unsigned k = 0; k < (1u << (i < 6 ? i : 6)); k++) goc__cpu_relax();
        } else {
            sched_yield();
        }
    }
}
