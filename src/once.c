/* goc_once: runs a function exactly once, Go's sync.Once.
 *
 * Invariants: done is 0 until fn has returned, then 1 forever; fn runs at
 * most once, and only while m is held; every goc_once_do returns after fn
 * has returned.
 *
 * Locking: m (a goc_mutex, so waiting callers park) serialises the slow
 * path; fn runs under it, so fn must not call goc_once_do on the same once
 * (it would deadlock, as in Go).
 *
 * Memory orders: done is stored with release after fn returns and loaded
 * with acquire on the fast path, so fn's effects are visible to every caller
 * that sees done; slow-path callers get them through m. ThreadSanitizer:
 * goc__race_release(o) before done is set, goc__race_acquire(o) on the fast
 * path (the slow path is ordered by m's own edges).
 *
 * Design: Go's: one acquire load when done, a mutex otherwise. A state
 * machine with its own waiter queue would save the mutex but duplicate it;
 * the slow path runs once per waiting caller per once, so it is not worth it.
 */
#include "goc.h"
#include "sync.h"

typedef struct once {
    _Atomic uint32_t done; /* (a) 1 once fn has returned */
    goc_mutex m;
} once;

_Static_assert(sizeof(once) <= sizeof(goc_once), "goc_once storage too small");
_Static_assert(_Alignof(once) <= _Alignof(goc_once), "goc_once storage misaligned");

static GOC_NOINLINE void once_slow(once *o, void (*fn)(void *), void *arg) {
    goc_mutex_lock(&o->m);
    if (atomic_load_explicit(&o->done, memory_order_relaxed) == 0) {
        fn(arg);
        goc__race_release(o);
        atomic_store_explicit(&o->done, 1, memory_order_release);
    }
    goc_mutex_unlock(&o->m);
}

void goc_once_do(goc_once *go, void (*fn)(void *), void *arg) {
    once *o = (once *)(void *)go;
    if (GOC_LIKELY(atomic_load_explicit(&o->done, memory_order_acquire))) {
        goc__race_acquire(o);
        return;
    }
    once_slow(o, fn, arg);
}
