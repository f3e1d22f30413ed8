/* Seeing inside: goc_stats counts a known workload exactly, goc_dump names
 * every blocked coroutine and what it waits on (folded like Go's dump), a dump
 * taken while coroutines run elsewhere is well formed, SIGQUIT dumps and
 * exits 2, deadlocks are reported (exit 2, the wait named) and legitimate
 * waits never are. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "chan.h"
#include "check.h"
#include "testutil.h"


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
static uint64_t committed_seen;

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
    goc_stats_t s; /* while this coroutine's stack is in use (TSan unmaps freed ones) */
    goc_stats(&s);
    CHECK_OP(s.stack_bytes_reserved, >, 0);
    committed_seen = s.stack_bytes_committed; /* checked last */
    CHECK_OP(s.stack_bytes_committed, <=, s.stack_bytes_reserved);
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
    if (committed_seen == 0)
        CHECK_SKIP_EMULATED("qemu-user's mincore fails (ENOMEM) on a range with PROT_NONE pages "
                            "(the mprotect guards), so committed stack bytes read 0; the other "
                            "counters were checked");
    CHECK_OP(committed_seen, >, 0);
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

/* ---- dump ---------------------------------------------------------------- */

static goc_chan *rch, *sch, *tch;
static goc_mutex mu = GOC_MUTEX_INIT;
static goc_wg never_wg = GOC_WG_INIT;
static _Atomic uint64_t ids[8];
static _Atomic int parked;

static void receiver(void *arg) {
    ids[(intptr_t)arg] = goc_id();
    atomic_fetch_add(&parked, 1);
    goc_recv(rch, NULL);
}

/* One spawn site however the caller's loop is compiled: they fold. */
__attribute__((noinline)) static void spawn_receiver(intptr_t i) {
    CHECK_OK(goc_go_with(&(goc_opts){.name = "recv-worker"}, receiver, (void *)i));
}

static void sender(void *arg) {
    (void)arg;
    ids[3] = goc_id();
    int v = 7;
    atomic_fetch_add(&parked, 1);
    goc_send(sch, &v);
}

static void selector(void *arg) {
    (void)arg;
    ids[4] = goc_id();
    goc_chan *a = goc_chan_make(0, 0);
    goc_case cs[] = {GOC_RECV(a, NULL), GOC_RECV(NULL, NULL)};
    atomic_fetch_add(&parked, 1);
    goc_select(cs, 2, GOC_FOREVER);
}

static void wg_waiter(void *arg) {
    (void)arg;
    ids[5] = goc_id();
    atomic_fetch_add(&parked, 1);
    goc_wg_wait(&never_wg);
}

static void locker(void *arg) {
    (void)arg;
    ids[6] = goc_id();
    atomic_fetch_add(&parked, 1);
    goc_mutex_lock(&mu);
}

static void long_sleeper(void *arg) {
    (void)arg;
    ids[7] = goc_id();
    atomic_fetch_add(&parked, 1);
    goc_sleep(600 * GOC_SEC);
}

static void *blocked_thread(void *arg) {
    (void)arg;
    goc_recv(tch, NULL);
    return NULL;
}

static char *dump_string(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    goc_dump(f);
    fclose(f);
    return buf;
}

