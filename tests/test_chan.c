/* Channels: Go's semantics for unbuffered and buffered channels, close,
 * non-blocking and timed operations, zero-size elements, NULL channels,
 * coroutines and threads mixed, and MPMC stress with exact accounting. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"
#include "chan.h" /* test hook: goc__chan_waiters */

/* Waits until n coroutines have sent on done. */
static void join(goc_chan *done, int n) {
    for (int i = 0; i < n; i++) CHECK_OK(goc_recv(done, NULL));
}

/* ---- unbuffered ---------------------------------------------------------- */

struct rendezvous {
    goc_chan *ch, *done;
    _Atomic int stage;
};

static void rv_sender(void *arg) {
    struct rendezvous *r = arg;
    int v = 42;
    atomic_store(&r->stage, 1);
    CHECK_OK(goc_send(r->ch, &v));
    /* The send completed only because the receiver took the value. */
    CHECK_EQ(atomic_load(&r->stage), 2);
    goc_send(r->done, NULL);
}

TEST(unbuffered_send_waits_for_receiver) {
    struct rendezvous r = {goc_chan_make(sizeof(int), 0), goc_chan_make(0, 1), 0};
    CHECK_OK(goc_go(rv_sender, &r));
    while (atomic_load(&r.stage) == 0) goc_sleep(GOC_MS);
    goc_sleep(5 * GOC_MS);
    CHECK_EQ(goc_len(r.ch), 0);
    CHECK_EQ(atomic_load(&r.stage), 1); /* still blocked in send */
    int v = 0;
    atomic_store(&r.stage, 2);
    CHECK_OK(goc_recv(r.ch, &v));
    CHECK_EQ(v, 42);
    join(r.done, 1);
    goc_chan_release(r.ch);
    goc_chan_release(r.done);
}

static void seq_sender(void *arg) {
    goc_chan *ch = arg;
    for (int i = 0; i < 10000; i++) CHECK_OK(goc_send(ch, &i));
    goc_close(ch);
}

TEST(unbuffered_preserves_order) {
    goc_chan *ch = goc_chan_make(sizeof(int), 0);
    CHECK_OK(goc_go(seq_sender, ch));
    int v, want = 0;
    while (goc_recv(ch, &v) == GOC_OK) CHECK_EQ(v, want++);
    CHECK_EQ(want, 10000);
    goc_chan_release(ch);
}

/* ---- buffered ------------------------------------------------------------ */

TEST(buffered_is_fifo_and_bounded) {
    goc_chan *ch = goc_chan_make(sizeof(long), 4);
    CHECK_EQ(goc_cap(ch), 4);
    for (long i = 0; i < 4; i++) CHECK_OK(goc_try_send(ch, &i));
    long x = 99;
    CHECK_ERR(GOC_EAGAIN, goc_try_send(ch, &x));
    CHECK_EQ(goc_len(ch), 4);
    for (long i = 0; i < 4; i++) {
        long v;
        CHECK_OK(goc_try_recv(ch, &v));
        CHECK_EQ(v, i);
    }
    CHECK_ERR(GOC_EAGAIN, goc_try_recv(ch, &x));
    CHECK_EQ(x, 99); /* a failed receive leaves out alone */
    goc_chan_release(ch);
}

struct seqmsg {
    int sender;
    int seq;
};

struct many {
    goc_chan *ch, *done;
    int id, count;
};

static void many_sender(void *arg) {
    struct many *m = arg;
    for (int i = 0; i < m->count; i++) {
        struct seqmsg msg = {m->id, i};
        CHECK_OK(goc_send(m->ch, &msg));
    }
    goc_send(m->done, NULL);
}

static void fifo_per_sender(size_t cap) {
    enum { SENDERS = 16 };
    int count = CHECK_SCALE(20000);
    goc_chan *ch = goc_chan_make(sizeof(struct seqmsg), cap), *done = goc_chan_make(0, SENDERS);
    struct many m[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        m[i] = (struct many){ch, done, i, count};
        CHECK_OK(goc_go(many_sender, &m[i]));
    }
    int next[SENDERS] = {0};
    for (long k = 0; k < (long)SENDERS * count; k++) {
        struct seqmsg msg;
        CHECK_OK(goc_recv(ch, &msg));
        CHECK(msg.sender >= 0 && msg.sender < SENDERS);
        CHECK_EQ(msg.seq, next[msg.sender]);
        next[msg.sender]++;
    }
    CHECK_ERR(GOC_EAGAIN, goc_try_recv(ch, NULL));
    join(done, SENDERS); /* m[] lives on this stack */
    goc_chan_release(ch);
    goc_chan_release(done);
}

