/* goc_rwmutex: a reader/writer lock whose waiting writer blocks new readers,
 * Go's sync.RWMutex.
 *
 * readers counts readers that hold or wait for the lock; a writer announces
 * itself by subtracting MAX_READERS, so the count goes negative and every
 * later reader queues on reader_sem. `departing` is how many of the readers
 * present at that moment the writer still waits for; the last of them to
 * leave releases writer_sem. Writers exclude each other with an ordinary
 * goc_mutex first, so at most one writer is ever announced.
 *
 * Invariants:
 *   - readers >= 0 iff no writer is announced; with one announced,
 *     readers + MAX_READERS is the number of readers holding or queued;
 *   - while a writer holds the lock, no reader holds it (departing is 0);
 *   - with the lock free and nobody waiting, readers == departing == 0 and
 *     both semaphores are idle (count 0, empty queue).
 *
 * Locking: readers and departing are lock-free; each semaphore has its own
 * goc__lock, held only inside goc__sema_* (rank: lockrank.h); the writer
 * mutex is a goc_mutex and is held across a writer's whole critical
 * section, so it comes before the semaphores'.
 *
 * Memory orders: all counter updates are acq_rel read-modify-writes: a
 * reader's increment reads from the releasing writer's add (writer unlock ->
 * later readers), and the last departing reader's decrement pairs with the
 * writer's add (reader unlocks -> writer lock). ThreadSanitizer edges, as in
 * Go: runlock merges into &writer_sem, lock acquires &reader_sem and
 * &writer_sem, unlock releases &reader_sem, rlock acquires &reader_sem.
 * Readers are never ordered with each other.
 *
 * Design: Go's algorithm, because a reader's lock and unlock are one atomic
 * add each when no writer is around, and writer preference (new readers wait
 * behind a waiting writer) means a stream of readers cannot starve a writer,
 * while a writer's unlock admits every reader that queued during it, so
 * writers cannot starve readers either. A lock-protected reader count was
 * rejected: every reader would take the same internal lock.
 */
#include "goc.h"
#include "sync.h"

#define MAX_READERS (1 << 30)

typedef struct rwmutex {
    goc_mutex w;                 /* held by the writer, pending or not */
    goc__sema writer_sem;        /* the writer waits for departing readers */
    goc__sema reader_sem;        /* readers wait for the writer        */
    _Atomic int32_t readers;     /* (a) see the invariants             */
    _Atomic int32_t departing;   /* (a) readers the writer waits for   */
} rwmutex;

_Static_assert(sizeof(rwmutex) <= sizeof(goc_rwmutex), "goc_rwmutex storage too small");
_Static_assert(_Alignof(rwmutex) <= _Alignof(goc_rwmutex), "goc_rwmutex storage misaligned");

static inline rwmutex *RW(goc_rwmutex *m) { return (rwmutex *)(void *)m; }

void goc_rwmutex_rlock(goc_rwmutex *m) {
    rwmutex *rw = RW(m);
    if (atomic_fetch_add_explicit(&rw->readers, 1, memory_order_acq_rel) + 1 < 0)
        goc__sema_acquire(&rw->reader_sem, false, GOC__WAIT_RLOCK, rw); /* a writer is pending */
    goc__race_acquire(&rw->reader_sem);
}

void goc_rwmutex_runlock(goc_rwmutex *m) {
    rwmutex *rw = RW(m);
    goc__race_release(&rw->writer_sem);
    int32_t r = atomic_fetch_sub_explicit(&rw->readers, 1, memory_order_acq_rel) - 1;
    if (GOC_LIKELY(r >= 0)) return;
    if (r + 1 == 0 || r + 1 == -MAX_READERS)
        goc__throw("goc_rwmutex_runlock of an rwmutex not read-locked");
    /* A writer is pending: the last reader it waits for lets it in. */
    if (atomic_fetch_sub_explicit(&rw->departing, 1, memory_order_acq_rel) - 1 == 0)
        goc__sema_release(&rw->writer_sem);
}

void goc_rwmutex_lock(goc_rwmutex *m) {
    rwmutex *rw = RW(m);
    goc_mutex_lock(&rw->w);
    /* Announce the writer; r readers were inside (or queued before us). */
    int32_t r = atomic_fetch_sub_explicit(&rw->readers, MAX_READERS, memory_order_acq_rel);
    if (r != 0 && atomic_fetch_add_explicit(&rw->departing, r, memory_order_acq_rel) + r != 0)
        goc__sema_acquire(&rw->writer_sem, false, GOC__WAIT_WLOCK, rw);
    goc__race_acquire(&rw->reader_sem);
    goc__race_acquire(&rw->writer_sem);
}

void goc_rwmutex_unlock(goc_rwmutex *m) {
    rwmutex *rw = RW(m);
    goc__race_release(&rw->reader_sem);
    int32_t r = atomic_fetch_add_explicit(&rw->readers, MAX_READERS, memory_order_acq_rel) +
                MAX_READERS;
    if (r >= MAX_READERS) goc__throw("goc_rwmutex_unlock of an rwmutex not locked");
    /* Admit the readers that queued behind us (and those about to). */
    if (r > 0) goc__sema_release_n(&rw->reader_sem, (uint32_t)r);
    goc_mutex_unlock(&rw->w);
}

int32_t goc__rwmutex_readers(goc_rwmutex *m) {
    return atomic_load_explicit(&RW(m)->readers, memory_order_relaxed);
}
