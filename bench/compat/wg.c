/* A stand-in goc_wg for benchmarks, built only while the library has none
 * (bench/CMakeLists.txt looks for goc_wg_wait in src/). It uses the runtime's
 * internal wait interface (park.h) exactly as a channel would, so a workload
 * that joins with it pays a lock, a park and a ready per wait, no less than the
 * real goc_wg will. Delete this file once sync lands.
 *
 * Invariants: n >= 0; waiters is non-empty only while n > 0.
 * Locking: l guards n and waiters; waiters are woken after l is released.
 */
#include <stddef.h>

#include "goc.h"
#include "lock.h"
#include "park.h"

typedef struct waiter {
    goc__wait wt;
    struct waiter *next;
} waiter;

typedef struct shim_wg {
    goc__lock l;
    int64_t n;        /* (l) */
    waiter *waiters;  /* (l) */
} shim_wg;

_Static_assert(sizeof(shim_wg) <= sizeof(goc_wg), "shim_wg fits goc_wg");

static void unlock(void *l) { goc__lock_release(l); }

int goc_wg_add(goc_wg *wg, int64_t delta) {
    shim_wg *s = (shim_wg *)wg;
    goc__lock_acquire(&s->l);
    if (s->n + delta < 0) {
        goc__lock_release(&s->l);
        return GOC_ERANGE;
    }
    s->n += delta;
    waiter *w = NULL;
    if (s->n == 0) {
        w = s->waiters;
        s->waiters = NULL;
    }
    goc__lock_release(&s->l);
    while (w) {
        waiter *next = w->next; /* w lives on its waiter's stack */
        if (goc__wait_claim(&w->wt, GOC_OK)) goc__wait_wake(&w->wt);
        w = next;
    }
    return GOC_OK;
}

int goc_wg_done(goc_wg *wg) { return goc_wg_add(wg, -1); }

void goc_wg_wait(goc_wg *wg) {
    shim_wg *s = (shim_wg *)wg;
    goc__lock_acquire(&s->l);
    if (s->n == 0) {
        goc__lock_release(&s->l);
        return;
    }
    waiter w;
    goc__wait_init(&w.wt, goc__self(), false); /* found only under l */
    w.next = s->waiters;
    s->waiters = &w;
    goc__wait_block(&w.wt, -1, unlock, &s->l);
}
