/* The timer heap and the timer state machine (states in timer.h).
 *
 * Invariants: a PENDING timer is in exactly one heap, at v[t->idx] with
 * v[t->idx].when == t->when, and t->heap points to it; any other state has
 * t->heap == NULL. h->next equals v[0].when, or INT64_MAX when h is empty,
 * whenever h's lock is free. n + reserved <= cap: each periodic timer whose
 * callback runs holds one reserved slot in its runner's heap, taken before
 * it left its heap, so its re-arm needs no memory and cannot fail (a ticker
 * must not stop without a word because memory ran short).
 *
 * Locking: one lock per heap; never two at once except in goc__timers_move,
 * which takes them in address order (under sched.lock). Callbacks run with no
 * heap lock, so a callback may take channel locks while a channel operation
 * holding its lock arms a timer (heap locks rank after both: lockrank.h).
 *
 * Design: a heap per worker keeps sleep/wake on one core and its lock
 * uncontended; the alternative, one global heap with a timer thread, puts a
 * cross-thread wake-up on every timeout. Deletion is eager (by index) so a
 * stopped timer costs nothing later.
 */
#include "timer.h"

#include <sched.h>

#include "goc.h"

#define ARITY 4

void goc__timers_init(goc__timers *h) {
    h->lock = (goc__lock){0};
    h->v = NULL;
    h->n = h->cap = h->reserved = 0;
    atomic_init(&h->next, INT64_MAX);
}

void goc__timers_term(goc__timers *h) {
    goc__free(h->v);
    h->v = NULL;
    h->n = h->cap = h->reserved = 0;
}

static void place(goc__timers *h, uint32_t i, struct goc__tentry e) {
    h->v[i] = e;
    e.t->idx = i;
}

static void sift_up(goc__timers *h, uint32_t i) {
    struct goc__tentry e = h->v[i];
    while (i > 0) {
        uint32_t p = (i - 1) / ARITY;
        if (h->v[p].when <= e.when) break;
        place(h, i, h->v[p]);
        i = p;
    }
    place(h, i, e);
}

static void sift_down(goc__timers *h, uint32_t i) {
    struct goc__tentry e = h->v[i];
    for (;;) {
        uint32_t c = i * ARITY + 1, best = i;
        int64_t bw = e.when;
        for (uint32_t k = c; k < c + ARITY && k < h->n; k++) {
            if (h->v[k].when < bw) {
                best = k;
                bw = h->v[k].when;
            }
        }
        if (best == i) break;
        place(h, i, h->v[best]);
        i = best;
    }
    place(h, i, e);
}

static void update_next(goc__timers *h) {
    GOC_ASSERT_HELD(&h->lock);
    GOC_ASSERT(h->n + h->reserved <= h->cap);
    atomic_store_explicit(&h->next, h->n ? h->v[0].when : INT64_MAX, memory_order_relaxed);
}

static void heap_remove(goc__timers *h, goc__timer *t) {
    GOC_ASSERT_HELD(&h->lock);
    GOC_ASSERT(atomic_load_explicit(&t->heap, memory_order_relaxed) == h && t->idx < h->n &&
               h->v[t->idx].t == t && h->v[t->idx].when == t->when);
    uint32_t i = t->idx;
    h->n--;
    if (i != h->n) {
        goc__timer *moved = h->v[h->n].t;
        place(h, i, h->v[h->n]);
        sift_down(h, i);
        sift_up(h, moved->idx);
    }
    atomic_store_explicit(&t->heap, NULL, memory_order_relaxed);
}

/* With h locked: room for n entries in all; false if it cannot grow. */
static bool heap_reserve(goc__timers *h, uint32_t n) {
    if (n <= h->cap) return true;
    struct goc__tentry *v = goc__realloc(h->v, n * sizeof *v);
    if (!v) return false;
    h->v = v;
    h->cap = n;
    return true;
}

/* With h locked: room for one more beyond n + reserved; false if h cannot
 * grow. */
static bool heap_room(goc__timers *h) {
    uint32_t need = h->n + h->reserved + 1;
    if (need <= h->cap) return true;
    uint32_t cap = h->cap ? h->cap * 2 : 64;
    return heap_reserve(h, cap > need ? cap : need);
}

/* With h locked and room for t: inserts it. */
static void heap_place(goc__timers *h, goc__timer *t) {
    GOC_ASSERT_HELD(&h->lock);
    GOC_ASSERT(h->n + h->reserved < h->cap); /* its room was made or reserved */
    place(h, h->n++, (struct goc__tentry){t->when, t});
    sift_up(h, t->idx);
    atomic_store_explicit(&t->heap, h, memory_order_relaxed);
}

/* With h locked: inserts t. GOC_ENOMEM if the heap cannot grow. */
static int heap_insert(goc__timers *h, goc__timer *t) {
    if (!heap_room(h)) return GOC_ENOMEM;
    heap_place(h, t);
    return GOC_OK;
}

/* A slot of h for a re-arm (goc__timers_run); false if h cannot grow. */
static bool slot_take(goc__timers *h) {
    goc__lock_acquire(&h->lock, GOC__RANK_TIMERS);
    bool ok = heap_room(h);
    if (ok) h->reserved++;
    goc__lock_release(&h->lock);
    return ok;
}

static void slot_give_back(goc__timers *h) {
    goc__lock_acquire(&h->lock, GOC__RANK_TIMERS);
    h->reserved--;
    goc__lock_release(&h->lock);
}