static bool has(const char *dump, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool has(const char *dump, const char *fmt, ...) {
    char want[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    return strstr(dump, want) != NULL;
}

#define EXPECT(dump, ...)                                                                  \
    do {                                                                                   \
        if (!has(dump, __VA_ARGS__)) {                                                     \
            char want_[256];                                                               \
            snprintf(want_, sizeof want_, __VA_ARGS__);                                    \
            check_fail(__FILE__, __LINE__, "dump lacks \"%s\":\n%s", want_, dump);         \
        }                                                                                  \
    } while (0)

static bool all_waiting(const char *d) {
    return strstr(d, "goc: 8 coroutines") && !strstr(d, "runnable") && !strstr(d, "running") &&
           strstr(d, "thread ");
}

TEST(dump_names_every_wait_and_folds_identical_ones) {
    rch = goc_chan_make(sizeof(long), 0);
    sch = goc_chan_make(sizeof(int), 0);
    tch = goc_chan_make(sizeof(char), 0);
    goc_wg_add(&never_wg, 1);
    goc_mutex_lock(&mu);
    for (intptr_t i = 0; i < 3; i++) spawn_receiver(i);
    CHECK_OK(goc_go_with(&(goc_opts){.name = "sender"}, sender, NULL));
    CHECK_OK(goc_go_with(&(goc_opts){.name = "selector"}, selector, NULL));
    CHECK_OK(goc_go(wg_waiter, NULL));
    CHECK_OK(goc_go(locker, NULL));
    CHECK_OK(goc_go_with(&(goc_opts){.name = "sleeper"}, long_sleeper, NULL));
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, blocked_thread, NULL), 0);
    WAIT_UNTIL(atomic_load(&parked) == 8, 60);
    char *d = dump_string();
    for (int tries = 0; !all_waiting(d) && tries < 10000; tries++) {
        free(d);
        goc_sleep(GOC_MS);
        d = dump_string();
    }
    EXPECT(d, "goc: 8 coroutines, %d workers, 1 threads blocked in goc", goc_procs());
    /* Three receivers of one channel, one spawn site, one name: folded. */
    EXPECT(d, "3 coroutines [chan receive %p, elem 8 bytes", (void *)rch);
    EXPECT(d, "] \"recv-worker\": ids");
    uint64_t r[3] = {ids[0], ids[1], ids[2]};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (r[j] < r[i]) {
                uint64_t x = r[i];
                r[i] = r[j];
                r[j] = x;
            }
    EXPECT(d, "ids %llu %llu %llu\n", (unsigned long long)r[0], (unsigned long long)r[1],
           (unsigned long long)r[2]);
    EXPECT(d, "coroutine %llu [chan send %p, elem 4 bytes", (unsigned long long)ids[3],
           (void *)sch);
    EXPECT(d, "] \"sender\"");
    EXPECT(d, "coroutine %llu [select, 2 cases", (unsigned long long)ids[4]);
    EXPECT(d, "coroutine %llu [waitgroup wait %p", (unsigned long long)ids[5], (void *)&never_wg);
    EXPECT(d, "coroutine %llu [mutex lock %p", (unsigned long long)ids[6], (void *)&mu);
    EXPECT(d, "coroutine %llu [sleep", (unsigned long long)ids[7]);
    EXPECT(d, "] \"sleeper\"");
    EXPECT(d, "[chan receive %p, elem 1 bytes", (void *)tch); /* the thread */
    EXPECT(d, "\tspawned at ");
    /* How long: "<seconds>.<ms>s" after the wait. */
    CHECK(strstr(d, "bytes, ") != NULL && strstr(d, "s]") != NULL);
    free(d);
    /* Let them go: the dump follows. */
    goc_close(rch);
    goc_close(tch);
    goc_mutex_unlock(&mu);
    goc_wg_done(&never_wg);
    int v;
    CHECK_OK(goc_recv(sch, &v));
    pthread_join(t, NULL);
    WAIT_UNTIL(goc_count() == 2, 60); /* the selector and the sleeper stay */
    d = dump_string();
    EXPECT(d, "goc: 2 coroutines");
    CHECK(strstr(d, "recv-worker") == NULL);
    free(d);
}

static _Atomic bool stop;
static goc_wg churn_wg = GOC_WG_INIT;

static void short_lived(void *arg) {
    (void)arg;
    goc_yield();
}

static void churn_echo(void *arg) {
    goc_chan **ch = arg;
    long v;
    while (goc_recv(ch[0], &v) == GOC_OK) goc_send(ch[1], &v);
    goc_wg_done(&churn_wg);
}

static void churn(void *arg) {
    goc_chan **ch = arg;
    for (long v = 0; !atomic_load(&stop); v++) {
        goc_send(ch[0], &v);
        goc_recv(ch[1], &v);
        if (v % 16 == 0) goc_go_with(&(goc_opts){.name = "short"}, short_lived, NULL);
        if (v % 128 == 0) goc_sleep(GOC_US);
    }
    goc_close(ch[0]);
    goc_wg_done(&churn_wg);
}

/* Dumps from a plain thread while coroutines park, wake, spawn and exit on
 * every worker: each dump is well formed and never crashes (run it under
 * TSan and ASan too). */
TEST(dump_while_coroutines_run_elsewhere) {
    enum { PAIRS = 4 };
    goc_chan *ch[PAIRS][2];
    for (int i = 0; i < PAIRS; i++) {
        ch[i][0] = goc_chan_make(sizeof(long), 0);
        ch[i][1] = goc_chan_make(sizeof(long), 0);
        goc_wg_add(&churn_wg, 2);
        CHECK_OK(goc_go_with(&(goc_opts){.name = "churn-echo"}, churn_echo, ch[i]));
        CHECK_OK(goc_go_with(&(goc_opts){.name = "churn"}, churn, ch[i]));
    }
    int rounds = CHECK_SANITIZED_OR(50, 300);
    for (int r = 0; r < rounds; r++) {
        char *d = dump_string();
        CHECK(strncmp(d, "goc: ", 5) == 0);
        size_t nl = 0;
        for (char *p = d; *p; p++) nl += *p == '\n';
        CHECK_OP(nl, >=, 1);
        CHECK(d[strlen(d) - 1] == '\n');
        free(d);
    }
    atomic_store(&stop, true);
    goc_wg_wait(&churn_wg);
    wait_live(0);
    for (int i = 0; i < PAIRS; i++) {
        goc_chan_release(ch[i][0]);
        goc_chan_release(ch[i][1]);
    }
    char *d = dump_string();
    EXPECT(d, "goc: 0 coroutines");
    free(d);
}

/* ---- backtraces ---------------------------------------------------------- */

/* Not static, not inlined, not tail calls: named by dladdr (test_debug is
 * linked with -rdynamic), each its own frame. Built like any user code here,
 * without frame pointers: the unwinder goes by the call-frame information. */
static goc_chan *bt_ch;
static _Atomic int bt_sink, bt_parked;
static _Atomic bool bt_stop;

__attribute__((noinline)) void bt_parked_in_recv(void) {
    atomic_fetch_add(&bt_parked, 1);
    atomic_fetch_add(&bt_sink, goc_recv(bt_ch, NULL));
}

