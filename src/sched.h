/* The scheduler's objects and its internal interface.
 *
 * goc__g is a coroutine, or a plain thread's stand-in when a thread blocks in
 * goc. goc__w is a worker: an OS thread with a run queue, a timer heap and a
 * stack cache. Normally there is one worker per processor (GOC_PROCS); when
 * the monitor finds a worker stuck in one coroutine it starts a replacement,
 * and the stuck one retires when its coroutine finally switches out.
 *
 * Everything above the scheduler (channels, sync, timers' users) blocks and
 * wakes through two calls only: goc__park (switch out, then run a hook on the
 * next context, typically "unlock the channel") and goc__ready. park.h builds
 * waits with deadlines that work for coroutines and threads alike on top.
 *
 * Field keys: (o) owner worker only, (a) atomic, (i) immutable after spawn,
 * (s) sched.lock, (m) monitor thread only.
 */
#ifndef GOC_SCHED_H
#define GOC_SCHED_H

#include <stdbool.h>
#include <time.h>

#include "arch/ctx.h"
#include "lock.h"
#include "runq.h"
#include "san.h"
#include "stack.h"
#include "rtstats.h"
#include "timer.h"

typedef struct goc__g goc__g;
typedef struct goc__w goc__w;

enum { GOC__G_THREAD = 0, GOC__G_CORO = 1 }; /* zeroed memory is a thread stand-in */

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
    _Atomic uint32_t wake;   /* thread stand-ins: futex, 1 = woken          */
    goc__san san;
};

/* The record's footprint at the top of its stack slot. */
#define GOC__G_SIZE ((sizeof(goc__g) + 63) & ~(size_t)63)

enum { GOC__W_RUNNING, GOC__W_IDLE, GOC__W_SPARE };

/* What a spinning worker saw of another's queue (sched.c): a mark (the
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
    _Atomic int state;                  /* (s) GOC__W_*                      */
    bool in_idle;                       /* (s) on sched's idle list          */
    goc__w *idle_next;                  /* (s)                               */
    int index;                          /* (i) in sched.allw                 */
    uint64_t mon_tick;                  /* (m)                               */
    int64_t mon_since;                  /* (m) when tick last changed        */
    int64_t mon_cpu;                    /* (m) thread CPU time when first slow */
    clockid_t cpuclock;                 /* (i) the thread's CPU-time clock   */
    int tid;                            /* (i) the thread's kernel id        */
    void *altstack;                     /* (i) for the SIGSEGV handler       */
};

/* The worker of the calling thread, or NULL on a plain thread. Never cached
 * across a switch by the compiler (it is an opaque call). */
goc__w *goc__tls_w(void);

/* The running coroutine, or the calling thread's stand-in. */
goc__g *goc__self(void);

/* Starts the runtime if needed: GOC_OK, GOC_EAGAIN (no thread could start)
 * or GOC_EFORKED (a child of fork: see fork.c). */
int goc__rt_start(void);

/* fork.c's child handler: the runtime that was on stays off for good. */
void goc__rt_forked(void);
bool goc__rt_is_forked(void);

/* Registers fork.c's handler once: at runtime start, at the first signal. */
void goc__fork_watch(void);

/* Coroutine only: switches away from g (running on w); hook(w', arg) runs
 * on the next context of this thread once g is off its stack. Returns the
 * worker g resumes on, after goc__ready(g). */
goc__w *goc__park(goc__w *w, goc__g *g, void (*hook)(goc__w *, void *), void *arg);

/* A coroutine's life, scheduler side (coro.c starts them). spawn queues a
 * new g on worker w (NULL off the workers); entered runs first on a new
 * coroutine's stack; exit switches away from a returned coroutine for good. */
void goc__sched_spawn(goc__w *w, goc__g *g);
void goc__sched_entered(goc__w *w);
GOC_NORETURN void goc__sched_exit(goc__g *g);

/* The running coroutine found a channel lock held (by another worker, in
 * all likelihood): what this worker steals may fight its victim for locks. */
void goc__sched_contended(void);

/* Yields if the running coroutine has held its worker for a while (the
 * monitor marked it slow); a no-op elsewhere. For calls that may complete
 * again and again without blocking. */
void goc__preempt_point(void);

/* Makes a parked g runnable: next = run it before other queued work on this
 * worker (hand-off), else at the tail. A thread stand-in is woken. */
void goc__ready(goc__g *g, bool next);

/* The g's id, name and stack, for a fatal report; then aborts. */
GOC_NORETURN void goc__stack_overflow(const goc__g *g);

/* Monitor interface (monitor.c). */
int goc__monitor_start(void);
void goc__monitor_kick(void);
void goc__wakep(void);
void goc__replace_worker(goc__w *stuck);
bool goc__has_work(goc__w *w, int64_t now);
int goc__nworkers(void);
goc__w *goc__worker(int i);
bool goc__sched_idle_all(void);
void goc__sched_clock(int64_t now); /* the monitor's reading; INT64_MAX: none */
extern _Atomic int64_t goc__recent_now; /* that reading (sched.c)         */
int64_t goc__sched_spawned_off(void); /* coroutines started off the workers */

/* Test hooks (tests link the static library). */
int goc__worker_index(void);          /* -1 off the workers                 */
size_t goc__stack_rss_slots(void);    /* slots whose pages may be resident  */
void goc__test_publish_delay(int64_t ns); /* a new worker thread runs this long unpublished */
void goc__test_steal_shyly(bool on);       /* every worker steals as after contention */
uint32_t goc__test_contended(void);        /* channel lock waits, all workers        */
void goc__test_unpark(int i);         /* a late wake-up for worker i        */
int goc__test_worker_state(int i);    /* GOC__W_*                           */
bool goc__test_spare_has_timers(void); /* a timer left in a spare's heap    */
void goc__test_stuck_after(int64_t ns); /* the monitor's STUCK (10 ms)          */
void goc__test_signal_stall(void (*fn)(int)); /* runs in the handler before its write */

#endif
