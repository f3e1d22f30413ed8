/* Time as channels: goc_after, goc_timer (stop, reset, no stale values),
 * goc_ticker (drops ticks for a slow reader, keeps its period), ordering,
 * and many pending timers. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"
#include "context.h"
#include "testutil.h"
#include "sched.h"
#include "sys.h"
#include "timer.h"

TEST(after_fires_once_not_early) {
    int64_t t0 = goc_now();
    goc_chan *c = goc_after(5 * GOC_MS);
    int64_t when = 0;
    CHECK_OK(goc_recv(c, &when));
    CHECK_OP(when, >=, t0 + 5 * GOC_MS);
    CHECK_OP(goc_now(), >=, when);
    CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(c, NULL, 10 * GOC_MS));
    goc_chan_release(c);
}

TEST(after_in_select_times_out_a_wait) {
    goc_chan *never = goc_chan_make(sizeof(int), 0), *t = goc_after(2 * GOC_MS);
    int64_t when;
    goc_case cs[] = {GOC_RECV(never, NULL), GOC_RECV(t, &when)};
    CHECK_EQ(goc_select(cs, 2, GOC_FOREVER), 1);
    goc_chan_release(never);
    goc_chan_release(t);
}

TEST(after_released_before_firing_is_safe) {
    for (int i = 0; i < 1000; i++) goc_chan_release(goc_after(GOC_MS));
    goc_sleep(5 * GOC_MS);
}

/* Go 1.23 collects an unreferenced time.After at once; here the channel's
 * last release stops and frees its timer. A select loop with a fresh
 * goc_after(1 h) each round used to keep every one of them for the hour. */
TEST(after_released_stops_its_timer) {
    goc_chan_release(goc_after(0)); /* the runtime and a heap are up */
    size_t base = goc__ctx_timers_pending();
    goc_chan *c[1000];
    for (int i = 0; i < 1000; i++) CHECK((c[i] = goc_after(3600 * GOC_SEC)) != NULL);
    CHECK_EQ(goc__ctx_timers_pending(), base + 1000);
    for (int i = 0; i < 1000; i++) goc_chan_release(c[i]);
    CHECK_EQ(goc__ctx_timers_pending(), base);
}

/* Releases racing the firing: a release stops the timer or waits out its
 * callback, which sends into the channel the release is about to free.
 * ASan would see a use after free; the heaps end empty. */
static _Atomic int after_racers;

static void release_after_racing(void *arg) {
    uint64_t rnd = (uint64_t)(intptr_t)arg;
    for (int i = 0; i < CHECK_SCALE(5000); i++) {
        goc_chan *c = goc_after((int64_t)(splitmix(&rnd) % 30) * GOC_US);
        CHECK(c != NULL);
        int64_t until = goc_now() + (int64_t)(splitmix(&rnd) % 30) * GOC_US;
        while (goc_now() < until) {
        }
        if (i % 3 == 0) goc_try_recv(c, NULL);
        goc_chan_release(c);
    }
    atomic_fetch_add(&after_racers, 1);
}

TEST(after_released_while_firing_is_safe) {
    goc_chan_release(goc_after(0));
    size_t base = goc__ctx_timers_pending();
    for (int i = 1; i <= 4; i++) CHECK_OK(goc_go(release_after_racing, (void *)(intptr_t)i));
    while (atomic_load(&after_racers) < 4) goc_sleep(GOC_MS);
    CHECK_EQ(goc__ctx_timers_pending(), base);
}

TEST(null_timers_and_tickers_are_refused) {
    CHECK(!goc_timer_stop(NULL));
    CHECK(!goc_timer_reset(NULL, GOC_MS));
    CHECK(goc_timer_chan(NULL) == NULL);
    goc_timer_free(NULL);
    goc_ticker_stop(NULL);
    CHECK_ERR(GOC_EINVAL, goc_ticker_reset(NULL, GOC_MS));
    CHECK(goc_ticker_chan(NULL) == NULL);
    goc_ticker_free(NULL);
    CHECK(goc_ticker_new(0) == NULL);
}

TEST(timer_stop_prevents_firing) {
    goc_timer *t = goc_timer_new(GOC_SEC); /* stopped long before it is due */
    CHECK(goc_timer_stop(t));
    CHECK(!goc_timer_stop(t));
    CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(goc_timer_chan(t), NULL, 15 * GOC_MS));
    goc_timer_free(t);
}

