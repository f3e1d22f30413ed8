/* Timers that talk through channels: goc_after, goc_timer, goc_ticker.
 *
 * Each owns a channel of capacity 1 carrying the firing time (int64_t). The
 * callback sends without blocking, so a slow reader loses ticks rather than
 * delaying the timer, and a ticker keeps its phase (timer.c skips missed
 * periods). stop and reset drain the channel after the timer is disarmed, so
 * no value from before them is received afterwards (Go 1.23 semantics).
 *
 * Invariants: a goc_timer/goc_ticker's runtime timer is disarmed before its
 * memory is freed; goc_after's timer frees itself after its single firing
 * (period GOC__TIMER_DETACHED: the runner does not touch it afterwards).
 */
#include "goc.h"
#include "timer.h"

struct goc_timer {
    goc__timer t;
    goc_chan *ch;
};

struct goc_ticker {
    goc__timer t;
    goc_chan *ch;
};

static void fire(goc__timer *t, int64_t now) { goc_try_send(t->arg, &now); }

/* goc_after: send, drop the timer's reference, free the timer. */
static void fire_once(goc__timer *t, int64_t now) {
    goc_chan *ch = t->arg;
    goc_try_send(ch, &now);
    goc_chan_release(ch);
    goc__free(t);
}

static int64_t at(int64_t ns) {
    int64_t now = goc__now();
    if (ns <= 0) return now;
    return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

goc_chan *goc_after(int64_t ns) {
    goc_chan *ch = goc_chan_make(sizeof(int64_t), 1);
    goc__timer *t = goc__malloc(sizeof *t);
    if (!ch || !t) goto fail;
    goc__timer_init(t, fire_once, goc_chan_retain(ch));
    if (goc__timer_start(t, at(ns), GOC__TIMER_DETACHED) == GOC_OK) return ch;
    goc_chan_release(ch);
fail:
    goc__free(t);
    goc_chan_release(ch);
    return NULL;
}

/* ---- goc_timer -------------------------------------------------------- */

goc_timer *goc_timer_new(int64_t ns) {
    goc_timer *tm = goc__malloc(sizeof *tm);
    if (!tm) return NULL;
    tm->ch = goc_chan_make(sizeof(int64_t), 1);
    if (!tm->ch) goto fail;
    goc__timer_init(&tm->t, fire, tm->ch);
    if (goc__timer_start(&tm->t, at(ns), 0) == GOC_OK) return tm;
    goc_chan_release(tm->ch);
fail:
    goc__free(tm);
    return NULL;
}

goc_chan *goc_timer_chan(goc_timer *tm) { return tm->ch; }

bool goc_timer_stop(goc_timer *tm) {
    bool pending = goc__timer_stop(&tm->t);
    goc_try_recv(tm->ch, NULL);
    return pending;
}

bool goc_timer_reset(goc_timer *tm, int64_t ns) {
    bool pending = goc_timer_stop(tm);
    /* The heap may need to grow; on failure the timer stays stopped. */
    goc__timer_start(&tm->t, at(ns), 0);
    return pending;
}

void goc_timer_free(goc_timer *tm) {
    if (!tm) return;
    goc__timer_stop(&tm->t);
    goc_chan_release(tm->ch);
    goc__free(tm);
}

/* ---- goc_ticker ------------------------------------------------------- */

goc_ticker *goc_ticker_new(int64_t period) {
    if (period <= 0) return NULL;
    goc_ticker *tk = goc__malloc(sizeof *tk);
    if (!tk) return NULL;
    tk->ch = goc_chan_make(sizeof(int64_t), 1);
    if (!tk->ch) goto fail;
    goc__timer_init(&tk->t, fire, tk->ch);
    if (goc__timer_start(&tk->t, at(period), period) == GOC_OK) return tk;
    goc_chan_release(tk->ch);
fail:
    goc__free(tk);
    return NULL;
}

goc_chan *goc_ticker_chan(goc_ticker *tk) { return tk->ch; }

void goc_ticker_stop(goc_ticker *tk) {
    goc__timer_stop(&tk->t);
    goc_try_recv(tk->ch, NULL);
}

int goc_ticker_reset(goc_ticker *tk, int64_t period) {
    if (period <= 0) return GOC_EINVAL;
    goc_ticker_stop(tk);
    return goc__timer_start(&tk->t, at(period), period);
}

void goc_ticker_free(goc_ticker *tk) {
    if (!tk) return;
    goc__timer_stop(&tk->t);
    goc_chan_release(tk->ch);
    goc__free(tk);
}
