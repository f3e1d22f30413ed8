/* The scheduler: spawning (from main, coroutines and pthreads), yielding,
 * ids and counts, work spread over workers, blocked workers handed off,
 * goc_blocking, fork/join at scale, the parking interface, start-up errors,
 * and in debug builds the lock-order checker and GOC_ASSERT. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "chan.h"
#include "check.h"
#include "sched.h"
#include "sys.h"
#include "testutil.h"

static _Atomic long counter;

static void add_one(void *arg) {
    (void)arg;
    atomic_fetch_add(&counter, 1);
}

static void wait_count(long want) { WAIT_UNTIL(atomic_load(&counter) >= want, 60); }

static void wait_all_exited(void) { WAIT_UNTIL(goc_count() == 0, 60); }

TEST(spawn_from_main_runs_all) {
    int n = SPAWN_SCALE(100000);
    for (int i = 0; i < n; i++) CHECK_OK(goc_go(add_one, NULL));
    wait_count(n);
    CHECK_EQ(atomic_load(&counter), n);
    wait_all_exited();
}

static void yielder(void *arg) {
    long *n = arg;
    for (int i = 0; i < 1000; i++) goc_yield();
    atomic_fetch_add(&counter, *n);
}

TEST(yield_interleaves) {
    static long one = 1;
    for (int i = 0; i < 100; i++) CHECK_OK(goc_go(yielder, &one));
    wait_count(100);
    CHECK_EQ(atomic_load(&counter), 100);
}

/* With one worker, goc_yield puts the caller behind every runnable coroutine:
 * two coroutines that yield in a loop alternate strictly. */
static _Atomic int turn_log[2000];
static _Atomic int turn_n;

static void alternator(void *arg) {
    int me = (int)(intptr_t)arg;
    for (int i = 0; i < 1000; i++) {
        turn_log[atomic_fetch_add(&turn_n, 1)] = me;
        goc_yield();
    }
    atomic_fetch_add(&counter, 1);
}

static void start_alternators(void *arg) {
    (void)arg;
    CHECK_OK(goc_go(alternator, (void *)0));
    CHECK_OK(goc_go(alternator, (void *)1));
}

TEST(yield_alternates_on_one_worker) {
    if (goc_procs() != 1) return; /* with two workers both run at once */
    /* Start both from one coroutine, so both are in its worker's queue
     * before either runs. */
    CHECK_OK(goc_go(start_alternators, NULL));
    wait_count(2);
    CHECK_EQ(atomic_load(&turn_n), 2000);
    int switches = 0;
    for (int i = 1; i < 2000; i++) switches += turn_log[i] != turn_log[i - 1];
    /* Strict alternation once both are running; the first one may get a few
     * turns alone before the second is queued. */
    CHECK_OP(switches, >=, 1990);
}

/* goc_yield lets other runnable coroutines run, also those in the global
 * queue (spawned from main), as Go's Gosched does: with one worker, a
 * coroutine that yields in a loop sees a newly spawned one run at once. */
static _Atomic int spinner_running, other_spawned, other_ran;
static _Atomic long yields_until_other_ran = -1;

static void spin_yielding(void *arg) {
    (void)arg;
    atomic_store(&spinner_running, 1);
    while (!atomic_load(&other_spawned)) goc_yield(); /* nothing else to run */
    long n = 0;
    while (!atomic_load(&other_ran) && n < 1000000) {
        goc_yield();
        n++;
    }
    atomic_store(&yields_until_other_ran, n);
}

static void set_other_ran(void *arg) {
    (void)arg;
    atomic_store(&other_ran, 1);
}

TEST(yield_runs_coroutines_from_the_global_queue) {
    if (goc_procs() != 1) return;
    CHECK_OK(goc_go(spin_yielding, NULL));
    WAIT_UNTIL(atomic_load(&spinner_running), 60);
    CHECK_OK(goc_go(set_other_ran, NULL)); /* from main: the global queue */
    atomic_store(&other_spawned, 1);
    WAIT_UNTIL(atomic_load(&yields_until_other_ran) >= 0, 60);
    printf("yields until the other ran: %ld\n", atomic_load(&yields_until_other_ran));
    CHECK_OP(atomic_load(&yields_until_other_ran), <=, 2);
}

/* ---- ids, counts, procs ------------------------------------------------ */

static uint64_t *ids;

static void record_id(void *arg) {
    ids[(intptr_t)arg] = goc_id();
    atomic_fetch_add(&counter, 1);
}

