/* Sync primitives: mutex, rwmutex, wait group, once, cond, weighted
 * semaphore, each from coroutines and plain threads, mixed.
 *
 * Where a case needs to know that a waiter has queued (FIFO order, signal
 * wakes one) it asks the primitive through the test hooks in src/sync.h
 * instead of sleeping and hoping. Plain (non-atomic) shared data guarded by
 * the primitive under test is deliberate: under ThreadSanitizer it checks
 * that each primitive states its happens-before edges. */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "thr.h"
#include "../src/sync.h" /* test hooks */

#define WAIT_UNTIL(c)                                \
    do {                                             \
        while (!(c)) goc_sleep(GOC_MS / 10);         \
    } while (0)

/* ---- helpers ------------------------------------------------------------ */


/* Runs fn(arg) in n coroutines and returns when all have returned. */
typedef struct {
    void (*fn)(void *);
    void *arg;
    goc_wg *wg;
} job;

static void job_run(void *p) {
    job *j = p;
    j->fn(j->arg);
    CHECK_OK(goc_wg_done(j->wg));
}

static void go_n_wait(int n, void (*fn)(void *), void *arg) {
    goc_wg wg = GOC_WG_INIT;
    job j = {fn, arg, &wg};
    CHECK_OK(goc_wg_add(&wg, n));
    for (int i = 0; i < n; i++) CHECK_OK(goc_go(job_run, &j));
    goc_wg_wait(&wg);
}

/* ---- mutex -------------------------------------------------------------- */

typedef struct {
    goc_mutex m;
    long x;       /* guarded by m */
    long n;       /* increments per caller */
} counter;

static void count_up(void *p) {
    counter *c = p;
    for (long i = 0; i < c->n; i++) {
        goc_mutex_lock(&c->m);
        c->x++;
        if (i % 1024 == 0) goc_yield(); /* hold it across a switch: others park */
        goc_mutex_unlock(&c->m);
    }
}

TEST(mutex_8_coroutines_1M_increments_exact) {
    counter c = {GOC_MUTEX_INIT, 0, CHECK_SCALE(1000000)};
    go_n_wait(8, count_up, &c);
    CHECK_EQ(c.x, 8 * c.n);
    CHECK_EQ(goc__mutex_state(&c.m), 0); /* no waiter count leaked, normal mode */
}

TEST(mutex_mixed_threads_and_coroutines_exact) {
    counter c = {GOC_MUTEX_INIT, 0, CHECK_SCALE(200000)};
    thr t[3];
    for (int i = 0; i < 3; i++) thr_start(&t[i], count_up, &c);
    go_n_wait(5, count_up, &c);
    for (int i = 0; i < 3; i++) thr_join(&t[i]);
    CHECK_EQ(c.x, 8 * c.n);
    CHECK_EQ(goc__mutex_state(&c.m), 0);
}

typedef struct {
    goc_mutex *m;
    _Atomic int result; /* -1 until the coroutine has tried */
} try_arg;

static void try_once(void *p) {
    try_arg *a = p;
    bool ok = goc_mutex_trylock(a->m);
    if (ok) goc_mutex_unlock(a->m);
    atomic_store(&a->result, ok);
}

static int try_from_coroutine(goc_mutex *m) {
    try_arg a = {m, -1};
    go_n_wait(1, try_once, &a);
    return atomic_load(&a.result);
}

TEST(mutex_trylock_fails_while_held_succeeds_when_free) {
    goc_mutex m = GOC_MUTEX_INIT;
    CHECK(goc_mutex_trylock(&m));
    CHECK(!goc_mutex_trylock(&m)); /* not recursive */
    CHECK_EQ(try_from_coroutine(&m), 0);
    goc_mutex_unlock(&m);
    CHECK_EQ(try_from_coroutine(&m), 1);
    goc_mutex_lock(&m);
    CHECK_EQ(try_from_coroutine(&m), 0);
    goc_mutex_unlock(&m);
    CHECK_EQ(goc__mutex_state(&m), 0);
}

/* A thread holds the lock while a coroutine waits, and the other way round:
 * each side wakes the other kind. */
typedef struct {
    goc_mutex m;
    _Atomic int stage;
    int data; /* guarded by m */
} pingpong;

static void lock_and_mark(void *p) {
    pingpong *pp = p;
    atomic_store(&pp->stage, 1);
    goc_mutex_lock(&pp->m);
    pp->data++;
    atomic_store(&pp->stage, 2);
    goc_mutex_unlock(&pp->m);
}

static void hold_until_waiter(void *p) {
    pingpong *pp = p;
    goc_mutex_lock(&pp->m);
    atomic_store(&pp->stage, 10);
    WAIT_UNTIL(goc__mutex_state(&pp->m) >> 3 == 1); /* the thread waits */
    pp->data++;
    goc_mutex_unlock(&pp->m);
}

TEST(mutex_wakes_across_threads_and_coroutines) {
    pingpong pp = {GOC_MUTEX_INIT, 0, 0};
    /* main (a thread) holds, a coroutine waits */
    goc_mutex_lock(&pp.m);
    goc_wg wg = GOC_WG_INIT;
    job j = {lock_and_mark, &pp, &wg};
    CHECK_OK(goc_wg_add(&wg, 1));
    CHECK_OK(goc_go(job_run, &j));
    WAIT_UNTIL(goc__mutex_state(&pp.m) >> 3 == 1);
    CHECK_EQ(atomic_load(&pp.stage), 1);
    pp.data++;
    goc_mutex_unlock(&pp.m);
    goc_wg_wait(&wg);
    CHECK_EQ(atomic_load(&pp.stage), 2);
    /* a coroutine holds, a thread (main) waits */
    job j2 = {hold_until_waiter, &pp, &wg};
    CHECK_OK(goc_wg_add(&wg, 1));
    CHECK_OK(goc_go(job_run, &j2));
    WAIT_UNTIL(atomic_load(&pp.stage) == 10);
    goc_mutex_lock(&pp.m);
    pp.data++;
    goc_mutex_unlock(&pp.m);
    goc_wg_wait(&wg);
    CHECK_EQ(pp.data, 4);
    CHECK_EQ(goc__mutex_state(&pp.m), 0);
}

/* A coroutine that waits parks: its worker runs other coroutines, and the
 * monitor never has to replace a worker stuck in a lock. */
static void lock_unlock(void *p) {
    goc_mutex_lock(p);
    goc_mutex_unlock(p);
}

static _Atomic int ran;
static void mark_ran(void *p) {
    (void)p;
    atomic_store(&ran, 1);
}

TEST(mutex_waiting_coroutines_park_not_block_workers) {
    static goc_mutex m = GOC_MUTEX_INIT;
    int n = 64;
    goc_mutex_lock(&m);
    goc_wg wg = GOC_WG_INIT;
    job j = {lock_unlock, &m, &wg};
    CHECK_OK(goc_wg_add(&wg, n));
    for (int i = 0; i < n; i++) CHECK_OK(goc_go(job_run, &j));
    WAIT_UNTIL((int)(goc__mutex_state(&m) >> 3) == n);
    CHECK_OK(goc_go(mark_ran, NULL));
    WAIT_UNTIL(atomic_load(&ran));
    goc_sleep(30 * GOC_MS); /* longer than the monitor takes to replace a stuck worker */
    CHECK_EQ(goc__nworkers(), goc_procs());
    goc_mutex_unlock(&m);
    goc_wg_wait(&wg);
    CHECK_EQ(goc__mutex_state(&m), 0);
}

/* Starvation mode, step by step: a waiter that has waited over 1 ms and loses
 * the race to a running locker marks the mutex starving; the next unlock then
 * hands the lock to it, so the unlocker cannot take it back first.
 *
 * The holder is a coroutine: its unlock readies the waiter into the holder's
 * own worker (the `next` slot), where it cannot run until the holder parks,
 * so the holder deterministically wins the race to retake the lock. */
enum { M_LOCKED = 1, M_STARVING = 4, M_WAITER = 8 };

typedef struct {
    goc_mutex m;
    _Atomic int got;
    bool handed;
} starve;

static void starving_waiter(void *p) {
    starve *s = p;
    goc_mutex_lock(&s->m);
    atomic_store(&s->got, 1);
    goc_mutex_unlock(&s->m);
}

