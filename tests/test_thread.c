/* Plain threads talking to coroutines: a thread blocked in goc lends itself
 * as a worker (src/lend.c). What it must keep: values and order, GOC_PROCS
 * as the bound on coroutines running at once, a blocked thread that costs
 * no CPU, timers armed while lent, coroutines readied by a thread that then
 * keeps running, and a lending thread that gets back to its own code. Run
 * with GOC_LEND=0 too (tests/CMakeLists.txt): the same results without it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "goc.h"
#include "testutil.h"
#include "thr.h"


static int64_t thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * GOC_SEC + ts.tv_nsec;
}

/* ---- ping-pong: main against one coroutine, both channel kinds -------- */

typedef struct {
    goc_chan *ping, *pong;
    goc_wg done;
} pp;

static void ponger(void *p) {
    pp *c = p;
    long v;
    while (goc_recv(c->ping, &v) == GOC_OK) {
        v = v * 2 + 1;
        CHECK_OK(goc_send(c->pong, &v));
    }
    goc_wg_done(&c->done);
}

static void ping_pong(size_t cap) {
    pp c = {goc_chan_make(sizeof(long), cap), goc_chan_make(sizeof(long), cap), GOC_WG_INIT};
    CHECK(c.ping && c.pong);
    CHECK_OK(goc_wg_add(&c.done, 1));
    CHECK_OK(goc_go(ponger, &c));
    long n = CHECK_SCALE(200000);
    for (long i = 0; i < n; i++) {
        long v = i;
        CHECK_OK(goc_send(c.ping, &v));
        CHECK_OK(goc_recv(c.pong, &v));
        if (v != i * 2 + 1) CHECK_EQ(v, i * 2 + 1);
    }
    goc_close(c.ping);
    goc_wg_wait(&c.done); /* c lives in this frame */
    goc_chan_release(c.ping);
    goc_chan_release(c.pong);
}

TEST(main_ping_pongs_a_coroutine_unbuffered) { ping_pong(0); }
TEST(main_ping_pongs_a_coroutine_buffered) { ping_pong(1); }

/* ---- select from a thread, send and receive cases --------------------- */

static void select_peer(void *p) {
    pp *c = p;
    long v;
    while (goc_recv(c->ping, &v) == GOC_OK) {
        v += 1000;
        CHECK_OK(goc_send(c->pong, &v));
    }
    goc_wg_done(&c->done);
}

TEST(thread_selects_send_and_receive_against_a_coroutine) {
    pp c = {goc_chan_make(sizeof(long), 0), goc_chan_make(sizeof(long), 0), GOC_WG_INIT};
    CHECK_OK(goc_wg_add(&c.done, 1));
    CHECK_OK(goc_go(select_peer, &c));
    long n = CHECK_SCALE(50000), sent = 0, got = 0, out = 0, in = 0;
    while (got < n) {
        out = sent;
        goc_case cs[2] = {GOC_SEND(c.ping, &out), GOC_RECV(c.pong, &in)};
        int k = goc_select(cs, sent == got ? 1 : 2, GOC_FOREVER);
        if (k == 0) {
            sent++;
        } else {
            CHECK_EQ(k, 1);
            CHECK_EQ(in, got + 1000); /* FIFO: answers in the order asked */
            got++;
        }
    }
    goc_close(c.ping);
    goc_wg_wait(&c.done);
    goc_chan_release(c.ping);
    goc_chan_release(c.pong);
}

/* ---- GOC_PROCS bounds coroutines while a thread lends ----------------- */

typedef struct {
    _Atomic int inside, most;
    goc_wg wg;
} bound;

static void busy_slices(void *p) {
    bound *b = p;
    for (int i = 0; i < CHECK_SCALE(2000); i++) {
        int now = atomic_fetch_add(&b->inside, 1) + 1;
        int most = atomic_load(&b->most);
        while (now > most && !atomic_compare_exchange_weak(&b->most, &most, now)) {
        }
        for (volatile int k = 0; k < 200; k++) {
        }
        atomic_fetch_sub(&b->inside, 1);
        goc_yield();
    }
    goc_wg_done(&b->wg);
}

static void bound_waiter(void *p) { goc_wg_wait(&((bound *)p)->wg); }

