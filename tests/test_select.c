/* select: default, timeouts, fairness, NULL channels, duplicate channels,
 * opposite lock orders, exactly-once wake-ups, and a random select/close
 * stress in which every message is accounted for. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"

TEST(default_when_nothing_ready) {
    goc_chan *a = goc_chan_make(sizeof(int), 0), *b = goc_chan_make(sizeof(int), 1);
    int x = 0, y = 0;
    goc_case cs[] = {GOC_RECV(a, &x), GOC_RECV(b, &y)};
    CHECK_ERR(GOC_EAGAIN, goc_select(cs, 2, 0));
    CHECK_OK(goc_send(b, &(int){9}));
    CHECK_EQ(goc_select(cs, 2, 0), 1);
    CHECK_EQ(cs[1].ok, 1);
    CHECK_EQ(y, 9);
    goc_chan_release(a);
    goc_chan_release(b);
}

TEST(timeout_expires) {
    goc_chan *a = goc_chan_make(sizeof(int), 0);
    goc_case cs[] = {GOC_RECV(a, NULL)};
    int64_t t0 = goc_now();
    CHECK_ERR(GOC_ETIMEDOUT, goc_select(cs, 1, 5 * GOC_MS));
    CHECK_OP(goc_now() - t0, >=, 5 * GOC_MS);
    CHECK_ERR(GOC_ETIMEDOUT, goc_select(NULL, 0, GOC_MS)); /* empty select: a sleep */
    goc_chan_release(a);
}

TEST(negative_timeout_has_passed) {
    goc_chan *a = goc_chan_make(sizeof(int), 1);
    int x = 0;
    goc_case cs[] = {GOC_RECV(a, &x)};
    CHECK_ERR(GOC_ETIMEDOUT, goc_select(cs, 1, -2));
    CHECK_ERR(GOC_ETIMEDOUT, goc_select(cs, 1, INT64_MIN));
    CHECK_OK(goc_send(a, &(int){4}));
    CHECK_EQ(goc_select(cs, 1, -GOC_SEC), 0); /* a ready case still fires */
    CHECK_EQ(x, 4);
    goc_chan_release(a);
}

TEST(bad_arguments) {
    goc_case cs[] = {{.ch = NULL, .ptr = NULL, .op = 7, .ok = 0}};
    CHECK_ERR(GOC_EINVAL, goc_select(cs, 1, 0));
    CHECK_ERR(GOC_EINVAL, goc_select(cs, GOC_SELECT_MAX + 1, 0));
}

TEST(fairness_between_two_ready_channels) {
    goc_chan *a = goc_chan_make(0, 1), *b = goc_chan_make(0, 1);
    int n = CHECK_SCALE(100000), hits[2] = {0, 0};
    for (int i = 0; i < n; i++) {
        goc_try_send(a, NULL);
        goc_try_send(b, NULL);
        goc_case cs[] = {GOC_RECV(a, NULL), GOC_RECV(b, NULL)};
        int r = goc_select(cs, 2, GOC_FOREVER);
        CHECK(r == 0 || r == 1);
        hits[r]++;
    }
    /* Each should win half, within 2% or 5 binomial standard deviations,
     * whichever is wider (the sd is 0.16% of n at n = 100000, but 0.7% at
     * the sanitizers' n = 5000, where 2% failed about one run in 200). */
    int tol = n * 2 / 100, sd5 = (int)(2.5 * sqrt((double)n));
    if (sd5 > tol) tol = sd5;
    CHECK_OP(hits[0], >=, n / 2 - tol);
    CHECK_OP(hits[1], >=, n / 2 - tol);
    goc_chan_release(a);
    goc_chan_release(b);
}