static void starve_holder(void *p) {
    starve *s = p;
    atomic_store(&s->got, 0);
    s->handed = false;
    goc_mutex_lock(&s->m);
    goc_wg wg = GOC_WG_INIT;
    job j = {starving_waiter, s, &wg};
    CHECK_OK(goc_wg_add(&wg, 1));
    CHECK_OK(goc_go(job_run, &j));
    WAIT_UNTIL(goc__mutex_state(&s->m) == (M_LOCKED | M_WAITER));
    goc_sleep(2 * GOC_MS);          /* the waiter has now waited over 1 ms */
    goc_mutex_unlock(&s->m);        /* wakes it, onto this worker ...      */
    if (goc_mutex_trylock(&s->m)) { /* ... and we retake it before it runs */
        /* Parking lets the waiter run: it loses, and having waited > 1 ms
         * re-queues at the head, starving. (Not starving only if it was
         * descheduled so long that its clock started late: try again.) */
        uint32_t st;
        WAIT_UNTIL((st = goc__mutex_state(&s->m)) == (M_LOCKED | M_WAITER) ||
                   st == (M_LOCKED | M_STARVING | M_WAITER));
        if (st & M_STARVING) {
            CHECK_EQ(atomic_load(&s->got), 0);
            CHECK(!goc_mutex_trylock(&s->m)); /* arrivals do not take a starving mutex */
            goc_mutex_unlock(&s->m);          /* hands it over (and yields to it) */
            while (!goc_mutex_trylock(&s->m)) goc_yield();
            CHECK_EQ(atomic_load(&s->got), 1); /* it had it before we could retake it */
            s->handed = true;
        }
        goc_mutex_unlock(&s->m);
    }
    goc_wg_wait(&wg);
    CHECK_EQ(atomic_load(&s->got), 1);
}

TEST(mutex_starving_waiter_is_handed_the_lock) {
    starve s = {GOC_MUTEX_INIT, 0, false};
    for (int round = 0; round < 10 && !s.handed; round++) go_n_wait(1, starve_holder, &s);
    CHECK(s.handed);
    CHECK_EQ(goc__mutex_state(&s.m), 0); /* the last waiter left starvation mode */
}

/* Liveness: waiters (a coroutine and a thread) each get the lock many times
 * while threads and coroutines hammer it and stop only after the waiters are
 * done. Without starvation mode a woken waiter keeps losing to the hammers. */
typedef struct {
    goc_mutex m;
    long x;               /* guarded by m */
    _Atomic int stop;
    _Atomic long hammered;
    int rounds;
} hammer_ctx;

static void hammer_thread(void *p) {
    hammer_ctx *h = p;
    while (!atomic_load(&h->stop)) {
        goc_mutex_lock(&h->m);
        h->x++;
        goc_mutex_unlock(&h->m);
        atomic_fetch_add(&h->hammered, 1);
    }
}

static void hammer_coroutine(void *p) {
    hammer_ctx *h = p;
    while (!atomic_load(&h->stop)) {
        goc_mutex_lock(&h->m);
        h->x++;
        goc_yield();
        goc_mutex_unlock(&h->m);
        atomic_fetch_add(&h->hammered, 1);
    }
}

static void patient(void *p) {
    hammer_ctx *h = p;
    for (int i = 0; i < h->rounds; i++) {
        goc_mutex_lock(&h->m);
        h->x++;
        goc_mutex_unlock(&h->m);
        goc_sleep(GOC_MS / 10);
    }
}

TEST(mutex_waiter_served_while_others_hammer) {
    hammer_ctx h = {GOC_MUTEX_INIT, 0, 0, 0, CHECK_SCALE(200)};
    goc_wg hammers = GOC_WG_INIT, patients = GOC_WG_INIT;
    job jh = {hammer_coroutine, &h, &hammers}, jp = {patient, &h, &patients};
    thr t[2], tp;
    for (int i = 0; i < 2; i++) thr_start(&t[i], hammer_thread, &h);
    CHECK_OK(goc_wg_add(&hammers, 2));
    for (int i = 0; i < 2; i++) CHECK_OK(goc_go(job_run, &jh));
    WAIT_UNTIL(atomic_load(&h.hammered) > 1000);
    CHECK_OK(goc_wg_add(&patients, 1));
    CHECK_OK(goc_go(job_run, &jp));
    thr_start(&tp, patient, &h);
    goc_wg_wait(&patients);
    thr_join(&tp);
    atomic_store(&h.stop, 1);
    for (int i = 0; i < 2; i++) thr_join(&t[i]);
    goc_wg_wait(&hammers);
    goc_mutex_lock(&h.m);
    CHECK_EQ(h.x, atomic_load(&h.hammered) + 2 * h.rounds);
    goc_mutex_unlock(&h.m);
    CHECK_EQ(goc__mutex_state(&h.m), 0);
}

/* ---- rwmutex ------------------------------------------------------------ */

typedef struct {
    goc_rwmutex rw;
    _Atomic int inside;
    int want;
} overlap;

static void read_until_all_inside(void *p) {
    overlap *o = p;
    goc_rwmutex_rlock(&o->rw);
    atomic_fetch_add(&o->inside, 1);
    WAIT_UNTIL(atomic_load(&o->inside) >= o->want); /* deadlocks unless readers overlap */
    goc_rwmutex_runlock(&o->rw);
}

TEST(rwmutex_readers_overlap) {
    overlap o = {GOC_RWMUTEX_INIT, 0, 6};
    thr t;
    thr_start(&t, read_until_all_inside, &o);
    go_n_wait(5, read_until_all_inside, &o);
    thr_join(&t);
    CHECK_EQ(atomic_load(&o.inside), 6);
    CHECK_EQ(goc__rwmutex_readers(&o.rw), 0);
}

typedef struct {
    goc_rwmutex rw;
    long a, b;            /* guarded by rw; writers keep a == b */
    _Atomic int readers, writers;
    _Atomic int bad;
    int n;
} excl;

static void excl_writer(void *p) {
    excl *e = p;
    for (int i = 0; i < e->n; i++) {
        goc_rwmutex_lock(&e->rw);
        if (atomic_fetch_add(&e->writers, 1) != 0 || atomic_load(&e->readers) != 0)
            atomic_store(&e->bad, 1);
        e->a++;
        if (i % 8 == 0) goc_yield();
        e->b++;
        atomic_fetch_sub(&e->writers, 1);
        goc_rwmutex_unlock(&e->rw);
    }
}

static void excl_reader(void *p) {
    excl *e = p;
    for (int i = 0; i < 4 * e->n; i++) {
        goc_rwmutex_rlock(&e->rw);
        atomic_fetch_add(&e->readers, 1);
        if (atomic_load(&e->writers) != 0 || e->a != e->b) atomic_store(&e->bad, 1);
        if (i % 8 == 0) goc_yield();
        atomic_fetch_sub(&e->readers, 1);
        goc_rwmutex_runlock(&e->rw);
    }
}

static void excl_mix(void *p) {
    if (goc_id() % 2) excl_writer(p);
    else excl_reader(p);
}

TEST(rwmutex_writers_exclusive) {
    excl e = {GOC_RWMUTEX_INIT, 0, 0, 0, 0, 0, CHECK_SCALE(20000)};
    thr tw, tr;
    thr_start(&tw, excl_writer, &e);
    thr_start(&tr, excl_reader, &e);
    go_n_wait(8, excl_mix, &e);
    thr_join(&tw);
    thr_join(&tr);
    CHECK_EQ(atomic_load(&e.bad), 0);
    CHECK_EQ(e.a, e.b);
    CHECK_OP(e.a, >=, e.n); /* the thread writer, plus coroutines with odd ids */
    CHECK_EQ(e.a % e.n, 0);
    CHECK_EQ(goc__rwmutex_readers(&e.rw), 0);
}

/* A pending writer holds back readers that arrive after it (Go's rule). */
typedef struct {
    goc_rwmutex rw;
    int wrote;      /* guarded by rw */
    int seen;       /* what the late reader saw */
} pending;

static void pending_writer(void *p) {
    pending *w = p;
    goc_rwmutex_lock(&w->rw);
    w->wrote = 1;
    goc_rwmutex_unlock(&w->rw);
}

static void late_reader(void *p) {
    pending *w = p;
    goc_rwmutex_rlock(&w->rw);
    w->seen = w->wrote;
    goc_rwmutex_runlock(&w->rw);
}

TEST(rwmutex_pending_writer_blocks_new_readers) {
    pending w = {GOC_RWMUTEX_INIT, 0, -1};
    goc_wg wg = GOC_WG_INIT;
    job jw = {pending_writer, &w, &wg}, jr = {late_reader, &w, &wg};
    goc_rwmutex_rlock(&w.rw);
    CHECK_OK(goc_wg_add(&wg, 2));
    CHECK_OK(goc_go(job_run, &jw));
    WAIT_UNTIL(goc__rwmutex_readers(&w.rw) < 0); /* the writer is announced */
    CHECK_OK(goc_go(job_run, &jr));
    WAIT_UNTIL(goc__rwmutex_readers(&w.rw) == -(1 << 30) + 2); /* the reader queued */
    goc_rwmutex_runlock(&w.rw);
    goc_wg_wait(&wg);
    CHECK_EQ(w.wrote, 1);
    CHECK_EQ(w.seen, 1);
    CHECK_EQ(goc__rwmutex_readers(&w.rw), 0);
}

/* A reader may read-lock again while no writer waits (Go's TestRLocker);
 * a writer that arrives then waits for both read locks to go. */
static void lock_and_set(void *p) {
    pending *w = p;
    goc_rwmutex_lock(&w->rw);
    w->wrote = 1;
    goc_rwmutex_unlock(&w->rw);
}

