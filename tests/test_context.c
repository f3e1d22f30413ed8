/* Contexts: cancellation reaches every descendant and only them, deadlines
 * (own and inherited), values, born-cancelled children, concurrent cancel
 * from coroutines and threads, churn that must not grow a parent, timers
 * released on cancel, and out-of-memory paths. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"
#include "../src/chan.h" /* test hook: goc__chan_waiters */
#include "../src/context.h"
#include "../src/sys.h"

/* Cancelled, in both ways a user can see it. */
static void check_cancelled(goc_ctx *c, int err) {
    CHECK_ERR(err, goc_ctx_err(c));
    CHECK_ERR(GOC_CLOSED, goc_try_recv(goc_ctx_done(c), NULL));
}

static void check_live(goc_ctx *c) {
    CHECK_ERR(GOC_OK, goc_ctx_err(c));
    CHECK_ERR(GOC_EAGAIN, goc_try_recv(goc_ctx_done(c), NULL));
}

static size_t pending_timers(void) { return goc__ctx_timers_pending(); }

/* Pending timers once the runtime is up and a timer heap has been used. */
static size_t timers_after_warm_up(void) {
    goc_ctx *warm = goc_ctx_with_timeout(NULL, 3600 * GOC_SEC);
    goc_ctx_cancel(warm);
    goc_ctx_release(warm);
    return pending_timers();
}

/* ---- background -------------------------------------------------------- */

TEST(background_is_never_cancelled) {
    goc_ctx *bg = goc_ctx_background();
    CHECK(bg == goc_ctx_background());
    CHECK(goc_ctx_done(bg) == NULL);
    CHECK_ERR(GOC_OK, goc_ctx_err(bg));
    CHECK_EQ(goc_ctx_deadline(bg), 0);
    CHECK(goc_ctx_value(bg, "k") == NULL);
    goc_ctx_cancel(bg);
    CHECK_ERR(GOC_OK, goc_ctx_err(bg));
    CHECK(goc_ctx_retain(bg) == bg);
    goc_ctx_release(bg);
    goc_ctx_release(bg);
    /* A NULL done channel is never ready, as Go's nil Done(). */
    goc_case cs[] = {GOC_RECV(goc_ctx_done(bg), NULL)};
    CHECK_ERR(GOC_EAGAIN, goc_select(cs, 1, 0));
    CHECK_ERR(GOC_ETIMEDOUT, goc_select(cs, 1, GOC_MS));
}

/* ---- cancel ------------------------------------------------------------ */

TEST(cancel_closes_done_and_sets_err_once) {
    goc_ctx *c = goc_ctx_with_cancel(goc_ctx_background());
    CHECK(c != NULL);
    check_live(c);
    goc_ctx_cancel(c);
    check_cancelled(c, GOC_ECANCELED);
    goc_ctx_cancel(c);
    check_cancelled(c, GOC_ECANCELED);
    goc_ctx_release(c);
}

/* Go's Done() is receive-only; here goc_close refuses a done channel, so a
 * closed done still means a non-zero err. */
TEST(done_cannot_be_closed_by_hand) {
    goc_ctx *c = goc_ctx_with_cancel(NULL);
    CHECK_ERR(GOC_EINVAL, goc_close(goc_ctx_done(c)));
    check_live(c);
    goc_ctx_cancel(c);
    check_cancelled(c, GOC_ECANCELED);
    CHECK_ERR(GOC_EINVAL, goc_close(goc_ctx_done(c)));
    goc_ctx_release(c);
}

TEST(null_parent_means_background) {
    goc_ctx *c = goc_ctx_with_cancel(NULL);
    CHECK(c != NULL);
    check_live(c);
    goc_ctx_release(c);
}

TEST(release_does_not_cancel) {
    goc_ctx *p = goc_ctx_with_cancel(goc_ctx_background());
    goc_ctx *c = goc_ctx_with_cancel(p);
    goc_ctx_release(p); /* c still holds p */
    check_live(c);
    goc_ctx *extra = goc_ctx_retain(c);
    goc_ctx_release(extra);
    check_live(c);
    goc_ctx_release(c); /* frees c, then p */
}

struct watcher {
    goc_ctx *ctx;
    goc_chan *other, *done;
    int fired;
};

static void select_on_done(void *arg) {
    struct watcher *w = arg;
    goc_case cs[] = {GOC_RECV(w->other, NULL), GOC_RECV(goc_ctx_done(w->ctx), NULL)};
    w->fired = goc_select(cs, 2, GOC_FOREVER);
    CHECK_EQ(cs[1].ok, 0); /* closed, not a value */
    CHECK_ERR(GOC_ECANCELED, goc_ctx_err(w->ctx));
    goc_send(w->done, NULL);
}