TEST(null_channel_never_chosen) {
    goc_chan *a = goc_chan_make(sizeof(int), 1);
    for (int i = 0; i < 1000; i++) {
        CHECK_OK(goc_send(a, &i));
        int v = -1;
        goc_case cs[] = {GOC_RECV(NULL, NULL), GOC_RECV(a, &v), GOC_SEND(NULL, &i)};
        CHECK_EQ(goc_select(cs, 3, GOC_FOREVER), 1);
        CHECK_EQ(v, i);
    }
    goc_case only_null[] = {GOC_RECV(NULL, NULL), GOC_SEND(NULL, &(int){1})};
    CHECK_ERR(GOC_EAGAIN, goc_select(only_null, 2, 0));
    CHECK_ERR(GOC_ETIMEDOUT, goc_select(only_null, 2, GOC_MS));
    goc_chan_release(a);
}

TEST(send_and_recv_on_same_channel) {
    /* Buffered, empty: only the send can proceed; then full: only the recv. */
    goc_chan *c = goc_chan_make(sizeof(int), 1);
    int out = 5, in = 0;
    goc_case cs[] = {GOC_SEND(c, &out), GOC_RECV(c, &in)};
    CHECK_EQ(goc_select(cs, 2, GOC_FOREVER), 0);
    CHECK_EQ(goc_select(cs, 2, GOC_FOREVER), 1);
    CHECK_EQ(in, 5);
    /* Unbuffered: a select cannot pair with itself. */
    goc_chan *u = goc_chan_make(sizeof(int), 0);
    goc_case us[] = {GOC_SEND(u, &out), GOC_RECV(u, &in)};
    CHECK_ERR(GOC_EAGAIN, goc_select(us, 2, 0));
    CHECK_ERR(GOC_ETIMEDOUT, goc_select(us, 2, GOC_MS));
    goc_chan_release(c);
    goc_chan_release(u);
}

static void send_n(void *arg) {
    goc_chan *c = arg;
    for (int i = 0; i < 1000; i++) CHECK_OK(goc_send(c, &i));
}

TEST(duplicate_cases_of_one_channel) {
    goc_chan *c = goc_chan_make(sizeof(int), 0);
    CHECK_OK(goc_go(send_n, c));
    int hits[3] = {0}, v[3];
    for (int i = 0; i < 1000; i++) {
        goc_case cs[] = {GOC_RECV(c, &v[0]), GOC_RECV(c, &v[1]), GOC_RECV(c, &v[2])};
        int r = goc_select(cs, 3, GOC_FOREVER);
        CHECK(r >= 0 && r < 3);
        CHECK_EQ(v[r], i);
        hits[r]++;
    }
    CHECK_EQ(hits[0] + hits[1] + hits[2], 1000);
    goc_chan_release(c);
}

/* A select blocked on several cases of one channel is completed through any
 * of them, at random (Go's TestPseudoRandomSend): its waiting nodes are not
 * queued in case order. The peer pauses before each operation so that the
 * select is usually blocked by then. */
#define DUP_ROUNDS 1000

static void slow_recv_n(void *arg) {
    goc_chan *c = arg;
    for (int i = 0; i < DUP_ROUNDS; i++) {
        goc_sleep(10 * GOC_US);
        CHECK_OK(goc_recv(c, NULL));
    }
}

static void slow_send_n(void *arg) {
    goc_chan *c = arg;
    for (int i = 0; i < DUP_ROUNDS; i++) {
        goc_sleep(10 * GOC_US);
        CHECK_OK(goc_send(c, &i));
    }
}

TEST(blocked_duplicate_cases_are_chosen_at_random) {
    goc_chan *c = goc_chan_make(sizeof(int), 0);
    int hits[3] = {0}, one = 1, zero = 0;
    CHECK_OK(goc_go(slow_recv_n, c));
    for (int i = 0; i < DUP_ROUNDS; i++) {
        goc_case cs[] = {GOC_SEND(c, &one), GOC_SEND(c, &zero)};
        hits[goc_select(cs, 2, GOC_FOREVER)]++;
    }
    CHECK_OP(hits[0], >, DUP_ROUNDS / 10);
    CHECK_OP(hits[1], >, DUP_ROUNDS / 10);
    hits[0] = hits[1] = 0;
    CHECK_OK(goc_go(slow_send_n, c));
    for (int i = 0; i < DUP_ROUNDS; i++) {
        int v[3] = {-1, -1, -1};
        goc_case cs[] = {GOC_RECV(c, &v[0]), GOC_RECV(c, &v[1]), GOC_RECV(c, &v[2])};
        int r = goc_select(cs, 3, GOC_FOREVER);
        CHECK_EQ(v[r], i);
        hits[r]++;
    }
    for (int k = 0; k < 3; k++) CHECK_OP(hits[k], >, DUP_ROUNDS / 10);
    goc_chan_release(c);
}