TEST(buffered_keeps_each_senders_order) { fifo_per_sender(64); }
TEST(unbuffered_keeps_each_senders_order) { fifo_per_sender(0); }

/* ---- close ---------------------------------------------------------------- */

TEST(close_drains_then_reports_closed) {
    goc_chan *ch = goc_chan_make(sizeof(int), 3);
    for (int i = 1; i <= 3; i++) CHECK_OK(goc_send(ch, &i));
    CHECK_OK(goc_close(ch));
    int v;
    for (int i = 1; i <= 3; i++) {
        CHECK_OK(goc_recv(ch, &v));
        CHECK_EQ(v, i);
    }
    v = 7;
    CHECK_ERR(GOC_CLOSED, goc_recv(ch, &v));
    CHECK_EQ(v, 0); /* zero value, as Go */
    CHECK_ERR(GOC_CLOSED, goc_try_recv(ch, &v));
    CHECK_ERR(GOC_CLOSED, goc_recv_timeout(ch, &v, GOC_MS));
    goc_chan_release(ch);
}

TEST(send_on_closed_and_double_close_are_errors) {
    goc_chan *ch = goc_chan_make(sizeof(int), 1);
    CHECK_OK(goc_close(ch));
    int v = 1;
    CHECK_ERR(GOC_CLOSED, goc_send(ch, &v));
    CHECK_ERR(GOC_CLOSED, goc_try_send(ch, &v));
    CHECK_ERR(GOC_CLOSED, goc_send_timeout(ch, &v, GOC_MS));
    CHECK_ERR(GOC_CLOSED, goc_close(ch));
    CHECK_EQ(goc_len(ch), 0); /* nothing was delivered */
    goc_chan_release(ch);
    CHECK_ERR(GOC_CLOSED, goc_close(NULL));
}

struct waiter {
    goc_chan *ch, *done;
    int send;
    int result;
    bool timed; /* a wait with a deadline takes another path */
};

static void blocked_op(void *arg) {
    struct waiter *w = arg;
    int v = 5;
    if (w->timed)
        w->result = w->send ? goc_send_timeout(w->ch, &v, 60 * GOC_SEC)
                            : goc_recv_timeout(w->ch, &v, 60 * GOC_SEC);
    else
        w->result = w->send ? goc_send(w->ch, &v) : goc_recv(w->ch, &v);
    if (!w->send && w->result == GOC_CLOSED) CHECK_EQ(v, 0);
    goc_send(w->done, NULL);
}

static void close_wakes(int send) {
    enum { N = 100 };
    goc_chan *ch = goc_chan_make(sizeof(int), 0), *done = goc_chan_make(0, N);
    struct waiter w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct waiter){ch, done, send, 1, i % 2};
        CHECK_OK(goc_go(blocked_op, &w[i]));
    }
    /* Close only once every one is queued: then close, not a race with
     * their arrival, is what must wake them all. */
    while (goc__chan_waiters(ch, send) < N) goc_sleep(GOC_MS / 10);
    CHECK_EQ(goc__chan_waiters(ch, !send), 0);
    CHECK_OK(goc_close(ch));
    join(done, N);
    for (int i = 0; i < N; i++) CHECK_ERR(GOC_CLOSED, w[i].result);
    goc_chan_release(ch);
    goc_chan_release(done);
}

TEST(close_wakes_all_receivers) { close_wakes(0); }
TEST(close_wakes_all_senders) { close_wakes(1); }

/* Owns one reference to w->ch, as the contract asks of every user. */
static void release_blocked(void *arg) {
    struct waiter *w = arg;
    w->result = goc_recv_timeout(w->ch, NULL, GOC_SEC);
    goc_chan_release(w->ch);
    goc_send(w->done, NULL);
}

TEST(close_and_release_while_others_wait) {
    goc_chan *done = goc_chan_make(0, 10);
    struct waiter w[10];
    goc_chan *ch = goc_chan_make(sizeof(int), 0);
    for (int i = 0; i < 10; i++) {
        w[i] = (struct waiter){goc_chan_retain(ch), done, 0, 1, false};
        CHECK_OK(goc_go(release_blocked, &w[i]));
    }
    while (goc__chan_waiters(ch, false) < 10) goc_sleep(GOC_MS / 10); /* all queued */
    goc_close(ch);
    goc_chan_release(ch); /* the waiters hold the last references */
    join(done, 10);
    for (int i = 0; i < 10; i++) CHECK_ERR(GOC_CLOSED, w[i].result);
    goc_chan_release(done);
}

