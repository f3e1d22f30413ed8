/* The lesson's race: count++ from two coroutines. Under ThreadSanitizer the
 * racy version is reported, with one worker (the two coroutines take turns
 * on one thread: switching does not synchronise) and with two; the versions
 * fixed three ways (a goc_mutex, C11 atomics, a channel to a coroutine that
 * owns the counter: "share memory by communicating"), and hand-offs that goc
 * orders (spawn, goc_blocking), are not. Without TSan the fixed versions must
 * count exactly. */
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"

#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif

enum { LOOPS = 10000 };

static long count;          /* the lesson's shared counter */
static _Atomic long acount; /* the fixed one */
static _Atomic int done;

static void wait_done(int n) {
    int64_t limit = goc_now() + 60 * GOC_SEC;
    while (atomic_load(&done) < n) {
        if (goc_now() > limit) check_fail(__FILE__, __LINE__, "coroutines did not finish");
        goc_sleep(GOC_MS);
    }
}

/* ---- the children: each prints its count, TSan adds its reports ------------ */

static int child(void) { return getenv("RACE_CHILD") != NULL; }

static __attribute__((noinline)) void racy_increment(void) { count++; }

static void racy(void *arg) {
    int yield = (int)(intptr_t)arg;
    for (int i = 0; i < LOOPS; i++) {
        racy_increment();
        if (yield) goc_yield();
    }
    atomic_fetch_add(&done, 1);
}

TEST(child_racy) {
    if (!child()) return;
    int yield = getenv("RACE_YIELD") != NULL;
    CHECK_OK(goc_go(racy, (void *)(intptr_t)yield));
    CHECK_OK(goc_go(racy, (void *)(intptr_t)yield));
    wait_done(2);
    printf("count=%ld\n", count);
}

static void fixed_atomic(void *arg) {
    (void)arg;
    for (int i = 0; i < LOOPS; i++) {
        atomic_fetch_add(&acount, 1);
        if (i % 16 == 0) goc_yield();
    }
    atomic_fetch_add(&done, 1);
}

TEST(child_atomic) {
    if (!child()) return;
    CHECK_OK(goc_go(fixed_atomic, NULL));
    CHECK_OK(goc_go(fixed_atomic, NULL));
    wait_done(2);
    printf("count=%ld\n", atomic_load(&acount));
}

static long mcount;
static goc_mutex mu = GOC_MUTEX_INIT;

static void fixed_mutex(void *arg) {
    (void)arg;
    for (int i = 0; i < LOOPS; i++) {
        goc_mutex_lock(&mu);
        mcount++;
        goc_mutex_unlock(&mu);
        if (i % 16 == 0) goc_yield();
    }
    atomic_fetch_add(&done, 1);
}

TEST(child_mutex) {
    if (!child()) return;
    CHECK_OK(goc_go(fixed_mutex, NULL));
    CHECK_OK(goc_go(fixed_mutex, NULL));
    wait_done(2);
    goc_mutex_lock(&mu);
    printf("count=%ld\n", mcount);
    goc_mutex_unlock(&mu);
}

/* The counter belongs to one coroutine; the others send it increments. */
static goc_chan *incs, *result;

static void owner(void *arg) {
    (void)arg;
    long ccount = 0, d;
    while (goc_recv(incs, &d) == GOC_OK) ccount += d;
    goc_send(result, &ccount);
}

static void fixed_channel(void *arg) {
    (void)arg;
    for (int i = 0; i < LOOPS; i++) CHECK_OK(goc_send(incs, &(long){1}));
    atomic_fetch_add(&done, 1);
}

TEST(child_channel) {
    if (!child()) return;
    incs = goc_chan_make(sizeof(long), 16);
    result = goc_chan_make(sizeof(long), 0);
    CHECK_OK(goc_go(owner, NULL));
    CHECK_OK(goc_go(fixed_channel, NULL));
    CHECK_OK(goc_go(fixed_channel, NULL));
    wait_done(2);
    goc_close(incs);
    long total = 0;
    CHECK_OK(goc_recv(result, &total));
    printf("count=%ld\n", total);
    goc_chan_release(incs);
    goc_chan_release(result);
}

/* Spawn orders the parent's writes before the child; the child hands its
 * result back through an atomic (release/acquire). */
static long plain_data[64];

static void spawned_reader(void *arg) {
    long *p = arg;
    long sum = 0;
    for (int i = 0; i < 64; i++) sum += p[i];
    p[0] = sum; /* the parent no longer touches it */
    goc_yield();
    atomic_fetch_add(&done, 1);
}

static void spawning_writer(void *arg) {
    (void)arg;
    for (int i = 0; i < 64; i++) plain_data[i] = i;
    CHECK_OK(goc_go(spawned_reader, plain_data));
}

TEST(child_spawn_edge) {
    if (!child()) return;
    CHECK_OK(goc_go(spawning_writer, NULL));
    wait_done(1);
    printf("count=%ld\n", plain_data[0]);
}

/* goc_blocking orders the caller's writes before fn and fn's after the
 * return. */
static void blocking_fn(void *arg) {
    long *p = arg;
    for (int i = 0; i < 64; i++) p[i] += i;
}