TEST(closed_channel_cases) {
    goc_chan *c = goc_chan_make(sizeof(int), 0);
    goc_close(c);
    int v = 4;
    goc_case r[] = {GOC_RECV(c, &v)};
    CHECK_EQ(goc_select(r, 1, GOC_FOREVER), 0);
    CHECK_EQ(r[0].ok, 0);
    CHECK_EQ(v, 0);
    goc_case s[] = {GOC_SEND(c, &v)};
    CHECK_EQ(goc_select(s, 1, GOC_FOREVER), 0);
    CHECK_EQ(s[0].ok, 0);
    goc_chan_release(c);
}

struct closer {
    goc_chan *c;
    int64_t delay;
};

static void close_later(void *arg) {
    struct closer *k = arg;
    goc_sleep(k->delay);
    goc_close(k->c);
}

TEST(close_wakes_blocked_select) {
    goc_chan *a = goc_chan_make(sizeof(int), 0), *b = goc_chan_make(sizeof(int), 0);
    struct closer k = {b, 2 * GOC_MS};
    CHECK_OK(goc_go(close_later, &k));
    int x = 1, y = 1;
    goc_case cs[] = {GOC_RECV(a, &x), GOC_RECV(b, &y)};
    CHECK_EQ(goc_select(cs, 2, GOC_FOREVER), 1);
    CHECK_EQ(cs[1].ok, 0);
    CHECK_EQ(y, 0);
    CHECK_EQ(x, 1);
    goc_chan_release(a);
    goc_chan_release(b);
}

/* Two selects lock {a, b} written in opposite orders while a third party
 * feeds both: locking by address means no deadlock. */
struct opp {
    goc_chan *a, *b, *done;
    int flip, rounds;
};

static void opposite(void *arg) {
    struct opp *o = arg;
    for (int i = 0; i < o->rounds; i++) {
        goc_case cs[2];
        if (o->flip) {
            cs[0] = GOC_RECV(o->b, NULL);
            cs[1] = GOC_SEND(o->a, &i);
        } else {
            cs[0] = GOC_RECV(o->a, NULL);
            cs[1] = GOC_SEND(o->b, &i);
        }
        CHECK(goc_select(cs, 2, GOC_FOREVER) >= 0);
    }
    goc_send(o->done, NULL);
}

TEST(opposite_lock_orders_do_not_deadlock) {
    goc_chan *a = goc_chan_make(sizeof(int), 0), *b = goc_chan_make(sizeof(int), 0);
    goc_chan *done = goc_chan_make(0, 2);
    int rounds = CHECK_SCALE(100000);
    struct opp x = {a, b, done, 0, rounds}, y = {a, b, done, 1, rounds};
    CHECK_OK(goc_go(opposite, &x));
    CHECK_OK(goc_go(opposite, &y));
    CHECK_OK(goc_recv(done, NULL));
    CHECK_OK(goc_recv(done, NULL));
    goc_chan_release(a);
    goc_chan_release(b);
    goc_chan_release(done);
}

/* Many selectors wait on the same set of channels; each message sent wakes
 * exactly one of them, exactly once. */
struct fan {
    goc_chan *ins[4], *done;
    _Atomic long received, sum;
};

static void selector(void *arg) {
    struct fan *f = arg;
    long v;
    for (;;) {
        goc_case cs[4];
        for (int i = 0; i < 4; i++) cs[i] = GOC_RECV(f->ins[i], &v);
        int r = goc_select(cs, 4, GOC_FOREVER);
        CHECK(r >= 0);
        if (!cs[r].ok) break;
        atomic_fetch_add(&f->received, 1);
        atomic_fetch_add(&f->sum, v);
    }
    goc_send(f->done, NULL);
}