int goc__timers_add(goc__timers *h, goc__timer *t, int64_t when, int64_t period, bool *earliest) {
    goc__lock_acquire(&h->lock, GOC__RANK_TIMERS);
    if (atomic_load_explicit(&t->state, memory_order_relaxed) != GOC__TIMER_IDLE)
        goc__throw("a timer was armed while armed or running (concurrent start)");
    t->when = when;
    t->period = period;
    int r = heap_insert(h, t);
    if (r == GOC_OK) {
        atomic_store_explicit(&t->state, GOC__TIMER_PENDING, memory_order_release);
        *earliest = h->v[0].t == t;
        update_next(h);
    }
    goc__lock_release(&h->lock);
    return r;
}

bool goc__timer_stop(goc__timer *t) {
    for (;;) {
        uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
        if (s == GOC__TIMER_IDLE) return false;
        if (s == GOC__TIMER_RUNNING || s == GOC__TIMER_STOPPING) {
            /* A periodic timer may have been re-armed (and popped again)
             * since the load: then look again, for it may never be IDLE. */
            if (s == GOC__TIMER_RUNNING &&
                !atomic_compare_exchange_strong(&t->state, &s, GOC__TIMER_STOPPING))
                continue;
            /* The callback is short and never blocks: wait it out. Once it
             * is over, another thread may start t again at once. */
            while (atomic_load_explicit(&t->state, memory_order_acquire) == GOC__TIMER_STOPPING)
                sched_yield();
            return false;
        }
        goc__timers *h = atomic_load_explicit(&t->heap, memory_order_relaxed);
        if (!h) continue;
        goc__lock_acquire(&h->lock, GOC__RANK_TIMERS);
        if (atomic_load_explicit(&t->heap, memory_order_relaxed) == h &&
            atomic_load_explicit(&t->state, memory_order_relaxed) == GOC__TIMER_PENDING) {
            heap_remove(h, t);
            update_next(h);
            atomic_store_explicit(&t->state, GOC__TIMER_IDLE, memory_order_release);
            goc__lock_release(&h->lock);
            return true;
        }
        goc__lock_release(&h->lock);
    }
}

/* The next firing of a periodic timer: keeps the phase, skips missed ticks. */
static int64_t next_period(const goc__timer *t, int64_t now) {
    int64_t when = t->when + t->period;
    if (when <= now) when += ((now - when) / t->period + 1) * t->period;
    return when;
}

/* After t's callback: back to IDLE, or re-armed in h (the runner's own heap)
 * if periodic and not stopped, in the slot reserved for it. A stop may ask
 * (RUNNING -> STOPPING) at any moment up to the CAS that re-arms, so the
 * re-arm is undone when the CAS fails. */
static void finish(goc__timers *h, goc__timer *t, int64_t now) {
    if (t->period > 0) {
        goc__lock_acquire(&h->lock, GOC__RANK_TIMERS);
        h->reserved--;
        t->when = next_period(t, now);
        heap_place(h, t);
        uint32_t r = GOC__TIMER_RUNNING;
        if (atomic_compare_exchange_strong_explicit(&t->state, &r, GOC__TIMER_PENDING,
                                                    memory_order_release,
                                                    memory_order_relaxed)) {
            update_next(h);
            goc__lock_release(&h->lock);
            return;
        }
        heap_remove(h, t);
        goc__lock_release(&h->lock);
    }
    atomic_store_explicit(&t->state, GOC__TIMER_IDLE, memory_order_release);
}

int goc__timers_run(goc__timers *h, goc__timers *home, int64_t now, int max) {
    int ran = 0;
    while (ran < max && goc__timers_next(h) <= now) {
        /* From another heap, reserve home's slot first (locks are never
         * nested); in home itself, the popped timer's slot is the reserve. */
        if (h != home && !slot_take(home)) break;
        goc__lock_acquire(&h->lock, GOC__RANK_TIMERS);
        /* Read the clock under the lock: callbacks of one heap see
         * non-decreasing times, even with two runners. */
        now = goc__now();
        if (h->n == 0 || h->v[0].when > now) {
            goc__lock_release(&h->lock);
            if (h != home) slot_give_back(home);
            break;
        }
        goc__timer *t = h->v[0].t;
        GOC_ASSERT(atomic_load_explicit(&t->state, memory_order_relaxed) == GOC__TIMER_PENDING);
        bool periodic = t->period > 0;
        heap_remove(h, t);
        if (periodic && h == home) h->reserved++;
        update_next(h);
        atomic_store_explicit(&t->state, GOC__TIMER_RUNNING, memory_order_relaxed);
        goc__lock_release(&h->lock);
        if (!periodic && h != home) slot_give_back(home);
        t->fn(t, now);
        finish(home, t, now);
        ran++;
    }
    return ran;
}

bool goc__timers_move(goc__timers *from, goc__timers *to) {
    if (from == to) return true;
    goc__timers *a = from < to ? from : to, *b = from < to ? to : from;
    goc__lock_acquire(&a->lock, GOC__RANK_TIMERS);
    goc__lock_acquire(&b->lock, GOC__RANK_TIMERS);
    /* All or nothing: a timer left behind would wait for a retired worker. */
    bool room = heap_reserve(to, to->n + to->reserved + from->n);
    while (room && from->n > 0) {
        goc__timer *t = from->v[from->n - 1].t;
        heap_remove(from, t);
        heap_place(to, t); /* room reserved above */
    }
    update_next(from);
    update_next(to);
    goc__lock_release(&b->lock);
    goc__lock_release(&a->lock);
    return room;
}
