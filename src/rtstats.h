/* Runtime statistics (goc_stats), the per-worker half: counters that only the
 * owner worker writes, with a plain increment (one `add` to memory on x86-64,
 * no atomic read-modify-write, no shared cache line), summed by goc_stats
 * (stats.c) with relaxed atomic loads. A naturally aligned 64-bit store is
 * never torn on the architectures goc supports, and the runtime is not
 * instrumented under TSan, so the reader sees each counter's old or new
 * value. A sum is not an atomic snapshot: each counter only grows.
 *
 * Events off the workers (a plain thread readying a coroutine, polls, blocking
 * calls) are rare or slow anyway and go to global atomics in stats.c.
 */
#ifndef GOC_RTSTATS_H
#define GOC_RTSTATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct goc__wstats {
    uint64_t parks;       /* coroutines parked (switched out to wait) */
    uint64_t wakes;       /* coroutines readied by this worker         */
    uint64_t steals;      /* successful steals from another worker     */
    uint64_t spins;       /* spinning searches for work                */
    uint64_t timer_fires; /* timers run                                */
} goc__wstats;

/* Owner only: counter f of worker w grows by n. */
#define GOC__STAT_ADD(w, f, n) ((void)((w)->st.f += (uint64_t)(n)))

/* Anyone: counter f of worker w now. */
#define GOC__STAT_READ(w, f) __atomic_load_n(&(w)->st.f, __ATOMIC_RELAXED)

/* Global counters (stats.c), for events off the workers' hot paths. */
extern _Atomic uint64_t goc__stat_wakes_off, goc__stat_polls, goc__stat_blocking;
static inline void goc__stat_global(_Atomic uint64_t *c, uint64_t n) {
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Stack mappings made and removed (stack.c), for reserved and committed bytes. */
void goc__stat_stack_map(void *base, size_t len);
void goc__stat_stack_unmap(void *base, size_t len);

#endif