TEST(coroutines_running_at_once_never_exceed_procs_while_threads_lend) {
    bound b = {0, 0, GOC_WG_INIT};
    CHECK_OK(goc_wg_add(&b.wg, 16));
    for (int i = 0; i < 16; i++) CHECK_OK(goc_go(busy_slices, &b));
    thr t[3];
    for (int i = 0; i < 3; i++) thr_start(&t[i], bound_waiter, &b); /* they lend too */
    goc_wg_wait(&b.wg);
    for (int i = 0; i < 3; i++) thr_join(&t[i]);
    CHECK_OP(atomic_load(&b.most), >=, 1);
    CHECK_OP(atomic_load(&b.most), <=, goc_procs());
}

/* ---- a blocked thread costs no CPU ------------------------------------ */

static void send_late(void *p) {
    goc_sleep(200 * GOC_MS);
    int v = 7;
    CHECK_OK(goc_send(p, &v));
}

TEST(thread_blocked_200ms_in_recv_uses_no_cpu) {
    goc_chan *c = goc_chan_make(sizeof(int), 0);
    CHECK_OK(goc_go(send_late, c));
    int64_t cpu = thread_cpu_ns();
    int v = 0;
    CHECK_OK(goc_recv(c, &v));
    cpu = thread_cpu_ns() - cpu;
    CHECK_EQ(v, 7);
    /* Lending finds nothing to run and sleeps: a few wake-ups at most. An
     * emulator charges its translation of the code the thread runs first
     * to the thread (qemu-user: about 10 ms), as a sanitizer its checks. */
    int64_t bound = (check_emulator() ? 50 : CHECK_SANITIZED_OR(50, 10)) * GOC_MS;
    CHECK_OP(cpu, <, bound);
    goc_chan_release(c);
}

/* ---- a lending thread gets back to its own code ----------------------- */

static _Atomic int spin_stop;

static void answer_then_yield_forever(void *p) {
    int v;
    CHECK_OK(goc_recv(p, &v)); /* main sends first, so that it blocks next */
    v++;
    CHECK_OK(goc_send(p, &v));
    while (!atomic_load(&spin_stop)) goc_yield();
}

/* The thread lends and runs the coroutine that answers it, which then only
 * yields (with nothing else queued, a yield that would not switch): the
 * yield must hand the coroutine on and let the thread go. */
TEST(lending_thread_returns_while_a_coroutine_yields_forever) {
    for (int round = 0; round < CHECK_SCALE(40); round++) {
        atomic_store(&spin_stop, 0);
        goc_chan *c = goc_chan_make(sizeof(int), 0);
        CHECK_OK(goc_go(answer_then_yield_forever, c));
        int v = round;
        CHECK_OK(goc_send(c, &v));
        CHECK_OK(goc_recv(c, &v));
        CHECK_EQ(v, round + 1);
        atomic_store(&spin_stop, 1);
        WAIT_UNTIL(goc_count() == 0, 30);
        goc_chan_release(c);
    }
}

/* ---- timers armed while lent fire after the worker is given back ------ */

typedef struct {
    goc_chan *go, *done;
} nap;

static void nap_then_answer(void *p) {
    nap *n = p;
    int v;
    CHECK_OK(goc_recv(n->go, &v));
    CHECK_OK(goc_sleep(20 * GOC_MS)); /* armed on the worker main borrowed */
    v++;
    CHECK_OK(goc_send(n->done, &v));
}

TEST(timer_armed_by_a_lent_worker_fires_after_it_is_given_back) {
    for (int round = 0; round < CHECK_SCALE(20); round++) {
        nap n = {goc_chan_make(sizeof(int), 1), goc_chan_make(sizeof(int), 0)};
        CHECK_OK(goc_go(nap_then_answer, &n));
        int v = round;
        CHECK_OK(goc_send(n.go, &v));
        CHECK_OK(goc_recv(n.done, &v));
        CHECK_EQ(v, round + 1);
        goc_chan_release(n.go);
        goc_chan_release(n.done);
    }
}

/* ---- a thread readies a coroutine and keeps running ------------------- */

static _Atomic int answered;

static void answer(void *p) {
    int v;
    CHECK_OK(goc_recv(p, &v));
    atomic_store(&answered, v);
}

/* The wake is deferred (the thread will most likely block next); it does
 * not, so the monitor must wake a worker for the coroutine. */