static void feeder(void *arg) {
    struct fan *f = arg;
    long n = CHECK_SCALE(200000);
    for (long i = 1; i <= n; i++) CHECK_OK(goc_send(f->ins[i % 4], &i));
    goc_send(f->done, NULL);
}

TEST(each_message_wakes_exactly_one_select) {
    enum { SEL = 16, FEED = 4 };
    struct fan f = {{0}, goc_chan_make(0, SEL + FEED), 0, 0};
    for (int i = 0; i < 4; i++) f.ins[i] = goc_chan_make(sizeof(long), i % 2 ? 8 : 0);
    for (int i = 0; i < SEL; i++) CHECK_OK(goc_go(selector, &f));
    for (int i = 0; i < FEED; i++) CHECK_OK(goc_go(feeder, &f));
    for (int i = 0; i < FEED; i++) CHECK_OK(goc_recv(f.done, NULL));
    /* Close one channel: every selector sees it closed and leaves. */
    goc_close(f.ins[0]);
    for (int i = 0; i < SEL; i++) CHECK_OK(goc_recv(f.done, NULL));
    long n = CHECK_SCALE(200000);
    /* Values left in the buffered channels were sent but not received. */
    long left = 0, left_sum = 0, v;
    for (int i = 1; i < 4; i++)
        while (goc_try_recv(f.ins[i], &v) == GOC_OK) left++, left_sum += v;
    CHECK_EQ(atomic_load(&f.received) + left, n * FEED);
    CHECK_EQ(atomic_load(&f.sum) + left_sum, FEED * n * (n + 1) / 2);
    for (int i = 0; i < 4; i++) goc_chan_release(f.ins[i]);
    goc_chan_release(f.done);
}

/* Random selects over a shared set of channels while they are closed at
 * random: every value a successful send delivered is received exactly once
 * or still sits in a buffer. */
enum { NCH = 6, WORKERS = 12 };

struct chaos {
    goc_chan *ch[NCH];
    goc_chan *done;
    _Atomic long sent, sent_sum, got, got_sum;
    int rounds;
};

static void chaos_worker(void *arg) {
    struct chaos *k = arg;
    unsigned seed = (unsigned)goc_id() * 2654435761u;
    for (int i = 0; i < k->rounds; i++) {
        goc_case cs[4];
        long out = rand_r(&seed) % 1000 + 1, in = 0;
        for (int j = 0; j < 4; j++) {
            goc_chan *c = k->ch[rand_r(&seed) % NCH];
            cs[j] = rand_r(&seed) % 2 ? GOC_SEND(c, &out) : GOC_RECV(c, &in);
        }
        int r = goc_select(cs, 4, rand_r(&seed) % 3 == 0 ? 0 : GOC_MS);
        if (r < 0 || !cs[r].ok) continue;
        if (cs[r].op == GOC_OP_SEND) {
            atomic_fetch_add(&k->sent, 1);
            atomic_fetch_add(&k->sent_sum, out);
        } else {
            atomic_fetch_add(&k->got, 1);
            atomic_fetch_add(&k->got_sum, in);
        }
        if (rand_r(&seed) % 5000 == 0) goc_close(k->ch[rand_r(&seed) % NCH]);
    }
    goc_send(k->done, NULL);
}

TEST(random_select_and_close_conserve_messages) {
    struct chaos k = {{0}, goc_chan_make(0, WORKERS), 0, 0, 0, 0, CHECK_SCALE(20000)};
    for (int i = 0; i < NCH; i++) k.ch[i] = goc_chan_make(sizeof(long), (size_t)(i % 3) * 2);
    for (int i = 0; i < WORKERS; i++) CHECK_OK(goc_go(chaos_worker, &k));
    for (int i = 0; i < WORKERS; i++) CHECK_OK(goc_recv(k.done, NULL));
    long left = 0, left_sum = 0, v;
    for (int i = 0; i < NCH; i++)
        while (goc_try_recv(k.ch[i], &v) == GOC_OK) left++, left_sum += v;
    CHECK_EQ(atomic_load(&k.got) + left, atomic_load(&k.sent));
    CHECK_EQ(atomic_load(&k.got_sum) + left_sum, atomic_load(&k.sent_sum));
    for (int i = 0; i < NCH; i++) goc_chan_release(k.ch[i]);
    goc_chan_release(k.done);
}