/* Fired, its value not received: as in Go 1.23 the timer still counts as
 * pending, and no value from before is received afterwards: stop needs no
 * drain after it. */
TEST(timer_stop_after_firing_leaves_no_stale_value) {
    goc_timer *t = goc_timer_new(GOC_MS);
    while (goc_len(goc_timer_chan(t)) == 0) goc_sleep(GOC_MS); /* fired: its value waits */
    CHECK(goc_timer_stop(t));
    CHECK_ERR(GOC_EAGAIN, goc_try_recv(goc_timer_chan(t), NULL));
    CHECK(!goc_timer_stop(t));
    CHECK(!goc_timer_reset(t, GOC_MS));
    while (goc_len(goc_timer_chan(t)) == 0) goc_sleep(GOC_MS);
    CHECK(goc_timer_reset(t, GOC_SEC)); /* drained the value of the last arming */
    CHECK_ERR(GOC_EAGAIN, goc_try_recv(goc_timer_chan(t), NULL));
    CHECK(goc_timer_stop(t));
    goc_timer_free(t);
}

TEST(timer_reset_rearms) {
    int64_t hour = 3600 * GOC_SEC; /* the first arming: never reached */
    goc_timer *t = goc_timer_new(hour);
    int64_t t0 = goc_now(), when;
    CHECK(goc_timer_reset(t, 2 * GOC_MS));
    CHECK_OK(goc_recv(goc_timer_chan(t), &when));
    CHECK_OP(when, >=, t0 + 2 * GOC_MS);
    CHECK_OP(when, <, t0 + hour); /* the reset's deadline, not the first one */
    CHECK(!goc_timer_reset(t, GOC_MS)); /* fired: nothing pending */
    CHECK_OK(goc_recv(goc_timer_chan(t), &when));
    goc_timer_free(t);
}

/* Stop and reset race the firing from many coroutines; afterwards each timer
 * has delivered at most once per arming. */
static void churn(void *arg) {
    goc_chan *done = arg;
    for (int i = 0; i < 200; i++) {
        goc_timer *t = goc_timer_new((i % 3) * GOC_US);
        if (i % 2) goc_yield();
        bool pending = goc_timer_stop(t);
        /* Stopped while pending: nothing may arrive. */
        if (pending) CHECK_ERR(GOC_EAGAIN, goc_try_recv(goc_timer_chan(t), NULL));
        goc_timer_reset(t, 0);
        CHECK_OK(goc_recv(goc_timer_chan(t), NULL));
        goc_timer_free(t);
    }
    goc_send(done, NULL);
}

TEST(timer_stop_reset_races) {
    goc_chan *done = goc_chan_make(0, 16);
    for (int i = 0; i < 16; i++) CHECK_OK(goc_go(churn, done));
    for (int i = 0; i < 16; i++) CHECK_OK(goc_recv(done, NULL));
    goc_chan_release(done);
}

TEST(ticker_keeps_period_and_drops_for_slow_reader) {
    int64_t period = 2 * GOC_MS, t0 = goc_now(), when = 0;
    goc_ticker *tk = goc_ticker_new(period);
    goc_chan *c = goc_ticker_chan(tk);
    long ticks = 0;
    for (; ticks < 5; ticks++) {
        CHECK_OK(goc_recv(c, &when));
        CHECK_OP(when, >=, t0 + (ticks + 1) * period); /* never early */
    }
    /* A slow reader sleeps through ~10 periods: one tick waits, the rest drop. */
    goc_sleep(10 * period);
    while (goc_len(c) == 0) goc_sleep(period); /* one tick waits for the reader */
    /* No catch-up burst afterwards: ticks never outnumber elapsed periods. */
    int64_t until = goc_now() + 10 * period;
    while (goc_now() < until)
        if (goc_recv_timeout(c, &when, until - goc_now()) == GOC_OK) ticks++;
    CHECK_OP(ticks, <=, (goc_now() - t0) / period);
    CHECK_OP(ticks, >=, 6);
    goc_ticker_stop(tk);
    CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(c, NULL, 3 * period));
    CHECK_OK(goc_ticker_reset(tk, period));
    CHECK_OK(goc_recv(c, NULL));
    CHECK_ERR(GOC_EINVAL, goc_ticker_reset(tk, 0));
    goc_ticker_free(tk);
    CHECK(goc_ticker_new(0) == NULL);
}