TEST(coroutine_readied_by_a_running_thread_runs) {
    for (int round = 1; round <= CHECK_SCALE(50); round++) {
        goc_chan *c = goc_chan_make(sizeof(int), 0);
        atomic_store(&answered, 0);
        CHECK_OK(goc_go(answer, c));
        CHECK_OK(goc_send(c, &round)); /* readies the receiver */
        int64_t deadline = goc_now() + 30 * GOC_SEC;
        while (atomic_load(&answered) != round) { /* no goc call: never blocks in goc */
            if (goc_now() > deadline) CHECK_EQ(atomic_load(&answered), round);
        }
        goc_chan_release(c);
    }
}

/* ---- 64 threads and 64 coroutines on the same channels ---------------- */

#define SENDERS 64
#define PER 200

typedef struct {
    goc_chan *c;
    int id;
} sender;

static goc_wg senders_done = GOC_WG_INIT;

static void send_run(void *p) {
    sender *s = p;
    for (int i = 0; i < CHECK_SCALE(PER); i++) {
        long v = (long)s->id << 32 | i;
        CHECK_OK(goc_send(s->c, &v));
    }
}

static void send_coro(void *p) {
    send_run(p);
    goc_wg_done(&senders_done);
}

/* The one receiver: a second would let two values of one sender race to
 * the order check after both were received in order. */
typedef struct {
    goc_chan *c;
    long count, sum;
    int last[2 * SENDERS]; /* per sender: the last i seen */
    int bad;               /* values out of order */
} sink;

static void recv_run(void *p) {
    sink *k = p;
    long v;
    while (goc_recv(k->c, &v) == GOC_OK) {
        int id = (int)(v >> 32), i = (int)(v & 0xffffffff);
        if (i != k->last[id] + 1) k->bad++; /* FIFO per sender */
        k->last[id] = i;
        k->count++;
        k->sum += i;
    }
}

TEST(threads_and_coroutines_share_channels_fifo_per_sender) {
    sink k = {.c = goc_chan_make(sizeof(long), 0)};
    CHECK(k.c);
    for (int i = 0; i < 2 * SENDERS; i++) k.last[i] = -1;
    thr rt;
    thr_start(&rt, recv_run, &k);
    sender s[2 * SENDERS];
    thr t[SENDERS];
    CHECK_OK(goc_wg_add(&senders_done, SENDERS));
    for (int i = 0; i < 2 * SENDERS; i++) {
        s[i] = (sender){k.c, i};
        if (i < SENDERS)
            thr_start(&t[i], send_run, &s[i]);
        else
            CHECK_OK(goc_go(send_coro, &s[i]));
    }
    for (int i = 0; i < SENDERS; i++) thr_join(&t[i]);
    goc_wg_wait(&senders_done);
    goc_close(k.c);
    thr_join(&rt);
    long per = CHECK_SCALE(PER);
    CHECK_EQ(k.count, 2 * SENDERS * per); /* read after the receiver's join */
    CHECK_EQ(k.sum, 2 * SENDERS * per * (per - 1) / 2);
    CHECK_EQ(k.bad, 0);
    for (int i = 0; i < 2 * SENDERS; i++) CHECK_EQ(k.last[i], per - 1);
    goc_chan_release(k.c);
}

/* ---- timeouts and close, with the thread lending meanwhile ------------ */

static _Atomic int churn_stop;

static void churn(void *p) {
    (void)p;
    while (!atomic_load(&churn_stop)) goc_sleep(GOC_MS / 10);
}

/* Coroutines keep the lending thread busy; its own deadline still ends the
 * wait, with GOC_ETIMEDOUT and nothing received. */
TEST(thread_recv_and_select_time_out_while_lending) {
    atomic_store(&churn_stop, 0);
    for (int i = 0; i < 4; i++) CHECK_OK(goc_go(churn, NULL));
    goc_chan *c = goc_chan_make(sizeof(int), 0);
    for (int round = 0; round < CHECK_SCALE(40); round++) {
        int v = -1;
        CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(c, &v, 2 * GOC_MS));
        CHECK_EQ(v, -1);
        goc_case cs[2] = {GOC_RECV(c, &v), GOC_SEND(c, &round)};
        CHECK_ERR(GOC_ETIMEDOUT, goc_select(cs, 2, 2 * GOC_MS));
        CHECK_ERR(GOC_EAGAIN, goc_recv_timeout(c, &v, 0));
    }
    atomic_store(&churn_stop, 1);
    WAIT_UNTIL(goc_count() == 0, 30);
    goc_chan_release(c);
}

