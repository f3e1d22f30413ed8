/* Seeing inside: goc_stats counts a known workload exactly, and
 * GOC_DEBUG=stats prints it at exit. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "check.h"
#include "testutil.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

/* Cases named child_* run only in a process of their own, started by
 * check_spawn (they deadlock, or die of a signal, on purpose). */
#define CHILD_ONLY()                          \
    do {                                      \
        if (!getenv("CHECK_NOFORK")) return;  \
    } while (0)

static goc_wg done_wg = GOC_WG_INIT;

static void finish(void *arg) {
    (void)arg;
    goc_wg_done(&done_wg);
}

static void wait_live(uint64_t want) {
    goc_stats_t s;
    for (;;) {
        goc_stats(&s);
        if (s.coroutines_live == want) return;
        goc_sleep(GOC_MS);
    }
}

/* ---- stats --------------------------------------------------------------- */

TEST(stats_count_spawns_exactly) {
    goc_stats_t a, b;
    goc_stats(&a);
    CHECK_EQ(a.coroutines_started, 0); /* before the runtime: all zero */
    CHECK_EQ(a.workers, 0);
    int n = 1000;
    goc_wg_add(&done_wg, n);
    for (int i = 0; i < n; i++) CHECK_OK(goc_go(finish, NULL));
    goc_wg_wait(&done_wg);
    wait_live(0);
    goc_stats(&b);
    CHECK_EQ(b.coroutines_started, n);
    CHECK_EQ(b.coroutines_finished, n);
    CHECK_EQ(b.coroutines_live, 0);
    CHECK_OP(b.workers, >=, goc_procs());
    CHECK_OP(b.switches, >=, n); /* each ran at least once */
}

enum { HANDOFFS = 1000 };

static void echo(void *arg) {
    goc_chan **ch = arg;
    long v;
    while (goc_recv(ch[0], &v) == GOC_OK) goc_send(ch[1], &v);
}

static void pinger(void *arg) {
    goc_chan **ch = arg;
    for (long i = 0; i < HANDOFFS; i++) {
        long v = i;
        CHECK_OK(goc_send(ch[0], &v));
        CHECK_OK(goc_recv(ch[1], &v));
        CHECK_EQ(v, i);
    }
    goc_close(ch[0]);
    goc_wg_done(&done_wg);
}

TEST(stats_handoffs_count_parks_and_wakes) {
    goc_chan *ch[2] = {goc_chan_make(sizeof(long), 0), goc_chan_make(sizeof(long), 0)};
    goc_stats_t a, b;
    CHECK_EQ(goc_procs() > 0, 1);
    goc_stats(&a);
    goc_wg_add(&done_wg, 1);
    CHECK_OK(goc_go(echo, ch));
    CHECK_OK(goc_go(pinger, ch));
    goc_wg_wait(&done_wg);
    wait_live(0);
    goc_stats(&b);
    /* 2K unbuffered hand-offs: every one parks one side and wakes it. */
    CHECK_OP(b.parks - a.parks, >=, HANDOFFS);
    CHECK_OP(b.wakes - a.wakes, >=, HANDOFFS);
    CHECK_OP(b.switches - a.switches, >=, 2 * HANDOFFS);
    CHECK_OP(b.wakes, <=, b.parks + 1); /* a wake follows a park (one may be in flight) */
    CHECK_EQ(b.coroutines_started - a.coroutines_started, 2);
    goc_chan_release(ch[0]);
    goc_chan_release(ch[1]);
}

static int fds[2];

static void sleeper_then_write(void *arg) {
    (void)arg;
    for (int i = 0; i < 10; i++) goc_sleep(GOC_MS);
    CHECK_EQ(write(fds[1], "x", 1), 1);
}

static void napper(void *arg) {
    (void)arg;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

static void fd_and_blocking(void *arg) {
    (void)arg;
    CHECK_OK(goc_go(sleeper_then_write, NULL));
    CHECK_EQ(goc_fd_wait(fds[0], GOC_READ, GOC_FOREVER), GOC_READ);
    for (int i = 0; i < 5; i++) CHECK_OK(goc_blocking(napper, NULL));
    goc_wg_done(&done_wg);
}

TEST(stats_timers_polls_blocking_stacks) {
    CHECK_EQ(pipe(fds), 0);
    goc_stats_t a, b;
    CHECK_EQ(goc_procs() > 0, 1);
    goc_stats(&a);
    goc_wg_add(&done_wg, 1);
    CHECK_OK(goc_go(fd_and_blocking, NULL));
    goc_wg_wait(&done_wg);
    wait_live(0);
    goc_stats(&b);
    CHECK_OP(b.timer_fires - a.timer_fires, >=, 10);
    CHECK_OP(b.polls - a.polls, >=, 1); /* the fd wait was woken by a poll */
    CHECK_EQ(b.blocking_calls - a.blocking_calls, 5);
    CHECK_OP(b.stack_bytes_reserved, >, 0);
    CHECK_OP(b.stack_bytes_committed, >, 0);
    CHECK_OP(b.stack_bytes_committed, <=, b.stack_bytes_reserved);
}

TEST(child_stats_at_exit) {
    CHILD_ONLY();
    goc_wg_add(&done_wg, 3);
    for (int i = 0; i < 3; i++) CHECK_OK(goc_go(finish, NULL));
    goc_wg_wait(&done_wg);
    wait_live(0);
}

TEST(goc_debug_stats_prints_at_exit) {
    static char out[1 << 16];
    int st = check_spawn("child_stats_at_exit", "GOC_DEBUG=stats", out, sizeof out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!strstr(out, "goc stats: coroutines live 0 started 3 finished 3"))
        check_fail(__FILE__, __LINE__, "no stats line in:\n%s", out);
    CHECK(strstr(out, "goc stats: switches ") != NULL);
    CHECK(strstr(out, "stack bytes reserved ") != NULL);
}

