/* Timers that talk through channels: goc_after, goc_timer, goc_ticker.
 *
 * Each owns a channel of capacity 1 carrying the firing time (int64_t). The
 * callback sends without blocking, so a slow reader loses ticks rather than
 * delaying the timer, and a ticker keeps its phase (timer.c skips missed
 * periods). stop and reset drain the channel after the timer is disarmed, so
 * no value from before them is received afterwards, and a value they drain
 * counts as the timer still pending (Go 1.23 semantics). Draining after a
 * stop that returned false, the pre-1.23 idiom, is never needed and blocks
 * when the value was already received.
 *
 * Invariants: a runtime timer is disarmed before its memory is freed;
 * goc_after's timer lives as long as its channel and holds no reference to
 * it: the channel's last release stops the timer (waiting out a running
 * callback) and frees it, so an abandoned goc_after costs nothing once
 * released, as in Go 1.23, where an unreferenced time.After is collected.
 *
 * A reset either takes effect or fails with no effect (GOC_ENOMEM). Arming
 * is the one step that can fail, so reset arms first: a timechan has two
 * runtime timers, and reset arms the idle one at the new time before it
 * stops the current one and drains. The new timer's firing is held back by
 * its gate until the drain is done (a value it sent before would be drained
 * as stale), then delivered. Gate states: OPEN; CLOSED (reset has armed it,
 * not yet drained); a time (it fired while CLOSED: reset delivers it).
 *
 * Locking: stop and reset hold the timechan's lock, so that any number of
 * coroutines and threads may stop and reset one timer at once, as in Go (a
 * runtime timer must not be started twice); its channel and its timers are
 * locked under it (lockrank.h). The callback takes no timechan lock.
 */
#include "chan.h"
#include "goc.h"
#include "lock.h"
#include "timer.h"

/* Runtime timers and the channel they fire into: both public kinds.
 * Fields: (l) the timechan's lock, (a) atomic, (i) immutable. */
struct timechan {
    goc__timer t[2];          /* t[cur] is the live one; the other is idle */
    _Atomic int64_t gate[2];  /* (a) t[i]'s gate, see above                */
    goc_chan *ch;             /* (i)                                        */
    goc__lock lock;           /* stop and reset                             */
    int cur;                  /* (l)                                        */
};

#define GATE_OPEN INT64_MIN
#define GATE_CLOSED (INT64_MIN + 1)

struct goc_timer {
    struct timechan c;
};

struct goc_ticker {
    struct timechan c;
};

static void fire(goc__timer *t, int64_t now) { goc_try_send(t->arg, &now); }

/* A timechan's callback: sends unless its gate holds the value back. A
 * second firing while held back is dropped, as a full channel drops it. */
static void fire_gated(goc__timer *t, int64_t now) {
    struct timechan *c = t->arg;
    _Atomic int64_t *g = &c->gate[t == &c->t[1]];
    int64_t s = GATE_CLOSED;
    if (atomic_compare_exchange_strong(g, &s, now)) return;
    if (s == GATE_OPEN) goc_try_send(c->ch, &now);
}

/* goc_after's channel is gone: so is its timer. */
static void after_free(void *t) {
    goc__timer_stop(t);
    goc__free(t);
}

goc_chan *goc_after(int64_t ns) {
    goc_chan *ch = goc_chan_make(sizeof(int64_t), 1);
    goc__timer *t = goc__malloc(sizeof *t);
    if (!ch || !t) {
        goc__free(t);
        goc_chan_release(ch);
        return NULL;
    }
    goc__timer_init(t, fire, ch);
    ch->on_free = after_free;
    ch->on_free_arg = t;
    if (goc__timer_start(t, goc__now_plus(ns), 0) == GOC_OK) return ch;
    goc_chan_release(ch); /* frees t */
    return NULL;
}

/* ---- shared by goc_timer and goc_ticker --------------------------------- */

/* A new timechan armed at `first` and then every period (0: once), in a
 * block of `size` bytes; NULL when out of memory. */