TEST(done_wakes_a_select) {
    struct watcher w = {goc_ctx_with_cancel(NULL), goc_chan_make(0, 0), goc_chan_make(0, 1), -1};
    CHECK_OK(goc_go(select_on_done, &w));
    /* Cancel only once the select is queued on done: the wake-up under test. */
    while (goc__chan_waiters(goc_ctx_done(w.ctx), false) < 1) goc_sleep(GOC_MS / 10);
    goc_ctx_cancel(w.ctx);
    CHECK_OK(goc_recv(w.done, NULL));
    CHECK_EQ(w.fired, 1);
    goc_ctx_release(w.ctx);
    goc_chan_release(w.other);
    goc_chan_release(w.done);
}

static void *thread_waits_done(void *arg) {
    goc_ctx *c = arg;
    CHECK_ERR(GOC_CLOSED, goc_recv(goc_ctx_done(c), NULL));
    CHECK_ERR(GOC_ECANCELED, goc_ctx_err(c));
    return NULL;
}

static void cancel_it(void *arg) { goc_ctx_cancel(arg); }

TEST(thread_waiting_on_done_is_woken_by_a_coroutine) {
    goc_ctx *c = goc_ctx_with_cancel(NULL);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, thread_waits_done, c), 0);
    goc_sleep(2 * GOC_MS);
    CHECK_OK(goc_go(cancel_it, c));
    pthread_join(t, NULL);
    goc_ctx_release(c);
}

/* Cancel happens-before goc_ctx_err returns non-zero: the plain write
 * before the cancel is visible after it (TSan checks the edge; polling err
 * involves no channel). Also through a descendant cancelled by the walk. */
struct hb {
    goc_ctx *root, *leaf;
    int data;
    goc_chan *done;
};

static void poll_err(void *arg) {
    struct hb *h = arg;
    while (goc_ctx_err(h->leaf) == GOC_OK) goc_yield();
    CHECK_EQ(h->data, 42);
    goc_send(h->done, NULL);
}

TEST(cancel_happens_before_err_is_seen) {
    struct hb h = {goc_ctx_with_cancel(NULL), NULL, 0, goc_chan_make(0, 1)};
    goc_ctx *mid = goc_ctx_with_value(h.root, "k", NULL);
    h.leaf = goc_ctx_with_cancel(mid);
    CHECK_OK(goc_go(poll_err, &h));
    goc_sleep(GOC_MS);
    h.data = 42;
    goc_ctx_cancel(h.root);
    CHECK_OK(goc_recv(h.done, NULL));
    goc_ctx_release(h.leaf);
    goc_ctx_release(mid);
    goc_ctx_release(h.root);
    goc_chan_release(h.done);
}

/* ---- trees --------------------------------------------------------------- */

enum { FANOUT = 10 };

/* Node i > 0 is a child of node (i-1)/FANOUT. */
static goc_ctx **tree_new(long n) {
    goc_ctx **v = malloc((size_t)n * sizeof *v);
    CHECK(v != NULL);
    for (long i = 0; i < n; i++) {
        v[i] = goc_ctx_with_cancel(i ? v[(i - 1) / FANOUT] : goc_ctx_background());
        CHECK(v[i] != NULL);
    }
    return v;
}

static void tree_free(goc_ctx **v, long n) {
    for (long i = 0; i < n; i++) goc_ctx_release(v[i]); /* parents first: children hold them */
    free(v);
}

TEST(cancelling_the_root_reaches_every_leaf) {
    long n = 100000;
    goc_ctx **v = tree_new(n);
    CHECK_EQ(goc__ctx_children(v[0]), FANOUT);
    goc_ctx_cancel(v[0]);
    for (long i = 0; i < n; i++) check_cancelled(v[i], GOC_ECANCELED);
    for (long i = 0; i < n; i++) CHECK_EQ(goc__ctx_children(v[i]), 0);
    tree_free(v, n);
}

/* A cancelled node of the tree and its subtree, in index form. */
static bool in_subtree(long i, long top) {
    while (i > top) i = (i - 1) / FANOUT;
    return i == top;
}

TEST(cancelling_a_middle_node_cancels_only_its_subtree) {
    long n = 20000, mid = 3; /* a child of the root */
    goc_ctx **v = tree_new(n);
    goc_ctx_cancel(v[mid]);
    long cancelled = 0;
    for (long i = 0; i < n; i++) {
        if (in_subtree(i, mid)) {
            check_cancelled(v[i], GOC_ECANCELED);
            cancelled++;
        } else {
            check_live(v[i]);
        }
    }
    CHECK_OP(cancelled, >, 1000);
    CHECK_EQ(goc__ctx_children(v[0]), FANOUT - 1); /* the cancelled child detached */
    goc_ctx_cancel(v[0]);
    for (long i = 0; i < n; i++) check_cancelled(v[i], GOC_ECANCELED);
    tree_free(v, n);
}