/* ---- timeouts, zero size, NULL ------------------------------------------- */

TEST(timeouts_expire_and_change_nothing) {
    goc_chan *ch = goc_chan_make(sizeof(int), 0);
    int v = 3;
    int64_t t0 = goc_now();
    CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(ch, &v, 5 * GOC_MS));
    CHECK_OP(goc_now() - t0, >=, 5 * GOC_MS);
    CHECK_EQ(v, 3);
    CHECK_ERR(GOC_ETIMEDOUT, goc_send_timeout(ch, &v, 5 * GOC_MS));
    CHECK_ERR(GOC_EAGAIN, goc_try_recv(ch, &v)); /* the timed-out send left nothing */
    goc_chan_release(ch);
}

/* A negative duration other than GOC_FOREVER has passed already (a
 * `deadline - goc_now()` computed late): it times out at once, as
 * time.After(-d) does in Go, and still completes an operation ready now. */
static void past_deadlines(void *arg) {
    goc_chan *ch = goc_chan_make(sizeof(int), 1);
    int v = 3;
    CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(ch, &v, -2));
    CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(ch, &v, INT64_MIN));
    CHECK_OK(goc_send_timeout(ch, &v, -5 * GOC_SEC)); /* room: done at once */
    CHECK_ERR(GOC_ETIMEDOUT, goc_send_timeout(ch, &v, -2));
    v = 0;
    CHECK_OK(goc_recv_timeout(ch, &v, -GOC_MS));
    CHECK_EQ(v, 3);
    goc_chan_release(ch);
    if (arg) CHECK_OK(goc_send(arg, NULL));
}

TEST(negative_timeouts_have_passed) {
    past_deadlines(NULL); /* a thread */
    goc_chan *done = goc_chan_make(0, 1);
    CHECK_OK(goc_go(past_deadlines, done)); /* a coroutine */
    CHECK_OK(goc_recv(done, NULL));
    goc_chan_release(done);
}

static void zero_sender(void *arg) {
    goc_chan *ch = arg;
    for (int i = 0; i < 1000; i++) CHECK_OK(goc_send(ch, NULL));
    goc_close(ch);
}

TEST(zero_size_elements) {
    goc_chan *u = goc_chan_make(0, 0), *b = goc_chan_make(0, 10);
    CHECK_OK(goc_go(zero_sender, u));
    int n = 0;
    while (goc_recv(u, NULL) == GOC_OK) n++;
    CHECK_EQ(n, 1000);
    for (int i = 0; i < 10; i++) CHECK_OK(goc_try_send(b, NULL));
    CHECK_ERR(GOC_EAGAIN, goc_try_send(b, NULL));
    CHECK_EQ(goc_len(b), 10);
    goc_chan_release(u);
    goc_chan_release(b);
}

/* Every capacity from 0 to 40 (Go's TestChan): receivers block on an empty
 * channel and a send wakes them, a full channel refuses a non-blocking send,
 * len counts, and after close the values drain in order, then GOC_CLOSED. */
struct cap_recv {
    goc_chan *c, *done;
};

static void recv_then_report(void *arg) {
    struct cap_recv *a = arg;
    CHECK_OK(goc_recv(a->c, NULL));
    CHECK_OK(goc_send(a->done, NULL));
}

TEST(every_capacity_up_to_40) {
    for (size_t cap = 0; cap <= 40; cap++) {
        struct cap_recv a = {goc_chan_make(sizeof(int), cap), goc_chan_make(0, 2)};
        CHECK_OK(goc_go(recv_then_report, &a));
        CHECK_OK(goc_go(recv_then_report, &a));
        CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(a.done, NULL, GOC_MS));
        goc_case cs[] = {GOC_RECV(a.c, NULL)};
        CHECK_ERR(GOC_EAGAIN, goc_select(cs, 1, 0));
        CHECK_OK(goc_send(a.c, &(int){0}));
        CHECK_OK(goc_send(a.c, &(int){0}));
        CHECK_OK(goc_recv(a.done, NULL));
        CHECK_OK(goc_recv(a.done, NULL));
        for (size_t i = 0; i < cap; i++) CHECK_OK(goc_try_send(a.c, &(int){(int)i}));
        goc_case ss[] = {GOC_SEND(a.c, &(int){-1})};
        CHECK_ERR(GOC_EAGAIN, goc_select(ss, 1, 0));
        CHECK_EQ(goc_len(a.c), cap);
        CHECK_OK(goc_close(a.c));
        for (size_t i = 0; i < cap; i++) {
            int v = -1;
            CHECK_OK(goc_recv(a.c, &v));
            CHECK_EQ(v, (int)i);
        }
        CHECK_ERR(GOC_CLOSED, goc_recv(a.c, NULL));
        goc_chan_release(a.c);
        goc_chan_release(a.done);
    }
}