/* Timers armed by one coroutine share its worker's heap: they fire in
 * deadline order and report non-decreasing times. Deadlines are relative, so
 * each is known only within [lo, hi] (the clock moves while goc_after runs);
 * timers whose windows overlap have no defined order and are not compared. */
enum { NORD = 200 };

struct ordered {
    goc_chan *c[NORD], *ready;
    int64_t lo[NORD], hi[NORD];
};

static void arm_shuffled(void *arg) {
    struct ordered *o = arg;
    int order[NORD];
    for (int i = 0; i < NORD; i++) order[i] = i;
    for (int i = NORD - 1; i > 0; i--) {
        int j = rand() % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    int64_t base = goc_now() + 50 * GOC_MS;
    for (int i = 0; i < NORD; i++) {
        int k = order[i];
        int64_t want = base + k * 100 * GOC_US, t1 = goc_now();
        o->c[k] = goc_after(want - t1);
        o->lo[k] = want;
        o->hi[k] = want + (goc_now() - t1);
    }
    goc_send(o->ready, NULL);
}

TEST(timers_fire_in_deadline_order) {
    static struct ordered o;
    o.ready = goc_chan_make(0, 1);
    CHECK_OK(goc_go(arm_shuffled, &o));
    CHECK_OK(goc_recv(o.ready, NULL));
    int64_t prev = 0;
    for (int i = 0; i < NORD; i++) {
        int64_t when;
        CHECK_OK(goc_recv(o.c[i], &when));
        CHECK_OP(when, >=, o.lo[i]);
        if (i > 0 && o.lo[i] >= o.hi[i - 1]) CHECK_OP(when, >=, prev);
        prev = when;
        goc_chan_release(o.c[i]);
    }
    goc_chan_release(o.ready);
}

/* Go's TestTimerFairness: a timer case in a select gets its turn although
 * another case of the same select is ready every time. */
typedef struct {
    goc_chan *c, *done, *exited;
} fair;

static void always_sending(void *p) {
    fair *f = p;
    int v = 1;
    for (;;) {
        goc_case cs[] = {GOC_SEND(f->c, &v), GOC_RECV(f->done, NULL)};
        if (goc_select(cs, 2, GOC_FOREVER) == 1) break;
    }
    CHECK_OK(goc_send(f->exited, NULL));
}

TEST(timer_case_is_chosen_beside_an_always_ready_case) {
    fair f = {goc_chan_make(sizeof(int), 0), goc_chan_make(0, 0), goc_chan_make(0, 2)};
    for (int i = 0; i < 2; i++) CHECK_OK(goc_go(always_sending, &f));
    goc_chan *timer = goc_after(20 * GOC_MS);
    int v;
    int64_t when;
    for (;;) {
        goc_case cs[] = {GOC_RECV(f.c, &v), GOC_RECV(timer, &when)};
        int r = goc_select(cs, 2, GOC_FOREVER);
        if (r == 1) break;
        CHECK_EQ(r, 0);
        CHECK_EQ(v, 1);
    }
    CHECK_OK(goc_close(f.done));
    for (int i = 0; i < 2; i++) CHECK_OK(goc_recv(f.exited, NULL));
    goc_chan_release(timer);
    goc_chan_release(f.c);
    goc_chan_release(f.done);
    goc_chan_release(f.exited);
}

/* Go's TestTimerFairness2: two selects trade on one channel, each with its
 * own timer among the cases; both timers end their loops. */
static void trading(void *p) {
    fair *f = p;
    goc_chan *timer = goc_after(20 * GOC_MS);
    int out = 1, in;
    for (;;) {
        goc_case cs[] = {GOC_SEND(f->c, &out), GOC_RECV(f->c, &in), GOC_RECV(timer, NULL)};
        if (goc_select(cs, 3, GOC_FOREVER) == 2) break;
    }
    goc_chan_release(timer);
    CHECK_OK(goc_send(f->exited, NULL));
}

TEST(timer_cases_end_two_selects_trading_on_one_channel) {
    fair f = {goc_chan_make(sizeof(int), 0), NULL, goc_chan_make(0, 2)};
    for (int i = 0; i < 2; i++) CHECK_OK(goc_go(trading, &f));
    for (int i = 0; i < 2; i++) CHECK_OK(goc_recv(f.exited, NULL));
    goc_chan_release(f.c);
    goc_chan_release(f.exited);
}

static _Atomic long fired;

static void wait_after(void *arg) {
    goc_chan *c = arg;
    CHECK_OK(goc_recv(c, NULL));
    atomic_fetch_add(&fired, 1);
    goc_chan_release(c);
}

TEST(hundred_thousand_pending_timers) {
    int n = CHECK_SCALE(100000);
    goc_opts o = {.stack_size = 8192};
    for (int i = 0; i < n; i++) {
        goc_chan *c = goc_after((i % 50 + 1) * GOC_MS);
        CHECK(c != NULL);
        CHECK_OK(goc_go_with(&o, wait_after, c));
    }
    while (atomic_load(&fired) < n) goc_sleep(GOC_MS);
    CHECK_EQ(atomic_load(&fired), n);
}

/* One timer stopped and reset by many coroutines and threads at once, as Go
 * allows (it used to be armed twice and corrupt a timer heap). Afterwards it
 * works as new, and so do other timers. */
#define SHARED_OPS CHECK_SCALE(100000)

static goc_timer *shared_t;
static goc_wg shared_wg = GOC_WG_INIT;

static void shared_reset(void *arg) {
    for (int j = 0; j < SHARED_OPS; j++) goc_timer_reset(shared_t, 3600 * GOC_SEC + j);
    if (arg) goc_wg_done(&shared_wg);
}

static void shared_stop(void *arg) {
    (void)arg;
    for (int j = 0; j < SHARED_OPS; j++) goc_timer_stop(shared_t);
    goc_wg_done(&shared_wg);
}

static void *shared_reset_thread(void *arg) {
    shared_reset(arg);
    return NULL;
}

TEST(one_timer_stopped_and_reset_from_many_places) {
    shared_t = goc_timer_new(3600 * GOC_SEC);
    CHECK(shared_t);
    CHECK_OK(goc_wg_add(&shared_wg, 16));
    for (int i = 0; i < 16; i++) CHECK_OK(goc_go(i % 2 ? shared_stop : shared_reset, &shared_wg));
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK_EQ(pthread_create(&th[i], NULL, shared_reset_thread, NULL), 0);
    goc_wg_wait(&shared_wg);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    goc_timer_stop(shared_t);
    CHECK_ERR(GOC_EAGAIN, goc_try_recv(goc_timer_chan(shared_t), NULL));
    CHECK(!goc_timer_reset(shared_t, GOC_MS));
    int64_t when;
    CHECK_OK(goc_recv(goc_timer_chan(shared_t), &when));
    CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(goc_timer_chan(shared_t), NULL, 5 * GOC_MS));
    goc_timer_free(shared_t);
    CHECK_OK(goc_sleep(GOC_MS));
    goc_chan *c = goc_after(GOC_MS);
    CHECK_OK(goc_recv(c, NULL));
    goc_chan_release(c);
}