TEST(select_from_threads_and_coroutines) {
    /* The main thread selects against coroutine senders. */
    goc_chan *a = goc_chan_make(sizeof(int), 0), *b = goc_chan_make(sizeof(int), 0);
    CHECK_OK(goc_go(send_n, a));
    CHECK_OK(goc_go(send_n, b));
    int got = 0, x, y, sum = 0;
    while (got < 2000) {
        goc_case cs[] = {GOC_RECV(a, &x), GOC_RECV(b, &y)};
        int r = goc_select(cs, 2, GOC_FOREVER);
        sum += r == 0 ? x : y;
        got++;
    }
    CHECK_EQ(sum, 2 * 999 * 1000 / 2);
    goc_chan_release(a);
    goc_chan_release(b);
}

TEST(many_cases_use_the_heap_path) {
    enum { N = 100 };
    goc_chan *c[N];
    goc_case cs[N];
    int v[N];
    for (int i = 0; i < N; i++) {
        c[i] = goc_chan_make(sizeof(int), 1);
        cs[i] = GOC_RECV(c[i], &v[i]);
    }
    CHECK_OK(goc_send(c[77], &(int){77}));
    CHECK_EQ(goc_select(cs, N, GOC_FOREVER), 77);
    CHECK_EQ(v[77], 77);
    CHECK_ERR(GOC_ETIMEDOUT, goc_select(cs, N, GOC_MS));
    for (int i = 0; i < N; i++) goc_chan_release(c[i]);
}

/* A select that waited on two cases of c and one of d, and was completed
 * through d, leaves c's queue intact for a later receiver (Go's
 * TestSelectDuplicateChannel; select6.go, issue 2075, for a failed case). */
struct dup_waiter {
    goc_chan *c, *d, *e;
};

static void dup_select(void *arg) {
    struct dup_waiter *s = arg;
    goc_case cs[] = {GOC_RECV(s->c, NULL), GOC_RECV(s->c, NULL), GOC_RECV(s->d, NULL)};
    CHECK_EQ(goc_select(cs, 3, GOC_FOREVER), 2);
    CHECK_OK(goc_send(s->e, NULL));
}

static void dup_plain_recv(void *arg) {
    struct dup_waiter *s = arg;
    CHECK_OK(goc_recv(s->c, NULL));
    CHECK_OK(goc_send(s->e, NULL));
}

TEST(woken_select_leaves_the_other_queues_intact) {
    for (int k = 0; k < 200; k++) {
        struct dup_waiter s = {goc_chan_make(0, 0), goc_chan_make(0, 0), goc_chan_make(0, 2)};
        CHECK_OK(goc_go(dup_select, &s));
        goc_sleep(10 * GOC_US); /* usually queued on c twice by now */
        CHECK_OK(goc_go(dup_plain_recv, &s));
        goc_sleep(10 * GOC_US);
        CHECK_OK(goc_send(s.d, NULL));
        CHECK_OK(goc_send(s.c, NULL)); /* only the plain receiver can take it */
        CHECK_OK(goc_recv(s.e, NULL));
        CHECK_OK(goc_recv(s.e, NULL));
        CHECK_ERR(GOC_EAGAIN, goc_try_send(s.c, NULL));
        goc_chan_release(s.c);
        goc_chan_release(s.d);
        goc_chan_release(s.e);
    }
}

/* A non-blocking select sees a moment in which one of its channels is ready
 * (Go's TestNonblockSelectRace and Race2): c1 holds a value until c2 is
 * given one (or closed), so some case is always ready. */
struct nonblock {
    goc_chan *c1, *c2, *done;
};

static void nonblock_select(void *arg) {
    struct nonblock *s = arg;
    goc_case cs[] = {GOC_RECV(s->c1, NULL), GOC_RECV(s->c2, NULL)};
    int r = goc_select(cs, 2, 0);
    CHECK_OK(goc_send(s->done, &r));
}