TEST(null_channel_blocks_forever) {
    int v = 0;
    CHECK_ERR(GOC_EAGAIN, goc_try_send(NULL, &v));
    CHECK_ERR(GOC_EAGAIN, goc_try_recv(NULL, &v));
    CHECK_ERR(GOC_ETIMEDOUT, goc_send_timeout(NULL, &v, GOC_MS));
    CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(NULL, &v, GOC_MS));
    CHECK_EQ(goc_len(NULL), 0);
    CHECK_EQ(goc_cap(NULL), 0);
}

TEST(make_rejects_overflowing_sizes) {
    CHECK(goc_chan_make(SIZE_MAX / 2, 4) == NULL);
}

/* A channel of empty elements needs no buffer, whatever its capacity: every
 * build makes it (the TSan build once refused it for a side array of cap
 * entries) and it works as a counting semaphore. */
TEST(huge_capacity_of_empty_elements) {
    size_t caps[] = {SIZE_MAX, SIZE_MAX / 2, (size_t)1 << 40, 4096};
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        goc_chan *c = goc_chan_make(0, caps[k]);
        CHECK(c != NULL);
        CHECK_EQ(goc_cap(c), caps[k]);
        for (int i = 0; i < 3000; i++) CHECK_OK(goc_try_send(c, NULL));
        CHECK_EQ(goc_len(c), 3000);
        for (int i = 0; i < 3000; i++) CHECK_OK(goc_try_recv(c, NULL));
        CHECK_ERR(GOC_EAGAIN, goc_try_recv(c, NULL));
        goc_chan_release(c);
    }
}

/* ---- misuse -------------------------------------------------------------- */

/* A NULL value on a channel with elements is refused before anything happens:
 * no value is queued and no waiter is woken. */
TEST(null_value_on_a_channel_with_elements_is_einval) {
    for (size_t cap = 0; cap < 2; cap++) {
        goc_chan *c = goc_chan_make(sizeof(int), cap);
        CHECK_ERR(GOC_EINVAL, goc_send(c, NULL));
        CHECK_ERR(GOC_EINVAL, goc_try_send(c, NULL));
        CHECK_ERR(GOC_EINVAL, goc_send_timeout(c, NULL, GOC_MS));
        CHECK_ERR(GOC_EINVAL, goc_send_timeout(c, NULL, GOC_FOREVER));
        CHECK_EQ(goc_len(c), 0);
        CHECK_ERR(GOC_EAGAIN, goc_try_recv(c, NULL));
        goc_close(c);
        CHECK_ERR(GOC_EINVAL, goc_send(c, NULL)); /* checked before closed */
        goc_chan_release(c);
    }
    goc_chan *e = goc_chan_make(0, 1); /* empty elements need no value */
    CHECK_OK(goc_send(e, NULL));
    CHECK_OK(goc_recv(e, NULL));
    goc_chan_release(e);
}

static void release_twice(goc_chan *c) {
    goc_chan_release(c);
    goc_chan_release(c);
}

TEST(death_helper_release) { /* runs only when spawned by the case below */
    const char *what = getenv("CHAN_MISUSE");
    if (!what) return;
    if (strcmp(what, "twice") == 0) {
        release_twice(goc_chan_make(sizeof(int), 0));
    } else if (strcmp(what, "retained") == 0) {
        goc_chan *c = goc_chan_make(sizeof(long), 8);
        goc_chan_retain(c);
        goc_chan_release(c);
        release_twice(c);
    } else if (strcmp(what, "after") == 0) {
        release_twice(goc_after(GOC_SEC));
    }
    _exit(0);
}

/* A release past zero aborts with a message in every build, as Go panics on
 * misuse, instead of freeing twice. */