/* Two coroutines blocked in select on one timer's channel: reset wakes one
 * of them with the firing, the other stays (Go's tick_test TestChan). */
struct timer_waiters {
    goc_chan *c, *stop, *done;
};

static void timer_or_stop(void *arg) {
    struct timer_waiters *w = arg;
    goc_case cs[] = {GOC_RECV(w->c, NULL), GOC_RECV(w->stop, NULL)};
    int r = goc_select(cs, 2, GOC_FOREVER);
    CHECK_OK(goc_send(w->done, &r));
}

TEST(timer_reset_wakes_one_of_two_blocked_selects) {
    goc_timer *t = goc_timer_new(3600 * GOC_SEC);
    goc_chan *stop = goc_chan_make(0, 0), *done = goc_chan_make(sizeof(int), 2);
    struct timer_waiters w = {goc_timer_chan(t), stop, done};
    CHECK_OK(goc_go(timer_or_stop, &w));
    CHECK_OK(goc_go(timer_or_stop, &w));
    CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(done, NULL, 5 * GOC_MS));
    CHECK(goc_timer_reset(t, GOC_MS));
    int r = -1;
    CHECK_OK(goc_recv(done, &r));
    CHECK_EQ(r, 0);
    CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(done, NULL, 5 * GOC_MS));
    CHECK(!goc_timer_stop(t)); /* fired and received */
    CHECK_OK(goc_close(stop));
    CHECK_OK(goc_recv(done, &r));
    CHECK_EQ(r, 1);
    goc_timer_free(t);
    goc_chan_release(stop);
    goc_chan_release(done);
}

/* Durations at the ends of int64_t (Go's TestOverflowSleep): the longest
 * never fires, the most negative fire at once. */
