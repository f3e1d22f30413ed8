/* The lock order: every goc__lock has a rank, given where it is taken
 * (goc__lock_acquire(l, GOC__RANK_CHAN)), and the ranks below are the one
 * statement of which lock may be taken while which is held. Go's
 * runtime/lockrank.go is the model. GOC_LOCKRANK builds (on by default in
 * CMake's Debug builds) check every acquire against the locks the thread
 * holds, and abort with both ranks' names on a violation; other builds
 * ignore the rank (lock.h: the lock and its fast path do not change).
 *
 * The rules:
 *   - a thread takes a lock only while every lock it holds has a lower rank;
 *   - two locks of one rank at once only as the rank's nesting says:
 *       ONE    never;
 *       ADDR   in ascending address order (select's channels);
 *       CHILD  a node's lock under its parent's, named at the call
 *              (goc__lock_acquire_child: a context's cancel walk);
 *       LEAF   never, and no lock at all is taken while it is held;
 *   - a successful goc__lock_try is recorded but not ordered: it never
 *     waits, so it cannot close a cycle;
 *   - a lock is released by the thread that took it, and no lock is held
 *     across a context switch: a coroutine's lock is released by its park
 *     hook, which the next context runs first on the same thread (sched.c),
 *     and a coroutine moves to another thread only while parked or queued,
 *     so the held locks are a per-thread record.
 *
 * LEAF ranks come last; their order among themselves means nothing. The
 * comment on each rank says what the lock guards and what is taken under it.
 */
#ifndef GOC_LOCKRANK_H
#define GOC_LOCKRANK_H

#include <stdint.h>

#include "config.h"

#define GOC__LOCK_RANKS(X)                                                       \
    /* start.c rt_lock: the runtime's one start. Under it: everything the    */ \
    /* start makes (stacks, workers, threads).                               */ \
    X(RT, ONE, "rt_lock")                                                        \
    /* signal.c reg.lock: the signal registry. Under it: a channel (the      */ \
    /* reader try-sends) and what readying takes.                            */ \
    X(SIGNAL, ONE, "signal registry")                                            \
    /* timechan.c: a timer channel's stop and reset. Under it: its channel   */ \
    /* (drain, send), its runtime timers (heap locks; sched.lock off the     */ \
    /* workers).                                                             */ \
    X(TIMECHAN, ONE, "timechan")                                                 \
    /* sem.c: a weighted semaphore. Under it: its context (goc_ctx_err),     */ \
    /* and the context's done channel.                                       */ \
    X(SEM, ONE, "goc_sem")                                                       \
    /* context.c: a cancel node's error and children. A canceller holds the  */ \
    /* path from the cancelled node down. Under it: done channels, readying, */ \
    /* deadline timers.                                                      */ \
    X(CTX, CHILD, "context")                                                     \
    /* fd.h: a descriptor's waiters and flags; goc_poll holds several, in    */ \
    /* address order. Under it: a context's done channel.                    */ \
    X(FD, ADDR, "fd descriptor")                                                 \
    /* chan.h: a channel's buffer and queues; select holds several, in       */ \
    /* address order. Under it: the deadline timer's heap (park hook).       */ \
    X(CHAN, ADDR, "channel")                                                     \
    /* sched_int.h goc__sched.lock: the global queue, the idle and spare     */ \
    /* lists. Under it: timer heaps (goc__timers_move, a timer armed off the */ \
    /* workers).                                                             */ \
    X(SCHED, ONE, "sched.lock")                                                  \
    /* timer.h: one worker's timer heap. Two only in goc__timers_move, in    */ \
    /* address order.                                                        */ \
    X(TIMERS, ADDR, "timer heap")                                                \
    /* stack.c: a stack class's free lists and runs. Under it: stats maps    */ \
    /* (carving maps a new slab).                                            */ \
    X(STACK, ONE, "stack class")                                                 \
    /* dump.c reg.lock: the coroutine registry. Under it: threads.lock.      */ \
    X(DUMP_REG, ONE, "dump registry")                                            \
    /* The wait queues of the sync primitives and goc_blocking: each is held */ \
    /* only to queue or dequeue, and wakes after its release (they rank      */ \
    /* above sched.lock, so a wake-up under one that takes it is caught).    */ \
    /* They never nest with each other: their order here is arbitrary.       */ \
    /* Under each: dump's threads.lock (a plain thread registers as blocked  */ \
    /* before its wait releases the lock: park.c).                           */ \
    /* sync.h goc__sema: a mutex's or rwmutex's waiters.                     */ \
    X(SEMA, ONE, "sema")                                                         \
    /* cond.c: a condition variable's waiters and notify ticket.             */ \
    X(COND, ONE, "goc_cond")                                                     \
    /* wg.c: a wait group's waiter queue.                                    */ \
    X(WG, ONE, "goc_wg")                                                         \
    /* group.c: a group's slots, first error and wait queues.                */ \
    X(GROUP, ONE, "goc_group")                                                   \
    /* blocking.c pool.lock: goc_blocking's job queue and helper counts.     */ \
    X(BLOCKING, ONE, "blocking pool")                                            \
    /* The tests' own wait queues (tests/testutil.h: latch, gate).           */ \
    X(TEST, ONE, "test")                                                         \
    /* Leaves.                                                               */ \
    /* dump.c threads.lock: the plain threads blocked in goc.                */ \
    X(DUMP_THREADS, LEAF, "dump threads")                                        \
    /* leaks.c chans.lock: the table of live channels (GOC_DEBUG=leaks).     */ \
    X(LEAKS, LEAF, "leak table")                                                 \
    /* stats.c maps.lock: the list of stack mappings.                        */ \
    X(STATS, LEAF, "stats maps")                                                 \
    /* netpoll.c init_lock: the epoll instance's one creation.               */ \
    X(NETPOLL, LEAF, "netpoll init")                                             \
    /* chan.c kept.lock: channels kept after a partial deadlock.             */ \
    X(KEPT, LEAF, "kept channels")                                               \
    /* deadlock.c pend.lock: partial-deadlock reports waiting to be printed. */ \
    X(PARTIAL, LEAF, "partial deadlock reports")

