/* Runtime timers: a 4-ary min-heap per worker, run by the worker's scheduler
 * (or stolen by an idle one). Users see them through sleep, timeouts,
 * goc_after, goc_timer and goc_ticker.
 *
 * A timer's states, and who moves it:
 *   IDLE     --start-------------------------------> PENDING  (any thread)
 *   PENDING  --stop (heap lock)-------------------->  IDLE
 *   PENDING  --runner pops it (heap lock)---------->  RUNNING
 *   RUNNING  --runner, one-shot or stopped-------->   IDLE
 *   RUNNING  --runner re-arms a period (heap lock, CAS)-> PENDING
 *   RUNNING  --stop asks the runner not to re-arm (CAS)--> STOPPING --runner--> IDLE
 * Both leave RUNNING by CAS, so a stop either wins (and waits out STOPPING)
 * or finds the timer PENDING again and removes it from its heap. Once stop
 * returns the callback is over and the timer's memory may be reused.
 * Callbacks run with no lock held and must not block.
 */
#ifndef GOC_TIMER_H
#define GOC_TIMER_H

#include <stdbool.h>

#include "lock.h"

typedef struct goc__timer goc__timer;
typedef struct goc__timers goc__timers;

struct goc__timer {
    int64_t when;                            /* (h) heap lock while PENDING */
    int64_t period;                          /* (h) > 0: re-armed           */
    void (*fn)(goc__timer *t, int64_t now);  /* (i)                         */
    void *arg;                               /* (i)                         */
    _Atomic(goc__timers *) heap;             /* (h) owner while PENDING     */
    uint32_t idx;                            /* (h) index in heap->v        */
    _Atomic uint32_t state;
};

/* A heap entry keeps its deadline beside the pointer: sifting compares
 * without touching timers, which live on sleepers' stacks all over memory. */
struct goc__tentry {
    int64_t when;
    goc__timer *t;
};

struct goc__timers {
    goc__lock lock;
    struct goc__tentry *v;   /* (lock) the heap                              */
    uint32_t n, cap;         /* (lock)                                       */
    uint32_t reserved;       /* (lock) slots held for periodic timers whose
                              * callback runs: their re-arm cannot fail     */
    _Atomic int64_t next;    /* earliest `when`, INT64_MAX when empty        */
};

enum { GOC__TIMER_IDLE, GOC__TIMER_PENDING, GOC__TIMER_RUNNING, GOC__TIMER_STOPPING };

static inline void goc__timer_init(goc__timer *t, void (*fn)(goc__timer *, int64_t), void *arg) {
    t->when = 0;
    t->period = 0;
    t->fn = fn;
    t->arg = arg;
    atomic_init(&t->heap, NULL);
    t->idx = 0;
    atomic_init(&t->state, GOC__TIMER_IDLE);
}

void goc__timers_init(goc__timers *h);
void goc__timers_term(goc__timers *h);

/* Arms an IDLE timer in heap h to fire at `when` (goc_now clock), then every
 * period (> 0) after, or once (0). Returns GOC_OK or
 * GOC_ENOMEM (the heap could not grow;
 * nothing changed). Returns true in *earliest when it became h's first. */
int goc__timers_add(goc__timers *h, goc__timer *t, int64_t when, int64_t period, bool *earliest);

/* Arms t on the calling worker's heap, or on some worker's heap from a plain
 * thread (waking that worker if the timer is its earliest). */
int goc__timer_start(goc__timer *t, int64_t when, int64_t period);

/* Disarms t. True if it was pending and will not fire now; false if it was
 * idle or its callback was running (which has finished when this returns). */
bool goc__timer_stop(goc__timer *t);

/* Runs the callbacks of at most max of h's timers due at `now`, earliest
 * first; returns how many ran. Periodic ones are re-armed in `home`, the
 * runner's own heap: h may belong to a worker that retired meanwhile, and
 * a timer re-armed there would wait for nobody. A slot in home is reserved
 * before a timer is taken from h, so a re-arm never fails; when home cannot
 * grow for it, h's timers wait for a runner that has room. */
int goc__timers_run(goc__timers *h, goc__timers *home, int64_t now, int max);

/* Moves every timer of `from` into `to` (a retiring worker's heir), or
 * none: false when `to` could not grow. */
bool goc__timers_move(goc__timers *from, goc__timers *to);

static inline int64_t goc__timers_next(goc__timers *h) {
    return atomic_load_explicit(&h->next, memory_order_relaxed);
}

/* The goc_now time ns from now: now itself for ns <= 0 (a time that has
 * passed already), INT64_MAX where now + ns would overflow. */
static inline int64_t goc__now_plus(int64_t ns) {
    int64_t now = goc__now();
    if (ns <= 0) return now;
    return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

#endif