__attribute__((noinline)) void bt_recv_caller(void *arg) {
    (void)arg;
    bt_parked_in_recv();
    atomic_fetch_add(&bt_sink, 1);
}

__attribute__((noinline)) void bt_parked_in_select(void *arg) {
    (void)arg;
    goc_case cs[] = {GOC_RECV(bt_ch, NULL), GOC_RECV(NULL, NULL)};
    atomic_fetch_add(&bt_parked, 1);
    atomic_fetch_add(&bt_sink, goc_select(cs, 2, GOC_FOREVER));
}

__attribute__((noinline)) void bt_parked_in_sleep(void *arg) {
    (void)arg;
    atomic_fetch_add(&bt_parked, 1);
    atomic_fetch_add(&bt_sink, goc_sleep(600 * GOC_SEC));
}

__attribute__((noinline)) void bt_spinning(void *arg) {
    (void)arg;
    atomic_fetch_add(&bt_parked, 1);
    while (!atomic_load(&bt_stop)) atomic_fetch_add(&bt_sink, 1);
}

/* The lines of d's entry whose first line contains what (up to the blank line). */
static char *entry_of(const char *d, const char *what) {
    const char *p = strstr(d, what);
    if (!p) return NULL;
    while (p > d && p[-1] != '\n') p--;
    const char *end = strstr(p, "\n\n");
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char *e = malloc(n + 1);
    memcpy(e, p, n);
    e[n] = 0;
    return e;
}

static void expect_frames(const char *d, const char *name, const char *inner, const char *outer) {
    char *e = entry_of(d, name);
    if (!e) check_fail(__FILE__, __LINE__, "no %s in:\n%s", name, d);
    char want[128];
    snprintf(want, sizeof want, "\tat %s+0x", inner);
    const char *a = strstr(e, want);
    if (!a) check_fail(__FILE__, __LINE__, "%s: no \"%s\" in:\n%s", name, want, e);
    if (outer) {
        snprintf(want, sizeof want, "\tat %s+0x", outer);
        const char *b = strstr(e, want);
        if (!b || b < a) check_fail(__FILE__, __LINE__, "%s: no \"%s\" after %s:\n%s", name, want, inner, e);
    }
    free(e);
}

TEST(dump_backtraces_name_the_parked_function) {
    bt_ch = goc_chan_make(0, 0);
    CHECK_OK(goc_go_with(&(goc_opts){.name = "bt-recv"}, bt_recv_caller, NULL));
    CHECK_OK(goc_go_with(&(goc_opts){.name = "bt-select"}, bt_parked_in_select, NULL));
    CHECK_OK(goc_go_with(&(goc_opts){.name = "bt-sleep"}, bt_parked_in_sleep, NULL));
    WAIT_UNTIL(atomic_load(&bt_parked) == 3, 60);
    CHECK_OK(goc_go_with(&(goc_opts){.name = "bt-spin"}, bt_spinning, NULL));
    WAIT_UNTIL(atomic_load(&bt_parked) == 4, 60);
    char *d = dump_string();
    for (int tries = 0; (!strstr(d, "\tat bt_parked_in_recv+") || !strstr(d, "\tat bt_parked_in_select+") ||
                        !strstr(d, "\tat bt_parked_in_sleep+")) && tries < 10000; tries++) {
        free(d);
        goc_sleep(GOC_MS);
        d = dump_string();
    }
    expect_frames(d, "\"bt-recv\"", "bt_parked_in_recv", "bt_recv_caller");
    expect_frames(d, "\"bt-select\"", "bt_parked_in_select", NULL);
    expect_frames(d, "\"bt-sleep\"", "bt_parked_in_sleep", NULL);
    /* A running coroutine is never walked. */
    char *e = entry_of(d, "\"bt-spin\"");
    if (!e || !strstr(e, "[running on worker ") || strstr(e, "\tat "))
        check_fail(__FILE__, __LINE__, "the running coroutine:\n%s", e ? e : d);
    free(e);
    free(d);
    atomic_store(&bt_stop, true);
    goc_close(bt_ch);
    WAIT_UNTIL(goc_count() == 1, 60); /* the sleeper stays */
}

/* ---- SIGQUIT ------------------------------------------------------------- */

static void blocked_coro(void *arg) {
    (void)arg;
    goc_recv(tch, NULL);
}

TEST(child_sigquit) {
    CHILD_ONLY();
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    tch = goc_chan_make(sizeof(char), 0);
    CHECK_OK(goc_go_with(&(goc_opts){.name = "quit-victim"}, blocked_coro, NULL));
    char *d = dump_string();
    for (int tries = 0; !strstr(d, "[chan receive ") && tries < 10000; tries++) {
        free(d);
        goc_sleep(GOC_MS);
        d = dump_string();
    }
    free(d);
    kill(getpid(), SIGQUIT);
    for (;;) pause(); /* the monitor dumps and exits */
}

TEST(sigquit_dumps_and_exits_2) {
    static char out[1 << 16];
    int st = check_spawn("child_sigquit", "GOC_DEADLOCK=0", out, sizeof out);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 2))
        check_fail(__FILE__, __LINE__, "status %#x, output:\n%s", st, out);
    CHECK(strstr(out, "SIGQUIT: quit") != NULL);
    CHECK(strstr(out, "\"quit-victim\"") != NULL);
    CHECK(strstr(out, "[chan receive ") != NULL);
}

