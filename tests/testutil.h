/* Helpers shared by the runtime tests: waiting with a hang guard, reading
 * RSS, and a small fork/join latch built on the internal parking interface
 * (park.h), which channels and sync will use the same way. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "park.h"

/* Polls cond (sleeping 1 ms between looks, which parks a coroutine and sleeps
 * a thread) and fails if it is still false after secs. The bound only turns a
 * hang into a readable failure; it is never what a test asserts. */
#define WAIT_UNTIL(cond, secs)                                                          \
    do {                                                                                \
        int64_t wu_deadline_ = goc_now() + (int64_t)(secs) * GOC_SEC;                   \
        while (!(cond)) {                                                               \
            if (goc_now() > wu_deadline_)                                               \
                check_fail(__FILE__, __LINE__, "still false after %ds: %s", (int)(secs), \
                           #cond);                                                      \
            goc_sleep(GOC_MS);                                                          \
        }                                                                               \
    } while (0)

/* A small, good pseudo-random generator (splitmix64) for stress tests. */
__attribute__((unused)) static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Resident set size of this process in bytes. */
__attribute__((unused)) static long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
    fclose(f);
    return res * sysconf(_SC_PAGESIZE);
}

/* Number of mappings (VMAs) of this process. */
__attribute__((unused)) static long vma_count(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    long n = 0;
    int c;
    if (!f) return -1;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

/* The latch and the gate are built like the runtime's own primitives: under
 * ThreadSanitizer their bookkeeping is invisible (the lock is released by the
 * park hook, which runs in the next coroutine's fiber) and they state the
 * happens-before edge they provide explicitly, done/open -> wait returns. */
#if defined(__SANITIZE_THREAD__)
#define TU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_TSAN 1
#endif
#endif
#ifdef TU_TSAN
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TU_HIDDEN_BEGIN() __tsan_ignore_thread_begin()
#define TU_HIDDEN_END() __tsan_ignore_thread_end()
#define TU_ACQUIRE(p) __tsan_acquire(p)
#define TU_RELEASE(p) __tsan_release(p)
#else
#define TU_HIDDEN_BEGIN() ((void)0)
#define TU_HIDDEN_END() ((void)0)
#define TU_ACQUIRE(p) ((void)(p))
#define TU_RELEASE(p) ((void)(p))
#endif

/* Under TSan every live coroutine is a TSan fiber, and TSan dies past 8128
 * threads and fibers ("Thread limit exceeded"). LIVE_SCALE bounds the tests
 * that keep coroutines alive at once, and spawn loops call throttle_live()
 * now and then so that spawned-but-unfinished ones stay below the limit.
 * Elsewhere both are CHECK_SCALE and a no-op. */
#ifdef TU_TSAN
#define LIVE_SCALE(n) (CHECK_SCALE(n) < 4000 ? CHECK_SCALE(n) : 4000)
#else
#define LIVE_SCALE(n) CHECK_SCALE(n)
#endif

/* Under TSan each spawn also maps a fresh stack (TSan resets its shadow)
 * and creates a fiber, about 1 ms a coroutine: spawn-heavy tests scale
 * down further there. */
#ifdef TU_TSAN
#define SPAWN_SCALE(n) ((n) / 300 > 0 ? (n) / 300 : 1)
#else
#define SPAWN_SCALE(n) CHECK_SCALE(n)
#endif

#define TU_MIN(a, b) ((a) < (b) ? (a) : (b))

__attribute__((unused)) static void throttle_live(void) {
#ifdef TU_TSAN
    if (goc_count() > 3000) WAIT_UNTIL(goc_count() < 1000, 120);
#endif
}

/* A latch: wait() blocks (parks a coroutine, sleeps a thread) until done()
 * was called `pending` times. Follows park.h's protocol: the waiter enqueues
 * itself under the lock, which the park hook releases; the waker claims
 * under the lock and wakes after unlocking. One waiter at most. */
typedef struct {
    goc__lock lock;
    long pending;      /* (lock) */
    goc__wait *waiter; /* (lock) */
} latch;

__attribute__((unused)) static void latch_init(latch *l, long n) {
    TU_HIDDEN_BEGIN();
    l->lock = (goc__lock){0};
    l->pending = n;
    l->waiter = NULL;
    TU_HIDDEN_END();
}

static void latch_unlock(void *arg) { goc__lock_release(arg); }

__attribute__((unused)) static void latch_wait(latch *l) {
    TU_HIDDEN_BEGIN();
    goc__lock_acquire(&l->lock, GOC__RANK_TEST);
    if (l->pending == 0) {
        goc__lock_release(&l->lock);
        TU_HIDDEN_END();
        TU_ACQUIRE(l);
        return;
    }
    goc__wait wt;
    goc__wait_init(&wt, goc__self(), false);
    l->waiter = &wt;
    int r = goc__wait_block(&wt, -1, latch_unlock, &l->lock);
    TU_HIDDEN_END();
    TU_ACQUIRE(l);
    if (r != GOC_OK) check_fail(__FILE__, __LINE__, "latch_wait: %s", goc_err_name(r));
}

/* The latch may be gone once done() returns (its waiter has resumed). */
__attribute__((unused)) static void latch_done(latch *l) {
    TU_RELEASE(l);
    TU_HIDDEN_BEGIN();
    goc__lock_acquire(&l->lock, GOC__RANK_TEST);
    goc__wait *wt = NULL;
    if (--l->pending == 0 && l->waiter && goc__wait_claim(l->waiter, GOC_OK)) {
        wt = l->waiter;
        l->waiter = NULL;
    }
    goc__lock_release(&l->lock);
    if (wt) goc__wait_wake(wt);
    TU_HIDDEN_END();
}

/* A gate: gate_wait() parks (or sleeps a thread) until gate_open(); any
 * number of waiters, none costs a timer or CPU while it waits. */
typedef struct gate_node {
    goc__wait wt;
    struct gate_node *next;
} gate_node;

typedef struct {
    goc__lock lock;
    int open;         /* (lock) */
    gate_node *head;  /* (lock) */
    long waiting;     /* (lock) nodes on head */
} gate;

__attribute__((unused)) static void gate_wait(gate *g) {
    TU_HIDDEN_BEGIN();
    goc__lock_acquire(&g->lock, GOC__RANK_TEST);
    if (g->open) {
        goc__lock_release(&g->lock);
        TU_HIDDEN_END();
        TU_ACQUIRE(g);
        return;
    }
    gate_node n;
    goc__wait_init(&n.wt, goc__self(), false);
    n.next = g->head;
    g->head = &n;
    g->waiting++;
    int r = goc__wait_block(&n.wt, -1, latch_unlock, &g->lock);
    TU_HIDDEN_END();
    TU_ACQUIRE(g);
    if (r != GOC_OK) check_fail(__FILE__, __LINE__, "gate_wait: %s", goc_err_name(r));
}

/* How many wait at g now: queued, not merely on their way to gate_wait.
 * Tests wait for this, not for a counter bumped before gate_wait, before
 * they open the gate and check how many it woke. */
__attribute__((unused)) static long gate_waiting(gate *g) {
    TU_HIDDEN_BEGIN();
    goc__lock_acquire(&g->lock, GOC__RANK_TEST);
    long n = g->waiting;
    goc__lock_release(&g->lock);
    TU_HIDDEN_END();
    return n;
}

/* Wakes every waiter; returns how many. */
__attribute__((unused)) static long gate_open(gate *g) {
    TU_RELEASE(g);
    TU_HIDDEN_BEGIN();
    goc__lock_acquire(&g->lock, GOC__RANK_TEST);
    g->open = 1;
    gate_node *list = g->head;
    g->head = NULL;
    g->waiting = 0;
    for (gate_node *n = list; n; n = n->next)
        if (!goc__wait_claim(&n->wt, GOC_OK)) check_fail(__FILE__, __LINE__, "gate: claimed twice");
    goc__lock_release(&g->lock);
    long woken = 0;
    while (list) {
        gate_node *next = list->next; /* list is gone once woken */
        goc__wait_wake(&list->wt);
        list = next;
        woken++;
    }
    TU_HIDDEN_END();
    return woken;
}

#endif