TEST(extreme_durations) {
    goc_chan *never = goc_after(INT64_MAX), *soon = goc_after(5 * GOC_MS);
    goc_case cs[] = {GOC_RECV(never, NULL), GOC_RECV(soon, NULL)};
    CHECK_EQ(goc_select(cs, 2, GOC_FOREVER), 1);
    goc_chan *past = goc_after(INT64_MIN);
    CHECK_OK(goc_recv(past, NULL));
    CHECK_OK(goc_sleep(INT64_MIN));
    goc_timer *t = goc_timer_new(INT64_MAX);
    CHECK(goc_timer_reset(t, INT64_MIN));
    CHECK_OK(goc_recv(goc_timer_chan(t), NULL));
    goc_timer_free(t);
    goc_chan *u = goc_chan_make(0, 0);
    CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(u, NULL, 1));
    goc_chan_release(never);
    goc_chan_release(soon);
    goc_chan_release(past);
    goc_chan_release(u);
}

/* A 1 ns ticker read by ten coroutines (Go's TestTickerConcurrentStress). */
struct tick_readers {
    goc_chan *c, *done;
};

static void read_ticks(void *arg) {
    struct tick_readers *r = arg;
    for (int i = 0; i < 100; i++) CHECK_OK(goc_recv(r->c, NULL));
    CHECK_OK(goc_send(r->done, NULL));
}

TEST(fast_ticker_with_many_readers) {
    goc_ticker *tk = goc_ticker_new(1);
    struct tick_readers r = {goc_ticker_chan(tk), goc_chan_make(0, 10)};
    for (int i = 0; i < 10; i++) CHECK_OK(goc_go(read_ticks, &r));
    for (int i = 0; i < 10; i++) CHECK_OK(goc_recv(r.done, NULL));
    goc_ticker_free(tk);
    goc_chan_release(r.done);
}

TEST(stopped_timers_cost_nothing_later) {
    /* 100,000 timers armed and stopped leave no pending work. */
    int n = CHECK_SCALE(100000);
    goc_timer **t = malloc(sizeof *t * (size_t)n);
    for (int i = 0; i < n; i++) t[i] = goc_timer_new(GOC_SEC + i);
    for (int i = 0; i < n; i++) CHECK(goc_timer_stop(t[i]));
    for (int i = 0; i < n; i++) goc_timer_free(t[i]);
    free(t);
    goc_chan *c = goc_after(GOC_MS);
    CHECK_OK(goc_recv(c, NULL));
    goc_chan_release(c);
}

/* Coroutines that hold their workers for 15-120 ms make the monitor replace
 * those workers; the retiring ones hand their timers on. A sleep armed
 * meanwhile must still end (it was once stranded on a retired worker). */
static void spin_ms(void *arg) {
    int64_t until = goc_now() + (int64_t)(intptr_t)arg * GOC_MS;
    while (goc_now() < until) {
    }
}

static void sleep_then_signal(void *arg) {
    goc_sleep(300 * GOC_MS);
    goc_send(arg, NULL);
}

TEST(sleep_survives_worker_replacement) {
    for (int round = 0; round < 3; round++) {
        CHECK_OK(goc_go(spin_ms, (void *)(intptr_t)120));
        for (int i = 0; i < 8; i++) CHECK_OK(goc_go(spin_ms, (void *)(intptr_t)(15 + i * 5)));
        goc_chan *done = goc_chan_make(0, 1);
        CHECK_OK(goc_go(sleep_then_signal, done));
        CHECK_OK(goc_recv_timeout(done, NULL, 5 * GOC_SEC));
        goc_chan_release(done);
    }
}

/* ---- the heap itself ------------------------------------------------------ */

/* One heap driven directly, with no runtime: random arms, stops and runs,
 * and a move to a second heap. Every armed timer that is not stopped fires
 * exactly once, stopped ones never, and each heap fires in deadline order. */
enum { HEAP_TIMERS = 5000 };
static goc__timer heap_t[HEAP_TIMERS];
static int heap_fired[HEAP_TIMERS];
static bool heap_armed[HEAP_TIMERS];
static int64_t heap_last;

static void heap_fire(goc__timer *t, int64_t now) {
    (void)now;
    int i = (int)(t - heap_t);
    CHECK_OP(t->when, >=, heap_last); /* deadline order */
    heap_last = t->when;
    heap_fired[i]++;
    heap_armed[i] = false;
}

static void heap_run_all(goc__timers *h) {
    heap_last = INT64_MIN;
    while (goc__timers_run(h, h, goc_now(), 1 << 30) > 0) {
    }
    CHECK_EQ(goc__timers_next(h), INT64_MAX);
}

