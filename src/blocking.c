/* goc_blocking: runs a blocking function on a helper thread while the calling
 * coroutine is parked, so the worker keeps running other coroutines.
 *
 * Helpers are started on demand, up to MAX_HELPERS, and exit after IDLE_EXIT
 * without work. Jobs live on the caller's stack (it is parked until its job
 * is done).
 *
 * Invariants: a job is queued at most once and completed exactly once; the
 * caller is parked before any helper can see its job (the queue lock is
 * released by the park hook); nqueued counts the jobs in the queue and
 * those about to be queued by callers that counted them first, and a job
 * starts a helper unless the idle ones outnumber the jobs counted before it,
 * so no job waits behind another while helpers may be started. (Counting
 * only idle helpers missed one woken for a job and not yet at it; counting
 * a job only once queued let another caller take for its own the helper that
 * the first one had just started.)
 * Locking: pool.lock guards the queue and the counters (rank: lockrank.h).
 */
#include "goc.h"
#include "park.h"

#define MAX_HELPERS 1024
#define IDLE_EXIT (10 * GOC_SEC)

struct job {
    void (*fn)(void *);
    void *arg;
    goc__wait wt;
    struct job *next;
};

static struct {
    goc__lock lock;
    struct job *head, *tail; /* (lock) */
    int nhelpers, nidle;     /* (lock) */
    int nqueued;             /* (lock) jobs in the queue               */
    _Atomic uint32_t seq;    /* futex: bumped for each job queued      */
} pool;

void goc__blocking_census(int *threads, int *busy) {
    goc__lock_acquire(&pool.lock, GOC__RANK_BLOCKING);
    *threads = pool.nhelpers;
    *busy = pool.nhelpers - pool.nidle + pool.nqueued;
    goc__lock_release(&pool.lock);
}

static struct job *dequeue_locked(void) {
    struct job *j = pool.head;
    if (j) {
        pool.head = j->next;
        if (!pool.head) pool.tail = NULL;
        pool.nqueued--;
    }
    GOC_ASSERT(pool.nqueued >= 0 && 0 <= pool.nidle && pool.nidle <= pool.nhelpers);
    return j;
}

static void *helper_main(void *arg) {
    (void)arg;
    goc__lock_acquire(&pool.lock, GOC__RANK_BLOCKING);
    for (;;) {
        struct job *j = dequeue_locked();
        if (!j) {
            uint32_t seq = atomic_load(&pool.seq);
            pool.nidle++;
            goc__lock_release(&pool.lock);
            int64_t until = goc__now() + IDLE_EXIT;
            goc__futex_wait(&pool.seq, seq, until);
            goc__lock_acquire(&pool.lock, GOC__RANK_BLOCKING);
            pool.nidle--;
            if (pool.nqueued == 0 && goc__now() >= until) break; /* none counted on us */
            continue;
        }
        goc__lock_release(&pool.lock);
        goc__race_acquire(j);
        j->fn(j->arg);
        goc__race_release(j);
        goc__wait_claim(&j->wt, GOC_OK);
        goc__wait_wake(&j->wt);
        goc__lock_acquire(&pool.lock, GOC__RANK_BLOCKING);
    }
    pool.nhelpers--;
    goc__lock_release(&pool.lock);
    return NULL;
}

static void unlock_pool(void *arg) {
    (void)arg;
    goc__lock_release(&pool.lock);
}

int goc_blocking(void (*fn)(void *), void *arg) {
    if (!fn) return GOC_EINVAL;
    goc__g *self = goc__self();
    if (self->kind == GOC__G_THREAD) {
        fn(arg);
        return GOC_OK;
    }
    struct job j = {.fn = fn, .arg = arg, .next = NULL};
    goc__wait_init(&j.wt, self, false);
    goc__lock_acquire(&pool.lock, GOC__RANK_BLOCKING);
    pool.nqueued++; /* counted before a helper starts for it */
    if (pool.nidle < pool.nqueued && pool.nhelpers < MAX_HELPERS) {
        pool.nhelpers++;
        goc__lock_release(&pool.lock);
        int r = goc__thread_start(helper_main, NULL, 0);
        goc__lock_acquire(&pool.lock, GOC__RANK_BLOCKING);
        if (r != 0) {
            pool.nhelpers--;
            /* No helper is free for this job: queued behind busy ones, it
             * could wait for ever on a call that waits for it. */
            if (pool.nidle < pool.nqueued) {
                pool.nqueued--;
                goc__lock_release(&pool.lock);
                return GOC_EAGAIN;
            }
        }
    }
    if (pool.tail)
        pool.tail->next = &j;
    else
        pool.head = &j;
    pool.tail = &j;
    goc__race_release(&j);
    atomic_fetch_add(&pool.seq, 1);
    goc__futex_wake(&pool.seq, 1);
    goc__stat_global(&goc__stat_blocking, 1);
    goc__waiting(j.wt.g, GOC__WAIT_BLOCKING, (void *)fn, 0);
    goc__wait_block(&j.wt, -1, unlock_pool, NULL);
    goc__race_acquire(&j);
    return GOC_OK;
}