TEST(goc_traceback_none_leaves_sigquit_alone) {
    static char out[1 << 16];
    int st = check_spawn("child_sigquit", "GOC_TRACEBACK=none", out, sizeof out);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGQUIT);
    CHECK(strstr(out, "SIGQUIT: quit") == NULL);
}

/* ---- deadlock ------------------------------------------------------------ */

static void expect_deadlock(const char *child, const char *wait) {
#ifdef TU_TSAN
    (void)child, (void)wait; /* TSan's own thread keeps detection silent: see goc.h */
#else
    /* qemu-user runs a thread of its own (its RCU thread) in the process:
     * /proc/self/task shows one more than goc knows of, and the detector,
     * which stays silent while an unknown thread could still send, does. */
    CHECK_SKIP_EMULATED("qemu-user's own thread is in /proc/self/task: an unknown thread could "
                        "send, so deadlock detection rightly stays silent");
    static const char *DEADLOCK = "goc: all coroutines are asleep - deadlock!";
    static char out[1 << 16];
    int st = check_spawn(child, NULL, out, sizeof out);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 2) || !strstr(out, DEADLOCK) || !strstr(out, wait))
        check_fail(__FILE__, __LINE__, "%s: status %#x, wanted exit 2 and \"%s\", output:\n%s",
                   child, st, wait, out);
#endif
}

TEST(child_main_recv_no_sender) {
    CHILD_ONLY();
    goc_procs(); /* the runtime runs */
    goc_chan *c = goc_chan_make(sizeof(long), 0);
    printf("chan %p\n", (void *)c);
    fflush(stdout);
    goc_recv(c, NULL);
    printf("woken?\n");
}

TEST(deadlock_main_recv_no_sender) {
    expect_deadlock("child_main_recv_no_sender", "[chan receive 0x");
}

static void wg_forgetter(void *arg) {
    (void)arg; /* returns without goc_wg_done */
}

TEST(child_wg_never_done) {
    CHILD_ONLY();
    goc_wg wg = GOC_WG_INIT;
    goc_wg_add(&wg, 1);
    CHECK_OK(goc_go(wg_forgetter, NULL));
    goc_wg_wait(&wg);
}

TEST(deadlock_wg_never_done) { expect_deadlock("child_wg_never_done", "[waitgroup wait 0x"); }

static goc_mutex held = GOC_MUTEX_INIT;

static void lock_and_leave(void *arg) {
    (void)arg;
    goc_mutex_lock(&held);
}

static void second_locker(void *arg) {
    (void)arg;
    goc_mutex_lock(&held);
}

TEST(child_mutex_held_by_finished) {
    CHILD_ONLY();
    CHECK_OK(goc_go(lock_and_leave, NULL));
    WAIT_UNTIL(goc_count() == 0, 60);
    CHECK_OK(goc_go(second_locker, NULL));
    goc_mutex_lock(&held);
}

TEST(deadlock_mutex_held_by_finished_coroutine) {
    expect_deadlock("child_mutex_held_by_finished", "[mutex lock 0x");
}

static void dead_select(void *arg) {
    goc_chan **c = arg;
    goc_case cs[] = {GOC_RECV(c[0], NULL), GOC_SEND(c[1], &(long){1})};
    goc_select(cs, 2, GOC_FOREVER);
    goc_wg_done(&done_wg);
}

TEST(child_select_dead_channels) {
    CHILD_ONLY();
    goc_chan *c[2] = {goc_chan_make(0, 0), goc_chan_make(sizeof(long), 0)};
    goc_wg_add(&done_wg, 1);
    CHECK_OK(goc_go_with(&(goc_opts){.name = "dead-select"}, dead_select, c));
    goc_wg_wait(&done_wg);
}

TEST(deadlock_select_over_dead_channels) {
    expect_deadlock("child_select_dead_channels", "[select, 2 cases");
}

/* Legitimate waits, in random order and lengths: a timer pending, an fd
 * wait a plain thread ends, goc_blocking, a plain thread about to send.
 * None may be reported. */
static goc_chan *lch;
static int lfd[2];
static int64_t pause_ns;

static void nap(int64_t ns) {
    struct timespec ts = {ns / GOC_SEC, ns % GOC_SEC};
    nanosleep(&ts, NULL);
}

static void send_after_sleep(void *arg) {
    (void)arg;
    goc_sleep(pause_ns);
    goc_send(lch, &(long){1});
}

static void *thread_writes_fd(void *arg) {
    (void)arg;
    nap(pause_ns);
    CHECK_EQ(write(lfd[1], "x", 1), 1);
    return NULL;
}

static void fd_waiter(void *arg) {
    (void)arg;
    char b;
    CHECK_EQ(goc_read(lfd[0], &b, 1, GOC_FOREVER), 1);
    goc_send(lch, &(long){2});
}

static void blocking_nap(void *arg) {
    (void)arg;
    nap(pause_ns);
}

static void blocking_then_send(void *arg) {
    (void)arg;
    CHECK_OK(goc_blocking(blocking_nap, NULL));
    goc_send(lch, &(long){3});
}

static void *thread_sends(void *arg) {
    (void)arg;
    nap(pause_ns);
    goc_send(lch, &(long){4});
    return NULL;
}