TEST(rwmutex_nested_read_locks_hold_off_a_writer) {
    for (int i = 0; i < 10; i++) {
        pending w = {GOC_RWMUTEX_INIT, 0, -1};
        goc_wg wg = GOC_WG_INIT;
        job jw = {lock_and_set, &w, &wg};
        goc_rwmutex_rlock(&w.rw);
        goc_rwmutex_rlock(&w.rw); /* no writer waits: does not block */
        CHECK_EQ(goc__rwmutex_readers(&w.rw), 2);
        CHECK_OK(goc_wg_add(&wg, 1));
        CHECK_OK(goc_go(job_run, &jw));
        WAIT_UNTIL(goc__rwmutex_readers(&w.rw) < 0); /* the writer is announced */
        goc_rwmutex_runlock(&w.rw);
        CHECK_OK(goc_sleep(GOC_MS));
        CHECK_EQ(w.wrote, 0); /* we still hold a read lock */
        goc_rwmutex_runlock(&w.rw);
        goc_wg_wait(&wg);
        CHECK_EQ(w.wrote, 1);
        CHECK_EQ(goc__rwmutex_readers(&w.rw), 0);
    }
}

/* Readers that overlap without a gap would starve a writer that waited for
 * zero readers; the writer still gets in, many times. */
typedef struct {
    goc_rwmutex rw;
    _Atomic int stop;
    long writes; /* guarded by rw */
    int rounds;
} stream;

static void stream_reader(void *p) {
    stream *s = p;
    while (!atomic_load(&s->stop)) {
        goc_rwmutex_rlock(&s->rw);
        goc_yield();
        goc_rwmutex_runlock(&s->rw);
    }
}

static void stream_writer(void *p) {
    stream *s = p;
    for (int i = 0; i < s->rounds; i++) {
        goc_rwmutex_lock(&s->rw);
        s->writes++;
        goc_rwmutex_unlock(&s->rw);
        goc_yield();
    }
}

TEST(rwmutex_writer_not_starved_by_reader_stream) {
    stream s = {GOC_RWMUTEX_INIT, 0, 0, CHECK_SCALE(1000)};
    goc_wg readers = GOC_WG_INIT;
    job jr = {stream_reader, &s, &readers};
    thr tr, tw;
    CHECK_OK(goc_wg_add(&readers, 6));
    for (int i = 0; i < 6; i++) CHECK_OK(goc_go(job_run, &jr));
    thr_start(&tr, stream_reader, &s);
    go_n_wait(1, stream_writer, &s); /* a coroutine writer */
    thr_start(&tw, stream_writer, &s); /* and a thread writer */
    thr_join(&tw);
    atomic_store(&s.stop, 1);
    thr_join(&tr);
    goc_wg_wait(&readers);
    CHECK_EQ(s.writes, 2 * s.rounds);
    CHECK_EQ(goc__rwmutex_readers(&s.rw), 0);
}

/* ---- wait group --------------------------------------------------------- */

typedef struct {
    goc_wg wg;
    _Atomic long done;
} wave;

static void wave_member(void *p) {
    wave *w = p;
    goc_yield();
    atomic_fetch_add(&w->done, 1);
    CHECK_OK(goc_wg_done(&w->wg));
}

static void run_waves(void *p) {
    wave *w = p;
    int n = 50, waves = CHECK_SCALE(200);
    for (int k = 1; k <= waves; k++) {
        CHECK_OK(goc_wg_add(&w->wg, n));
        for (int i = 0; i < n; i++) CHECK_OK(goc_go(wave_member, w));
        goc_wg_wait(&w->wg);
        CHECK_EQ(atomic_load(&w->done), (long)k * n); /* the whole wave, no more */
    }
}

TEST(wg_reused_across_waves) {
    wave a = {GOC_WG_INIT, 0}, b = {GOC_WG_INIT, 0};
    run_waves(&a);           /* waited for by a thread */
    go_n_wait(1, run_waves, &b); /* by a coroutine */
    CHECK_EQ(goc__wg_waiters(&a.wg), 0);
    CHECK_EQ(goc__wg_waiters(&b.wg), 0);
}

static void wait_then_count(void *p) {
    wave *w = p;
    goc_wg_wait(&w->wg);
    atomic_fetch_add(&w->done, 1);
}

TEST(wg_negative_counter_is_erange_and_changes_nothing) {
    wave w = {GOC_WG_INIT, 0};
    CHECK_ERR(GOC_ERANGE, goc_wg_done(&w.wg));
    CHECK_ERR(GOC_ERANGE, goc_wg_add(&w.wg, -1));
    goc_wg_wait(&w.wg); /* still zero: returns at once */
    CHECK_OK(goc_wg_add(&w.wg, 2));
    goc_wg other = GOC_WG_INIT;
    job j = {wait_then_count, &w, &other};
    CHECK_OK(goc_wg_add(&other, 1));
    CHECK_OK(goc_go(job_run, &j));
    WAIT_UNTIL(goc__wg_waiters(&w.wg) == 1);
    CHECK_ERR(GOC_ERANGE, goc_wg_add(&w.wg, -3));
    CHECK_ERR(GOC_ERANGE, goc_wg_add(&w.wg, INT64_MIN));
    CHECK_ERR(GOC_ERANGE, goc_wg_add(&w.wg, INT64_MAX));
    CHECK_ERR(GOC_ERANGE, goc_wg_add(&w.wg, INT32_MAX)); /* 2 + INT32_MAX overflows */
    CHECK_EQ(goc__wg_waiters(&w.wg), 1);
    CHECK_EQ(atomic_load(&w.done), 0); /* the waiter was not released */
    CHECK_OK(goc_wg_done(&w.wg));
    CHECK_EQ(atomic_load(&w.done), 0);
    CHECK_OK(goc_wg_done(&w.wg));
    goc_wg_wait(&other);
    CHECK_EQ(atomic_load(&w.done), 1);
    CHECK_ERR(GOC_ERANGE, goc_wg_done(&w.wg));
    CHECK_OK(goc_wg_add(&w.wg, INT32_MAX)); /* the largest count fits */
    CHECK_OK(goc_wg_add(&w.wg, -INT32_MAX));
    CHECK_OK(goc_wg_add(&w.wg, 0));
    CHECK_EQ(goc__wg_waiters(&w.wg), 0);
}

TEST(wg_many_waiters_released_together) {
    wave w = {GOC_WG_INIT, 0};
    int nc = 100, nt = 3;
    CHECK_OK(goc_wg_add(&w.wg, 1));
    goc_wg all = GOC_WG_INIT;
    job j = {wait_then_count, &w, &all};
    CHECK_OK(goc_wg_add(&all, nc));
    for (int i = 0; i < nc; i++) CHECK_OK(goc_go(job_run, &j));
    thr t[3];
    for (int i = 0; i < nt; i++) thr_start(&t[i], wait_then_count, &w);
    WAIT_UNTIL((int)goc__wg_waiters(&w.wg) == nc + nt);
    CHECK_EQ(atomic_load(&w.done), 0);
    CHECK_OK(goc_wg_done(&w.wg));
    goc_wg_wait(&all);
    for (int i = 0; i < nt; i++) thr_join(&t[i]);
    CHECK_EQ(atomic_load(&w.done), nc + nt);
    CHECK_EQ(goc__wg_waiters(&w.wg), 0);
}

/* A new wave starts while the previous wave's waiters are still waking: a
 * waiter never returns before the wave it waited in has finished. */
typedef struct {
    goc_wg wg;
    _Atomic int wave;     /* the wave in progress */
    _Atomic int finished; /* the last wave whose counter reached zero */
    _Atomic int bad;
} waves;

static void wave_waiter(void *p) {
    waves *w = p;
    int mine = atomic_load(&w->wave);
    goc_wg_wait(&w->wg);
    if (atomic_load(&w->finished) < mine) atomic_store(&w->bad, 1);
}

TEST(wg_waiter_never_returns_before_its_wave_ends) {
    waves w = {GOC_WG_INIT, 0, 0, 0};
    goc_wg all = GOC_WG_INIT;
    job j = {wave_waiter, &w, &all};
    int n = CHECK_SCALE(2000);
    for (int k = 1; k <= n; k++) {
        CHECK_OK(goc_wg_add(&w.wg, 1));
        atomic_store(&w.wave, k); /* after the add: a waiter that sees k waits for k */
        CHECK_OK(goc_wg_add(&all, 3));
        for (int i = 0; i < 3; i++) CHECK_OK(goc_go(job_run, &j));
        if (k % 2) goc_yield();
        atomic_store(&w.finished, k);
        CHECK_OK(goc_wg_done(&w.wg)); /* and at once the next wave's add */
    }
    goc_wg_wait(&all);
    CHECK_EQ(atomic_load(&w.bad), 0);
    CHECK_EQ(goc__wg_waiters(&w.wg), 0);
}

/* Threads do the work, a coroutine waits; done is ordered before the wait's
 * return (plain data, checked by TSan). */
typedef struct {
    goc_wg wg;
    long slot[4]; /* each written by one thread before done */
} results;