enum goc__lockrank {
    GOC__RANK_NONE, /* no lock has it: a held lock's word is never 0 */
#define GOC__RANK_ENUM(name, nest, str) GOC__RANK_##name,
    GOC__LOCK_RANKS(GOC__RANK_ENUM)
#undef GOC__RANK_ENUM
    GOC__NRANKS
};

_Static_assert(GOC__NRANKS <= 64, "the held ranks are a 64-bit mask");

struct goc__lock;

#if GOC_LOCKRANK
/* What lock.h calls in GOC_LOCKRANK builds. A held lock's word is
 * (thread tag << 8 | rank), so a release knows the rank it undoes and a
 * lock knows which thread holds it. */

/* Checks that this thread may take l of rank r now (parent: the held lock
 * whose child l is, CHILD ranks; else NULL), records l as held, and returns
 * the word l must hold. Aborts with both ranks' names on a violation. */
uint32_t goc__lockrank_acquire(struct goc__lock *l, enum goc__lockrank r,
                               const struct goc__lock *parent);
/* The word l of rank r holds when this thread takes it (for a try). */
uint32_t goc__lockrank_word(enum goc__lockrank r);
/* A try took l: records it, unordered. */
void goc__lockrank_took(struct goc__lock *l, enum goc__lockrank r);
/* l, held by this thread, is about to be released: unrecords it; aborts
 * if this thread does not hold it. */
void goc__lockrank_release(struct goc__lock *l);
/* Aborts unless this thread holds no lock; `where` names the moment. */
void goc__lockrank_none_held(const char *where);
/* Whether this thread holds l. */
int goc__lockrank_held(const struct goc__lock *l);
#endif

/* Test hook: 1 in a GOC_LOCKRANK build (the library's, whatever the
 * caller's headers say), else 0. */
int goc__lockrank_enabled(void);

#endif