static void nonblock_race(bool close_c2) {
    goc_chan *done = goc_chan_make(sizeof(int), 1);
    for (int i = 0; i < CHECK_SCALE(20000); i++) {
        struct nonblock s = {goc_chan_make(0, 1), goc_chan_make(0, close_c2 ? 0 : 1), done};
        CHECK_OK(goc_send(s.c1, NULL));
        CHECK_OK(goc_go(nonblock_select, &s));
        if (close_c2)
            CHECK_OK(goc_close(s.c2));
        else
            CHECK_OK(goc_send(s.c2, NULL));
        goc_try_recv(s.c1, NULL);
        int r;
        CHECK_OK(goc_recv(done, &r));
        CHECK(r == 0 || r == 1);
        goc_chan_release(s.c1);
        goc_chan_release(s.c2);
    }
    goc_chan_release(done);
}

TEST(non_blocking_select_sees_a_ready_case) { nonblock_race(false); }
TEST(non_blocking_select_sees_a_close) { nonblock_race(true); }

/* Two coroutines each select to send or receive on one channel (Go's
 * TestSelfSelect): no deadlock, and unbuffered, a select never receives its
 * own value. */
struct self_sel {
    goc_chan *c, *done;
    int id;
};

static void self_selector(void *arg) {
    struct self_sel *s = arg;
    for (int i = 0; i < 1000; i++) {
        int v = -1, p = s->id;
        goc_case cs[2];
        if (p == 0 || i % 2 == 0) {
            cs[0] = (goc_case)GOC_SEND(s->c, &p);
            cs[1] = (goc_case)GOC_RECV(s->c, &v);
        } else {
            cs[0] = (goc_case)GOC_RECV(s->c, &v);
            cs[1] = (goc_case)GOC_SEND(s->c, &p);
        }
        int r = goc_select(cs, 2, GOC_FOREVER);
        CHECK(r == 0 || r == 1);
        if (cs[r].op == GOC_OP_RECV && goc_cap(s->c) == 0) CHECK_EQ(v, 1 - p);
    }
    CHECK_OK(goc_send(s->done, NULL));
}

TEST(two_selects_send_and_receive_on_one_channel) {
    for (size_t cap = 0; cap <= 10; cap += 10) {
        goc_chan *c = goc_chan_make(sizeof(int), cap), *done = goc_chan_make(0, 2);
        struct self_sel s[2] = {{c, done, 0}, {c, done, 1}};
        CHECK_OK(goc_go(self_selector, &s[0]));
        CHECK_OK(goc_go(self_selector, &s[1]));
        CHECK_OK(goc_recv(done, NULL));
        CHECK_OK(goc_recv(done, NULL));
        goc_chan_release(c);
        goc_chan_release(done);
    }
}

/* A send case without a value on a channel with elements makes the whole
 * select GOC_EINVAL before anything happens, even with another case ready. */
TEST(send_case_without_a_value_is_einval) {
    goc_chan *c = goc_chan_make(sizeof(int), 1), *r = goc_chan_make(sizeof(int), 1);
    CHECK_OK(goc_send(r, &(int){7}));
    int got = 0;
    goc_case cs[] = {GOC_RECV(r, &got), GOC_SEND(c, NULL)};
    CHECK_ERR(GOC_EINVAL, goc_select(cs, 2, 0));
    CHECK_ERR(GOC_EINVAL, goc_select(cs, 2, GOC_FOREVER));
    CHECK_EQ(got, 0);
    CHECK_EQ(goc_len(r), 1);
    CHECK_EQ(goc_len(c), 0);
    goc_chan *e = goc_chan_make(0, 1); /* empty elements, NULL channels: fine */
    goc_case ok[] = {GOC_SEND(e, NULL), GOC_SEND(NULL, NULL)};
    CHECK_EQ(goc_select(ok, 2, 0), 0);
    CHECK_EQ(goc_len(e), 1);
    goc_chan_release(e);
    goc_chan_release(r);
    goc_chan_release(c);
}