static results res;
static void thread_worker(void *p) {
    long i = (long)(intptr_t)p;
    res.slot[i] = i + 1;
    CHECK_OK(goc_wg_done(&res.wg));
}

static void coroutine_sums(void *p) {
    goc_wg_wait(&res.wg);
    *(long *)p = res.slot[0] + res.slot[1] + res.slot[2] + res.slot[3];
}

TEST(wg_done_by_threads_wait_by_coroutine) {
    CHECK_OK(goc_wg_add(&res.wg, 4));
    long sum = 0;
    goc_wg fin = GOC_WG_INIT;
    job j = {coroutine_sums, &sum, &fin};
    CHECK_OK(goc_wg_add(&fin, 1));
    CHECK_OK(goc_go(job_run, &j));
    thr t[4];
    for (long i = 0; i < 4; i++) thr_start(&t[i], thread_worker, (void *)(intptr_t)i);
    goc_wg_wait(&fin);
    for (int i = 0; i < 4; i++) thr_join(&t[i]);
    CHECK_EQ(sum, 1 + 2 + 3 + 4);
}

/* ---- once --------------------------------------------------------------- */

typedef struct {
    goc_once once;
    _Atomic int start;
    _Atomic int runs;
    int value;      /* written by fn, read by every caller after once_do */
    _Atomic int bad;
} once_ctx;

static void once_fn(void *p) {
    once_ctx *o = p;
    atomic_fetch_add(&o->runs, 1);
    goc_sleep(GOC_MS); /* parks (or sleeps): the others pile up */
    o->value = 42;
}

static void once_caller(void *p) {
    once_ctx *o = p;
    while (!atomic_load(&o->start)) goc_yield();
    goc_once_do(&o->once, once_fn, o);
    if (o->value != 42) atomic_store(&o->bad, 1);
}

TEST(once_under_contention_runs_once_and_all_see_it) {
    once_ctx o = {GOC_ONCE_INIT, 0, 0, 0, 0};
    goc_wg wg = GOC_WG_INIT;
    job j = {once_caller, &o, &wg};
    int nc = 64;
    CHECK_OK(goc_wg_add(&wg, nc));
    for (int i = 0; i < nc; i++) CHECK_OK(goc_go(job_run, &j));
    thr t[4];
    for (int i = 0; i < 4; i++) thr_start(&t[i], once_caller, &o);
    atomic_store(&o.start, 1);
    once_caller(&o);
    goc_wg_wait(&wg);
    for (int i = 0; i < 4; i++) thr_join(&t[i]);
    CHECK_EQ(atomic_load(&o.runs), 1);
    CHECK_EQ(atomic_load(&o.bad), 0);
    goc_once_do(&o.once, once_fn, &o); /* later calls: nothing */
    CHECK_EQ(atomic_load(&o.runs), 1);
}

/* ---- cond --------------------------------------------------------------- */

typedef struct {
    goc_mutex m;
    goc_cond c;
    _Atomic int woke;
    int generation; /* guarded by m */
} cond_ctx;

static void cond_waiter(void *p) {
    cond_ctx *c = p;
    goc_mutex_lock(&c->m);
    int g = c->generation;
    goc_cond_wait(&c->c, &c->m);
    if (c->generation == g) atomic_store(&c->woke, -1000); /* woken with nothing changed */
    atomic_fetch_add(&c->woke, 1);
    goc_mutex_unlock(&c->m);
}

static void cond_notify(cond_ctx *c, bool all) {
    goc_mutex_lock(&c->m);
    c->generation++;
    if (all)
        goc_cond_broadcast(&c->c);
    else
        goc_cond_signal(&c->c);
    goc_mutex_unlock(&c->m);
}

TEST(cond_broadcast_wakes_all) {
    cond_ctx c = {GOC_MUTEX_INIT, GOC_COND_INIT, 0, 0};
    int nc = 100, nt = 2;
    goc_wg wg = GOC_WG_INIT;
    job j = {cond_waiter, &c, &wg};
    CHECK_OK(goc_wg_add(&wg, nc));
    for (int i = 0; i < nc; i++) CHECK_OK(goc_go(job_run, &j));
    thr t[2];
    for (int i = 0; i < nt; i++) thr_start(&t[i], cond_waiter, &c);
    WAIT_UNTIL((int)goc__cond_waiters(&c.c) == nc + nt);
    cond_notify(&c, true);
    goc_wg_wait(&wg);
    for (int i = 0; i < nt; i++) thr_join(&t[i]);
    CHECK_EQ(atomic_load(&c.woke), nc + nt);
    CHECK_EQ(goc__cond_waiters(&c.c), 0);
}

TEST(cond_signal_wakes_exactly_one) {
    cond_ctx c = {GOC_MUTEX_INIT, GOC_COND_INIT, 0, 0};
    int nc = 8, nt = 2, n = nc + nt;
    goc_wg wg = GOC_WG_INIT;
    job j = {cond_waiter, &c, &wg};
    CHECK_OK(goc_wg_add(&wg, nc));
    for (int i = 0; i < nc; i++) CHECK_OK(goc_go(job_run, &j));
    thr t[2];
    for (int i = 0; i < nt; i++) thr_start(&t[i], cond_waiter, &c);
    WAIT_UNTIL((int)goc__cond_waiters(&c.c) == n);
    for (int k = 1; k <= n; k++) {
        cond_notify(&c, false);
        WAIT_UNTIL(atomic_load(&c.woke) >= k);
        CHECK_EQ((int)goc__cond_waiters(&c.c), n - k);
    }
    goc_sleep(10 * GOC_MS);
    CHECK_EQ(atomic_load(&c.woke), n);
    goc_wg_wait(&wg);
    for (int i = 0; i < nt; i++) thr_join(&t[i]);
    cond_notify(&c, false); /* nobody waits: a no-op */
    cond_notify(&c, true);
}

/* signal wakes the longest waiter (Go's TestCondSignalGenerations): waiters
 * queued one at a time wake in that order. A signal with nobody waiting is
 * not remembered for a later waiter. */
static goc_mutex fifo_m = GOC_MUTEX_INIT;
static goc_cond fifo_c = GOC_COND_INIT;
static goc_chan *fifo_awake;

static void cond_fifo_waiter(void *p) {
    int id = (int)(intptr_t)p;
    goc_mutex_lock(&fifo_m);
    goc_cond_wait(&fifo_c, &fifo_m);
    goc_mutex_unlock(&fifo_m);
    CHECK_OK(goc_send(fifo_awake, &id));
}

TEST(cond_signal_wakes_the_longest_waiter) {
    enum { N = 50 };
    fifo_awake = goc_chan_make(sizeof(int), N);
    goc_cond_signal(&fifo_c); /* nobody waits: forgotten */
    goc_cond_broadcast(&fifo_c);
    for (int i = 0; i < N; i++) {
        CHECK_OK(goc_go(cond_fifo_waiter, (void *)(intptr_t)i));
        WAIT_UNTIL((int)goc__cond_waiters(&fifo_c) == i + 1);
    }
    CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(fifo_awake, NULL, 2 * GOC_MS));
    for (int i = 0; i < N; i++) {
        goc_mutex_lock(&fifo_m);
        goc_cond_signal(&fifo_c);
        goc_mutex_unlock(&fifo_m);
        int id = -1;
        CHECK_OK(goc_recv(fifo_awake, &id));
        CHECK_EQ(id, i);
    }
    CHECK_EQ(goc__cond_waiters(&fifo_c), 0);
    goc_chan_release(fifo_awake);
}

/* A bounded queue with two conds: producers and consumers of both kinds. */
#define QCAP 4
typedef struct {
    goc_mutex m;
    goc_cond not_empty, not_full;
    long buf[QCAP];
    int head, len;     /* guarded by m */
    long per_producer;
    _Atomic long sum;
} bq;

static void bq_produce(void *p) {
    bq *q = p;
    for (long i = 1; i <= q->per_producer; i++) {
        goc_mutex_lock(&q->m);
        while (q->len == QCAP) goc_cond_wait(&q->not_full, &q->m);
        q->buf[(q->head + q->len++) % QCAP] = i;
        goc_cond_signal(&q->not_empty);
        goc_mutex_unlock(&q->m);
    }
}

static void bq_consume(void *p) {
    bq *q = p;
    for (;;) {
        goc_mutex_lock(&q->m);
        while (q->len == 0) goc_cond_wait(&q->not_empty, &q->m);
        long v = q->buf[q->head];
        q->head = (q->head + 1) % QCAP;
        q->len--;
        goc_cond_signal(&q->not_full);
        goc_mutex_unlock(&q->m);
        if (v < 0) return; /* poison */
        atomic_fetch_add(&q->sum, v);
    }
}