TEST(child_legitimate_waits) {
    CHILD_ONLY();
    uint64_t seed = (uint64_t)goc_now();
    const char *s = getenv("SEED");
    if (s) seed = strtoull(s, NULL, 10);
    printf("seed %llu\n", (unsigned long long)seed);
    lch = goc_chan_make(sizeof(long), 0);
    CHECK_EQ(pipe(lfd), 0);
    goc_procs();
    int rounds = CHECK_SANITIZED_OR(10, 40);
    for (int r = 0; r < rounds; r++) {
        int kind = (int)(splitmix(&seed) % 4);
        pause_ns = (int64_t)(splitmix(&seed) % (30 * GOC_MS));
        pthread_t t;
        bool joined = false;
        switch (kind) {
        case 0: CHECK_OK(goc_go(send_after_sleep, NULL)); break;
        case 1:
            CHECK_OK(goc_go(fd_waiter, NULL));
            CHECK_EQ(pthread_create(&t, NULL, thread_writes_fd, NULL), 0);
            joined = true;
            break;
        case 2: CHECK_OK(goc_go(blocking_then_send, NULL)); break;
        case 3:
            CHECK_EQ(pthread_create(&t, NULL, thread_sends, NULL), 0);
            joined = true;
            break;
        }
        long v;
        CHECK_OK(goc_recv(lch, &v));
        CHECK_EQ(v, kind + 1);
        if (joined) pthread_join(t, NULL);
    }
}

TEST(no_false_deadlock_under_legitimate_waits) {
    static char out[1 << 16];
    for (int i = 0; i < CHECK_SANITIZED_OR(2, 5); i++) {
        int st = check_spawn("child_legitimate_waits", NULL, out, sizeof out);
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            check_fail(__FILE__, __LINE__, "status %#x, output:\n%s", st, out);
    }
}

static void alive(int sig) {
    (void)sig;
    static const char msg[] = "alive\n";
    ssize_t r = write(1, msg, sizeof msg - 1);
    (void)r;
    _exit(0);
}

TEST(child_deadlock_off) {
    CHILD_ONLY();
    signal(SIGALRM, alive);
    goc_chan *c = goc_chan_make(0, 0);
    goc_wg wg = GOC_WG_INIT;
    goc_wg_add(&wg, 1);
    CHECK_OK(goc_go(wg_forgetter, NULL));
    WAIT_UNTIL(goc_count() == 0, 60);
    alarm(1); /* a deadlock would be reported long before */
    goc_recv(c, NULL);
}

TEST(goc_deadlock_0_turns_it_off) {
    static char out[1 << 16];
    int st = check_spawn("child_deadlock_off", "GOC_DEADLOCK=0", out, sizeof out);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) || !strstr(out, "alive"))
        check_fail(__FILE__, __LINE__, "status %#x, output:\n%s", st, out);
}

/* ---- partial deadlocks --------------------------------------------------- */

static void abandoned_receiver(void *arg) {
    long v;
    goc_recv(arg, &v); /* borrows main's reference, which main drops: never returns */
    printf("abandoned receiver woken\n");
}

static void abandoned_selector(void *arg) {
    goc_case cs[] = {GOC_SEND(arg, &(long){1}), GOC_RECV(NULL, NULL), GOC_RECV(arg, NULL)};
    goc_select(cs, 3, GOC_FOREVER);
    printf("abandoned selector woken\n");
}

static void *abandoned_thread(void *arg) {
    goc_recv(arg, NULL);
    printf("abandoned thread woken\n");
    return NULL;
}

/* One spawn site however the caller is compiled: the two fold. */
__attribute__((noinline)) static void spawn_abandoned(goc_chan *c) {
    CHECK_OK(goc_go_with(&(goc_opts){.name = "abandoned"}, abandoned_receiver, c));
}

/* Coroutines (and a plain thread) wait on channels whose last reference
 * main then releases: reported, and the program goes on and exits 0. */
TEST(child_partial_deadlock) {
    CHILD_ONLY();
    goc_chan *c = goc_chan_make(sizeof(long), 0), *s = goc_chan_make(sizeof(long), 0);
    printf("chan %p select %p\n", (void *)c, (void *)s);
    for (int i = 0; i < 2; i++) spawn_abandoned(c);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, abandoned_thread, c), 0);
    CHECK_OK(goc_go_with(&(goc_opts){.name = "abandoned-select"}, abandoned_selector, s));
    WAIT_UNTIL(goc__chan_waiters(c, false) == 3, 60);
    WAIT_UNTIL(goc__chan_waiters(s, false) == 1 && goc__chan_waiters(s, true) == 1, 60);
    uint64_t before = goc__test_partial_reported();
    goc_chan_release(c); /* the last reference */
    goc_chan_release(s);
    bool on = !getenv("GOC_DEADLOCK");
    if (on) WAIT_UNTIL(goc__test_partial_reported() == before + 2, 60);
    CHECK_EQ(goc__test_partial_reported(), on ? before + 2 : before); /* queued at the release, or never */
    /* The program goes on. */
    goc_chan *d = goc_chan_make(sizeof(long), 1);
    long v = 0;
    CHECK_OK(goc_send(d, &(long){42}));
    CHECK_OK(goc_recv(d, &v));
    CHECK_EQ(v, 42);
    goc_chan_release(d);
    printf("continued\n");
    fflush(stdout);
}