TEST(heap_slots_stay_consistent) {
    goc__timers a, b;
    goc__timers_init(&a);
    goc__timers_init(&b);
    uint32_t x = 12345;
    for (int i = 0; i < HEAP_TIMERS; i++) goc__timer_init(&heap_t[i], heap_fire, NULL);
    for (int round = 0; round < 20; round++) {
        for (int k = 0; k < HEAP_TIMERS; k++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            int i = (int)(x % HEAP_TIMERS);
            bool earliest;
            if (!heap_armed[i]) {
                /* In the past: due at the next run, in deadline order. */
                CHECK_OK(goc__timers_add(round % 2 ? &a : &b, &heap_t[i], (int64_t)(x >> 8), 0,
                                         &earliest));
                heap_armed[i] = true;
            } else if (x % 3 == 0) {
                CHECK(goc__timer_stop(&heap_t[i]));
                heap_armed[i] = false;
            }
        }
        int want[HEAP_TIMERS];
        for (int i = 0; i < HEAP_TIMERS; i++) want[i] = heap_fired[i] + heap_armed[i];
        if (round % 4 == 3) goc__timers_move(&a, &b); /* a retiring worker's heir */
        heap_run_all(&a);
        heap_run_all(&b);
        for (int i = 0; i < HEAP_TIMERS; i++) {
            CHECK_EQ(heap_fired[i], want[i]);
            CHECK(!heap_armed[i]);
        }
    }
    for (int i = 0; i < HEAP_TIMERS; i++) CHECK(!goc__timer_stop(&heap_t[i]));
    goc__timers_term(&a);
    goc__timers_term(&b);
}

/* A stop that meets a periodic timer's callback must end even when the
 * runner re-arms and pops the timer again before the stop looks twice (it
 * once waited for an IDLE state that a 1 ns ticker never reached). After the
 * stop the timer is idle, out of the heap, and fires no more. */
struct rearm_runner {
    goc__timers h;
    _Atomic bool done;
};

static _Atomic int rearm_fired; /* not through t->arg: TSan sees no edge to the runner */

static void count_fire(goc__timer *t, int64_t now) {
    (void)t, (void)now;
    atomic_fetch_add(&rearm_fired, 1);
}

static void *run_heap(void *arg) {
    struct rearm_runner *r = arg;
    while (!atomic_load(&r->done)) goc__timers_run(&r->h, &r->h, goc_now(), 1 << 30);
    return NULL;
}

TEST(stop_meets_periodic_rearm) {
    struct rearm_runner r = {.done = false};
    goc__timers_init(&r.h);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, run_heap, &r), 0);
    goc__timer t;
    goc__timer_init(&t, count_fire, NULL);
    uint32_t x = 2463534242u;
    for (int i = 0; i < CHECK_SCALE(20000); i++) {
        bool earliest;
        CHECK_OK(goc__timers_add(&r.h, &t, goc_now(), 1, &earliest));
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        for (uint32_t k = x % 2048; k > 0; k--) atomic_signal_fence(memory_order_seq_cst);
        goc__timer_stop(&t);
        CHECK_EQ(atomic_load(&t.state), GOC__TIMER_IDLE);
        CHECK_EQ(goc__timers_next(&r.h), INT64_MAX);
        if (i % 64 == 0) { /* give the runner time to fire it, were it armed */
            int fired = atomic_load(&rearm_fired);
            usleep(200);
            CHECK_EQ(atomic_load(&rearm_fired), fired);
        }
    }
    atomic_store(&r.done, true);
    CHECK_EQ(pthread_join(th, NULL), 0);
    goc__timers_term(&r.h);
}

/* A periodic timer fired from another worker's heap is re-armed in the
 * runner's own: the other worker may have retired, and its heap wakes no one. */
TEST(periodic_timer_rearms_in_runners_heap) {
    goc__timers theirs, mine;
    goc__timers_init(&theirs);
    goc__timers_init(&mine);
    goc__timer t;
    goc__timer_init(&t, count_fire, NULL);
    bool earliest;
    CHECK_OK(goc__timers_add(&theirs, &t, goc_now(), GOC_SEC, &earliest));
    CHECK_EQ(goc__timers_run(&theirs, &mine, goc_now(), 1), 1);
    CHECK_EQ(goc__timers_next(&theirs), INT64_MAX);
    CHECK_EQ(goc__timers_next(&mine), t.when);
    CHECK(goc__timer_stop(&t));
    CHECK_EQ(goc__timers_next(&mine), INT64_MAX);
    goc__timers_term(&theirs);
    goc__timers_term(&mine);
}

