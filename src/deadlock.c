/* Deadlock detection: Go's "all goroutines are asleep - deadlock!".
 *
 * The program is deadlocked when nothing can ever wake anything: every
 * worker is idle with nothing queued, no timer is pending (sleeps, timeouts,
 * tickers, deadlines: all timers), nothing waits on an fd, no goc_blocking
 * call runs, no channel listens for signals, some coroutine or thread
 * waits, and every thread of the process is goc's own (workers, the monitor,
 * idle blocking helpers, the signal reader) or blocked in a goc wait with no
 * timeout. Any other thread could still send: one goc never saw (counted
 * in /proc/self/task), a resolver's lookup, a thread computing.
 *
 * Invariants: a report needs the condition to hold at two checks at least
 * CONFIRM apart with no activity in between (no switch, park, wake, spawn,
 * thread block or unblock: the signature below), and no blocked thread
 * already woken. Each piece is read without stopping the others, so one
 * check alone could combine readings from before and after an event; a
 * second check with the same signature proves no event happened between.
 * Locking: takes the dump's locks and blocking.c's and signal.c's, one at a
 * time; runs on the monitor thread only.
 *
 * Design: Go's checkdead counts Ms under sched.lock and is exact because Go
 * owns every thread that can run Go code; goc shares its process with
 * threads it never sees, so it counts them from the kernel and stays silent
 * when in doubt. The cost is paid only while every worker is idle, never on
 * a hot path; an idle program still sleeps (one recheck, then the monitor
 * sleeps until a worker wakes or a thread blocks).
 *
 * Partial deadlocks (the rest of the program runs on): the one case proved
 * without looking at anything else is a channel whose last reference is
 * released while coroutines still wait on it with nothing else able to end
 * their waits (chan.c: abandon). The release queues a report here, and the
 * monitor writes it (the releaser may be a coroutine on a small stack, or
 * hold locks of its own); exit writes what is still queued. Invariants: a
 * report is written once, whole (pend.print serialises writers).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debug.h"
#include "goc.h"
#include "netpoll.h"

#define CONFIRM (5 * GOC_MS)

bool goc__deadlock_enabled;

static struct {
    bool suspect;
    uint64_t sig;
    int64_t since;
} dl;

/* Tasks (threads) of this process; -1 when unknown. */
static int count_tasks(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* Everything that moves when anything happens. */
static uint64_t signature(int nw, int blocked) {
    uint64_t s = (uint64_t)blocked * 0x9e3779b97f4a7c15ull + (uint64_t)goc__sched_spawned_off();
    for (int i = 0; i < nw; i++) {
        goc__w *w = goc__worker(i);
        s += atomic_load_explicit(&w->tick, memory_order_relaxed);
        s += GOC__STAT_READ(w, parks) << 1;
        s += GOC__STAT_READ(w, wakes) << 2;
        s += (uint64_t)atomic_load_explicit(&w->spawned, memory_order_relaxed) << 3;
    }
    return s + (atomic_load_explicit(&goc__stat_wakes_off, memory_order_relaxed) << 4);
}

/* The condition, once; *sig gets the activity signature read before it. */
static bool deadlocked_now(uint64_t *sig) {
    int nw = goc__nworkers();
    bool woken;
    int blocked = goc__threads_blocked(&woken);
    *sig = signature(nw, blocked);
    if (woken || !goc__sched_idle_all()) return false;
    if (blocked == 0 && goc_count() == 0) return false; /* nobody waits */
    if (goc__netpoll_active()) return false;
    int64_t now = goc__now();
    for (int i = 0; i < nw; i++) {
        goc__w *w = goc__worker(i);
        if (goc__has_work(w, now) || goc__timers_next(&w->timers) != INT64_MAX) return false;
    }
    int helpers, busy, sigthreads;
    bool sigactive;
    goc__blocking_census(&helpers, &busy);
    if (busy) return false;
    goc__signal_census(&sigthreads, &sigactive);
    if (sigactive) return false;
    int own = nw + 1 /* monitor */ + helpers + sigthreads;
    if (count_tasks() != own + blocked) return false;
    /* Nothing moved while we looked. */
    return signature(nw, blocked) == *sig && goc__sched_idle_all();
}

static GOC_NORETURN void report(void) {
    fprintf(stderr, "goc: all coroutines are asleep - deadlock!\n\n");
    goc_dump(stderr);
    fflush(stderr);
    _exit(2);
}

bool goc__deadlock_check(void) {
    uint64_t sig;
    if (!deadlocked_now(&sig)) {
        dl.suspect = false;
        return false;
    }
    int64_t now = goc__now();
    if (dl.suspect && dl.sig == sig && now - dl.since >= CONFIRM) report();
    if (!dl.suspect || dl.sig != sig) {
        dl.suspect = true;
        dl.sig = sig;
        dl.since = now;
    }
    return true;
}

/* ---- partial deadlocks ---------------------------------------------------- */

typedef struct partial {
    struct partial *next;
    const void *chan;
    size_t n;
    goc__g **g;
    uint64_t *ids;
} partial;

static struct {
    goc__lock lock;             /* head, tail                               */
    partial *head, **tail;
    _Atomic bool any;           /* head is not NULL: the monitor's cheap look */
    pthread_mutex_t print;      /* one writer at a time, the monitor or exit */
    _Atomic uint64_t written;
} pend = {.print = PTHREAD_MUTEX_INITIALIZER};

void goc__partial_deadlock(const void *c, goc__g *const *g, const uint64_t *ids, size_t n) {
    if (!goc__deadlock_enabled || n == 0) return;
    partial *p = goc__malloc_quiet(sizeof *p + n * (sizeof *g + sizeof *ids));
    if (!p) return; /* no report, nothing else lost */
    p->next = NULL;
    p->chan = c;
    p->n = n;
    p->g = (goc__g **)(p + 1);
    p->ids = (uint64_t *)(p->g + n);
    memcpy(p->g, g, n * sizeof *g);
    memcpy(p->ids, ids, n * sizeof *ids);
    goc__lock_acquire(&pend.lock, GOC__RANK_PARTIAL);
    if (!pend.head) pend.tail = &pend.head;
    *pend.tail = p;
    pend.tail = &p->next;
    atomic_store(&pend.any, true);
    goc__lock_release(&pend.lock);
    goc__monitor_kick();
}

void goc__partial_report(void) {
    if (!atomic_load_explicit(&pend.any, memory_order_relaxed)) return;
    pthread_mutex_lock(&pend.print);
    goc__lock_acquire(&pend.lock, GOC__RANK_PARTIAL);
    partial *p = pend.head;
    pend.head = NULL;
    atomic_store(&pend.any, false);
    goc__lock_release(&pend.lock);
    while (p) {
        size_t threads = 0;
        for (size_t i = 0; i < p->n; i++) threads += p->ids[i] == 0;
        if (threads)
            fprintf(stderr, "goc: %zu coroutines and %zu threads are blocked forever on channel %p "
                            "(last reference released)\n",
                    p->n - threads, threads, p->chan);
        else
            fprintf(stderr, "goc: %zu coroutines are blocked forever on channel %p "
                            "(last reference released)\n",
                    p->n, p->chan);
        goc__dump_only(stderr, p->g, p->ids, p->n);
        fputc('\n', stderr);
        fflush(stderr);
        partial *next = p->next;
        goc__free(p);
        p = next;
        atomic_fetch_add(&pend.written, 1);
    }
    pthread_mutex_unlock(&pend.print);
}

uint64_t goc__test_partial_reported(void) { return atomic_load(&pend.written); }