TEST(partial_deadlock_reported_and_program_continues) {
    static char out[1 << 16];
    int st = check_spawn("child_partial_deadlock", NULL, out, sizeof out);
    void *c = NULL, *s = NULL;
    const char *line = strstr(out, "chan ");
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) || !line || sscanf(line, "chan %p select %p", &c, &s) != 2)
        check_fail(__FILE__, __LINE__, "status %#x, output:\n%s", st, out);
    char want[160];
    snprintf(want, sizeof want,
             "goc: 2 coroutines and 1 threads are blocked forever on channel %p (last reference released)\n",
             c);
    EXPECT(out, "%s", want);
    EXPECT(out, "2 coroutines [chan receive %p, elem 8 bytes", c);
    EXPECT(out, "] \"abandoned\": ids");
    EXPECT(out, "[chan receive %p, elem 8 bytes", c); /* the thread */
    snprintf(want, sizeof want,
             "goc: 1 coroutines are blocked forever on channel %p (last reference released)\n", s);
    EXPECT(out, "%s", want);
    EXPECT(out, "[select, 3 cases");
    EXPECT(out, "\"abandoned-select\"");
    CHECK(strstr(out, "continued\n") != NULL);
    CHECK(strstr(out, "woken") == NULL);
    CHECK(strstr(out, "deadlock!") == NULL);
    /* GOC_DEADLOCK=0: no report, the same run otherwise. */
    st = check_spawn("child_partial_deadlock", "GOC_DEADLOCK=0", out, sizeof out);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) || strstr(out, "blocked forever") ||
        !strstr(out, "continued\n"))
        check_fail(__FILE__, __LINE__, "GOC_DEADLOCK=0: status %#x, output:\n%s", st, out);
}

/* Waits that something else still ends are never reported: a sender that
 * holds its own reference, a select with a timeout, a select with another
 * channel's case. The last two outlive every reference to c, so c must stay
 * valid for them to leave (ASan would see a use after free otherwise). */
static goc_chan *pgate;

static void sender_with_own_ref(void *arg) {
    goc_chan *c = arg; /* retained for this coroutine by main */
    CHECK_EQ(goc_recv(pgate, NULL), GOC_CLOSED); /* main lets it go */
    CHECK_OK(goc_send(c, &(long){7}));
    goc_chan_release(c);
}

static void receiver_with_own_ref(void *arg) {
    goc_chan *c = arg;
    long v = 0;
    CHECK_OK(goc_recv(c, &v));
    CHECK_EQ(v, 7);
    goc_chan_release(c);
    goc_wg_done(&done_wg);
}

static goc_chan *pother;

static _Atomic bool timed_out;

static void select_with_timeout(void *arg) {
    goc_case cs[] = {GOC_RECV(arg, NULL)};
    CHECK_EQ(goc_select(cs, 1, 200 * GOC_MS), GOC_ETIMEDOUT);
    atomic_store(&timed_out, true);
    goc_wg_done(&done_wg);
}

static void select_with_other_case(void *arg) {
    goc_case cs[] = {GOC_RECV(arg, NULL), GOC_RECV(pother, NULL)};
    CHECK_EQ(goc_select(cs, 2, GOC_FOREVER), 1);
    goc_wg_done(&done_wg);
}

TEST(child_partial_no_false_reports) {
    CHILD_ONLY();
    goc_chan *c = goc_chan_make(sizeof(long), 0);
    pgate = goc_chan_make(0, 0);
    goc_wg_add(&done_wg, 1);
    CHECK_OK(goc_go(receiver_with_own_ref, goc_chan_retain(c)));
    CHECK_OK(goc_go(sender_with_own_ref, goc_chan_retain(c)));
    WAIT_UNTIL(goc__chan_waiters(c, false) == 1, 60);
    goc_chan_release(c); /* not the last: both still hold theirs */
    goc_close(pgate);
    goc_wg_wait(&done_wg); /* the last release, by whichever ends second, finds no waiter */
    /* Abandoned, but a timeout or another channel still ends them. */
    goc_chan *a = goc_chan_make(0, 0), *b = goc_chan_make(0, 0);
    pother = goc_chan_make(0, 0);
    goc_wg_add(&done_wg, 2);
    CHECK_OK(goc_go(select_with_timeout, a));
    CHECK_OK(goc_go(select_with_other_case, b));
    /* (Should the machine be slow enough for the timeout to pass first, the
     * release below finds a's waiter gone: no report either.) */
    WAIT_UNTIL((goc__chan_waiters(a, false) == 1 || atomic_load(&timed_out)) &&
                   goc__chan_waiters(b, false) == 1, 60);
    goc_chan_release(a);
    goc_chan_release(b);
    goc_close(pother);
    goc_wg_wait(&done_wg);
    CHECK_EQ(goc__test_partial_reported(), 0);
    printf("done\n");
    fflush(stdout);
}

TEST(partial_deadlock_no_false_reports) {
    static char out[1 << 16];
    int st = check_spawn("child_partial_no_false_reports", NULL, out, sizeof out);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) || strstr(out, "blocked forever") ||
        !strstr(out, "done\n"))
        check_fail(__FILE__, __LINE__, "status %#x, output:\n%s", st, out);
}