TEST(cond_bounded_queue_threads_and_coroutines) {
    bq q = {.m = GOC_MUTEX_INIT, .not_empty = GOC_COND_INIT, .not_full = GOC_COND_INIT,
            .per_producer = CHECK_SCALE(20000)};
    goc_wg cons = GOC_WG_INIT;
    job jc = {bq_consume, &q, &cons};
    thr tc, tp[2];
    CHECK_OK(goc_wg_add(&cons, 3));
    for (int i = 0; i < 3; i++) CHECK_OK(goc_go(job_run, &jc));
    thr_start(&tc, bq_consume, &q);
    for (int i = 0; i < 2; i++) thr_start(&tp[i], bq_produce, &q);
    go_n_wait(2, bq_produce, &q);
    for (int i = 0; i < 2; i++) thr_join(&tp[i]);
    for (int i = 0; i < 4; i++) { /* one poison per consumer */
        goc_mutex_lock(&q.m);
        while (q.len == QCAP) goc_cond_wait(&q.not_full, &q.m);
        q.buf[(q.head + q.len++) % QCAP] = -1;
        goc_cond_signal(&q.not_empty);
        goc_mutex_unlock(&q.m);
    }
    goc_wg_wait(&cons);
    thr_join(&tc);
    long n = q.per_producer;
    CHECK_EQ(atomic_load(&q.sum), 4 * n * (n + 1) / 2);
}

/* ---- semaphore ---------------------------------------------------------- */

TEST(sem_weights_and_try_acquire) {
    goc_sem s;
    goc_sem_init(&s, 10);
    CHECK_OK(goc_sem_acquire(&s, 4));
    CHECK(!goc_sem_try_acquire(&s, 7));
    CHECK(goc_sem_try_acquire(&s, 6));
    CHECK_EQ(goc__sem_held(&s), 10);
    CHECK(!goc_sem_try_acquire(&s, 1));
    CHECK(goc_sem_try_acquire(&s, 0));
    goc_sem_release(&s, 3);
    CHECK(goc_sem_try_acquire(&s, 3));
    goc_sem_release(&s, 10);
    CHECK_EQ(goc__sem_held(&s), 0);
    CHECK_OK(goc_sem_acquire(&s, 10));
    goc_sem_release(&s, 10);
}

TEST(sem_acquire_more_than_size_is_einval) {
    goc_sem s;
    goc_sem_init(&s, 5);
    CHECK_ERR(GOC_EINVAL, goc_sem_acquire(&s, 6));
    CHECK_ERR(GOC_EINVAL, goc_sem_acquire(&s, -1));
    CHECK(!goc_sem_try_acquire(&s, 6));
    CHECK(!goc_sem_try_acquire(&s, -1));
    CHECK_EQ(goc__sem_held(&s), 0);
    CHECK_EQ(goc__sem_waiters(&s), 0);
    goc_sem zero = {{0}}; /* never initialised: size 0 */
    CHECK_ERR(GOC_EINVAL, goc_sem_acquire(&zero, 1));
    CHECK_OK(goc_sem_acquire(&zero, 0));
}

typedef struct {
    goc_sem s;
    int order[16];
    int n;          /* guarded by s: only the holder of all weight writes */
    int64_t weight; /* of the next waiter spawned */
} fifo;

typedef struct {
    fifo *f;
    int id;
    int64_t w;
} fifo_arg;

static void fifo_waiter(void *p) {
    fifo_arg *a = p;
    CHECK_OK(goc_sem_acquire(&a->f->s, a->w));
    a->f->order[a->f->n++] = a->id;
    goc_sem_release(&a->f->s, a->w);
}

TEST(sem_waiters_served_fifo) {
    fifo f = {0};
    goc_sem_init(&f.s, 3);
    CHECK_OK(goc_sem_acquire(&f.s, 3));
    goc_wg wg = GOC_WG_INIT;
    fifo_arg a[10];
    job j[10];
    thr t;
    for (int i = 0; i < 10; i++) {
        a[i] = (fifo_arg){&f, i, 3};
        j[i] = (job){fifo_waiter, &a[i], &wg};
        if (i == 5) {
            thr_start(&t, fifo_waiter, &a[i]); /* a thread in the middle of the queue */
        } else {
            CHECK_OK(goc_wg_add(&wg, 1));
            CHECK_OK(goc_go(job_run, &j[i]));
        }
        WAIT_UNTIL((int)goc__sem_waiters(&f.s) == i + 1);
    }
    goc_sem_release(&f.s, 3);
    goc_wg_wait(&wg);
    thr_join(&t);
    CHECK_EQ(f.n, 10);
    for (int i = 0; i < 10; i++) CHECK_EQ(f.order[i], i);
    CHECK_EQ(goc__sem_held(&f.s), 0);
}

TEST(sem_big_request_not_passed_by_small_ones) {
    fifo f = {0};
    goc_sem_init(&f.s, 10);
    CHECK_OK(goc_sem_acquire(&f.s, 5));
    goc_wg wg = GOC_WG_INIT;
    fifo_arg big = {&f, 1, 10}, small = {&f, 2, 1};
    job jb = {fifo_waiter, &big, &wg}, js = {fifo_waiter, &small, &wg};
    CHECK_OK(goc_wg_add(&wg, 2));
    CHECK_OK(goc_go(job_run, &jb));
    WAIT_UNTIL(goc__sem_waiters(&f.s) == 1);
    CHECK(!goc_sem_try_acquire(&f.s, 1)); /* 5 free, but the big one is first */
    CHECK_OK(goc_go(job_run, &js));
    WAIT_UNTIL(goc__sem_waiters(&f.s) == 2);
    CHECK_EQ(goc__sem_held(&f.s), 5);
    goc_sem_release(&f.s, 5);
    goc_wg_wait(&wg);
    CHECK_EQ(f.n, 2);
    CHECK_EQ(f.order[0], 1);
    CHECK_EQ(f.order[1], 2);
    CHECK_EQ(goc__sem_held(&f.s), 0);
}

/* Liveness: a request for the whole semaphore is served again and again
 * while coroutines and a thread keep taking small weights. */
typedef struct {
    goc_sem s;
    _Atomic int stop;
    int rounds;
} sem_stream;

static void small_taker(void *p) {
    sem_stream *t = p;
    while (!atomic_load(&t->stop)) {
        CHECK_OK(goc_sem_acquire(&t->s, 1));
        goc_yield();
        goc_sem_release(&t->s, 1);
    }
}

static void big_taker(void *p) {
    sem_stream *t = p;
    for (int i = 0; i < t->rounds; i++) {
        CHECK_OK(goc_sem_acquire(&t->s, 4));
        goc_sem_release(&t->s, 4);
    }
}

TEST(sem_big_request_served_while_small_ones_stream) {
    sem_stream t = {.rounds = CHECK_SCALE(500)};
    goc_sem_init(&t.s, 4);
    goc_wg smalls = GOC_WG_INIT;
    job js = {small_taker, &t, &smalls};
    CHECK_OK(goc_wg_add(&smalls, 6));
    for (int i = 0; i < 6; i++) CHECK_OK(goc_go(job_run, &js));
    thr ts;
    thr_start(&ts, small_taker, &t);
    go_n_wait(1, big_taker, &t);
    atomic_store(&t.stop, 1);
    thr_join(&ts);
    goc_wg_wait(&smalls);
    CHECK_EQ(goc__sem_held(&t.s), 0);
}

/* Many threads and coroutines take random weights; the weight in use never
 * exceeds the size. */
typedef struct {
    goc_sem s;
    _Atomic int64_t in_use;
    _Atomic int bad;
    int rounds;
} sem_load;

static void sem_user(void *p) {
    sem_load *l = p;
    uint32_t x = (uint32_t)(uintptr_t)&x | 1;
    for (int i = 0; i < l->rounds; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        int64_t w = 1 + x % 4;
        CHECK_OK(goc_sem_acquire(&l->s, w));
        if (atomic_fetch_add(&l->in_use, w) + w > 5) atomic_store(&l->bad, 1);
        if (i % 4 == 0) goc_yield();
        atomic_fetch_sub(&l->in_use, w);
        goc_sem_release(&l->s, w);
    }
}

TEST(sem_threads_and_coroutines_never_exceed_size) {
    sem_load l = {.rounds = CHECK_SCALE(20000)};
    goc_sem_init(&l.s, 5);
    thr t[2];
    for (int i = 0; i < 2; i++) thr_start(&t[i], sem_user, &l);
    go_n_wait(8, sem_user, &l);
    for (int i = 0; i < 2; i++) thr_join(&t[i]);
    CHECK_EQ(atomic_load(&l.bad), 0);
    CHECK_EQ(goc__sem_held(&l.s), 0);
    CHECK_EQ(goc__sem_waiters(&l.s), 0);
}

/* ---- semaphore with a context -------------------------------------------- */