TEST(a_long_chain_is_cancelled_and_freed_without_recursion) {
    long n = CHECK_SCALE(200000);
    goc_ctx *root = goc_ctx_with_cancel(NULL), *c = goc_ctx_retain(root);
    for (long i = 0; i < n; i++) {
        goc_ctx *next = i % 3 == 2 ? goc_ctx_with_value(c, &n, NULL) : goc_ctx_with_cancel(c);
        CHECK(next != NULL);
        goc_ctx_release(c); /* the child holds it */
        c = next;
    }
    goc_ctx_cancel(root);
    check_cancelled(c, GOC_ECANCELED);
    goc_ctx_release(root);
    goc_ctx_release(c); /* frees the whole chain */
}

static void cancel_chain_in_coroutine(void *arg) {
    goc_ctx *root = arg;
    goc_ctx_cancel(root); /* on a 16 KiB stack: the walk does not recurse */
}

TEST(a_long_chain_is_cancelled_on_a_small_stack) {
    long n = CHECK_SCALE(200000);
    goc_ctx *root = goc_ctx_with_cancel(NULL), *c = goc_ctx_retain(root);
    for (long i = 0; i < n; i++) {
        goc_ctx *next = goc_ctx_with_cancel(c);
        goc_ctx_release(c);
        c = next;
    }
    goc_opts o = {.stack_size = 16 * 1024};
    CHECK_OK(goc_go_with(&o, cancel_chain_in_coroutine, root));
    CHECK_ERR(GOC_CLOSED, goc_recv(goc_ctx_done(c), NULL));
    CHECK_ERR(GOC_ECANCELED, goc_ctx_err(c));
    while (goc_count() > 0) goc_yield();
    goc_ctx_release(root);
    goc_ctx_release(c);
}

/* ---- born cancelled -------------------------------------------------------- */

TEST(child_of_a_cancelled_parent_is_born_cancelled) {
    goc_ctx *p = goc_ctx_with_timeout(NULL, 3600 * GOC_SEC);
    goc_ctx *v = goc_ctx_with_value(p, "k", "v");
    goc_ctx_cancel(p);
    CHECK_ERR(GOC_ECANCELED, goc_ctx_err(v)); /* a value context reports its ancestor's */
    goc_ctx *kids[] = {goc_ctx_with_cancel(p), goc_ctx_with_timeout(p, GOC_MS),
                       goc_ctx_with_deadline(v, goc_now() + GOC_MS), goc_ctx_with_cancel(v)};
    for (size_t i = 0; i < sizeof kids / sizeof *kids; i++) {
        CHECK(kids[i] != NULL);
        check_cancelled(kids[i], GOC_ECANCELED);
        goc_ctx_release(kids[i]);
    }
    CHECK_EQ(goc__ctx_children(p), 0);
    goc_ctx_release(v);
    goc_ctx_release(p);
}

/* ---- deadlines ------------------------------------------------------------- */

TEST(deadline_fires_with_etimedout) {
    int64_t t0 = goc_now();
    goc_ctx *c = goc_ctx_with_timeout(NULL, 5 * GOC_MS);
    goc_ctx *kid = goc_ctx_with_cancel(c);
    CHECK_OP(goc_ctx_deadline(c), >=, t0 + 5 * GOC_MS);
    CHECK_EQ(goc_ctx_deadline(kid), goc_ctx_deadline(c));
    CHECK_ERR(GOC_CLOSED, goc_recv(goc_ctx_done(c), NULL));
    CHECK_OP(goc_now(), >=, goc_ctx_deadline(c));
    check_cancelled(c, GOC_ETIMEDOUT);
    check_cancelled(kid, GOC_ETIMEDOUT); /* children get the parent's error */
    goc_ctx_cancel(c);                   /* too late: the error stays */
    CHECK_ERR(GOC_ETIMEDOUT, goc_ctx_err(c));
    goc_ctx_release(kid);
    goc_ctx_release(c);
}

TEST(deadline_in_the_past_is_born_timed_out) {
    goc_ctx *a = goc_ctx_with_deadline(NULL, goc_now() - GOC_SEC);
    goc_ctx *b = goc_ctx_with_timeout(NULL, 0);
    goc_ctx *c = goc_ctx_with_timeout(NULL, -5);
    check_cancelled(a, GOC_ETIMEDOUT);
    check_cancelled(b, GOC_ETIMEDOUT);
    check_cancelled(c, GOC_ETIMEDOUT);
    goc_ctx_release(a);
    goc_ctx_release(b);
    goc_ctx_release(c);
}

