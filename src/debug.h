/* Seeing inside a running program, the internal half: what a parked
 * coroutine waits on (for goc_dump), the registry of coroutine records
 * (dump.c), and the hooks of deadlock detection (deadlock.c).
 *
 * A wait reason is three stores on the parking coroutine's own record (the
 * reason, the object, the monitor's last clock reading), made just before it
 * parks; goc__ready clears the reason. Wait sites set it with goc__waiting,
 * right before the call that parks, so a reason is never left behind by a
 * wait that did not park (goc__wait_block clears it when a deadline had
 * passed already).
 */
#ifndef GOC_DEBUG_H
#define GOC_DEBUG_H

#include <stdio.h>

#include "list.h"
#include "sched.h"

enum {
    GOC__WAIT_NONE,
    GOC__WAIT_RECV,      /* obj: the channel                       */
    GOC__WAIT_SEND,      /* obj: the channel                       */
    GOC__WAIT_NIL,       /* a NULL channel: for ever               */
    GOC__WAIT_SELECT,    /* obj: the cases, arg: how many          */
    GOC__WAIT_MUTEX,     /* obj: the goc_mutex                     */
    GOC__WAIT_RLOCK,     /* obj: the goc_rwmutex                   */
    GOC__WAIT_WLOCK,     /* obj: the goc_rwmutex                   */
    GOC__WAIT_WG,        /* obj: the goc_wg                        */
    GOC__WAIT_COND,      /* obj: the goc_cond                      */
    GOC__WAIT_SEM,       /* obj: the goc_sem                       */
    GOC__WAIT_GROUP,     /* obj: the goc_group                     */
    GOC__WAIT_SLEEP,     /* arg unused; wait_since + the deadline  */
    GOC__WAIT_FD,        /* obj: (intptr_t)fd, arg: events         */
    GOC__WAIT_BLOCKING,  /* a goc_blocking call                    */
    GOC__WAIT_N
};

/* The record's wait on a channel, the hot path (chan.c): set by its own
 * coroutine just before it parks, cleared by goc__ready. The time is the
 * monitor's last reading (INT64_MAX, unknown, while the monitor sleeps):
 * a clock read would cost more than the rest of the park. */
static inline void goc__waiting_chan(goc__g *g, uint8_t why, const void *c) {
    g->wait_obj = c;
    g->wait_since = atomic_load_explicit(&goc__recent_now, memory_order_relaxed);
    atomic_store_explicit(&g->wait, why, memory_order_relaxed);
}

/* Any other wait (arg: select cases, fds), with the time always known. */
static inline void goc__waiting(goc__g *g, uint8_t why, const void *obj, uint32_t arg) {
    g->wait_obj = obj;
    g->wait_arg = arg;
    int64_t t = atomic_load_explicit(&goc__recent_now, memory_order_relaxed);
    g->wait_since = GOC_LIKELY(t != INT64_MAX) ? t : goc__now(); /* monitor asleep */
    atomic_store_explicit(&g->wait, why, memory_order_relaxed);
}

/* "chan receive", "select", ... */
const char *goc__wait_name(int why);

/* ---- registry (dump.c) ---------------------------------------------------
 * Every coroutine record is registered once, the first time its stack slot
 * is used (g->registered is 0 in a slot never used, or trimmed back to zero
 * pages), so spawning costs a load and a branch; `live` says whether the
 * record holds a coroutine now. Slots are never unmapped, so reading a
 * registered record is always safe; under TSan each stack is its own mapping,
 * and goc__reg_exit takes the record out before its stack is unmapped. */
void goc__reg_add(goc__g *g);
static inline void goc__reg_spawn(goc__g *g) {
    if (GOC_UNLIKELY(!g->registered)) goc__reg_add(g);
    atomic_store_explicit(&g->wait, 0, memory_order_relaxed);
    atomic_store_explicit(&g->live, 1, memory_order_release);
}
#if defined(GOC_TSAN)
void goc__reg_exit(goc__g *g);
#else
static inline void goc__reg_exit(goc__g *g) {
    atomic_store_explicit(&g->live, 0, memory_order_relaxed);
}
#endif