TEST(sem_acquire_ctx_takes_weight_or_fails_with_the_context) {
    goc_sem s;
    goc_sem_init(&s, 4);
    goc_ctx *ctx = goc_ctx_with_cancel(NULL);
    CHECK(ctx);
    CHECK_OK(goc_sem_acquire_ctx(&s, ctx, 3));
    CHECK_EQ(goc__sem_held(&s), 3);
    CHECK_ERR(GOC_EINVAL, goc_sem_acquire_ctx(&s, ctx, 5));
    CHECK_ERR(GOC_EINVAL, goc_sem_acquire_ctx(&s, ctx, -1));
    goc_ctx_cancel(ctx);
    /* Done before the call: fails although 1 is free, as Go's Acquire. */
    CHECK_ERR(GOC_ECANCELED, goc_sem_acquire_ctx(&s, ctx, 1));
    CHECK_EQ(goc__sem_held(&s), 3);
    /* The background (and NULL) are never done: a plain acquire. */
    CHECK_OK(goc_sem_acquire_ctx(&s, NULL, 1));
    goc_sem_release(&s, 1);
    CHECK_OK(goc_sem_acquire_ctx(&s, goc_ctx_background(), 1));
    goc_sem_release(&s, 4);
    CHECK_EQ(goc__sem_held(&s), 0);
    CHECK_EQ(goc__sem_waiters(&s), 0);
    goc_ctx_release(ctx);
}

typedef struct {
    goc_sem *s;
    goc_ctx *ctx;
    int64_t w;
    _Atomic int r;
} ctx_taker;

#define NOT_YET 1

static void take_with_ctx(void *p) {
    ctx_taker *t = p;
    atomic_store(&t->r, goc_sem_acquire_ctx(t->s, t->ctx, t->w));
}

/* One taker blocked on a coroutine or on a thread; cancel or time out. */
static void check_gives_up(bool on_thread, bool timeout) {
    goc_sem s;
    goc_sem_init(&s, 2);
    CHECK_OK(goc_sem_acquire(&s, 2));
    goc_ctx *ctx = timeout ? goc_ctx_with_timeout(NULL, 20 * GOC_MS) : goc_ctx_with_cancel(NULL);
    CHECK(ctx);
    ctx_taker t = {&s, ctx, 1, NOT_YET};
    goc_wg wg = GOC_WG_INIT;
    job j = {take_with_ctx, &t, &wg};
    thr th;
    if (on_thread) {
        thr_start(&th, take_with_ctx, &t);
    } else {
        CHECK_OK(goc_wg_add(&wg, 1));
        CHECK_OK(goc_go(job_run, &j));
    }
    /* A loaded machine may let the timeout pass before the taker queues. */
    WAIT_UNTIL(goc__sem_waiters(&s) == 1 || (timeout && atomic_load(&t.r) != NOT_YET));
    if (!timeout) goc_ctx_cancel(ctx);
    if (on_thread) thr_join(&th);
    goc_wg_wait(&wg);
    CHECK_EQ(atomic_load(&t.r), timeout ? GOC_ETIMEDOUT : GOC_ECANCELED);
    CHECK_EQ(goc__sem_held(&s), 2);
    CHECK_EQ(goc__sem_waiters(&s), 0);
    goc_sem_release(&s, 2);
    CHECK_OK(goc_sem_acquire(&s, 2)); /* nothing was lost */
    goc_sem_release(&s, 2);
    goc_ctx_release(ctx);
}

TEST(sem_acquire_ctx_gives_up_when_cancelled_or_timed_out) {
    check_gives_up(false, false);
    check_gives_up(true, false);
    check_gives_up(false, true);
    check_gives_up(true, true);
}

/* A big request at the head holds back small ones; when its context is
 * cancelled, the small ones that fit are served at once. */
TEST(sem_acquire_ctx_cancelled_head_lets_the_others_through) {
    goc_sem s;
    goc_sem_init(&s, 10);
    CHECK_OK(goc_sem_acquire(&s, 8));
    goc_ctx *ctx = goc_ctx_with_cancel(NULL);
    CHECK(ctx);
    ctx_taker big = {&s, ctx, 5, NOT_YET}, small = {&s, NULL, 2, NOT_YET};
    goc_wg wg = GOC_WG_INIT;
    job jb = {take_with_ctx, &big, &wg}, js = {take_with_ctx, &small, &wg};
    CHECK_OK(goc_wg_add(&wg, 2));
    CHECK_OK(goc_go(job_run, &jb));
    WAIT_UNTIL(goc__sem_waiters(&s) == 1);
    CHECK_OK(goc_go(job_run, &js));
    WAIT_UNTIL(goc__sem_waiters(&s) == 2);
    CHECK_EQ(atomic_load(&small.r), NOT_YET);
    goc_ctx_cancel(ctx);
    goc_wg_wait(&wg);
    CHECK_EQ(atomic_load(&big.r), GOC_ECANCELED);
    CHECK_EQ(atomic_load(&small.r), GOC_OK);
    CHECK_EQ(goc__sem_held(&s), 10);
    CHECK_EQ(goc__sem_waiters(&s), 0);
    goc_sem_release(&s, 10);
    goc_ctx_release(ctx);
}

/* Waiters that give up leave the queue wherever they stand, the middle or
 * the tail, and the others keep their order: a waiter queued after a tail
 * that left is still served last. */
typedef struct {
    ctx_taker t;
    int id, *order;
    _Atomic int *n;
} ordered_taker;

static void take_in_order(void *p) {
    ordered_taker *o = p;
    take_with_ctx(&o->t);
    if (atomic_load(&o->t.r) != GOC_OK) return;
    o->order[atomic_fetch_add(o->n, 1)] = o->id; /* the sem orders these writes */
    goc_sem_release(o->t.s, 1);
}

TEST(sem_acquire_ctx_waiters_leave_from_the_middle_and_the_tail) {
    goc_sem s;
    goc_sem_init(&s, 1);
    CHECK_OK(goc_sem_acquire(&s, 1));
    goc_ctx *ctx[5] = {NULL, goc_ctx_with_cancel(NULL), NULL, goc_ctx_with_cancel(NULL), NULL};
    CHECK(ctx[1] && ctx[3]);
    int order[5];
    _Atomic int n = 0;
    ordered_taker o[5];
    job j[5];
    goc_wg wg = GOC_WG_INIT;
    for (int i = 0; i < 5; i++) {
        o[i] = (ordered_taker){{&s, ctx[i], 1, NOT_YET}, i, order, &n};
        j[i] = (job){take_in_order, &o[i], &wg};
    }
    CHECK_OK(goc_wg_add(&wg, 5));
    for (int i = 0; i < 4; i++) {
        CHECK_OK(goc_go(job_run, &j[i]));
        WAIT_UNTIL((int)goc__sem_waiters(&s) == i + 1);
    }
    goc_ctx_cancel(ctx[1]); /* the middle */
    WAIT_UNTIL(atomic_load(&o[1].t.r) != NOT_YET);
    CHECK_EQ(goc__sem_waiters(&s), 3);
    goc_ctx_cancel(ctx[3]); /* the tail */
    WAIT_UNTIL(atomic_load(&o[3].t.r) != NOT_YET);
    CHECK_EQ(goc__sem_waiters(&s), 2);
    CHECK_OK(goc_go(job_run, &j[4]));
    WAIT_UNTIL(goc__sem_waiters(&s) == 3);
    goc_sem_release(&s, 1);
    goc_wg_wait(&wg);
    CHECK_EQ(atomic_load(&o[1].t.r), GOC_ECANCELED);
    CHECK_EQ(atomic_load(&o[3].t.r), GOC_ECANCELED);
    CHECK_EQ(atomic_load(&n), 3);
    CHECK_EQ(order[0], 0);
    CHECK_EQ(order[1], 2);
    CHECK_EQ(order[2], 4);
    CHECK_EQ(goc__sem_held(&s), 0);
    goc_ctx_release(ctx[1]);
    goc_ctx_release(ctx[3]);
}

/* Takers on coroutines and threads, each with its own context, which a
 * canceller cancels at random while releases race with the cancellations.
 * Every acquire either holds its weight (and the weight in use never exceeds
 * the size) or fails with nothing taken; nothing is lost at the end. */
typedef struct {
    goc_sem s;
    _Atomic int64_t in_use;
    _Atomic int bad, ok, cancelled;
    int rounds;
} sem_ctx_load;

static void sem_ctx_user(void *p) {
    sem_ctx_load *l = p;
    uint32_t x = (uint32_t)(uintptr_t)&x | 1;
    for (int i = 0; i < l->rounds; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        int64_t w = 1 + x % 3;
        goc_ctx *ctx = x % 5 == 0 ? goc_ctx_with_timeout(NULL, (int64_t)(x % 50) * GOC_US)
                                  : goc_ctx_with_cancel(NULL);
        CHECK(ctx);
        if (x % 3 == 0) goc_ctx_cancel(ctx); /* maybe before, maybe while it waits */
        int r = goc_sem_acquire_ctx(&l->s, ctx, w);
        if (r == GOC_OK) {
            if (atomic_fetch_add(&l->in_use, w) + w > 4) atomic_store(&l->bad, 1);
            if (i % 2 == 0) goc_yield();
            atomic_fetch_sub(&l->in_use, w);
            goc_sem_release(&l->s, w);
            atomic_fetch_add(&l->ok, 1);
        } else {
            if (r != goc_ctx_err(ctx)) atomic_store(&l->bad, 2);
            atomic_fetch_add(&l->cancelled, 1);
        }
        goc_ctx_release(ctx);
    }
}