/* GOC_FOREVER is "no limit" for every goc duration: a timeout of forever
 * is a cancel context with no deadline of its own. */
TEST(timeout_forever_has_no_deadline_of_its_own) {
    goc_ctx *c = goc_ctx_with_timeout(NULL, GOC_FOREVER);
    check_live(c);
    CHECK_EQ(goc_ctx_deadline(c), 0);
    int64_t t = goc_now() + GOC_SEC;
    goc_ctx *p = goc_ctx_with_deadline(NULL, t);
    goc_ctx *d = goc_ctx_with_timeout(p, GOC_FOREVER);
    check_live(d);
    CHECK_EQ(goc_ctx_deadline(d), t);
    goc_ctx_cancel(p);
    check_cancelled(d, GOC_ECANCELED);
    goc_ctx_release(d);
    goc_ctx_release(p);
    goc_ctx_release(c);
}

TEST(timeout_under_an_earlier_parent_deadline_inherits_it) {
    int64_t t0 = goc_now();
    goc_ctx *p = goc_ctx_with_deadline(NULL, t0 + 20 * GOC_MS);
    goc_ctx *v = goc_ctx_with_value(p, "k", NULL);
    goc_ctx *late = goc_ctx_with_timeout(v, 3600 * GOC_SEC);
    goc_ctx *early = goc_ctx_with_deadline(v, t0 + GOC_MS);
    CHECK_EQ(goc_ctx_deadline(v), t0 + 20 * GOC_MS);
    CHECK_EQ(goc_ctx_deadline(late), t0 + 20 * GOC_MS);
    CHECK_EQ(goc_ctx_deadline(early), t0 + GOC_MS);
    CHECK_ERR(GOC_CLOSED, goc_recv(goc_ctx_done(early), NULL));
    CHECK_ERR(GOC_ETIMEDOUT, goc_ctx_err(early));
    CHECK_ERR(GOC_CLOSED, goc_recv(goc_ctx_done(late), NULL)); /* by p's timer */
    CHECK_OP(goc_now(), >=, t0 + 20 * GOC_MS);
    CHECK_ERR(GOC_ETIMEDOUT, goc_ctx_err(late));
    CHECK_ERR(GOC_ETIMEDOUT, goc_ctx_err(p));
    goc_ctx_release(late);
    goc_ctx_release(early);
    goc_ctx_release(v);
    goc_ctx_release(p);
}

TEST(deadline_timers_are_released_on_cancel_and_release) {
    int n = CHECK_SCALE(10000);
    size_t base = timers_after_warm_up();
    goc_ctx **v = malloc((size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) v[i] = goc_ctx_with_timeout(NULL, 3600 * GOC_SEC);
    CHECK_EQ(pending_timers(), base + (size_t)n);
    for (int i = 0; i < n; i += 2) goc_ctx_cancel(v[i]);
    CHECK_EQ(pending_timers(), base + (size_t)n / 2);
    for (int i = 0; i < n; i++) goc_ctx_release(v[i]); /* release stops the rest */
    CHECK_EQ(pending_timers(), base);
    /* A subtree of timed contexts: cancelling the root stops them all. */
    goc_ctx *root = goc_ctx_with_cancel(NULL);
    int64_t far = goc_now() + 3600 * GOC_SEC; /* each child's earlier: its own timer */
    for (int i = 0; i < n; i++)
        v[i] = goc_ctx_with_deadline(i ? v[(i - 1) / 4] : root, far - i * GOC_US);
    CHECK_EQ(pending_timers(), base + (size_t)n);
    goc_ctx_cancel(root);
    CHECK_EQ(pending_timers(), base);
    for (int i = 0; i < n; i++) check_cancelled(v[i], GOC_ECANCELED);
    for (int i = 0; i < n; i++) goc_ctx_release(v[i]);
    goc_ctx_release(root);
    free(v);
}

/* A thread cancels the parent while the main thread creates a timed child
 * under it: the child ends up cancelled, and whichever came first, its timer
 * is not left armed (it was, when the parent's cancel found the timer not yet
 * started and the child's creation started it after). */
static goc_ctx *race_parent;
static _Atomic long race_phase;

static void *race_cancel_parent(void *arg) {
    long n = (long)arg;
    for (long i = 0; i < n; i++) {
        while (atomic_load(&race_phase) != 2 * i + 1) {
        }
        goc_ctx_cancel(race_parent);
        atomic_store(&race_phase, 2 * i + 2);
    }
    return NULL;
}

TEST(timed_child_created_during_its_parents_cancel_leaves_no_timer) {
    long n = CHECK_SCALE(200000);
    size_t base = timers_after_warm_up();
    long armed = 0;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, race_cancel_parent, (void *)n), 0);
    for (long i = 0; i < n; i++) {
        race_parent = goc_ctx_with_cancel(NULL);
        atomic_store(&race_phase, 2 * i + 1);
        goc_ctx *c = goc_ctx_with_timeout(race_parent, 3600 * GOC_SEC);
        while (atomic_load(&race_phase) != 2 * i + 2) {
        }
        check_cancelled(c, GOC_ECANCELED);
        if (pending_timers() != base) armed++;
        goc_ctx_release(c);
        goc_ctx_release(race_parent);
    }
    pthread_join(t, NULL);
    CHECK_EQ(armed, 0);
    CHECK_EQ(pending_timers(), base);
}