static void spawn_ids_from_coroutine(void *arg) {
    intptr_t base = (intptr_t)arg;
    for (intptr_t i = 0; i < 1000; i++) CHECK_OK(goc_go(record_id, (void *)(base + i)));
    ids[base - 1] = goc_id();
    atomic_fetch_add(&counter, 1);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

TEST(ids_unique_and_zero_on_threads) {
    CHECK_EQ(goc_id(), 0);
    /* 50 spawners (ids from main: one atomic each) each spawn 1000 (ids from
     * the workers' batches): every id distinct and non-zero. */
    enum { PER = 1001 };
    const int SPAWNERS = CHECK_SCALE(50);
    ids = calloc((size_t)(SPAWNERS * PER), sizeof *ids);
    for (int s = 0; s < SPAWNERS; s++)
        CHECK_OK(goc_go(spawn_ids_from_coroutine, (void *)(intptr_t)(s * PER + 1)));
    wait_count(SPAWNERS * PER);
    qsort(ids, SPAWNERS * PER, sizeof *ids, cmp_u64);
    CHECK_OP(ids[0], >, 0);
    for (int i = 1; i < SPAWNERS * PER; i++)
        if (ids[i] == ids[i - 1]) check_fail(__FILE__, __LINE__, "id %llu twice", (unsigned long long)ids[i]);
    CHECK_EQ(goc_id(), 0);
}

static void *thread_id(void *arg) {
    *(uint64_t *)arg = goc_id() + 1;
    return NULL;
}

TEST(id_zero_on_pthread) {
    CHECK_OK(goc_go(add_one, NULL)); /* runtime started */
    uint64_t got = 0;
    pthread_t t;
    pthread_create(&t, NULL, thread_id, &got);
    pthread_join(t, NULL);
    CHECK_EQ(got, 1);
}

static _Atomic int release_flag;

static void park_until_released(void *arg) {
    (void)arg;
    atomic_fetch_add(&counter, 1);
    while (!atomic_load(&release_flag)) goc_sleep(5 * GOC_MS);
}

TEST(count_tracks_live_coroutines) {
    CHECK_EQ(goc_count(), 0);
    int n = CHECK_SCALE(10000);
    for (int i = 0; i < n; i++) CHECK_OK(goc_go(park_until_released, NULL));
    wait_count(n);
    /* Everyone is parked: nothing starts or exits while we look. */
    CHECK_EQ(goc_count(), n);
    atomic_store(&release_flag, 1);
    wait_all_exited();
    CHECK_EQ(goc_count(), 0);
}

static _Atomic int procs_seen;

static void read_procs(void *arg) {
    (void)arg;
    atomic_store(&procs_seen, goc_procs());
    atomic_fetch_add(&counter, 1);
}

TEST(procs_matches_env) {
    const char *env = getenv("GOC_PROCS");
    long want = env && atol(env) > 0 ? atol(env) : sysconf(_SC_NPROCESSORS_ONLN);
    CHECK_EQ(goc_procs(), want);
    CHECK_OK(goc_go(read_procs, NULL));
    wait_count(1);
    CHECK_EQ(atomic_load(&procs_seen), want);
}

TEST(procs_env_3) {
    /* Run inside a check_spawn child with GOC_PROCS=3. */
    if (!getenv("PROCS_CHILD")) return;
    printf("procs=%d\n", goc_procs());
}

TEST(procs_from_env_and_default) {
    char out[4096], want[64];
    setenv("PROCS_CHILD", "1", 1);
    int st = check_spawn("procs_env_3", "GOC_PROCS=3", out, sizeof out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(out, "procs=3\n") != NULL);
    snprintf(want, sizeof want, "procs=%ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    st = check_spawn("procs_env_3", "GOC_PROCS=0", out, sizeof out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!strstr(out, want)) check_fail(__FILE__, __LINE__, "want %s got %s", want, out);
    st = check_spawn("procs_env_3", "GOC_PROCS=junk", out, sizeof out);
    if (!strstr(out, want)) check_fail(__FILE__, __LINE__, "want %s got %s", want, out);
}

/* ---- work reaches all workers ------------------------------------------ */

static _Atomic int arrived;
static _Atomic int rendezvous_worker[2];
static _Atomic long rendezvous_thread[2];

/* Spins without yielding until the other one arrives: both must be on
 * threads at the same time. With one worker the monitor must hand the queued
 * one to another thread. */
static void rendezvous(void *arg) {
    int me = (int)(intptr_t)arg;
    atomic_store(&rendezvous_worker[me], goc__worker_index());
    atomic_store(&rendezvous_thread[me], (long)pthread_self());
    atomic_fetch_add(&arrived, 1);
    int64_t limit = goc_now() + 30 * GOC_SEC;
    while (atomic_load(&arrived) < 2) {
        if (goc_now() > limit) check_fail(__FILE__, __LINE__, "partner never ran");
    }
    atomic_fetch_add(&counter, 1);
}

static void start_rendezvous(void *arg) {
    (void)arg;
    /* Both land on this worker's queue; the second waits behind the first. */
    CHECK_OK(goc_go(rendezvous, (void *)0));
    CHECK_OK(goc_go(rendezvous, (void *)1));
}

TEST(spinning_coroutines_run_in_parallel) {
    CHECK_OK(goc_go(start_rendezvous, NULL));
    wait_count(2);
    CHECK(atomic_load(&rendezvous_thread[0]) != atomic_load(&rendezvous_thread[1]));
    CHECK(atomic_load(&rendezvous_worker[0]) != atomic_load(&rendezvous_worker[1]));
}

enum { CPU_TASKS = 16 };
static _Atomic int task_worker[CPU_TASKS];
static _Atomic int burning_now, burning_max;
static _Atomic long rounds_on[1024]; /* burn rounds by worker index */

static double burn(long n) {
    volatile double x = 1.0;
    for (long i = 0; i < n; i++) x = x * 1.0000001 + 1e-9;
    return x;
}

/* ~1 ms here: long enough for the monitor to see, far short of STUCK (10 ms),
 * after which it would replace the worker. qemu-user runs this loop about
 * three times slower (2.3 ms), and on loaded cores past STUCK: there
 * cpu_tasks_spread divides it by three. */
static long burn_n = 200000;
static int burn_rounds = 20; /* per task */

/* Counts coroutines inside burn() (which never switches): more than one at
 * once means more than one thread runs coroutines. */
static void cpu_task(void *arg) {
    int me = (int)(intptr_t)arg;
    atomic_store(&task_worker[me], goc__worker_index());
    /* With two or more workers, go on (up to a bound) until two burned at
     * once: under a sanitizer a short burn rarely overlaps another. */
    int overlap_wanted = goc_procs() >= 2;
    for (int round = 0; round < burn_rounds || (overlap_wanted && round < 2000 && atomic_load(&burning_max) < 2);
         round++) {
        int now = atomic_fetch_add(&burning_now, 1) + 1;
        int m = atomic_load(&burning_max);
        while (now > m && !atomic_compare_exchange_weak(&burning_max, &m, now)) {
        }
        burn(burn_n);
        atomic_fetch_add(&rounds_on[goc__worker_index()], 1);
        atomic_fetch_sub(&burning_now, 1);
        goc_yield(); /* yield, so the monitor never sees a stuck worker */
    }
    atomic_fetch_add(&counter, 1);
}

/* Spawned from one coroutine, the tasks queue on its worker: the others
 * get them only by stealing. */
static void spawn_cpu_tasks(void *arg) {
    (void)arg;
    for (int i = 0; i < CPU_TASKS; i++) CHECK_OK(goc_go(cpu_task, (void *)(intptr_t)i));
}

/* by_start: each worker must also have started a task, which with short
 * bursts all begin on the spawner's worker whenever the other worker's thread
 * waits a few milliseconds for a CPU. */
static void cpu_tasks_spread(bool by_start) {
    if (check_emulator()) burn_n /= 3;
    CHECK_OK(goc_go(spawn_cpu_tasks, NULL));
    wait_count(CPU_TASKS);
    int seen[1024] = {0}, distinct = 0;
    for (int i = 0; i < CPU_TASKS; i++) {
        int w = atomic_load(&task_worker[i]);
        CHECK(w >= 0 && w < 1024);
        distinct += !seen[w]++;
    }
    /* A share, not a leak: a worker that got one task by chance (from
     * `next`, say) would run a sixteenth of the rounds. */
    int procs = goc_procs(), sharing = 0;
    long total = 0;
    for (int i = 0; i < 1024; i++) total += atomic_load(&rounds_on[i]);
    for (int i = 0; i < 1024; i++) sharing += atomic_load(&rounds_on[i]) * 4 * procs >= total;
    printf("workers used: %d, with a share of the rounds: %d (procs %d), most burning at once: %d\n",
           distinct, sharing, procs, atomic_load(&burning_max));
    if (procs >= 2) {
        if (by_start) CHECK_OP(distinct, >=, 2);
        CHECK_OP(sharing, >=, 2);
        CHECK_OP(atomic_load(&burning_max), >=, 2);
    }
}

TEST(cpu_bound_work_reaches_all_workers) { cpu_tasks_spread(true); }

/* A worker whose coroutines met contended channel locks stops sharing its
 * victims' long rings for a while, but a ring whose head stalls (a
 * coroutine computing for more than a few microseconds) is still shared.
 * Bursts of ~0.1 ms, too short for the monitor to mark a worker slow; many
 * of them, so a worker whose thread starts late still gets its share. */
TEST(cpu_bound_work_spreads_while_workers_steal_shyly) {
    goc__test_steal_shyly(true);
    burn_n = 20000;
    burn_rounds = 80;
    cpu_tasks_spread(false);
}

/* Two coroutines on two workers hammering one channel find its lock held;
 * on one worker a channel lock is never found held. */
static goc_chan *hammered;
static int nhammers;
static _Atomic int hammer_arrived;

static void hammer(void *arg) {
    (void)arg;
    atomic_fetch_add(&hammer_arrived, 1);
    while (atomic_load(&hammer_arrived) < nhammers) { /* both running at once */
    }
    long v = 0;
    for (int i = 0; i < 100000 && (goc_procs() == 1 || goc__test_contended() == 0); i++) {
        CHECK_OK(goc_send(hammered, &v));
        CHECK_OK(goc_recv(hammered, &v));
    }
    atomic_fetch_add(&counter, 1);
}

TEST(channel_lock_contention_is_noticed) {
    nhammers = goc_procs() > 2 ? 2 : goc_procs();
    for (int round = 0; round < 100 && (nhammers == 1 || goc__test_contended() == 0); round++) {
        CHECK((hammered = goc_chan_make(sizeof(long), 1)) != NULL);
        atomic_store(&hammer_arrived, 0);
        atomic_store(&counter, 0);
        for (int i = 0; i < nhammers; i++) CHECK_OK(goc_go(hammer, NULL));
        wait_count(nhammers);
        goc_chan_release(hammered);
    }
    printf("channel lock waits seen: %u (procs %d)\n", goc__test_contended(), goc_procs());
    if (nhammers == 1)
        CHECK_OP(goc__test_contended(), ==, 0u);
    else
        CHECK_OP(goc__test_contended(), >, 0u);
}

/* ---- blocked workers ------------------------------------------------------ */

enum { OTHERS = 1000 };
static _Atomic long others_done;
static _Atomic int blockers_reported;
static _Atomic long done_at_return[8];

static void other(void *arg) {
    (void)arg;
    for (int i = 0; i < 10; i++) goc_yield();
    for (int i = 0; i < 3; i++) CHECK_OK(goc_sleep(GOC_MS));
    atomic_fetch_add(&others_done, 1);
}

static int nblockers(void) { return goc_procs() > 8 ? 8 : goc_procs(); }

/* Each blocker first waits until all blockers run at once (so every worker
 * is taken), queues its share of the others on its own worker, then blocks
 * its thread in `how`. */
static int block_kind;
static int block_pipe[2];

static void blocker(void *arg) {
    int me = (int)(intptr_t)arg, n = nblockers();
    atomic_fetch_add(&arrived, 1);
    while (atomic_load(&arrived) < n) {
    }
    for (int i = 0; i < OTHERS / n; i++) CHECK_OK(goc_go(other, NULL));
    switch (block_kind) {
    case 0: /* libc sleep: the others' 3 ms of sleeps finish long before */
        sleep(1);
        break;
    case 1: { /* a pipe read that only the others' completion ends */
        char c;
        CHECK_EQ(read(block_pipe[0], &c, 1), 1);
        break;
    }
    case 2: { /* a CPU loop that only the others' completion ends */
        int64_t limit = goc_now() + 30 * GOC_SEC;
        while (atomic_load(&others_done) < OTHERS / n * n)
            if (goc_now() > limit) check_fail(__FILE__, __LINE__, "others stalled");
        break;
    }
    }
    atomic_store(&done_at_return[me], atomic_load(&others_done));
    atomic_fetch_add(&blockers_reported, 1);
}

static void *pipe_writer(void *arg) {
    (void)arg;
    int n = nblockers();
    while (atomic_load(&others_done) < OTHERS / n * n) usleep(1000);
    for (int i = 0; i < n; i++) CHECK_EQ(write(block_pipe[1], "x", 1), 1);
    return NULL;
}

static void run_blockers(int kind) {
    block_kind = kind;
    int n = nblockers();
    pthread_t t;
    if (kind == 1) {
        CHECK_EQ(pipe(block_pipe), 0);
        pthread_create(&t, NULL, pipe_writer, NULL);
    }
    for (int i = 0; i < n; i++) CHECK_OK(goc_go(blocker, (void *)(intptr_t)i));
    WAIT_UNTIL(atomic_load(&blockers_reported) == n, 60);
    for (int i = 0; i < n; i++) CHECK_EQ(atomic_load(&done_at_return[i]), OTHERS / n * n);
    if (kind == 1) pthread_join(t, NULL);
    wait_all_exited();
}

TEST(libc_sleep_does_not_stall_others) { run_blockers(0); }
TEST(blocking_read_does_not_stall_others) { run_blockers(1); }
TEST(cpu_loop_does_not_stall_others) { run_blockers(2); }

/* A CPU loop of ~50 ms in one coroutine: the others queued behind it on its
 * worker all finish while it loops (a timed loop, checked at its end).
 * Under qemu-user (check.h), which runs the others' 13,000 switches and
 * 3,000 sleeps some ten times slower, the loop lasts 500 ms. */
static void cpu_loop_50ms(void *arg) {
    (void)arg;
    for (int i = 0; i < OTHERS; i++) CHECK_OK(goc_go(other, NULL));
    int64_t end = goc_now() + (check_emulator() ? 500 : 50) * GOC_MS;
    while (goc_now() < end) {
    }
    atomic_store(&done_at_return[0], atomic_load(&others_done));
    atomic_fetch_add(&blockers_reported, 1);
}

TEST(cpu_loop_50ms_does_not_stall_others) {
#ifdef CHECK_SANITIZED
    return; /* 1000 coroutines in 40 ms is not a promise under a sanitizer */
#endif
    CHECK_OK(goc_go(cpu_loop_50ms, NULL));
    WAIT_UNTIL(atomic_load(&blockers_reported) == 1, 60);
    long got = atomic_load(&done_at_return[0]);
    printf("others done when the loop ended: %ld of %d\n", got, OTHERS);
    CHECK_EQ(got, OTHERS);
    wait_all_exited();
}

/* ---- spawning from threads and coroutines -------------------------------- */

enum { SPAWN_THREADS = 4 };
static _Atomic long thread_sum[SPAWN_THREADS];

static void add_to_thread_sum(void *arg) {
    intptr_t v = (intptr_t)arg;
    atomic_fetch_add(&thread_sum[v % SPAWN_THREADS], v);
    atomic_fetch_add(&counter, 1);
}

static _Atomic int threads_ready;

static void *spawn_thread(void *arg) {
    intptr_t t = (intptr_t)arg;
    atomic_fetch_add(&threads_ready, 1);
    while (atomic_load(&threads_ready) < SPAWN_THREADS) {
    }
    long n = SPAWN_SCALE(250000);
    for (long i = 0; i < n; i++) {
        if (i % 256 == 0) throttle_live();
        int r = goc_go(add_to_thread_sum, (void *)(intptr_t)(i * SPAWN_THREADS + t));
        if (r != GOC_OK) check_fail(__FILE__, __LINE__, "goc_go: %s", goc_err_name(r));
    }
    return NULL;
}

TEST(spawn_from_4_pthreads) {
    /* The first goc call happens on four threads at once: lazy start races. */
    pthread_t th[SPAWN_THREADS];
    for (intptr_t t = 0; t < SPAWN_THREADS; t++) pthread_create(&th[t], NULL, spawn_thread, (void *)t);
    for (int t = 0; t < SPAWN_THREADS; t++) pthread_join(th[t], NULL);
    long n = SPAWN_SCALE(250000);
    wait_count(n * SPAWN_THREADS);
    CHECK_EQ(atomic_load(&counter), n * SPAWN_THREADS);
    for (long t = 0; t < SPAWN_THREADS; t++) {
        /* sum over i of i*4+t */
        long want = SPAWN_THREADS * (n * (n - 1) / 2) + t * n;
        CHECK_EQ(atomic_load(&thread_sum[t]), want);
    }
    wait_all_exited();
}

/* Fork/join: sum over [lo, hi) by recursive halving, one coroutine per node
 * (2n - 1 coroutines for n leaves); parents wait on a latch (park/ready). */
struct fj {
    long lo, hi;
    long *out;
    latch *parent;
};

static _Atomic long fj_spawned;

static void fj_node(void *arg) {
    struct fj *n = arg;
    long lo = n->lo, hi = n->hi, *out = n->out;
    latch *parent = n->parent;
    if (hi - lo == 1) {
        *out = lo;
        latch_done(parent);
        return;
    }
    long mid = lo + (hi - lo) / 2, ls = 0, rs = 0;
    latch l;
    latch_init(&l, 2);
    struct fj left = {lo, mid, &ls, &l}, right = {mid, hi, &rs, &l};
    CHECK_OK(goc_go(fj_node, &left));
    CHECK_OK(goc_go(fj_node, &right));
    atomic_fetch_add_explicit(&fj_spawned, 2, memory_order_relaxed);
    latch_wait(&l);
    *out = ls + rs;
    latch_done(parent);
}

TEST(fork_join_sum_2e6_spawns) {
    long n = SPAWN_SCALE(1000000), sum = 0;
    latch root;
    latch_init(&root, 1);
    struct fj top = {0, n, &sum, &root};
    CHECK_OK(goc_go(fj_node, &top));
    latch_wait(&root); /* main blocks on the same latch: the thread path */
    CHECK_EQ(sum, n * (n - 1) / 2);
    CHECK_EQ(atomic_load(&fj_spawned) + 1, 2 * n - 1);
    wait_all_exited();
}

/* The same with joins by polling an atomic and yielding. */
struct fjy {
    long lo, hi;
    _Atomic long *out;
    _Atomic int *pending;
};

static void fjy_node(void *arg) {
    struct fjy *n = arg;
    long lo = n->lo, hi = n->hi;
    _Atomic long *out = n->out;
    _Atomic int *pending = n->pending;
    if (hi - lo <= 1) {
        atomic_fetch_add(out, lo);
        atomic_fetch_sub(pending, 1);
        return;
    }
    long mid = lo + (hi - lo) / 2;
    _Atomic long s = 0;
    _Atomic int p = 2;
    struct fjy left = {lo, mid, &s, &p}, right = {mid, hi, &s, &p};
    CHECK_OK(goc_go(fjy_node, &left));
    CHECK_OK(goc_go(fjy_node, &right));
    while (atomic_load(&p) > 0) goc_yield();
    atomic_fetch_add(out, atomic_load(&s));
    atomic_fetch_sub(pending, 1);
}

TEST(fork_join_sum_yield_polling) {
    long n = TU_MIN(SPAWN_SCALE(100000) * 10, 100000);
    _Atomic long sum = 0;
    _Atomic int pending = 1;
    struct fjy top = {0, n, &sum, &pending};
    CHECK_OK(goc_go(fjy_node, &top));
    WAIT_UNTIL(atomic_load(&pending) == 0, 120);
    CHECK_EQ(atomic_load(&sum), n * (n - 1) / 2);
    wait_all_exited();
}

/* One coroutine per worker hands a counter round by busy-waiting for its
 * turn: it only finishes if they all run at once (Go's
 * TestGoroutineParallelism), whether spawned from main or all from one
 * coroutine (then into one worker's queue, to be stolen). */
static _Atomic long par_x;
static _Atomic int par_done;

static void par_turns(void *arg) {
    long me = (long)(intptr_t)arg, n = goc_procs();
    for (long i = 0; i < 100; i++) {
        while (atomic_load(&par_x) % n != me) {
        }
        atomic_fetch_add(&par_x, 1);
    }
    atomic_fetch_add(&par_done, 1);
}

static void par_spawn_all(void *arg) {
    (void)arg;
    for (int p = 0; p < goc_procs(); p++) CHECK_OK(goc_go(par_turns, (void *)(intptr_t)p));
}

TEST(one_coroutine_per_worker_all_run_at_once) {
    for (int iter = 0; iter < 4; iter++) {
        atomic_store(&par_x, 0);
        atomic_store(&par_done, 0);
        if (iter % 2)
            CHECK_OK(goc_go(par_spawn_all, NULL));
        else
            for (int p = 0; p < goc_procs(); p++) CHECK_OK(goc_go(par_turns, (void *)(intptr_t)p));
        WAIT_UNTIL(atomic_load(&par_done) == goc_procs(), 60);
    }
}

/* A coroutine yielding in a loop does not keep a sleeper on its worker from
 * waking (Go's TestYieldProgress): yield reads the clock when a timer is
 * pending, since it passes through no scheduler. */
static goc_chan *yp_c;
static _Atomic int yp_done;

static void yp_yielder(void *arg) {
    (void)arg;
    while (goc_try_recv(yp_c, NULL) != GOC_OK) goc_yield();
    atomic_store(&yp_done, 1);
}

static void yp_sleeper(void *arg) {
    (void)arg;
    CHECK_OK(goc_sleep(10 * GOC_MS));
    CHECK_OK(goc_send(yp_c, NULL));
}

static void yp_both(void *arg) {
    (void)arg;
    CHECK_OK(goc_go(yp_yielder, NULL));
    CHECK_OK(goc_go(yp_sleeper, NULL)); /* queued on this worker, behind the yielder */
}

TEST(a_yield_loop_lets_a_sleeper_wake) {
    yp_c = goc_chan_make(0, 0);
    for (int round = 0; round < 5; round++) {
        atomic_store(&yp_done, 0);
        CHECK_OK(goc_go(yp_both, NULL));
        WAIT_UNTIL(atomic_load(&yp_done), 60);
    }
    wait_all_exited();
    goc_chan_release(yp_c);
}

/* ---- goc_blocking -------------------------------------------------------- */

static _Atomic long blocking_thread, blocking_worker = 99;
static _Atomic uint64_t blocking_id = 99;
static _Atomic long progress;

static void ticker(void *arg) {
    (void)arg;
    for (int i = 0; i < 100; i++) {
        atomic_fetch_add(&progress, 1);
        goc_yield();
    }
    atomic_fetch_add(&counter, 1);
}

/* Blocks its thread until 10 ticker coroutines have finished. */
static void wait_for_tickers(void *arg) {
    (void)arg;
    atomic_store(&blocking_thread, (long)pthread_self());
    atomic_store(&blocking_worker, goc__worker_index());
    atomic_store(&blocking_id, goc_id());
    while (atomic_load(&counter) < 10) usleep(100);
}

static _Atomic long caller_thread;
static _Atomic int blocking_rc = 99;
static _Atomic uint64_t id_before, id_after;

static void call_blocking(void *arg) {
    (void)arg;
    atomic_store(&caller_thread, (long)pthread_self());
    atomic_store(&id_before, goc_id());
    /* Queued behind us on this worker: they can only run if we release it. */
    for (int i = 0; i < 10; i++) CHECK_OK(goc_go(ticker, NULL));
    atomic_store(&blocking_rc, goc_blocking(wait_for_tickers, NULL));
    atomic_store(&id_after, goc_id());
    atomic_fetch_add(&counter, 100);
}

TEST(blocking_runs_on_helper_while_others_run) {
    CHECK_OK(goc_go(call_blocking, NULL));
    wait_count(110);
    CHECK_OK(atomic_load(&blocking_rc));
    CHECK_EQ(atomic_load(&progress), 1000);
    CHECK_EQ(atomic_load(&blocking_worker), -1); /* a helper, not a worker */
    CHECK_EQ(atomic_load(&blocking_id), 0);
    CHECK(atomic_load(&blocking_thread) != atomic_load(&caller_thread));
    CHECK_EQ(atomic_load(&id_before), atomic_load(&id_after));
    CHECK(atomic_load(&id_before) != 0);
}

static void note_thread(void *arg) { *(long *)arg = (long)pthread_self(); }

TEST(blocking_from_thread_runs_inline) {
    long t = 0;
    CHECK_OK(goc_blocking(note_thread, &t));
    CHECK_EQ(t, (long)pthread_self());
}

static void blocking_null_from_coroutine(void *arg) {
    atomic_store((_Atomic int *)arg, goc_blocking(NULL, NULL));
}

TEST(blocking_refuses_a_null_function) {
    CHECK_ERR(GOC_EINVAL, goc_blocking(NULL, NULL));
    _Atomic int rc = 99;
    CHECK_OK(goc_go(blocking_null_from_coroutine, &rc));
    while (atomic_load(&rc) == 99) goc_sleep(GOC_MS);
    CHECK_ERR(GOC_EINVAL, atomic_load(&rc));
}

static void blocking_many(void *arg) {
    (void)arg;
    long t = 0;
    for (int i = 0; i < 100; i++) CHECK_OK(goc_blocking(note_thread, &t));
    CHECK(t != 0);
    atomic_fetch_add(&counter, 1);
}

TEST(blocking_from_many_coroutines) {
    for (int i = 0; i < 100; i++) CHECK_OK(goc_go(blocking_many, NULL));
    wait_count(100);
    wait_all_exited();
}

/* Calls that must all run at once to finish (a rendezvous), more than there
 * used to be helpers (64), and each started while a helper was just woken
 * for the previous one: every call gets a thread of its own. */
#define RENDEZVOUS 80
static _Atomic int rv_arrived, rv_met;

static void meet_all(void *arg) {
    (void)arg;
    atomic_fetch_add(&rv_arrived, 1);
    int64_t until = goc_now() + 30 * GOC_SEC;
    while (atomic_load(&rv_arrived) < RENDEZVOUS && goc_now() < until) usleep(100);
    if (atomic_load(&rv_arrived) >= RENDEZVOUS) atomic_fetch_add(&rv_met, 1);
}

static void call_rendezvous(void *arg) {
    (void)arg;
    CHECK_OK(goc_blocking(meet_all, NULL));
    atomic_fetch_add(&counter, 1);
}

TEST(blocking_calls_all_run_at_once) {
    for (int i = 0; i < RENDEZVOUS; i++) CHECK_OK(goc_go(call_rendezvous, NULL));
    wait_count(RENDEZVOUS);
    CHECK_EQ(atomic_load(&rv_met), RENDEZVOUS);
}

static _Atomic int ran_fn;
static void set_ran(void *arg) {
    (void)arg;
    atomic_store(&ran_fn, 1);
}

/* goc_blocking(fn) while no thread can start; its result in blocking_rc. */
static void blocking_while_threads_fail(void (*fn)(void *)) {
    goc__fault_arm(GOC__FAULT_THREAD, 1);
    atomic_store(&blocking_rc, goc_blocking(fn, NULL));
    goc__fault_arm(GOC__FAULT_THREAD, 0);
}

static void blocking_without_threads(void *arg) {
    (void)arg;
    blocking_while_threads_fail(set_ran);
    CHECK_EQ(atomic_load(&ran_fn), 0);
    CHECK_OK(goc_blocking(set_ran, NULL)); /* works again */
    CHECK_EQ(atomic_load(&ran_fn), 1);
    atomic_fetch_add(&counter, 1);
}

TEST(blocking_eagain_when_no_helper_starts) {
    CHECK_OK(goc_go(blocking_without_threads, NULL));
    wait_count(1);
    CHECK_ERR(GOC_EAGAIN, atomic_load(&blocking_rc));
}

/* A helper exists but is busy with a call that waits for ours: when no new
 * helper starts, ours fails at once rather than queue behind it for ever. */
static int busy_pipe[2];
static _Atomic int reading;

static void read_pipe(void *arg) {
    (void)arg;
    char c;
    atomic_store(&reading, 1);
    CHECK_EQ(read(busy_pipe[0], &c, 1), 1);
}

static void write_pipe(void *arg) {
    (void)arg;
    CHECK_EQ(write(busy_pipe[1], "x", 1), 1);
}

static void call_read_pipe(void *arg) {
    (void)arg;
    CHECK_OK(goc_blocking(read_pipe, NULL));
    atomic_fetch_add(&counter, 1);
}

static void call_write_pipe_without_threads(void *arg) {
    (void)arg;
    blocking_while_threads_fail(write_pipe);
    atomic_fetch_add(&counter, 1);
}

TEST(blocking_eagain_while_the_helpers_are_busy) {
    CHECK_EQ(pipe(busy_pipe), 0);
    CHECK_OK(goc_go(call_read_pipe, NULL));
    WAIT_UNTIL(atomic_load(&reading), 10);
    CHECK_OK(goc_go(call_write_pipe_without_threads, NULL));
    WAIT_UNTIL(atomic_load(&counter) == 1, 10);
    CHECK_ERR(GOC_EAGAIN, atomic_load(&blocking_rc));
    write_pipe(NULL); /* the reader's call ends */
    wait_count(2);
}

/* ---- the parking interface ------------------------------------------------ */

static latch *shared_latch;

static void release_latch(void *arg) {
    (void)arg;
    goc_sleep(GOC_MS);
    latch_done(shared_latch);
}

TEST(park_thread_woken_by_coroutine) {
    latch l;
    latch_init(&l, 100);
    shared_latch = &l;
    for (int i = 0; i < 100; i++) CHECK_OK(goc_go(release_latch, NULL));
    latch_wait(&l);
    CHECK_EQ(l.pending, 0);
    wait_all_exited();
}

static void wait_timeout_in_coroutine(void *arg) {
    int *rc = arg;
    goc__wait wt;
    goc__wait_init(&wt, goc__self(), false);
    int64_t d = goc_now() + 2 * GOC_MS;
    rc[0] = goc__wait_block(&wt, d, NULL, NULL);
    rc[1] = goc_now() >= d;
    atomic_fetch_add(&counter, 1);
}

TEST(park_deadline_times_out) {
    int rc[2] = {0, 0};
    CHECK_OK(goc_go(wait_timeout_in_coroutine, rc));
    wait_count(1);
    CHECK_ERR(GOC_ETIMEDOUT, rc[0]);
    CHECK_EQ(rc[1], 1);
    /* And on a thread. */
    goc__wait wt;
    goc__wait_init(&wt, goc__self(), false);
    int64_t d = goc_now() + 2 * GOC_MS;
    CHECK_ERR(GOC_ETIMEDOUT, goc__wait_block(&wt, d, NULL, NULL));
    CHECK_OP(goc_now(), >=, d);
}

/* ---- errors ---------------------------------------------------------------- */

TEST(einval) {
    CHECK_ERR(GOC_EINVAL, goc_go(NULL, NULL));
    goc_opts o = {.stack_size = GOC_STACK_MAX + 1};
    CHECK_ERR(GOC_EINVAL, goc_go_with(&o, add_one, NULL));
    o.stack_size = SIZE_MAX;
    CHECK_ERR(GOC_EINVAL, goc_go_with(&o, add_one, NULL));
    CHECK_ERR(GOC_EINVAL, goc_go_with(NULL, NULL, NULL));
    CHECK_EQ(goc_count(), 0);
    o.stack_size = 1; /* below the minimum: rounded up */
    CHECK_OK(goc_go_with(&o, add_one, NULL));
    wait_count(1);
}

TEST(start_fails_without_threads_then_recovers) {
    goc__fault_arm(GOC__FAULT_THREAD, 1);
    CHECK_ERR(GOC_EAGAIN, goc_go(add_one, NULL));
    CHECK_EQ(goc_count(), 0);
    CHECK_OK(goc_go(add_one, NULL));
    wait_count(1);
    CHECK_EQ(atomic_load(&counter), 1);
}

TEST(start_fails_without_memory_then_recovers) {
    goc__fault_arm(GOC__FAULT_ALLOC, 1);
    int r = goc_go(add_one, NULL);
    goc__fault_arm(GOC__FAULT_ALLOC, 0);
    CHECK(r == GOC_EAGAIN || r == GOC_ENOMEM);
    CHECK_OK(goc_go(add_one, NULL));
    wait_count(1);
    CHECK_EQ(atomic_load(&counter), 1);
}

/* A crash that is not a stack overflow must still die of SIGSEGV: goc's
 * handler passes it on, also after a failed start and a good one (each start
 * attempt used to install the handler again, chaining it to itself). */
TEST(segv_child) {
    const char *how = getenv("SEGV_CHILD");
    if (!how) return;
    alarm(20); /* the bug was a hang: die of SIGALRM instead */
    if (strcmp(how, "restart") == 0) {
        goc__fault_arm(GOC__FAULT_THREAD, 1);
        if (goc_go(add_one, NULL) != GOC_EAGAIN) _exit(3);
    }
    if (goc_go(add_one, NULL) != GOC_OK) _exit(4);
    /* Not NULL itself, so that UBSan lets the fault happen. */
    volatile int *volatile bad = (volatile int *)(uintptr_t)16;
    *bad = 1;
    _exit(5);
}

static void expect_segv(const char *how) {
    char out[4096];
    setenv("SEGV_CHILD", how, 1);
    int st = check_spawn("segv_child", NULL, out, sizeof out);
#ifdef CHECK_SANITIZED
    /* The sanitizer's own SEGV report ends the process. */
    if (!strstr(out, "SEGV on unknown address") || strstr(out, "stack overflow"))
        check_fail(__FILE__, __LINE__, "%s: want the sanitizer's SEGV report, got status %#x: %s", how, st, out);
#else
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSEGV)
        check_fail(__FILE__, __LINE__, "%s: want death by SIGSEGV, got status %#x: %s", how, st, out);
#endif
    CHECK(strstr(out, "stack overflow") == NULL);
}

TEST(segv_passes_through) { expect_segv("plain"); }

TEST(segv_passes_through_after_restart) {
    expect_segv("restart");
}

/* ---- idle ------------------------------------------------------------------ */

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void long_sleeper(void *arg) {
    (void)arg;
    goc_sleep(2 * GOC_SEC);
}

TEST(idle_runtime_uses_no_cpu) {
    for (int i = 0; i < 1000; i++) CHECK_OK(goc_go(add_one, NULL));
    for (int i = 0; i < 100; i++) CHECK_OK(goc_go(long_sleeper, NULL));
    wait_count(1000);
    goc_sleep(300 * GOC_MS); /* let the monitor's trims finish */
    double c0 = cpu_seconds();
    int64_t t0 = goc_now();
    goc_sleep(1 * GOC_SEC);
    double used = cpu_seconds() - c0, wall = (double)(goc_now() - t0) / 1e9;
    printf("cpu %.4f s over %.3f s with 100 sleepers\n", used, wall);
    /* Busy polling would burn a core per worker; parked workers and a
     * sleeping monitor burn next to nothing. */
    CHECK_OP(used * 1000, <, wall * 1000 * 0.10);
}

/* ---- replacing workers: the spare list and the heir --------------------- */

/* GOC_PROCS=1 children: a blocker holds the only worker in usleep with work
 * queued behind it, so the monitor replaces that worker, and it retires once
 * the blocker returns. */
static void filler(void *arg) { (void)arg; }

static void blocker_ms(void *arg) {
    CHECK_OK(goc_go(filler, NULL)); /* queued work: the monitor replaces us */
    usleep((useconds_t)(intptr_t)arg * 1000);
}

static void sleep_60ms_then_send(void *arg) {
    goc_sleep(60 * GOC_MS);
    CHECK_OK(goc_send(arg, NULL));
}

static void send_one(void *arg) { CHECK_OK(goc_send(arg, NULL)); }

TEST(retire_child_heir) {
    if (!getenv("RETIRE_CHILD")) return;
    /* The replacement's thread runs 40 ms before it is published; the
     * blocker returns within that time. The sleeper's timer must reach the
     * replacement (it once stayed in the retired worker's heap: no heir). */
    goc__test_publish_delay(40 * GOC_MS);
    goc_chan *done = goc_chan_make(0, 1);
    CHECK_OK(goc_go(sleep_60ms_then_send, done));
    usleep(2000); /* the sleeper's timer is on worker 0 */
    CHECK_OK(goc_go(blocker_ms, (void *)(intptr_t)30));
    int64_t give_up = goc_now() + 5 * GOC_SEC;
    while (goc_try_recv(done, NULL) != GOC_OK) {
        CHECK(goc_now() < give_up);
        CHECK(!goc__test_spare_has_timers());
        usleep(500);
    }
    goc_chan_release(done);
    printf("sleeper woke\n");
}

/* Holds the only worker (in the kernel) until the monitor has replaced it. */
static void blocker_until_replaced(void *arg) {
    (void)arg;
    CHECK_OK(goc_go(filler, NULL));
    for (int i = 0; i < 10000 && goc__nworkers() < 2; i++) usleep(1000);
}

TEST(retire_child_stray_unpark) {
    if (!getenv("RETIRE_CHILD")) return;
    CHECK_OK(goc_go(blocker_until_replaced, NULL));
    WAIT_UNTIL(goc__nworkers() == 2 && goc__test_worker_state(0) == GOC__W_SPARE, 10);
    /* A wake-up meant for worker 0 before it retired arrives now. It must
     * not run as a worker while it is on the spare list. */
    goc__test_unpark(0);
    usleep(20000);
    CHECK_EQ(goc__test_worker_state(0), GOC__W_SPARE);
    WAIT_UNTIL(goc__sched_idle_all(), 10);
    /* Work from a thread still wakes a worker. */
    goc_chan *done = goc_chan_make(0, 1);
    for (int i = 0; i < 100; i++) {
        CHECK_OK(goc_go(send_one, done));
        CHECK_OK(goc_recv_timeout(done, NULL, 5 * GOC_SEC));
        if (i % 10 == 0) usleep(2000); /* let the workers fall asleep */
    }
    goc_chan_release(done);
    printf("spare stayed spare\n");
}

/* The heir's timer heap cannot grow when the replaced worker retires: it
 * stays active instead of leaving the sleeper's timer with a spare. */
static void blocker_then_fail_alloc(void *arg) {
    (void)arg;
    blocker_until_replaced(NULL);
    usleep(5000);                           /* the retire flag follows publication */
    goc__fault_arm(GOC__FAULT_ALLOC, 1);    /* the heir's heap growth fails */
}

TEST(retire_child_heir_heap_full) {
    if (!getenv("RETIRE_CHILD")) return;
    goc_chan *done = goc_chan_make(0, 1);
    CHECK_OK(goc_go(sleep_60ms_then_send, done));
    usleep(2000); /* the sleeper's timer is on worker 0 */
    CHECK_OK(goc_go(blocker_then_fail_alloc, NULL));
    CHECK_OK(goc_recv_timeout(done, NULL, 5 * GOC_SEC));
    goc__fault_arm(GOC__FAULT_ALLOC, 0);
    CHECK(!goc__test_spare_has_timers());
    goc_chan_release(done);
    printf("sleeper woke\n");
}

/* A replaced worker's queue goes to its replacement, ahead of the global
 * queue; what the stuck coroutine queues afterwards goes behind it. (The
 * replacement once ran the whole global queue first, and the retiring worker
 * put its queue at the tail: a storm's first child ran 4995th of 5000.) */
enum { HO_XS = 8, HO_YS = 200, HO_ZS = 4 };
static _Atomic int ho_rank, ho_finished, ho_blocker_state;
static int ho_x_rank[HO_XS], ho_y_rank[HO_YS], ho_z_rank[HO_ZS];

static void ho_record(void *slot) {
    *(int *)slot = atomic_fetch_add(&ho_rank, 1);
    atomic_fetch_add(&ho_finished, 1);
}

static void ho_blocker(void *arg) {
    (void)arg;
    /* Spawning is slow under TSan: not replaced until all are queued. */
    goc__test_stuck_after(3600 * GOC_SEC);
    for (int i = 0; i < HO_XS; i++) CHECK_OK(goc_go(ho_record, &ho_x_rank[i]));
    atomic_store(&ho_blocker_state, 1);
    goc__test_stuck_after(10 * GOC_MS);
    /* In the kernel with work queued: the monitor replaces this worker and
     * tells it to retire (only once its replacement runs). */
    goc__w *me = goc__worker(goc__worker_index());
    for (int i = 0; i < 5000 && !atomic_load(&me->retire); i++) usleep(1000);
    for (int i = 0; i < 5000 && atomic_load(&ho_blocker_state) < 2; i++) usleep(1000);
    for (int i = 0; i < HO_ZS; i++) CHECK_OK(goc_go(ho_record, &ho_z_rank[i]));
}

static int ho_min(const int *v, int n) {
    int m = v[0];
    for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
    return m;
}

static int ho_max(const int *v, int n) {
    int m = v[0];
    for (int i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

TEST(retire_child_hand_over) {
    if (!getenv("RETIRE_CHILD")) return;
    CHECK_OK(goc_go(ho_blocker, NULL));
    WAIT_UNTIL(atomic_load(&ho_blocker_state) == 1, 10);
    for (int i = 0; i < HO_YS; i++) CHECK_OK(goc_go(ho_record, &ho_y_rank[i])); /* global queue */
    atomic_store(&ho_blocker_state, 2); /* the blocker's later spawns come after */
    WAIT_UNTIL(atomic_load(&ho_finished) == HO_XS + HO_YS + HO_ZS, 10);
    printf("queued on the stuck worker: ran %d-%d; global queue %d-%d; queued after: %d-%d\n",
           ho_min(ho_x_rank, HO_XS), ho_max(ho_x_rank, HO_XS), ho_min(ho_y_rank, HO_YS),
           ho_max(ho_y_rank, HO_YS), ho_min(ho_z_rank, HO_ZS), ho_max(ho_z_rank, HO_ZS));
    CHECK_OP(ho_max(ho_x_rank, HO_XS), <, ho_min(ho_y_rank, HO_YS));
    CHECK_OP(ho_max(ho_y_rank, HO_YS), <, ho_min(ho_z_rank, HO_ZS));
    printf("handed over in order\n");
}

/* The monitor cannot start a replacement: the stuck worker's queue is put
 * first in the global queue and the next replacement runs it. (The failed
 * start once freed the replacement and then drained it: a use after free.) */
enum { NT_QUEUED = 50 };
static _Atomic int nt_ran;

static void nt_count(void *arg) {
    (void)arg;
    atomic_fetch_add(&nt_ran, 1);
}

static void blocker_while_threads_fail(void *arg) {
    (void)arg;
    goc__fault_arm(GOC__FAULT_THREAD, 1); /* the first replacement fails */
    for (int i = 0; i < NT_QUEUED; i++) CHECK_OK(goc_go(nt_count, NULL));
    /* 10 ms naps: even on a loaded machine the monitor finds this thread
     * asleep in the kernel, not waiting for a CPU, and replaces it. */
    for (int i = 0; i < 1000 && atomic_load(&nt_ran) < NT_QUEUED; i++) usleep(10000);
}

TEST(retire_child_no_thread) {
    if (!getenv("RETIRE_CHILD")) return;
    CHECK_OK(goc_go(blocker_while_threads_fail, NULL));
    WAIT_UNTIL(atomic_load(&nt_ran) == NT_QUEUED, 20);
    CHECK_EQ(goc__nworkers(), 2); /* one failed start, then one that worked */
    printf("queued work ran\n");
}

static void run_retire_child(const char *name, const char *want) {
    char out[4096];
    setenv("RETIRE_CHILD", "1", 1);
    int st = check_spawn(name, "GOC_PROCS=1", out, sizeof out);
    unsetenv("RETIRE_CHILD");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !strstr(out, want))
        check_fail(__FILE__, __LINE__, "%s: status %d, output:\n%s", name, st, out);
}

TEST(failed_replacement_keeps_the_stuck_workers_queue) {
    run_retire_child("retire_child_no_thread", "queued work ran\n");
}

TEST(retiring_worker_finds_a_fresh_heir) { run_retire_child("retire_child_heir", "sleeper woke\n"); }

TEST(late_wake_up_of_a_spare_is_absorbed) {
    run_retire_child("retire_child_stray_unpark", "spare stayed spare\n");
}

TEST(retiring_worker_keeps_timers_when_the_heir_is_full) {
    run_retire_child("retire_child_heir_heap_full", "sleeper woke\n");
}

TEST(replaced_workers_queue_goes_before_the_global_queue) {
    run_retire_child("retire_child_hand_over", "handed over in order\n");
}

/* ---- the lock order and GOC_ASSERT (debug builds) --------------------- */

static void lockrank_yielder(void *arg) {
    goc__chan_lock(arg);
    goc_yield(); /* a switch holding a lock: the check after the hook fires */
}

TEST(death_helper_lockrank) { /* runs only when spawned by the cases below */
    const char *what = getenv("LOCKRANK_CASE");
    if (!what) return;
    goc_chan *a = goc_chan_make(0, 0), *b = goc_chan_make(0, 0);
    CHECK(a && b);
    if ((uintptr_t)a > (uintptr_t)b) {
        goc_chan *t = a;
        a = b;
        b = t;
    }
    if (strcmp(what, "order") == 0) { /* a channel operation under a timer heap */
        goc__timers h;
        goc__timers_init(&h);
        goc__lock_acquire(&h.lock, GOC__RANK_TIMERS);
        goc__chan_lock(a);
    } else if (strcmp(what, "addr") == 0) { /* two channels, not as select takes them */
        goc__chan_lock(b);
        goc__chan_lock(a);
    } else if (strcmp(what, "switch") == 0) {
        CHECK_OK(goc_go(lockrank_yielder, a));
        sleep(5);
    } else if (strcmp(what, "assert") == 0) { /* unlinking a node that is not queued */
        goc__node n = {0};
        goc__chan_lock(a);
        goc__waitq_unlink(&a->recvq, &n);
    }
    _exit(0);
}

#define expect_death(env, msg) CHECK_ABORTS("death_helper_lockrank", env, msg, NULL)

TEST(lock_order_violations_are_fatal_with_both_ranks) {
    if (!goc__lockrank_enabled()) {
        printf("not a GOC_LOCKRANK build: nothing checks the lock order\n");
        return;
    }
    expect_death("LOCKRANK_CASE=order", "lock order: channel lock 0x");
    expect_death("LOCKRANK_CASE=order", "taken while holding a timer heap lock");
    expect_death("LOCKRANK_CASE=addr", "only in ascending address order");
    expect_death("LOCKRANK_CASE=switch", "a context switch with a channel lock held");
}

TEST(failed_assertion_is_fatal_with_place_and_expression) {
#if GOC_DEBUG_CHECKS
    expect_death("LOCKRANK_CASE=assert", "chan.c:");
    expect_death("LOCKRANK_CASE=assert", "assertion failed: n->queued");
#else
    printf("not a GOC_DEBUG_CHECKS build: GOC_ASSERT checks nothing\n");
#endif
}