static void blocking_caller(void *arg) {
    int slot = (int)(intptr_t)arg; /* each caller reports in its own slot */
    long local[64];
    for (int i = 0; i < 64; i++) local[i] = i;
    for (int round = 0; round < 100; round++) CHECK_OK(goc_blocking(blocking_fn, local));
    long sum = 0;
    for (int i = 0; i < 64; i++) sum += local[i];
    plain_data[slot] = sum;
    atomic_fetch_add(&done, 1);
}

TEST(child_blocking_edge) {
    if (!child()) return;
    CHECK_OK(goc_go(blocking_caller, (void *)1));
    CHECK_OK(goc_go(blocking_caller, (void *)2));
    wait_done(2);
    printf("count=%ld\n", plain_data[1] + plain_data[2]);
}

/* In a group with a limit of one, a member's return happens-before the next
 * goc_group_go returns, whether that call waited for the slot or found it
 * free (errgroup's semaphore channel gives the same edge). The relaxed flag
 * gives no edge: it only makes the next call often find the slot free. */
static long group_count;
static _Atomic int group_last;

static int limited_member(goc_ctx *ctx, void *arg) {
    (void)ctx;
    group_count++;
    atomic_store_explicit(&group_last, (int)(intptr_t)arg, memory_order_relaxed);
    return 0;
}

TEST(child_group_limit_edge) {
    if (!child()) return;
    goc_group *g = goc_group_new(NULL);
    CHECK(g != NULL);
    goc_group_limit(g, 1);
    for (int i = 1; i <= 200; i++) {
        CHECK_OK(goc_group_go(g, limited_member, (void *)(intptr_t)i));
        while (atomic_load_explicit(&group_last, memory_order_relaxed) != i) goc_yield();
    }
    CHECK_OK(goc_group_wait(g));
    goc_group_free(g);
    printf("count=%ld\n", group_count);
}

/* ---- the assertions ------------------------------------------------------------ */

static char out[1 << 16];

static void run_child(const char *name, int procs, int yield) {
    char env[32];
    snprintf(env, sizeof env, "GOC_PROCS=%d", procs);
    setenv("RACE_CHILD", "1", 1);
    if (yield)
        setenv("RACE_YIELD", "1", 1);
    else
        unsetenv("RACE_YIELD");
    check_spawn(name, env, out, sizeof out);
}

static void expect_report(const char *name, int procs, int yield) {
    run_child(name, procs, yield);
#ifdef TSAN
    if (!strstr(out, "WARNING: ThreadSanitizer: data race"))
        check_fail(__FILE__, __LINE__, "%s, GOC_PROCS=%d: no race reported:\n%s", name, procs, out);
    if (!strstr(out, "racy_increment"))
        check_fail(__FILE__, __LINE__, "%s: the report does not name racy_increment:\n%s", name, out);
#else
    CHECK(strstr(out, "count=") != NULL); /* it ran; the count may be anything */
#endif
}

static void expect_clean(const char *name, int procs, long want) {
    char line[64];
    run_child(name, procs, 0);
    if (strstr(out, "ThreadSanitizer"))
        check_fail(__FILE__, __LINE__, "%s, GOC_PROCS=%d: unexpected report:\n%s", name, procs, out);
    snprintf(line, sizeof line, "count=%ld\n", want);
    if (!strstr(out, line))
        check_fail(__FILE__, __LINE__, "%s, GOC_PROCS=%d: want %s in:\n%s", name, procs, line, out);
}

TEST(racy_reported_one_worker) { expect_report("child_racy", 1, 0); }
TEST(racy_reported_one_worker_interleaved) { expect_report("child_racy", 1, 1); }
TEST(racy_reported_two_workers) { expect_report("child_racy", 2, 0); }
TEST(racy_reported_two_workers_interleaved) { expect_report("child_racy", 2, 1); }

TEST(atomic_clean_one_worker) { expect_clean("child_atomic", 1, 2 * LOOPS); }
TEST(atomic_clean_two_workers) { expect_clean("child_atomic", 2, 2 * LOOPS); }
TEST(mutex_clean_one_worker) { expect_clean("child_mutex", 1, 2 * LOOPS); }
TEST(mutex_clean_two_workers) { expect_clean("child_mutex", 2, 2 * LOOPS); }
TEST(channel_clean_one_worker) { expect_clean("child_channel", 1, 2 * LOOPS); }
TEST(channel_clean_two_workers) { expect_clean("child_channel", 2, 2 * LOOPS); }

TEST(spawn_edge_clean) {
    expect_clean("child_spawn_edge", 1, 64 * 63 / 2);
    expect_clean("child_spawn_edge", 2, 64 * 63 / 2);
}

TEST(group_limit_edge_clean) {
    expect_clean("child_group_limit_edge", 1, 200);
    expect_clean("child_group_limit_edge", 2, 200);
}

TEST(blocking_edge_clean) {
    long want = 2 * (64 * 63 / 2 * 101); /* two callers: i, plus i added 100 times */
    expect_clean("child_blocking_edge", 1, want);
    expect_clean("child_blocking_edge", 2, want);
}