/* The pre-1.23 idiom `if (!stop) recv` blocks when the value was already
 * received: stop then returns false and the channel is empty (design.md). */
TEST(stop_after_the_value_was_received_is_false_and_leaves_nothing) {
    goc_timer *t = goc_timer_new(GOC_MS);
    CHECK_OK(goc_recv(goc_timer_chan(t), NULL));
    CHECK(!goc_timer_stop(t));
    CHECK_ERR(GOC_EAGAIN, goc_try_recv(goc_timer_chan(t), NULL)); /* a recv would block */
    goc_timer_free(t);
}

/* ---- out of memory: a re-arm either happens or changes nothing ------------ */

static _Atomic int periodic_runs;

static void count_run(goc__timer *t, int64_t now) {
    (void)t;
    (void)now;
    atomic_fetch_add(&periodic_runs, 1);
}

/* A periodic timer run from another heap is re-armed in the runner's heap.
 * When that heap is full and cannot grow, the timer must not run (and be
 * lost, IDLE, as the ticker that stopped without a word was): it stays
 * pending until a runner has room. */
TEST(periodic_rearm_never_fails_for_want_of_memory) {
    goc__timers h, home;
    goc__timers_init(&h);
    goc__timers_init(&home);
    bool e;
    goc__timer tk, fill[64];
    goc__timer_init(&tk, count_run, NULL);
    CHECK_OK(goc__timers_add(&h, &tk, 1, GOC_SEC, &e));
    for (int i = 0; home.n < home.cap || home.n == 0; i++) {
        CHECK_OP(i, <, 64);
        goc__timer_init(&fill[i], count_run, NULL);
        CHECK_OK(goc__timers_add(&home, &fill[i], INT64_MAX, 0, &e));
    }
    int nfill = (int)home.n;
    goc__fault_arm(GOC__FAULT_ALLOC, 1);
    int ran = goc__timers_run(&h, &home, goc_now(), 1);
    goc__fault_arm(GOC__FAULT_ALLOC, 0);
    CHECK_EQ(ran, 0);
    CHECK_EQ(atomic_load(&tk.state), GOC__TIMER_PENDING);
    CHECK_EQ(atomic_load(&periodic_runs), 0);
    /* With memory, it runs and is re-armed in home. */
    CHECK_EQ(goc__timers_run(&h, &home, goc_now(), 1), 1);
    CHECK_EQ(atomic_load(&periodic_runs), 1);
    CHECK_EQ(atomic_load(&tk.state), GOC__TIMER_PENDING);
    CHECK(atomic_load(&tk.heap) == &home);
    CHECK_EQ(home.reserved, 0);
    goc__timer_stop(&tk);
    for (int i = 0; i < nfill; i++) CHECK(goc__timer_stop(&fill[i]));
    /* In its own heap, a full one, the re-arm takes the slot it left. */
    goc__timers own;
    goc__timers_init(&own);
    goc__timer tk2;
    goc__timer_init(&tk2, count_run, NULL);
    CHECK_OK(goc__timers_add(&own, &tk2, 1, GOC_SEC, &e));
    for (nfill = 0; own.n < own.cap; nfill++) {
        CHECK_OP(nfill, <, 64);
        goc__timer_init(&fill[nfill], count_run, NULL);
        CHECK_OK(goc__timers_add(&own, &fill[nfill], INT64_MAX, 0, &e));
    }
    goc__fault_arm(GOC__FAULT_ALLOC, 1);
    CHECK_EQ(goc__timers_run(&own, &own, goc_now(), 1), 1);
    goc__fault_arm(GOC__FAULT_ALLOC, 0);
    CHECK_EQ(atomic_load(&periodic_runs), 2);
    CHECK_EQ(atomic_load(&tk2.state), GOC__TIMER_PENDING);
    CHECK_EQ(own.reserved, 0);
    goc__timer_stop(&tk2);
    for (int i = 0; i < nfill; i++) CHECK(goc__timer_stop(&fill[i]));
    goc__timers_term(&own);
    goc__timers_term(&h);
    goc__timers_term(&home);
}

/* Fills the calling worker's timer heap to its capacity with far timers
 * (a coroutine arms its own worker's heap, and does not move while it does
 * not park); returns how many it added to *out. */