/* A plain thread blocked in a goc wait with no deadline: listed for the dump
 * and counted for deadlock detection while it waits (park.c). */
typedef struct goc__tblock {
    goc__g *g;
    int tid;
    goc__link link; /* in dump.c's list of blocked threads */
} goc__tblock;
void goc__thread_blocked(goc__tblock *b, goc__g *g);
void goc__thread_unblocked(goc__tblock *b);

/* ---- the runtime's start and the monitor (debug.c, deadlock.c) ----------- */

/* Reads GOC_DEBUG, GOC_DEADLOCK, GOC_TRACEBACK; installs the SIGQUIT dump and
 * the exit-time report. Called once when the runtime starts. */
void goc__debug_start(void);

/* From the monitor, every pass: a pending SIGQUIT dump, then deadlock
 * detection when every worker is idle. Returns true when the monitor must
 * look again soon (a suspected deadlock awaits confirmation). */
bool goc__debug_monitor(bool all_idle);

/* ---- deadlock (deadlock.c) ----------------------------------------------- */

extern bool goc__deadlock_enabled; /* GOC_DEADLOCK is not 0; set at start */

/* From the monitor, with every worker idle: reports a confirmed deadlock
 * (and exits 2); true while a suspected one awaits confirmation. */
bool goc__deadlock_check(void);

/* Plain threads blocked for ever in goc now (dump.c); *woken: some of them
 * were woken already and are on their way out. */
int goc__threads_blocked(bool *woken);

/* goc_blocking's helpers: threads alive and calls running (blocking.c). */
void goc__blocking_census(int *threads, int *busy);

/* signal.c: its reader thread exists (threads 1), and some channel listens
 * (active): a signal may still arrive as a message. */
void goc__signal_census(int *threads, bool *active);

/* ---- partial deadlocks (deadlock.c) -------------------------------------- */

/* The last reference to channel c was released while the n waiters g[i]
 * (ids[i]: the coroutine's id, 0 for a plain thread) still waited on it with
 * nothing else able to end their waits (chan.c): queues the report for the
 * monitor, unless GOC_DEADLOCK=0. */
void goc__partial_deadlock(const void *c, goc__g *const *g, const uint64_t *ids, size_t n);

/* Writes the queued reports to stderr (the monitor, every pass; and exit). */
void goc__partial_report(void);

/* Test hook: partial deadlock reports written so far. */
uint64_t goc__test_partial_reported(void);

/* The dump's entries of these records only (dump.c). */
void goc__dump_only(FILE *f, goc__g *const *g, const uint64_t *ids, size_t n);

/* goc_stats in words (GOC_DEBUG=stats at exit). */
void goc__stats_print(FILE *f);

/* Is word in the comma-separated list s (GOC_DEBUG)? */
bool goc__env_listed(const char *s, const char *word);

/* "\t<what> sym+0x12 (file)\n", with dladdr (dump.c). */
void goc__print_pc(FILE *f, const char *what, void *pc);

/* Unwinds a copy of a parked coroutine's stack: copy holds len bytes from
 * its saved sp up, starting with goc__ctx_switch's frame. Puts at most max
 * return addresses, innermost first, into pcs; returns how many (0 where
 * the platform has no unwinder: GOC_CONTEXT=ucontext) (unwind.c). */
int goc__unwind_copy(const void *copy, uintptr_t sp, size_t len, void **pcs, int max);

/* ---- leaks (leaks.c): channels tracked while GOC_DEBUG=leaks ------------- */
extern bool goc__leaks_on; /* set before main, never changed */
struct goc_chan;
void goc__leak_chan_made(struct goc_chan *c, void *pc);
void goc__leak_chan_freed(struct goc_chan *c);

#endif