/* The same race between coroutines: several create timed children while
 * the parent is cancelled. */
typedef struct {
    goc_ctx *parent;
    goc_ctx **out;
    int n;
    goc_chan *done;
} timed_maker;

static void make_timed_children(void *p) {
    timed_maker *m = p;
    for (int i = 0; i < m->n; i++) {
        m->out[i] = goc_ctx_with_timeout(m->parent, 3600 * GOC_SEC);
        CHECK(m->out[i]);
        if (i % 8 == 0) goc_yield();
    }
    CHECK_OK(goc_send(m->done, NULL));
}

TEST(timed_children_created_by_coroutines_during_cancel_leave_no_timer) {
    enum { K = 4, N = 200 };
    size_t base = pending_timers();
    for (int round = 0; round < CHECK_SCALE(200); round++) {
        goc_ctx *parent = goc_ctx_with_cancel(NULL);
        goc_ctx **v = calloc(K * N, sizeof *v);
        timed_maker m[K];
        goc_chan *done = goc_chan_make(0, K);
        for (int k = 0; k < K; k++) {
            m[k] = (timed_maker){parent, v + k * N, N, done};
            CHECK_OK(goc_go(make_timed_children, &m[k]));
        }
        goc_yield();
        goc_ctx_cancel(parent);
        for (int k = 0; k < K; k++) CHECK_OK(goc_recv(done, NULL));
        for (int i = 0; i < K * N; i++) check_cancelled(v[i], GOC_ECANCELED);
        CHECK_EQ(pending_timers(), base);
        for (int i = 0; i < K * N; i++) goc_ctx_release(v[i]);
        goc_ctx_release(parent);
        goc_chan_release(done);
        free(v);
    }
}

/* Cancelled before its deadline, a context stays cancelled, and so does a
 * child that inherited that deadline (Go's TestCanceledTimeout). */
TEST(cancelled_before_the_deadline_stays_cancelled) {
    /* Deadlines far enough out that a loaded machine (TSan, CI) cancels
     * first, as the test means to. */
    goc_ctx *p = goc_ctx_with_timeout(NULL, 200 * GOC_MS);
    goc_ctx *c = goc_ctx_with_timeout(p, 400 * GOC_MS); /* inherits p's deadline */
    goc_ctx *d = goc_ctx_with_timeout(NULL, 200 * GOC_MS);
    goc_ctx_cancel(c);
    goc_ctx_cancel(d);
    CHECK_ERR(GOC_CLOSED, goc_recv(goc_ctx_done(p), NULL)); /* p's deadline passes */
    CHECK_OK(goc_sleep(5 * GOC_MS));
    check_cancelled(c, GOC_ECANCELED);
    check_cancelled(d, GOC_ECANCELED);
    check_cancelled(p, GOC_ETIMEDOUT);
    goc_ctx_release(c);
    goc_ctx_release(d);
    goc_ctx_release(p);
}

/* Values stay reachable through layers of value, cancel and timeout
 * contexts after the chain times out (Go's TestLayersTimeout). */
TEST(values_survive_a_timeout_through_mixed_layers) {
    static char keys[30];
    goc_ctx *chain[30], *c = NULL;
    for (int i = 0; i < 30; i++) {
        switch (i % 3) {
        case 0: chain[i] = goc_ctx_with_value(c, &keys[i], &keys[i]); break;
        case 1: chain[i] = goc_ctx_with_cancel(c); break;
        default: chain[i] = goc_ctx_with_timeout(c, (i == 2 ? 5 : 1000) * GOC_MS); break;
        }
        CHECK(chain[i]);
        c = chain[i];
    }
    CHECK_ERR(GOC_CLOSED, goc_recv(goc_ctx_done(c), NULL));
    check_cancelled(c, GOC_ETIMEDOUT);
    for (int i = 0; i < 30; i++)
        CHECK(goc_ctx_value(c, &keys[i]) == (i % 3 == 0 ? &keys[i] : NULL));
    for (int i = 29; i >= 0; i--) goc_ctx_release(chain[i]);
}

/* Short deadlines firing while their contexts are released and cancelled:
 * callbacks, cancellers and the free path race on the same nodes. */
