/* Waits: how channels and locks block a coroutine or a thread, with an
 * optional deadline.
 *
 * A goc__wait is one blocked operation. It may be findable from several
 * places at once (each case of a select, a timer), so waking is two steps:
 * goc__wait_claim, which exactly one waker wins (a CAS), then goc__wait_wake.
 * The winner writes the outcome (`why`) before waking.
 *
 * Protocol, for a waiter protected by lock L (a channel lock, say):
 *   waiter:  lock L; enqueue nodes pointing to wt; goc__wait_block(wt, d, unlock L)
 *   waker:   lock L; find node; if goc__wait_claim(wt, why): dequeue, fill in;
 *            unlock L; goc__wait_wake(wt)
 * A coroutine is off its stack before L is released (the unlock runs as a park
 * hook), so a waker can never ready a coroutine that is still running. The
 * deadline timer is armed in the same hook, before the unlock (so L ranks
 * before timer heaps: lockrank.h). A woken waiter removes its other nodes
 * itself.
 */
#ifndef GOC_PARK_H
#define GOC_PARK_H

#include "goc.h"
#include "debug.h"
#include "sched.h"

typedef struct goc__wait {
    goc__g *g;                  /* who waits                                */
    bool multi;                 /* findable by more than one waker          */
    _Atomic uint32_t claimed;   /* 0 until a waker (or the timer) claims it */
    int why;                    /* outcome, written by the claimer          */
    int64_t deadline;           /* < 0: none; set by goc__wait_block only   */
    void (*unlock)(void *);
    void *unlock_arg;
    goc__timer timer;
} goc__wait;

/* multi: the wait can be found by several wakers (the cases of a select);
 * a deadline makes it multi as well. Otherwise only the holder of the one
 * lock that guards the waiter's node can find it, and claiming needs no CAS. */
static inline void goc__wait_init(goc__wait *wt, goc__g *self, bool multi) {
    wt->g = self;
    wt->multi = multi;
    atomic_init(&wt->claimed, 0);
    wt->why = 0;
    if (self->kind == GOC__G_THREAD) atomic_store_explicit(&self->wake, GOC__WAKE_NONE, memory_order_relaxed);
}

/* True for the one caller that gets to wake wt; it records why. */
static inline bool goc__wait_claim(goc__wait *wt, int why) {
    if (!wt->multi) {
        wt->why = why;
        return true;
    }
    uint32_t zero = 0;
    if (!atomic_compare_exchange_strong_explicit(&wt->claimed, &zero, 1, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return false;
    wt->why = why;
    return true;
}

/* Wakes a claimed wait; wt must not be touched after this. */
static inline void goc__wait_wake(goc__wait *wt) {
    GOC_ASSERT(!wt->multi || atomic_load_explicit(&wt->claimed, memory_order_relaxed));
    goc__ready(wt->g, true);
}

/* Blocks until claimed and woken, or until deadline (goc_now clock; < 0 none)
 * when it claims itself with GOC_ETIMEDOUT. unlock(arg), if given, runs once
 * the waiter can no longer miss a wake-up. Returns wt->why: what the waker
 * wrote, GOC_ETIMEDOUT, or GOC_ENOMEM when no timer could be armed. */
int goc__wait_block(goc__wait *wt, int64_t deadline, void (*unlock)(void *), void *arg);

/* goc__wait_block's common case, inline: wt's coroutine, running on w (the
 * caller's goc__tls_w()), waits without a deadline; hook(w', arg) releases
 * the waiter's lock once it is off its stack. Returns wt->why. */
static inline int goc__wait_park(goc__wait *wt, goc__w *w, void (*hook)(goc__w *, void *),
                                 void *arg) {
    goc__park(w, wt->g, hook, arg);
    return wt->why;
}

/* The deadline of a wait of ns: -1 (none) for GOC_FOREVER; now for any
 * other negative ns, which has passed already (`deadline - goc_now()` late,
 * as time.After of a negative duration in Go); else now + ns, saturated. */
static inline int64_t goc__deadline(int64_t ns) {
    return ns == GOC_FOREVER ? -1 : goc__now_plus(ns);
}

#endif