TEST(sem_acquire_ctx_races_with_cancel_and_release) {
    sem_ctx_load l = {.rounds = CHECK_SCALE(5000)};
    goc_sem_init(&l.s, 4);
    thr t[2];
    for (int i = 0; i < 2; i++) thr_start(&t[i], sem_ctx_user, &l);
    go_n_wait(8, sem_ctx_user, &l);
    for (int i = 0; i < 2; i++) thr_join(&t[i]);
    CHECK_EQ(atomic_load(&l.bad), 0);
    CHECK_EQ(atomic_load(&l.ok) + atomic_load(&l.cancelled), 10 * l.rounds);
    CHECK(atomic_load(&l.ok) > 0);
    CHECK(atomic_load(&l.cancelled) > 0);
    CHECK_EQ(goc__sem_held(&l.s), 0);
    CHECK_EQ(goc__sem_waiters(&l.s), 0);
}

/* As Go checks ctx.Done() with the semaphore's lock held: a cancellation
 * that happens before the acquirer gets the lock (here the test holds it,
 * standing in for a release in progress) fails the acquire although the
 * weight is free. */
TEST(sem_acquire_ctx_cancelled_while_it_waits_for_the_lock_fails) {
    goc_sem s;
    goc_sem_init(&s, 1);
    goc_ctx *ctx = goc_ctx_with_cancel(NULL);
    CHECK(ctx);
    ctx_taker t = {&s, ctx, 1, NOT_YET};
    goc__lock_acquire(goc__sem_lock(&s), GOC__RANK_SEM);
    thr th;
    thr_start(&th, take_with_ctx, &t);
    goc_sleep(5 * GOC_MS); /* most likely spinning on the lock by now */
    goc_ctx_cancel(ctx);
    goc__lock_release(goc__sem_lock(&s));
    thr_join(&th);
    CHECK_EQ(atomic_load(&t.r), GOC_ECANCELED);
    CHECK_EQ(goc__sem_held(&s), 0);
    goc_ctx_release(ctx);
}

/* A size-1 semaphore guards a plain counter (TSan checks release ->
 * acquire) for takers on coroutines and threads, whose contexts a coroutine
 * and a thread cancel at random while they wait; value contexts over them
 * wait on their parents' done channels. */
#define SLOTS 8

typedef struct {
    goc_sem s;
    long x; /* guarded by s */
    _Atomic long ok, failed;
    _Atomic int bad, stop, next;
    int rounds;
    goc_mutex mu[SLOTS]; /* guards slot[i] */
    goc_ctx *slot[SLOTS];
} cancelled_by_others;

static void publish(cancelled_by_others *l, int me, goc_ctx *ctx) {
    goc_mutex_lock(&l->mu[me]);
    l->slot[me] = ctx;
    goc_mutex_unlock(&l->mu[me]);
}

static void guarded_taker(void *p) {
    cancelled_by_others *l = p;
    int me = atomic_fetch_add(&l->next, 1) % SLOTS;
    for (int i = 0; i < l->rounds; i++) {
        goc_ctx *ctx = i % 7 == 0 ? goc_ctx_with_timeout(NULL, (i % 13) * GOC_US)
                                  : goc_ctx_with_cancel(NULL);
        CHECK(ctx);
        goc_ctx *v = goc_ctx_with_value(ctx, &me, NULL);
        CHECK(v);
        publish(l, me, ctx);
        int r = goc_sem_acquire_ctx(&l->s, i % 2 ? v : ctx, 1);
        publish(l, me, NULL);
        if (r == GOC_OK) {
            l->x++;
            if (i % 3 == 0) goc_yield();
            goc_sem_release(&l->s, 1);
            atomic_fetch_add(&l->ok, 1);
        } else {
            if (r == 0 || r != goc_ctx_err(ctx)) atomic_store(&l->bad, 1);
            atomic_fetch_add(&l->failed, 1);
        }
        goc_ctx_release(v);
        goc_ctx_release(ctx);
    }
}

static void random_canceller(void *p) {
    cancelled_by_others *l = p;
    uint32_t x = (uint32_t)(uintptr_t)&x | 1;
    while (!atomic_load(&l->stop)) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        int k = (int)(x % SLOTS);
        goc_mutex_lock(&l->mu[k]);
        if (l->slot[k]) goc_ctx_cancel(l->slot[k]);
        goc_mutex_unlock(&l->mu[k]);
        if (x % 4 == 0) goc_yield();
    }
}

TEST(sem_acquire_ctx_waiters_cancelled_by_others) {
    static cancelled_by_others l;
    l.rounds = CHECK_SCALE(4000);
    for (int i = 0; i < SLOTS; i++) l.mu[i] = (goc_mutex)GOC_MUTEX_INIT;
    goc_sem_init(&l.s, 1);
    goc_wg cw = GOC_WG_INIT;
    job cj = {random_canceller, &l, &cw};
    CHECK_OK(goc_wg_add(&cw, 1));
    CHECK_OK(goc_go(job_run, &cj));
    thr t[2], tc;
    thr_start(&tc, random_canceller, &l);
    for (int i = 0; i < 2; i++) thr_start(&t[i], guarded_taker, &l);
    go_n_wait(5, guarded_taker, &l);
    for (int i = 0; i < 2; i++) thr_join(&t[i]);
    atomic_store(&l.stop, 1);
    thr_join(&tc);
    goc_wg_wait(&cw);
    CHECK_EQ(atomic_load(&l.bad), 0);
    CHECK_EQ(l.x, atomic_load(&l.ok));
    CHECK_EQ(atomic_load(&l.ok) + atomic_load(&l.failed), 7L * l.rounds);
    CHECK(atomic_load(&l.failed) > 0);
    CHECK_EQ(goc__sem_held(&l.s), 0);
    CHECK_EQ(goc__sem_waiters(&l.s), 0);
}

/* Takers on children of one parent (cancel and value contexts), cancelled
 * at a different point of a release in pieces each round: what is held at
 * the end is exactly the weight of those that returned GOC_OK. */
typedef struct {
    goc_sem *s;
    goc_ctx *parent;
    int64_t w;
    int r;
} child_taker;

static void take_under_parent(void *p) {
    child_taker *t = p;
    goc_ctx *c = t->w % 2 ? goc_ctx_with_cancel(t->parent) : goc_ctx_with_value(t->parent, t, t);
    CHECK(c);
    t->r = goc_sem_acquire_ctx(t->s, c, t->w);
    goc_ctx_release(c);
}

TEST(sem_acquire_ctx_parent_cancel_amid_releases) {
    enum { N = 12 };
    for (int round = 0; round < CHECK_SCALE(300); round++) {
        goc_sem s;
        goc_sem_init(&s, 6);
        CHECK_OK(goc_sem_acquire(&s, 6));
        goc_ctx *parent = goc_ctx_with_cancel(NULL);
        CHECK(parent);
        child_taker t[N];
        job j[N];
        thr th[2];
        goc_wg wg = GOC_WG_INIT;
        for (int i = 0; i < N; i++) {
            t[i] = (child_taker){&s, parent, 1 + (i * 7 + round) % 5, NOT_YET};
            j[i] = (job){take_under_parent, &t[i], &wg};
            if (i < 2) {
                thr_start(&th[i], take_under_parent, &t[i]);
            } else {
                CHECK_OK(goc_wg_add(&wg, 1));
                CHECK_OK(goc_go(job_run, &j[i]));
            }
        }
        for (int k = 0; k < 6; k++) {
            if (k == round % 6) goc_ctx_cancel(parent);
            goc_sem_release(&s, 1);
            if (round % 3 == 0) goc_yield();
        }
        goc_ctx_cancel(parent);
        for (int i = 0; i < 2; i++) thr_join(&th[i]);
        goc_wg_wait(&wg);
        int64_t held = 0;
        for (int i = 0; i < N; i++) {
            if (t[i].r == GOC_OK)
                held += t[i].w;
            else
                CHECK_EQ(t[i].r, GOC_ECANCELED);
        }
        CHECK_EQ(goc__sem_held(&s), held);
        CHECK_EQ(goc__sem_waiters(&s), 0);
        goc_sem_release(&s, held);
        CHECK_OK(goc_sem_acquire(&s, 6)); /* nothing was lost */
        goc_sem_release(&s, 6);
        goc_ctx_release(parent);
    }
}

/* ---- ThreadSanitizer sees only the edges Go promises ---------------------- */

#if defined(__SANITIZE_THREAD__)
#define SYNC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SYNC_TSAN 1
#endif
#endif

/* Two coroutines write one variable, each under its own mutex and its own
 * semaphore: a real race, which the locks must not hide. */
static long racy;
static goc_mutex race_m[2] = {GOC_MUTEX_INIT, GOC_MUTEX_INIT};
static goc_sem race_s[2];