/* ---- trace --------------------------------------------------------------- */

static void trace_worker(void *arg) {
    goc_chan **ch = arg;
    long v;
    while (goc_recv(ch[0], &v) == GOC_OK) {
        if (v % 100 == 0) goc_sleep(GOC_US);
        goc_send(ch[1], &v);
    }
    goc_wg_done(&done_wg);
}

static goc_chan *trace_ch[2];

static void trace_root(void *arg) {
    (void)arg;
    goc_chan **ch = trace_ch;
    ch[0] = goc_chan_make(sizeof(long), 0);
    ch[1] = goc_chan_make(sizeof(long), 0);
    goc_wg_add(&done_wg, 1);
    CHECK_OK(goc_go(trace_worker, ch));
    for (long i = 0; i < 2000; i++) {
        long v = i;
        CHECK_OK(goc_send(ch[0], &v));
        CHECK_OK(goc_recv(ch[1], &v));
        if (i % 200 == 0) {
            goc_wg_add(&done_wg, 1);
            CHECK_OK(goc_go(finish, NULL));
        }
    }
    goc_close(ch[0]);
    goc_wg_done(&done_wg);
}

/* Run by tests/trace_check.py with GOC_TRACE set, or with TRACE_API (the
 * trace is then goc_trace_start's and goc_trace_stop's): a known workload,
 * then the counts the trace must match. */
TEST(child_trace_workload) {
    CHILD_ONLY();
    const char *api = getenv("TRACE_API");
    if (api) CHECK_OK(goc_trace_start(api));
    goc_wg_add(&done_wg, 1);
    CHECK_OK(goc_go(trace_root, NULL));
    goc_wg_wait(&done_wg);
    wait_live(0);
    if (api) CHECK_OK(goc_trace_stop());
    goc_stats_t s;
    goc_stats(&s);
    printf("spawns %llu parks %llu unparks %llu workers %d steals %llu\n",
           (unsigned long long)(s.coroutines_started - (uint64_t)goc__sched_spawned_off()),
           (unsigned long long)s.parks,
           (unsigned long long)(s.wakes - atomic_load(&goc__stat_wakes_off)), s.workers,
           (unsigned long long)s.steals);
}

