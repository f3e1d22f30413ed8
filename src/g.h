/* The scheduler's two objects: goc__g, a coroutine (or a plain thread's
 * stand-in while it blocks in goc), and goc__w, a worker: an OS thread with a
 * run queue, a timer heap and a stack cache. A low header: the stack cache
 * (stack.c), the debugging tools and the scheduler's own files include it
 * without reaching up to the scheduler's interface (sched.h).
 *
 * Field keys: (o) owner worker only, (a) atomic, (i) immutable after spawn,
 * (s) sched.lock, (m) monitor thread only.
 */
#ifndef GOC_G_H
#define GOC_G_H

#include <stdbool.h>
#include <time.h>

#include "arch/ctx.h"
#include "lock.h"
#include "rtstats.h"
#include "runq.h"
#include "san.h"
#include "stack.h"
#include "timer.h"

typedef struct goc__g goc__g;
typedef struct goc__w goc__w;

enum { GOC__G_THREAD = 0, GOC__G_CORO = 1 }; /* zeroed memory is a thread stand-in */

/* A thread stand-in's wake word (park.c): a waker sets WOKEN and makes the
 * futex call only when the thread said it sleeps, so readying a thread that
 * is running (lending, or between its checks) costs no system call. */
enum { GOC__WAKE_NONE = 0, GOC__WAKE_WOKEN = 1, GOC__WAKE_ASLEEP = 2 };

struct goc__g {
    goc__ctx ctx;            /* (o) saved while switched out                */
    goc__g *next;            /* global queue / free-slot lists              */
    void (*fn)(void *);      /* (i)                                         */
    void *arg;               /* (i)                                         */
    uint64_t id;             /* (i) from 1; 0 for thread stand-ins          */
    const char *name;        /* (i)                                         */
    char *stack_lo;          /* (i) lowest usable byte, above the guard     */
    size_t stack_size;       /* (i) slot bytes above the guard, record incl. */
    uint32_t stack_asked;    /* (i) goc_opts.stack_size, reported on overflow */
    uint8_t kind;            /* (i) GOC__G_CORO / GOC__G_THREAD             */
    uint8_t sclass;          /* (i) stack size class                        */
    uint8_t canary;          /* (i) a canary word sits at stack_lo          */
    _Atomic uint8_t wait;    /* a GOC__WAIT_* while parked, 0 once readied (debug.h) */
    _Atomic uint8_t live;    /* started and not returned (dump.c registry)  */
    uint8_t registered;      /* this record is in dump.c's registry         */
    uint32_t wait_arg;       /* what it waits on: select cases, fd events   */
    const void *wait_obj;    /* the channel, lock, fd ... it waits on       */
    int64_t wait_since;      /* goc__recent_now when it parked; INT64_MAX unknown */
    void *spawn_pc;          /* (i) where goc_go was called                 */
    _Atomic uint32_t wake;   /* thread stand-ins: futex, GOC__WAKE_*        */
    uint32_t trace_flow;     /* tracing only: the flow its readier started, 0 none (trace.c) */
    goc__san san;
};

/* Has a waker woken thread stand-in g (acquire: what it wrote is seen)? */
static inline bool goc__thread_woken(goc__g *g) {
    return atomic_load_explicit(&g->wake, memory_order_acquire) == GOC__WAKE_WOKEN;
}

/* The record's footprint at the top of its stack slot. */
#define GOC__G_SIZE ((sizeof(goc__g) + 63) & ~(size_t)63)

/* LENT: off the idle list, its thread asleep, while a plain thread blocked
 * in goc runs coroutines as this worker (lend.c). */
enum { GOC__W_RUNNING, GOC__W_IDLE, GOC__W_SPARE, GOC__W_LENT };

/* A LENT worker's hold (lend.c): its lending thread uses it, or keeps it
 * while it runs its own code between waits. The hold word is the state
 * or'ed with a token of the holding thread, so a thread whose worker was
 * taken back and lent to another cannot take it from that one. */
enum { GOC__HOLD_NONE, GOC__HOLD_USED, GOC__HOLD_AWAY, GOC__HOLD_MASK = 3 };

/* What a spinning worker saw of another's queue (steal.c): a mark (the
 * victim's tick for `next`, its ring's head for the ring) and since when. */
#define GOC__SEEN 16
struct goc__seen {
    goc__w *victim;
    uint64_t mark;
    int64_t since;
};

struct goc__w {
    goc__runq q;
    goc__g *cur;                        /* (o) running coroutine or NULL     */
    void (*hook)(goc__w *, void *);     /* (o) runs after the next switch    */
    void *hook_arg;                     /* (o)                               */
    _Atomic uint64_t tick;              /* (a) coroutines scheduled so far   */
    _Atomic bool busy;                  /* (a) running a coroutine now       */
    _Atomic bool slow;                  /* (a) monitor: same tick for a while */
    _Atomic bool retire;                /* (a) monitor: replaced, must retire */
    goc__g *lender;                     /* (o) the thread stand-in running as w */
    _Atomic uintptr_t hold;             /* (a) token | GOC__HOLD_*, lend.c   */
    bool spinning;                      /* (o) counted in sched.nspinning    */
    bool lifo_off;                      /* (o) spawns queue FIFO until ...    */
    uint32_t lifo_until;                /* (o) ... head reaches this index    */
    uint32_t nhead;                     /* (o) entries pushed at the head     */
    uint32_t nnext;                     /* (o) picks from `next` in a row     */
    uint32_t rnd;                       /* (o) xorshift state                */
    _Atomic uint32_t contended;         /* (a) channel locks found held; owner writes */
    uint32_t contended_seen;            /* (o) contended at the last steal round */
    int64_t shy_until;                  /* (o) see ring_stealable            */
    struct goc__seen seen_next[GOC__SEEN]; /* (o) victims' `next`, when spinning */
    struct goc__seen seen_ring[GOC__SEEN]; /* (o) victims' short rings        */
    uint64_t id_next, id_end;           /* (o) coroutine ids handed out      */
    _Atomic int64_t spawned, exited;    /* (a) written by the owner only     */
    goc__wstats st;                     /* (o) written by the owner only (rtstats.h) */
    goc__stacks stacks;                 /* (o)                               */
    goc__timers timers;                 /* own lock                          */
    goc__ctx g0;                        /* (o) the scheduler's context       */
    goc__san g0san;                     /* (o)                               */
    _Atomic uint32_t park;              /* (a) futex: 1 = wake up            */
    _Atomic bool polling;               /* (a) asleep in epoll, not the futex */
    _Atomic int64_t sleep_until;        /* (a) the idle thread's alarm; INT64_MAX none */
    _Atomic int state;                  /* (s) GOC__W_*                      */
    bool in_idle;                       /* (s) on sched's idle list          */
    goc__w *idle_next;                  /* (s)                               */
    int index;                          /* (i) in sched.allw                 */
    uint64_t mon_tick;                  /* (m)                               */
    int64_t mon_since;                  /* (m) when tick last changed        */
    int64_t mon_cpu;                    /* (m) thread CPU time when first slow */
    bool mon_queued;                    /* (m) lent, its queue non-empty     */
    uint64_t mon_lent_tick;             /* (m) tick at the last watch_lent   */
    clockid_t cpuclock;                 /* (i) the thread's CPU-time clock   */
    int tid;                            /* (i) the thread's kernel id        */
    void *altstack;                     /* (i) for the SIGSEGV handler       */
};

#endif