static void racer(void *p) {
    int i = (int)(intptr_t)p;
    for (int k = 0; k < 100; k++) {
        goc_mutex_lock(&race_m[i]);
        CHECK_OK(goc_sem_acquire(&race_s[i], 1));
        racy++;
        goc_sem_release(&race_s[i], 1);
        goc_mutex_unlock(&race_m[i]);
        goc_yield();
    }
}

TEST(race_helper_two_mutexes) { /* runs only when spawned by the case below */
    if (!getenv("SYNC_RACE")) return;
    goc_sem_init(&race_s[0], 1);
    goc_sem_init(&race_s[1], 1);
    goc_wg wg = GOC_WG_INIT;
    job j0 = {racer, (void *)0, &wg}, j1 = {racer, (void *)1, &wg};
    CHECK_OK(goc_wg_add(&wg, 2));
    CHECK_OK(goc_go(job_run, &j0));
    CHECK_OK(goc_go(job_run, &j1));
    goc_wg_wait(&wg);
}

TEST(tsan_reports_a_race_under_different_locks) {
#ifdef SYNC_TSAN
    char out[16384];
    check_spawn("race_helper_two_mutexes", "SYNC_RACE=1", out, sizeof out);
    if (!strstr(out, "ThreadSanitizer: data race"))
        check_fail(__FILE__, __LINE__, "no race reported: %s", out);
    if (!strstr(out, "racer")) check_fail(__FILE__, __LINE__, "race not in racer: %s", out);
#endif
}

/* ---- a wait group freed as soon as wait returns -------------------------- */

/* Go's usage: a WaitGroup in a frame that returns once Wait does. The add
 * that zeroes the counter must be done with the group before any waiter can
 * see zero, or the frame's owner frees it under the waker. Here the group is
 * malloc'ed and freed on return, so ASan reports any late access; 16
 * coroutines queued on it widen the waker's window; the owner watches the
 * counter and calls wait the moment it reads zero. Owner and waker are each
 * a coroutine or a thread. */
enum { FRAME_WAITERS = 16 };

struct frame_test {
    goc_chan *work;  /* goc_wg * for the waker: a NULL ends it      */
    goc_wg all;      /* lives for the whole test: waiters and waker */
    int rounds;
    bool owner_coro;
};

static void frame_waiter(void *arg) {
    goc_wg **wgp = arg;
    goc_wg *wg = wgp[0], *all = wgp[1];
    goc_wg_wait(wg);
    free(wgp);
    CHECK_OK(goc_wg_done(all));
}

static void frame_waker_loop(struct frame_test *f) {
    goc_wg *wg;
    while (goc_recv(f->work, &wg) == GOC_OK && wg) {
        CHECK_OK(goc_wg_done(wg));
        CHECK_OK(goc_wg_done(&f->all));
    }
}

static void frame_waker_coro(void *arg) { frame_waker_loop(arg); }

static void *frame_waker_thread(void *arg) {
    frame_waker_loop(arg);
    return NULL;
}

static void frame_round(struct frame_test *f) {
    goc_wg *wg = malloc(sizeof *wg);
    *wg = (goc_wg)GOC_WG_INIT;
    CHECK_OK(goc_wg_add(wg, 1));
    CHECK_OK(goc_wg_add(&f->all, FRAME_WAITERS + 1));
    for (int i = 0; i < FRAME_WAITERS; i++) {
        goc_wg **wgp = malloc(2 * sizeof *wgp);
        wgp[0] = wg;
        wgp[1] = &f->all;
        CHECK_OK(goc_go(frame_waiter, wgp));
    }
    while (goc__wg_waiters(wg) < FRAME_WAITERS) goc_yield();
    CHECK_OK(goc_send(f->work, &wg));
    while (goc__wg_counter(wg) != 0)
        if (f->owner_coro) goc_yield();
    goc_wg_wait(wg); /* may take the fast path: the waker may still be inside */
    free(wg);
}

static void frame_owner(void *arg) {
    struct frame_test *f = arg;
    for (int r = 0; r < f->rounds; r++) frame_round(f);
}

static void frame_owner_coro(void *arg) {
    frame_owner(arg);
    goc_wg_done(&((struct frame_test *)arg)->all);
}

static void wg_freed_on_return(bool owner_coro, bool waker_thread) {
    struct frame_test f = {.work = goc_chan_make(sizeof(goc_wg *), 0), .all = GOC_WG_INIT,
                           .rounds = CHECK_SANITIZED_OR(300, 2000), .owner_coro = owner_coro};
    pthread_t th;
    if (waker_thread)
        CHECK_EQ(pthread_create(&th, NULL, frame_waker_thread, &f), 0);
    else
        CHECK_OK(goc_go(frame_waker_coro, &f));
    if (owner_coro) {
        CHECK_OK(goc_wg_add(&f.all, 1));
        CHECK_OK(goc_go(frame_owner_coro, &f));
        goc_wg_wait(&f.all);
    } else {
        frame_owner(&f);
        goc_wg_wait(&f.all);
    }
    goc_wg *stop = NULL;
    CHECK_OK(goc_send(f.work, &stop));
    if (waker_thread) pthread_join(th, NULL);
    goc_chan_release(f.work);
}

TEST(wg_freed_on_return_thread_owner_thread_waker) { wg_freed_on_return(false, true); }
TEST(wg_freed_on_return_thread_owner_coro_waker) { wg_freed_on_return(false, false); }
TEST(wg_freed_on_return_coro_owner_thread_waker) { wg_freed_on_return(true, true); }
TEST(wg_freed_on_return_coro_owner_coro_waker) { wg_freed_on_return(true, false); }

/* ---- misuse is fatal, as Go's panics ------------------------------------ */

TEST(death_helper_misuse) { /* runs only when spawned by the cases below */
    const char *what = getenv("SYNC_MISUSE");
    if (!what) return;
    if (strcmp(what, "mutex") == 0) {
        goc_mutex m = GOC_MUTEX_INIT;
        goc_mutex_unlock(&m);
    } else if (strcmp(what, "sem") == 0) {
        goc_sem s;
        goc_sem_init(&s, 2);
        CHECK_OK(goc_sem_acquire(&s, 1));
        goc_sem_release(&s, 2);
    } else if (strcmp(what, "rwmutex") == 0) {
        goc_rwmutex rw = GOC_RWMUTEX_INIT;
        goc_rwmutex_runlock(&rw);
    } else {
        /* The rest of Go's TestMutexMisuse, and a negative release. */
        goc_mutex m = GOC_MUTEX_INIT;
        goc_rwmutex rw = GOC_RWMUTEX_INIT;
        goc_sem s;
        goc_sem_init(&s, 2);
        if (strcmp(what, "mutex2") == 0) {
            goc_mutex_lock(&m);
            goc_mutex_unlock(&m);
            goc_mutex_unlock(&m);
        } else if (strcmp(what, "unlock_fresh") == 0) {
            goc_rwmutex_unlock(&rw);
        } else if (strcmp(what, "rlock_unlock") == 0) {
            goc_rwmutex_rlock(&rw);
            goc_rwmutex_unlock(&rw);
        } else if (strcmp(what, "unlock2") == 0) {
            goc_rwmutex_lock(&rw);
            goc_rwmutex_unlock(&rw);
            goc_rwmutex_unlock(&rw);
        } else if (strcmp(what, "lock_runlock") == 0) {
            goc_rwmutex_lock(&rw);
            goc_rwmutex_runlock(&rw);
        } else if (strcmp(what, "runlock2") == 0) {
            goc_rwmutex_rlock(&rw);
            goc_rwmutex_runlock(&rw);
            goc_rwmutex_runlock(&rw);
        } else if (strcmp(what, "sem_negative") == 0) {
            goc_sem_release(&s, -1);
        }
    }
    _exit(0);
}

#define expect_fatal(env, msg) CHECK_ABORTS("death_helper_misuse", env, msg, NULL)

TEST(misuse_is_fatal_with_a_message) {
    expect_fatal("SYNC_MISUSE=mutex", "goc_mutex_unlock of an unlocked mutex");
    expect_fatal("SYNC_MISUSE=sem", "goc_sem_release: released 2 of 1 held");
    expect_fatal("SYNC_MISUSE=rwmutex", "goc_rwmutex_runlock");
    expect_fatal("SYNC_MISUSE=mutex2", "goc_mutex_unlock of an unlocked mutex");
    expect_fatal("SYNC_MISUSE=unlock_fresh", "goc_rwmutex_unlock of an rwmutex not locked");
    expect_fatal("SYNC_MISUSE=rlock_unlock", "goc_rwmutex_unlock of an rwmutex not locked");
    expect_fatal("SYNC_MISUSE=unlock2", "goc_rwmutex_unlock of an rwmutex not locked");
    expect_fatal("SYNC_MISUSE=lock_runlock", "goc_rwmutex_runlock of an rwmutex not read-locked");
    expect_fatal("SYNC_MISUSE=runlock2", "goc_rwmutex_runlock of an rwmutex not read-locked");
    expect_fatal("SYNC_MISUSE=sem_negative", "goc_sem_release: released -1");
}