static int fill_own_heap(goc_timer **out, int max) {
    goc__w *w = goc__tls_w();
    CHECK(w != NULL);
    int k = 0;
    for (;;) {
        goc__lock_acquire(&w->timers.lock, GOC__RANK_TIMERS);
        bool full = w->timers.n + w->timers.reserved == w->timers.cap && w->timers.cap > 0;
        goc__lock_release(&w->timers.lock);
        if (full) return k;
        CHECK_OP(k, <, max);
        out[k] = goc_timer_new(3600 * GOC_SEC);
        CHECK(out[k] != NULL);
        k++;
    }
}

struct oom_reset {
    goc_chan *done;
};

static void timer_reset_oom(void *arg) {
    struct oom_reset *o = arg;
    goc_timer *tm = goc_timer_new(0);
    while (goc_len(goc_timer_chan(tm)) == 0) goc_sleep(GOC_MS);
    static goc_timer *fill[4096];
    int k = fill_own_heap(fill, 4096);
    bool pending = true;
    goc__fault_arm(GOC__FAULT_ALLOC, 1);
    int r = goc_timer_reset_checked(tm, GOC_MS, &pending);
    goc__fault_arm(GOC__FAULT_ALLOC, 0);
    CHECK_ERR(GOC_ENOMEM, r);
    CHECK_EQ(goc_len(goc_timer_chan(tm)), 1); /* the fired value is still there */
    goc__fault_arm(GOC__FAULT_ALLOC, 1);
    CHECK(!goc_timer_reset(tm, GOC_MS)); /* the bool form: false, no effect */
    goc__fault_arm(GOC__FAULT_ALLOC, 0);
    CHECK_EQ(goc_len(goc_timer_chan(tm)), 1);
    /* The ticker: a failed reset leaves it ticking at its old period. An
     * idle worker may run the ticker's due tick between the fill and the
     * reset, re-arming it in its own heap (goc__timers_run) and leaving a
     * slot free in ours, so that the reset needs no memory and succeeds
     * (seen under qemu-user on a loaded machine): then the period is set
     * back and the heap filled again. Only the same race every time gets
     * past the tries. */
    goc_ticker *tk = goc_ticker_new(2 * GOC_MS);
    for (int tries = 0;; tries++) {
        k += fill_own_heap(fill + k, 4096 - k);
        goc__fault_arm(GOC__FAULT_ALLOC, 1);
        r = goc_ticker_reset(tk, 3600 * GOC_SEC);
        goc__fault_arm(GOC__FAULT_ALLOC, 0);
        if (r != GOC_OK || tries == 3) break;
        printf("the ticker's tick ran elsewhere between the fill and the reset: again\n");
        CHECK_OK(goc_ticker_reset(tk, 2 * GOC_MS));
    }
    CHECK_ERR(GOC_ENOMEM, r);
    for (int i = 0; i < 3; i++) CHECK_OK(goc_recv_timeout(goc_ticker_chan(tk), NULL, 10 * GOC_SEC));
    /* With memory, both resets work. */
    CHECK_OK(goc_timer_reset_checked(tm, GOC_MS, &pending));
    CHECK(pending); /* the value it drained */
    CHECK_OK(goc_recv(goc_timer_chan(tm), NULL));
    CHECK_OK(goc_ticker_reset(tk, GOC_MS));
    CHECK_OK(goc_recv(goc_ticker_chan(tk), NULL));
    goc_ticker_free(tk);
    goc_timer_free(tm);
    for (int i = 0; i < k; i++) goc_timer_free(fill[i]);
    goc_send(o->done, NULL);
}

TEST(reset_without_memory_changes_nothing) {
    struct oom_reset o = {goc_chan_make(0, 0)};
    CHECK_OK(goc_go(timer_reset_oom, &o));
    CHECK_OK(goc_recv(o.done, NULL));
    goc_chan_release(o.done);
}

/* A reset whose new timer fires before the old value is drained still
 * delivers it: reset(0) in a loop always yields a value. */
TEST(reset_to_zero_always_delivers) {
    goc_timer *tm = goc_timer_new(3600 * GOC_SEC);
    for (int i = 0; i < CHECK_SCALE(2000); i++) {
        goc_timer_reset(tm, 0);
        CHECK_OK(goc_recv_timeout(goc_timer_chan(tm), NULL, 10 * GOC_SEC));
    }
    goc_timer_free(tm);
}