static void close_later(void *p) {
    goc_sleep(GOC_MS);
    goc_close(p);
}

TEST(close_wakes_a_thread_blocked_in_recv_and_send) {
    for (int round = 0; round < CHECK_SCALE(100); round++) {
        goc_chan *c = goc_chan_make(sizeof(int), 0);
        CHECK_OK(goc_go(close_later, c));
        int v = 5;
        if (round % 2) {
            CHECK_ERR(GOC_CLOSED, goc_recv(c, &v));
            CHECK_EQ(v, 0); /* the zero value, as in Go */
        } else {
            CHECK_ERR(GOC_CLOSED, goc_send(c, &v));
        }
        goc_chan_release(c);
    }
}

/* ---- work queued behind a long coroutine on a lent worker ------------- */

static _Atomic int helper_ran;

static void set_helper_ran(void *p) {
    (void)p;
    atomic_store(&helper_ran, 1);
}

/* Runs on the worker main borrowed, spawns a coroutine (queued on that
 * worker) and computes without calling goc until it ran elsewhere: the
 * monitor marks a lent worker slow like any other, so an idle worker takes
 * what waits behind. */
static void spawn_then_compute(void *p) {
    int v;
    CHECK_OK(goc_recv(p, &v));
    CHECK_OK(goc_go(set_helper_ran, NULL));
    int64_t deadline = goc_now() + 20 * GOC_SEC;
    while (!atomic_load(&helper_ran) && goc_now() < deadline) {
    }
    v = atomic_load(&helper_ran);
    CHECK_OK(goc_send(p, &v));
}

TEST(work_behind_a_long_coroutine_on_a_lent_worker_moves) {
    if (goc_procs() < 2) {
        printf("skip: needs a second worker to move to (GOC_PROCS=%d)\n", goc_procs());
        return;
    }
    for (int round = 0; round < CHECK_SCALE(10); round++) {
        atomic_store(&helper_ran, 0);
        goc_chan *c = goc_chan_make(sizeof(int), 0);
        CHECK_OK(goc_go(spawn_then_compute, c));
        int v = 0;
        CHECK_OK(goc_send(c, &v)); /* main then blocks in recv and lends */
        CHECK_OK(goc_recv(c, &v));
        CHECK_EQ(v, 1);
        goc_chan_release(c);
    }
}

/* ---- a thread keeps its worker between waits, and gives it back ------- */

/* Spins until *flag == want without any goc call that could block (so the
 * thread never lends and never gives back a worker it holds); fails after
 * 30 s. */
static void spin_until(_Atomic int *flag, int want) {
    int64_t deadline = goc_now() + 30 * GOC_SEC;
    while (atomic_load(flag) != want)
        if (goc_now() > deadline) CHECK_EQ(atomic_load(flag), want);
}

static void nanosleep_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static _Atomic int napped;

static void answer_then_nap(void *p) {
    int v;
    CHECK_OK(goc_recv(p, &v));
    v++;
    CHECK_OK(goc_send(p, &v));
    CHECK_OK(goc_sleep(2 * GOC_MS)); /* on the worker the thread holds */
    atomic_store(&napped, v);
}

/* The thread's wait ends while it runs the coroutine on a borrowed worker,
 * which it keeps as it goes back to its own code; the coroutine's timer is
 * on that worker. The thread never blocks in goc again, so the worker must
 * be taken back for the timer to fire, also when everything was idle before
 * the thread blocked (the monitor asleep). */
TEST(timer_on_a_worker_the_thread_keeps_fires_while_it_stays_away) {
    for (int round = 1; round <= CHECK_SCALE(20); round++) {
        nanosleep_ms(5); /* the workers, then maybe the monitor, go to sleep */
        goc_chan *c = goc_chan_make(sizeof(int), 0);
        atomic_store(&napped, 0);
        CHECK_OK(goc_go(answer_then_nap, c));
        int v = round;
        CHECK_OK(goc_send(c, &v));
        CHECK_OK(goc_recv(c, &v)); /* lends, runs the coroutine, keeps the worker */
        CHECK_EQ(v, round + 1);
        spin_until(&napped, round + 1);
        WAIT_UNTIL(goc_count() == 0, 30);
        goc_chan_release(c);
    }
}