static void timeout_churn(void *arg) {
    goc_ctx *parent = arg;
    for (int i = 0; i < CHECK_SCALE(2000); i++) {
        goc_ctx *c = goc_ctx_with_timeout(parent, (i % 7) * 20 * GOC_US);
        goc_ctx *k = goc_ctx_with_timeout(c, (i % 5) * 30 * GOC_US);
        if (i % 3 == 0) goc_yield();
        if (i % 2) goc_ctx_cancel(c);
        goc_ctx_release(c);
        if (i % 4 == 0) goc_sleep(10 * GOC_US);
        goc_ctx_release(k);
    }
}

TEST(deadlines_racing_with_release_and_cancel) {
    goc_ctx *parent = goc_ctx_with_cancel(NULL);
    for (int i = 0; i < 8; i++) CHECK_OK(goc_go(timeout_churn, parent));
    while (goc_count() > 0) goc_sleep(GOC_MS);
    CHECK_EQ(goc__ctx_children(parent), 0);
    check_live(parent);
    goc_ctx_release(parent);
    goc_sleep(2 * GOC_MS); /* no callback may run on freed memory (ASan) */
}

/* A tree whose nodes carry short deadlines of their own; coroutines cancel
 * random nodes and others release their nodes at random moments, while the
 * timers fire. Nothing to compare at the end: this is for deadlocks between
 * callbacks, cancellers and the free path, and for ASan/TSan. */
struct storm {
    goc_ctx **v;
    int n, seed;
    goc_chan *done;
};