static struct timechan *timechan_new(size_t size, int64_t first, int64_t period) {
    struct timechan *c = goc__malloc(size);
    if (!c) return NULL;
    c->ch = goc_chan_make(sizeof(int64_t), 1);
    c->lock = (goc__lock){0};
    c->cur = 0;
    for (int i = 0; i < 2; i++) {
        goc__timer_init(&c->t[i], fire_gated, c);
        atomic_init(&c->gate[i], GATE_OPEN);
    }
    if (c->ch) {
        if (goc__timer_start(&c->t[0], first, period) == GOC_OK) return c;
        goc_chan_release(c->ch);
    }
    goc__free(c);
    return NULL;
}

/* With c locked: disarms, then drains, so nothing from before is received
 * afterwards. True if the timer was pending or its value not yet received. */
static bool stop_locked(struct timechan *c) {
    bool pending = goc__timer_stop(&c->t[c->cur]);
    bool drained = goc_try_recv(c->ch, NULL) == GOC_OK;
    return pending || drained;
}

/* Re-arms c at `first`, then every period (0: once): GOC_OK with *pending
 * as stop_locked says, or GOC_ENOMEM with nothing changed. */
static int timechan_reset(struct timechan *c, int64_t first, int64_t period, bool *pending) {
    goc__lock_acquire(&c->lock, GOC__RANK_TIMECHAN);
    int n = 1 - c->cur;
    atomic_store(&c->gate[n], GATE_CLOSED);
    int r = goc__timer_start(&c->t[n], first, period);
    if (r != GOC_OK) {
        atomic_store(&c->gate[n], GATE_OPEN);
        goc__lock_release(&c->lock);
        return r;
    }
    *pending = stop_locked(c);
    c->cur = n;
    int64_t held = atomic_exchange(&c->gate[n], GATE_OPEN);
    if (held != GATE_CLOSED) goc_try_send(c->ch, &held); /* it fired meanwhile */
    goc__lock_release(&c->lock);
    return GOC_OK;
}

static bool timechan_stop(struct timechan *c) {
    goc__lock_acquire(&c->lock, GOC__RANK_TIMECHAN);
    bool pending = stop_locked(c);
    goc__lock_release(&c->lock);
    return pending;
}

static void timechan_free(struct timechan *c) {
    goc__timer_stop(&c->t[0]);
    goc__timer_stop(&c->t[1]);
    goc_chan_release(c->ch);
    goc__free(c);
}

/* ---- goc_timer -------------------------------------------------------- */

goc_timer *goc_timer_new(int64_t ns) {
    return (goc_timer *)timechan_new(sizeof(goc_timer), goc__now_plus(ns), 0);
}

goc_chan *goc_timer_chan(goc_timer *tm) { return tm ? tm->c.ch : NULL; }

bool goc_timer_stop(goc_timer *tm) { return tm && timechan_stop(&tm->c); }

int goc_timer_reset_checked(goc_timer *tm, int64_t ns, bool *pending) {
    bool p = false;
    int r = tm ? timechan_reset(&tm->c, goc__now_plus(ns), 0, &p) : GOC_EINVAL;
    if (pending) *pending = p;
    return r;
}

bool goc_timer_reset(goc_timer *tm, int64_t ns) {
    bool pending;
    return goc_timer_reset_checked(tm, ns, &pending) == GOC_OK && pending;
}

void goc_timer_free(goc_timer *tm) {
    if (tm) timechan_free(&tm->c);
}

/* ---- goc_ticker ------------------------------------------------------- */

goc_ticker *goc_ticker_new(int64_t period) {
    if (period <= 0) return NULL;
    return (goc_ticker *)timechan_new(sizeof(goc_ticker), goc__now_plus(period), period);
}

goc_chan *goc_ticker_chan(goc_ticker *tk) { return tk ? tk->c.ch : NULL; }

void goc_ticker_stop(goc_ticker *tk) {
    if (tk) timechan_stop(&tk->c);
}

int goc_ticker_reset(goc_ticker *tk, int64_t period) {
    if (!tk || period <= 0) return GOC_EINVAL;
    bool pending;
    return timechan_reset(&tk->c, goc__now_plus(period), period, &pending);
}

void goc_ticker_free(goc_ticker *tk) {
    if (tk) timechan_free(&tk->c);
}