static _Atomic int spawned_ran;

static void mark_ran(void *p) { atomic_store(&spawned_ran, (int)(intptr_t)p); }

static void count_ran(void *p) {
    (void)p;
    atomic_fetch_add(&spawned_ran, 1);
}

/* A thread that keeps a worker spawns and then waits outside goc: with every
 * worker busy or held, the spawn must still find one. */
TEST(spawn_by_a_thread_that_keeps_a_worker_runs) {
    for (int round = 1; round <= CHECK_SCALE(50); round++) {
        goc_chan *c = goc_chan_make(sizeof(int), 0);
        CHECK_OK(goc_go(answer, c));
        CHECK_OK(goc_send(c, &round));
        spin_until(&answered, round);
        CHECK_OK(goc_go(mark_ran, (void *)(intptr_t)round));
        spin_until(&spawned_ran, round);
        goc_chan_release(c);
    }
}

static void ping_pong_briefly(void *p) {
    (void)p;
    goc_chan *c = goc_chan_make(sizeof(int), 0);
    CHECK_OK(goc_go(answer_then_nap, c));
    int v = 1;
    CHECK_OK(goc_send(c, &v));
    CHECK_OK(goc_recv(c, &v)); /* ends keeping the worker it lent */
    CHECK_EQ(v, 2);
    spin_until(&napped, 2);
    goc_chan_release(c);
}

/* Threads that exit while they keep a worker: every worker comes back, so
 * coroutines spawned afterwards all run on GOC_PROCS of them. */
TEST(workers_kept_by_exited_threads_come_back) {
    for (int round = 0; round < CHECK_SCALE(20); round++) {
        thr t[4];
        atomic_store(&napped, 0);
        for (int i = 0; i < 4; i++) {
            thr_start(&t[i], ping_pong_briefly, NULL);
            thr_join(&t[i]);
        }
        atomic_store(&spawned_ran, 0);
        for (int i = 0; i < 100; i++) CHECK_OK(goc_go(count_ran, NULL));
        spin_until(&spawned_ran, 100);
        WAIT_UNTIL(goc_count() == 0, 30);
    }
}

/* ---- jobs a thread hands out spread over the workers ------------------ */

static _Atomic int jobs_running, jobs_overlapped;

static void spin_us(int us) {
    int64_t end = goc_now() + us * GOC_US;
    while (goc_now() < end) {
    }
}

typedef struct {
    goc_chan *jobs;
    goc_wg done; /* one per job */
} jobq;

static void compute_jobs(void *p) {
    jobq *q = p;
    int v;
    while (goc_recv(q->jobs, &v) == GOC_OK) {
        if (atomic_fetch_add(&jobs_running, 1) > 0) atomic_fetch_add(&jobs_overlapped, 1);
        spin_us(300);
        atomic_fetch_sub(&jobs_running, 1);
        goc_wg_done(&q->done);
    }
}

/* Each send hands a job to a parked receiver, readying it onto the worker
 * the thread keeps, waking nobody; the thread then waits for the round and
 * runs them itself, one 300 us job at a time. Once they have stayed queued
 * for a tick while each run computes, a second worker must take some. */
TEST(jobs_a_thread_hands_out_run_on_more_than_one_worker) {
    if (goc_procs() < 2) CHECK_SKIP("needs a second worker (GOC_PROCS=%d)", goc_procs());
    enum { RECEIVERS = 32 };
    jobq q = {goc_chan_make(sizeof(int), 0), GOC_WG_INIT};
    for (int i = 0; i < RECEIVERS; i++) CHECK_OK(goc_go(compute_jobs, &q));
    for (int round = 0; round < 20 && atomic_load(&jobs_overlapped) == 0; round++) {
        CHECK_OK(goc_wg_add(&q.done, RECEIVERS));
        for (int i = 0; i < RECEIVERS; i++) CHECK_OK(goc_send(q.jobs, &i));
        goc_wg_wait(&q.done);
    }
    goc_close(q.jobs);
    WAIT_UNTIL(goc_count() == 0, 30);
    CHECK_OP(atomic_load(&jobs_overlapped), >, 0);
    goc_chan_release(q.jobs);
}