static uint32_t xorshift(uint32_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void storm_cancel(void *arg) {
    struct storm *s = arg;
    uint32_t x = (uint32_t)s->seed * 2654435761u | 1;
    for (int i = 0; i < s->n / 4; i++) {
        goc_ctx_cancel(s->v[xorshift(&x) % (uint32_t)s->n]);
        if (i % 16 == 0) goc_yield();
    }
    goc_send(s->done, NULL);
}

/* Releaser k owns the nodes i with i % K == k, one reference each. */
static void storm_release(void *arg) {
    struct storm *s = arg;
    for (int i = s->seed; i < s->n; i += 4) {
        goc_ctx_release(s->v[i]);
        if (i % 64 == 0) goc_sleep(20 * GOC_US);
    }
    goc_send(s->done, NULL);
}

TEST(deadlines_cancels_and_releases_storm_one_tree) {
    int n = CHECK_SCALE(20000), seed = (int)(goc_now() & 0xffff);
    printf("seed %d\n", seed);
    uint32_t x = (uint32_t)seed | 1;
    for (int round = 0; round < 4; round++) {
        goc_ctx **v = malloc((size_t)n * sizeof *v);
        for (int i = 0; i < n; i++) {
            goc_ctx *p = i ? v[(i - 1) / 4] : goc_ctx_background();
            v[i] = goc_ctx_with_timeout(p, (int64_t)(xorshift(&x) % 3000) * GOC_US);
            CHECK(v[i] != NULL);
        }
        /* The cancellers need every node alive: they hold one extra reference
         * each, dropped after they finish; the releasers race with them. */
        for (int i = 0; i < n; i++) goc_ctx_retain(v[i]);
        struct storm s[8];
        goc_chan *done = goc_chan_make(0, 8);
        for (int k = 0; k < 8; k++) {
            s[k] = (struct storm){v, n, k < 4 ? k : seed + k, done};
            CHECK_OK(goc_go(k < 4 ? storm_release : storm_cancel, &s[k]));
        }
        for (int k = 0; k < 8; k++) CHECK_OK(goc_recv(done, NULL));
        goc_ctx_cancel(v[0]);
        for (int i = 0; i < n; i++) {
            CHECK(goc_ctx_err(v[i]) != GOC_OK);
            CHECK_ERR(GOC_CLOSED, goc_try_recv(goc_ctx_done(v[i]), NULL));
        }
        for (int i = 0; i < n; i++) goc_ctx_release(v[i]);
        goc_chan_release(done);
        free(v);
    }
}

/* ---- values ------------------------------------------------------------------ */

TEST(values_walk_up_and_children_shadow) {
    static const char ka = 'a', kb = 'b', kc = 'c';
    int va = 1, vb = 2, vb2 = 3;
    goc_ctx *a = goc_ctx_with_value(NULL, &ka, &va);
    goc_ctx *b = goc_ctx_with_value(a, &kb, &vb);
    goc_ctx *mid = goc_ctx_with_cancel(b);
    goc_ctx *b2 = goc_ctx_with_value(mid, &kb, &vb2);
    CHECK(goc_ctx_value(b2, &ka) == &va);
    CHECK(goc_ctx_value(b2, &kb) == &vb2); /* shadowed */
    CHECK(goc_ctx_value(mid, &kb) == &vb);
    CHECK(goc_ctx_value(b2, &kc) == NULL);
    CHECK(goc_ctx_value(a, &kb) == NULL); /* never down */
    /* A value context's done and err are its cancel ancestor's. */
    CHECK(goc_ctx_done(a) == NULL);
    CHECK(goc_ctx_done(b2) == goc_ctx_done(mid));
    goc_ctx_cancel(b2); /* not a cancel context: nothing happens */
    check_live(mid);
    goc_ctx_cancel(mid);
    CHECK_ERR(GOC_ECANCELED, goc_ctx_err(b2));
    goc_ctx_release(a);
    goc_ctx_release(b);
    goc_ctx_release(mid);
    goc_ctx_release(b2);
}

TEST(cancel_passes_through_value_contexts) {
    goc_ctx *root = goc_ctx_with_cancel(NULL);
    goc_ctx *v1 = goc_ctx_with_value(root, "k", NULL);
    goc_ctx *v2 = goc_ctx_with_value(v1, "k", NULL);
    goc_ctx *leaf = goc_ctx_with_cancel(v2);
    CHECK_EQ(goc__ctx_children(root), 1);
    goc_ctx_cancel(root);
    check_cancelled(leaf, GOC_ECANCELED);
    CHECK_EQ(goc__ctx_children(root), 0);
    goc_ctx_release(leaf);
    goc_ctx_release(v2);
    goc_ctx_release(v1);
    goc_ctx_release(root);
}

/* ---- concurrency ---------------------------------------------------------- */

enum { CC_N = 20000, CC_CORO = 16, CC_THREADS = 4 };

struct canceller {
    goc_ctx **v;
    long n, start;
    goc_chan *go, *done;
};

/* Cancels node `start`, then checks the guarantee of a returned cancel: its
 * whole subtree is cancelled, even if another canceller got there first. */
static void cancel_and_check(struct canceller *c) {
    CHECK_ERR(GOC_CLOSED, goc_recv(c->go, NULL));
    goc_ctx_cancel(c->v[c->start]);
    for (long i = c->start; i < c->n; i++)
        if (in_subtree(i, c->start)) CHECK(goc_ctx_err(c->v[i]) != GOC_OK);
}

static void coro_canceller(void *arg) {
    struct canceller *c = arg;
    cancel_and_check(c);
    goc_send(c->done, NULL);
}

static void *thread_canceller(void *arg) {
    cancel_and_check(arg);
    return NULL;
}

TEST(concurrent_cancels_from_coroutines_and_threads) {
    goc_ctx **v = tree_new(CC_N);
    goc_chan *go = goc_chan_make(0, 0), *done = goc_chan_make(0, CC_CORO);
    struct canceller cs[CC_CORO + CC_THREADS];
    pthread_t t[CC_THREADS];
    for (int i = 0; i < CC_CORO + CC_THREADS; i++) {
        long start = i % 4 == 0 ? 0 : (i * 7919L) % 2000; /* the root and inner nodes */
        cs[i] = (struct canceller){v, CC_N, start, go, done};
        if (i < CC_CORO)
            CHECK_OK(goc_go(coro_canceller, &cs[i]));
        else
            CHECK_EQ(pthread_create(&t[i - CC_CORO], NULL, thread_canceller, &cs[i]), 0);
    }
    goc_sleep(2 * GOC_MS);
    goc_close(go); /* all at once */
    for (int i = 0; i < CC_CORO; i++) CHECK_OK(goc_recv(done, NULL));
    for (int i = 0; i < CC_THREADS; i++) pthread_join(t[i], NULL);
    for (long i = 0; i < CC_N; i++) check_cancelled(v[i], GOC_ECANCELED);
    tree_free(v, CC_N);
    goc_chan_release(go);
    goc_chan_release(done);
}

/* ---- churn ----------------------------------------------------------------- */

TEST(churn_keeps_the_parent_bounded) {
    long n = 100000;
    goc_ctx *parent = goc_ctx_with_cancel(NULL);
    for (long i = 0; i < n; i++) { /* create + cancel */
        goc_ctx *c = goc_ctx_with_cancel(parent);
        CHECK_EQ(goc__ctx_children(parent), 1);
        goc_ctx_cancel(c);
        CHECK_EQ(goc__ctx_children(parent), 0);
        goc_ctx_release(c);
    }
    for (long i = 0; i < n; i++) { /* create + release, never cancelled */
        goc_ctx *c = i % 2 ? goc_ctx_with_cancel(parent) : goc_ctx_with_timeout(parent, GOC_SEC);
        goc_ctx_release(c);
        CHECK_EQ(goc__ctx_children(parent), 0);
    }
    check_live(parent);
    goc_ctx_release(parent);
}

struct churner {
    goc_ctx *parent;
    goc_chan *done;
};

static void churn(void *arg) {
    struct churner *c = arg;
    for (int i = 0; i < CHECK_SCALE(20000); i++) {
        goc_ctx *k = goc_ctx_with_cancel(c->parent);
        goc_ctx *g = goc_ctx_with_cancel(k);
        if (i % 2) goc_ctx_cancel(k);
        if (i % 64 == 0) goc_yield();
        goc_ctx_release(k);
        goc_ctx_release(g);
    }
    goc_send(c->done, NULL);
}

TEST(concurrent_churn_under_one_parent) {
    enum { N = 8 };
    struct churner c = {goc_ctx_with_cancel(NULL), goc_chan_make(0, N)};
    for (int i = 0; i < N; i++) CHECK_OK(goc_go(churn, &c));
    for (int i = 0; i < N; i++) CHECK_OK(goc_recv(c.done, NULL));
    CHECK_EQ(goc__ctx_children(c.parent), 0);
    goc_ctx_release(c.parent);
    goc_chan_release(c.done);
}

/* Children created, released and cancelled while the parent is cancelled. */
TEST(churn_while_the_parent_is_cancelled) {
    enum { N = 8 };
    for (int round = 0; round < CHECK_SCALE(20); round++) {
        struct churner c = {goc_ctx_with_cancel(NULL), goc_chan_make(0, N)};
        for (int i = 0; i < N; i++) CHECK_OK(goc_go(churn, &c));
        goc_sleep(GOC_MS);
        goc_ctx_cancel(c.parent);
        for (int i = 0; i < N; i++) CHECK_OK(goc_recv(c.done, NULL));
        CHECK_EQ(goc__ctx_children(c.parent), 0);
        goc_ctx_release(c.parent);
        goc_chan_release(c.done);
    }
}

/* ---- out of memory ----------------------------------------------------------- */

TEST(out_of_memory_returns_null_and_changes_nothing) {
    goc_ctx *warm = goc_ctx_with_timeout(NULL, GOC_SEC); /* the runtime's own allocations */
    goc_ctx_release(warm);
    goc_ctx *p = goc_ctx_with_cancel(NULL);
    for (long k = 1; k <= 3; k++) {
        goc__fault_arm(GOC__FAULT_ALLOC, k);
        goc_ctx *c = goc_ctx_with_timeout(p, GOC_SEC);
        goc__fault_arm(GOC__FAULT_ALLOC, 0);
        if (c) {
            goc_ctx_release(c);
        }
        CHECK_EQ(goc__ctx_children(p), 0);
        goc__fault_arm(GOC__FAULT_ALLOC, k);
        goc_ctx *v = goc_ctx_with_value(p, "k", NULL);
        goc__fault_arm(GOC__FAULT_ALLOC, 0);
        if (v) goc_ctx_release(v);
    }
    goc__fault_arm(GOC__FAULT_ALLOC, 1);
    CHECK(goc_ctx_with_cancel(p) == NULL);
    goc__fault_arm(GOC__FAULT_ALLOC, 1);
    CHECK(goc_ctx_with_value(p, "k", NULL) == NULL);
    /* Everything still works. */
    goc_ctx *c = goc_ctx_with_timeout(p, GOC_MS);
    CHECK_ERR(GOC_CLOSED, goc_recv(goc_ctx_done(c), NULL));
    goc_ctx_cancel(p);
    check_cancelled(p, GOC_ECANCELED);
    goc_ctx_release(c);
    goc_ctx_release(p);
}

/* ---- misuse ---------------------------------------------------------------- */

TEST(death_helper_release) { /* runs only when spawned by the case below */
    const char *what = getenv("CTX_MISUSE");
    if (!what) return;
    goc_ctx *c = NULL;
    if (strcmp(what, "cancel") == 0) c = goc_ctx_with_cancel(NULL);
    if (strcmp(what, "value") == 0) c = goc_ctx_with_value(NULL, "k", NULL);
    if (strcmp(what, "timeout") == 0) c = goc_ctx_with_timeout(NULL, GOC_SEC);
    goc_ctx_release(c);
    goc_ctx_release(c);
    _exit(0);
}

/* A release past zero aborts with a message in every build, as Go panics on
 * misuse, instead of freeing twice. */
TEST(release_past_zero_is_fatal_with_a_message) {
    const char *envs[] = {"CTX_MISUSE=cancel", "CTX_MISUSE=value", "CTX_MISUSE=timeout"};
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++)
        CHECK_ABORTS("death_helper_release", envs[i], "goc_ctx_release of 0x",
                     "released more times than retained");
}