TEST(release_past_zero_is_fatal_with_a_message) {
    const char *envs[] = {"CHAN_MISUSE=twice", "CHAN_MISUSE=retained", "CHAN_MISUSE=after"};
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++)
        CHECK_ABORTS("death_helper_release", envs[i], "goc_chan_release of 0x",
                     "released more times than retained");
}

/* ---- threads and coroutines mixed ---------------------------------------- */

struct echo {
    goc_chan *in, *out;
};

static void echo_coro(void *arg) {
    struct echo *e = arg;
    long v;
    while (goc_recv(e->in, &v) == GOC_OK) CHECK_OK(goc_send(e->out, &(long){v + 1}));
    goc_close(e->out);
}

static void *echo_thread(void *arg) {
    struct echo *e = arg;
    long v;
    while (goc_recv(e->in, &v) == GOC_OK) CHECK_OK(goc_send(e->out, &(long){v * 2}));
    goc_close(e->out);
    return NULL;
}

TEST(pthread_and_coroutine_ping_pong) {
    /* main -> coroutine (+1) -> pthread (*2) -> main, unbuffered all the way. */
    struct echo a = {goc_chan_make(sizeof(long), 0), goc_chan_make(sizeof(long), 0)};
    struct echo b = {a.out, goc_chan_make(sizeof(long), 0)};
    CHECK_OK(goc_go(echo_coro, &a));
    pthread_t t;
    pthread_create(&t, NULL, echo_thread, &b);
    int n = CHECK_SCALE(20000);
    for (long i = 0; i < n; i++) {
        long v;
        CHECK_OK(goc_send(a.in, &i));
        CHECK_OK(goc_recv(b.out, &v));
        CHECK_EQ(v, (i + 1) * 2);
    }
    goc_close(a.in);
    pthread_join(t, NULL);
    CHECK_ERR(GOC_CLOSED, goc_recv(b.out, NULL));
    goc_chan_release(a.in);
    goc_chan_release(a.out);
    goc_chan_release(b.out);
}

/* ---- classic programs ---------------------------------------------------- */

struct sieve {
    goc_chan *in, *out;
    int prime;
};

static void generate(void *arg) {
    goc_chan *ch = arg;
    for (int i = 2;; i++)
        if (goc_send(ch, &i) != GOC_OK) break;
    goc_chan_release(ch);
}

static void filter(void *arg) {
    struct sieve *s = arg;
    int v;
    while (goc_recv(s->in, &v) == GOC_OK)
        if (v % s->prime != 0 && goc_send(s->out, &v) != GOC_OK) break;
    goc_close(s->in); /* stop the stage upstream */
    goc_chan_release(s->in);
    goc_chan_release(s->out);
    free(s);
}

TEST(prime_sieve_first_1000) {
    int want[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29};
    goc_chan *ch = goc_chan_make(sizeof(int), 0);
    CHECK_OK(goc_go(generate, goc_chan_retain(ch)));
    int p = 0;
    for (int i = 0; i < 1000; i++) {
        CHECK_OK(goc_recv(ch, &p));
        if (i < 10) CHECK_EQ(p, want[i]);
        /* The filter takes over our reference to ch; we keep one to its out. */
        struct sieve *s = malloc(sizeof *s);
        *s = (struct sieve){ch, goc_chan_make(sizeof(int), 0), p};
        ch = goc_chan_retain(s->out);
        CHECK_OK(goc_go(filter, s));
    }
    CHECK_EQ(p, 7919); /* the 1000th prime */
    goc_close(ch); /* unwinds the chain stage by stage */
    goc_chan_release(ch);
    while (goc_count() > 0) goc_sleep(GOC_MS);
}

static void link_fn(void *arg) {
    goc_chan **c = arg;
    int v;
    CHECK_OK(goc_recv(c[1], &v));
    CHECK_OK(goc_send(c[0], &(int){v + 1}));
    goc_chan_release(c[0]);
    goc_chan_release(c[1]);
    free(c);
}

TEST(daisy_chain_100000) {
    int n = CHECK_SCALE(100000);
    goc_chan *leftmost = goc_chan_make(sizeof(int), 0), *left = goc_chan_retain(leftmost);
    for (int i = 0; i < n; i++) {
        goc_chan *right = goc_chan_make(sizeof(int), 0);
        goc_chan **c = malloc(2 * sizeof *c);
        c[0] = left;
        c[1] = goc_chan_retain(right);
        goc_opts o = {.stack_size = 16384};
        CHECK_OK(goc_go_with(&o, link_fn, c));
        left = right;
    }
    CHECK_OK(goc_send(left, &(int){1}));
    goc_chan_release(left);
    int v;
    CHECK_OK(goc_recv(leftmost, &v));
    CHECK_EQ(v, n + 1);
    goc_chan_release(leftmost);
}

