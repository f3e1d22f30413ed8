/* The runtime's start: on the first call that needs it, GOC_PROCS workers,
 * the monitor and the debugging hooks; and its end for good in a child of
 * fork(2) (fork.c).
 *
 * rt_state moves OFF -> ON once, under rt_lock, and ON -> FORKED only in a
 * forked child, whose rt_lock may be held by a parent's thread that does not
 * exist there, so a FORKED runtime never takes it.
 */
#include <stdlib.h>
#include <unistd.h>

#include "debug.h"
#include "goc.h"
#include "sched_int.h"

#define MAXPROCS 256

enum { RT_OFF, RT_ON, RT_FORKED };
static _Atomic int rt_state; /* RT_* */
static goc__lock rt_lock;

static int procs_from_env(void) {
    const char *s = getenv("GOC_PROCS");
    long n = s ? strtol(s, NULL, 10) : 0;
    if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0) n = 1;
    return n > MAXPROCS ? MAXPROCS : (int)n;
}

void goc__overflow_handler_install(void);

static int rt_start_slow(void) {
    if (atomic_load(&rt_state) == RT_FORKED) return GOC_EFORKED;
    goc__lock_acquire(&rt_lock, GOC__RANK_RT);
    if (atomic_load(&rt_state)) {
        goc__lock_release(&rt_lock);
        return GOC_OK;
    }
    goc__fork_watch();
    goc__stack_init();
    goc__overflow_handler_install();
    int want = procs_from_env(), n = 0;
    while (n < want) {
        goc__w *w = goc__worker_new();
        if (!w) break;
        atomic_fetch_add(&goc__sched.nactive, 1);
        if (goc__worker_start(w) != GOC_OK) {
            atomic_fetch_sub(&goc__sched.nactive, 1);
            goc__worker_free(w);
            break;
        }
        n++;
    }
    if (n == 0) {
        goc__lock_release(&rt_lock);
        return GOC_EAGAIN;
    }
    goc__sched.nprocs = n;
    goc__monitor_start(); /* without it goc still runs; stuck workers stay stuck */
    goc__debug_start();
    atomic_store_explicit(&rt_state, RT_ON, memory_order_release);
    goc__lock_release(&rt_lock);
    return GOC_OK;
}

int goc__rt_start(void) {
    if (GOC_LIKELY(atomic_load_explicit(&rt_state, memory_order_acquire) == RT_ON)) return GOC_OK;
    return rt_start_slow();
}

void goc__rt_forked(void) {
    if (atomic_load(&rt_state) == RT_ON) atomic_store(&rt_state, RT_FORKED);
}

bool goc__rt_is_forked(void) {
    return atomic_load_explicit(&rt_state, memory_order_relaxed) == RT_FORKED;
}

int goc_procs(void) {
    return goc__rt_start() == GOC_OK ? goc__sched.nprocs : 0;
}