TEST(goc_trace_writes_balanced_slices) {
    static char out[1 << 16];
    char path[64], env[80];
    snprintf(path, sizeof path, "/tmp/goc-trace-%d.json", (int)getpid());
    snprintf(env, sizeof env, "GOC_TRACE=%s", path);
    int st = check_spawn("child_trace_workload", env, out, sizeof out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    unsigned long long spawns, parks, unparks;
    int workers;
    CHECK_EQ(sscanf(out, "spawns %llu parks %llu unparks %llu workers %d", &spawns, &parks,
                    &unparks, &workers), 4);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    static char buf[64 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    unlink(path);
    buf[n] = 0;
    CHECK(strncmp(buf, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", 38) == 0);
    CHECK(n > 4 && strcmp(buf + n - 4, "\n]}\n") == 0);
    size_t nspawn = 0, npark = 0, nunpark = 0, nslice = 0, ndur = 0, ntrack = 0;
    for (char *p = buf; (p = strchr(p, '\n')); p++) {
        nspawn += strncmp(p, "\n{\"name\":\"spawn\"", 16) == 0;
        npark += strncmp(p, "\n{\"name\":\"park\"", 15) == 0;
        nunpark += strncmp(p, "\n{\"name\":\"unpark\"", 17) == 0;
        ntrack += strncmp(p, "\n{\"name\":\"thread_name\"", 22) == 0;
        if (strncmp(p, "\n{\"name\":\"coroutine ", 20) == 0) {
            nslice++;
            char *end = strchr(p + 1, '\n');
            char *d = strstr(p, ",\"dur\":");
            ndur += d && (!end || d < end) && d[7] != '-';
        }
    }
    CHECK_EQ(nspawn, spawns);
    CHECK_EQ(npark, parks);
    CHECK_EQ(nunpark, unparks);
    CHECK_EQ(ntrack, workers);
    CHECK_OP(nslice, >=, parks);
    CHECK_EQ(ndur, nslice); /* every slice has its end */
}

static bool file_is_trace(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    static char buf[64 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strncmp(buf, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", 38) == 0 && n > 4 &&
           n < sizeof buf - 1 && strcmp(buf + n - 4, "\n]}\n") == 0 && strstr(buf, "\"ph\":\"X\"");
}

static void trace_stop_from_coroutine(void *arg) {
    *(int *)arg = goc_trace_stop();
    goc_wg_done(&done_wg);
}

/* goc_trace_start and goc_trace_stop: their errors change nothing, a stop
 * writes a whole file (from a coroutine too), and a trace starts again. */
TEST(trace_start_stop_errors_and_restart) {
    char path[64], other[64];
    snprintf(path, sizeof path, "/tmp/goc-trace-api-%d.json", (int)getpid());
    snprintf(other, sizeof other, "/tmp/goc-trace-api-%d-other.json", (int)getpid());
    unlink(other);
    CHECK_EQ(goc_trace_stop(), GOC_EINVAL); /* never started */
    CHECK_EQ(goc_trace_start(NULL), GOC_EINVAL);
    CHECK_EQ(goc_trace_start(""), GOC_EINVAL);
    CHECK_EQ(goc_trace_start("/nonexistent-goc-dir/trace.json"), GOC_ENOENT);
    CHECK_OK(goc_trace_start(path));
    CHECK_EQ(goc_trace_start(other), GOC_EALREADY);
    CHECK(access(other, F_OK) != 0); /* the refused start created nothing */
    goc_wg_add(&done_wg, 1);
    CHECK_OK(goc_go(trace_root, NULL));
    goc_wg_wait(&done_wg);
    wait_live(0);
    goc_chan_release(trace_ch[0]);
    goc_chan_release(trace_ch[1]);
    CHECK_OK(goc_trace_stop());
    CHECK_EQ(goc_trace_stop(), GOC_EINVAL); /* stopped already */
    CHECK(file_is_trace(path));
    /* Again, stopped by a coroutine (its file is written on a helper thread). */
    CHECK_OK(goc_trace_start(path));
    goc_wg_add(&done_wg, 1);
    CHECK_OK(goc_go(trace_root, NULL));
    goc_wg_wait(&done_wg);
    goc_chan_release(trace_ch[0]);
    goc_chan_release(trace_ch[1]);
    int r = 1;
    goc_wg_add(&done_wg, 1);
    CHECK_OK(goc_go(trace_stop_from_coroutine, &r));
    goc_wg_wait(&done_wg);
    CHECK_OK(r);
    CHECK(file_is_trace(path));
    unlink(path);
    CHECK_EQ(goc_trace_stop(), GOC_EINVAL);
}

/* ---- leaks --------------------------------------------------------------- */

/* One place of making, however the caller is compiled: they fold. */
__attribute__((noinline)) static goc_chan *make_leaky(void) {
    goc_chan *c = goc_chan_make(sizeof(long), 0);
    __asm__ __volatile__("" : "+r"(c)); /* not a tail call either */
    return c;
}

static void leaky(void *arg) { goc_recv(arg, NULL); }

/* One spawn site however the loop below is compiled: they fold. */
__attribute__((noinline)) static void spawn_leaky(goc_chan *c) {
    CHECK_OK(goc_go_with(&(goc_opts){.name = "leaky"}, leaky, c));
}

TEST(child_leaks) {
    CHILD_ONLY();
    goc_chan *c[3];
    for (int i = 0; i < 3; i++) c[i] = make_leaky();
    goc_chan_release(c[2]); /* released: not a leak */
    goc_chan *once = goc_chan_make(1, 4);
    (void)once;
    for (int i = 0; i < 2; i++) spawn_leaky(c[0]);
    char *d = dump_string();
    for (int tries = 0; !strstr(d, "2 coroutines [chan receive") && tries < 10000; tries++) {
        free(d);
        goc_sleep(GOC_MS);
        d = dump_string();
    }
    free(d);
}

TEST(child_no_leaks) {
    CHILD_ONLY();
    goc_chan *c = goc_chan_make(sizeof(long), 1);
    goc_wg_add(&done_wg, 1);
    CHECK_OK(goc_go(finish, NULL));
    goc_wg_wait(&done_wg);
    wait_live(0);
    goc_chan_release(c);
}

TEST(goc_debug_leaks_reports_coroutines_and_channels) {
    static char out[1 << 16];
    int st = check_spawn("child_leaks", "GOC_DEBUG=leaks", out, sizeof out);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
        !strstr(out, "goc: leaks at exit: 2 coroutines alive, 3 channels never released") ||
        !strstr(out, "2 coroutines [chan receive ") || !strstr(out, "\"leaky\"") ||
        !strstr(out, "2 channels (elem 8 bytes, cap 0)\n\tmade at ") ||
        !strstr(out, "(elem 1 bytes, cap 4)\n\tmade at "))
        check_fail(__FILE__, __LINE__, "status %#x, output:\n%s", st, out);
    st = check_spawn("child_no_leaks", "GOC_DEBUG=leaks", out, sizeof out);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) || !strstr(out, "goc: no leaks at exit"))
        check_fail(__FILE__, __LINE__, "status %#x, output:\n%s", st, out);
}

/* ---- gdb ----------------------------------------------------------------- */

static goc_chan *gdb_ch;

static _Atomic int gdb_sink;

/* Not tail calls, so that both frames show in the backtrace. */
__attribute__((noinline)) static void gdb_parked_here(void) {
    atomic_fetch_add(&gdb_sink, goc_recv(gdb_ch, NULL));
}

static void gdb_victim(void *arg) {
    (void)arg;
    gdb_parked_here();
    atomic_fetch_add(&gdb_sink, 1);
}

/* Run under gdb by tests/gdb_check.sh: a named coroutine parks, then the
 * process stops for the debugger. */
TEST(child_gdb_target) {
    CHILD_ONLY();
    gdb_ch = goc_chan_make(0, 0);
    CHECK_OK(goc_go_with(&(goc_opts){.name = "gdb-victim"}, gdb_victim, NULL));
    char *d = dump_string();
    for (int tries = 0; !strstr(d, "[chan receive") && tries < 10000; tries++) {
        free(d);
        goc_sleep(GOC_MS);
        d = dump_string();
    }
    free(d);
    raise(SIGTRAP);
}