/* ---- MPMC stress ---------------------------------------------------------- */

struct mpmc {
    goc_chan *ch, *done;
    long per_producer;
    int id;
    _Atomic long count, sum;
    _Atomic unsigned char *seen;
};

static void producer(void *arg) {
    struct mpmc *m = arg;
    int id = __atomic_fetch_add(&m->id, 1, __ATOMIC_RELAXED);
    for (long i = 0; i < m->per_producer; i++) {
        long v = id * m->per_producer + i;
        CHECK_OK(goc_send(m->ch, &v));
    }
    goc_send(m->done, NULL);
}

static void consumer(void *arg) {
    struct mpmc *m = arg;
    long v, n = 0, s = 0;
    while (goc_recv(m->ch, &v) == GOC_OK) {
        n++;
        s += v;
        if (m->seen && atomic_fetch_add(&m->seen[v], 1) != 0) CHECK(!"duplicate message");
    }
    atomic_fetch_add(&m->count, n);
    atomic_fetch_add(&m->sum, s);
    goc_send(m->done, NULL);
}

static void mpmc(size_t cap, long total) {
    enum { P = 8, C = 8 };
    struct mpmc m = {goc_chan_make(sizeof(long), cap), goc_chan_make(0, P + C), total / P, 0, 0, 0, NULL};
    total = m.per_producer * P;
    m.seen = calloc((size_t)total, 1);
    for (int i = 0; i < C; i++) CHECK_OK(goc_go(consumer, &m));
    for (int i = 0; i < P; i++) CHECK_OK(goc_go(producer, &m));
    join(m.done, P);
    goc_close(m.ch);
    join(m.done, C);
    CHECK_EQ(atomic_load(&m.count), total);
    CHECK_EQ(atomic_load(&m.sum), total * (total - 1) / 2);
    for (long i = 0; i < total; i++) CHECK_EQ(m.seen[i], 1);
    free((void *)m.seen);
    goc_chan_release(m.ch);
    goc_chan_release(m.done);
}

TEST(mpmc_buffered_exact) { mpmc(1024, CHECK_SCALE(10000000)); }
TEST(mpmc_unbuffered_exact) { mpmc(0, CHECK_SCALE(10000000)); }

/* goc_main runs its function as a coroutine and returns once it has: main
 * and a coroutine then hand values off as two coroutines do. */
static _Atomic long main_sum;
static goc_chan *main_ch[2];
static goc_wg main_echo_done = GOC_WG_INIT;

static void main_echo(void *arg) {
    (void)arg;
    long v;
    while (goc_recv(main_ch[0], &v) == GOC_OK) CHECK_OK(goc_send(main_ch[1], &v));
    goc_wg_done(&main_echo_done);
}

static void main_body(void *arg) {
    CHECK(goc_id() != 0);
    main_ch[0] = goc_chan_make(sizeof(long), 0);
    main_ch[1] = goc_chan_make(sizeof(long), 0);
    CHECK_OK(goc_wg_add(&main_echo_done, 1));
    CHECK_OK(goc_go(main_echo, NULL));
    for (long i = 1; i <= 1000; i++) {
        long v = i;
        CHECK_OK(goc_send(main_ch[0], &v));
        CHECK_OK(goc_recv(main_ch[1], &v));
        atomic_fetch_add(&main_sum, v);
    }
    goc_close(main_ch[0]);
    goc_wg_wait(&main_echo_done);
    goc_chan_release(main_ch[0]);
    goc_chan_release(main_ch[1]);
    *(int *)arg = 1;
}

static void main_twice(void *arg) { CHECK_OK(goc_main(main_body, arg)); }

TEST(goc_main_runs_main_as_a_coroutine) {
    int done = 0;
    CHECK_ERR(GOC_EINVAL, goc_main(NULL, NULL));
    CHECK_OK(goc_main(main_body, &done));
    CHECK_EQ(done, 1);
    CHECK_EQ(atomic_load(&main_sum), 1000L * 1001 / 2);
    done = 0;
    CHECK_OK(goc_main(main_twice, &done)); /* from a coroutine: runs inline */
    CHECK_EQ(done, 1);
}
