/*
 * goc — Go's concurrency model in C.
 *
 * Coroutines on a multi-core work-stealing scheduler, channels, select, timers,
 * coroutine-aware locks, context cancellation, groups and signals as messages.
 *
 * Every blocking call works in two worlds: inside a coroutine it parks the
 * coroutine and the worker thread runs others; on a plain thread (main, a pthread)
 * it blocks that thread. The first call of any kind starts the runtime.
 *
 * Conventions: durations are int64_t nanoseconds (GOC_MS, GOC_SEC …), GOC_FOREVER
 * waits without limit, any other negative duration has already passed (as in
 * Go); errors are negative int codes (goc_strerror), GOC_OK is 0;
 * a call that returns an error has had no effect. errno after a goc call that can
 * park is unreliable: the coroutine may resume on another thread.
 */
#ifndef GOC_H
#define GOC_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(GOC_BUILDING)
#define GOC_API __attribute__((visibility("default")))
#else
#define GOC_API
#endif

/* The object model at a glance. */
typedef struct goc_chan goc_chan;         /* a channel, reference counted      */
typedef struct goc_case goc_case;         /* one arm of a select               */
typedef struct goc_opts goc_opts;         /* options for goc_go_with           */
typedef struct goc_timer goc_timer;       /* a one-shot timer with a channel   */
typedef struct goc_ticker goc_ticker;     /* a periodic timer with a channel   */
typedef struct goc_ctx goc_ctx;           /* a cancellation context            */
typedef struct goc_group goc_group;       /* coroutines that fail together     */
typedef struct goc_mutex goc_mutex;
typedef struct goc_rwmutex goc_rwmutex;
typedef struct goc_wg goc_wg;
typedef struct goc_once goc_once;
typedef struct goc_cond goc_cond;
typedef struct goc_sem goc_sem;
struct pollfd;

#define GOC_NS ((int64_t)1)
#define GOC_US ((int64_t)1000)
#define GOC_MS ((int64_t)1000000)
#define GOC_SEC ((int64_t)1000000000)
#define GOC_FOREVER ((int64_t)-1)

/* ------------------------------------------------------------------------ */
/* Runtime                                                                   */
/* ------------------------------------------------------------------------ */
/*
 * A coroutine is a function running on its own stack. Worker threads, one per
 * processor (env GOC_PROCS, default the online CPU count), run coroutines from
 * per-worker run queues and steal from each other when idle. A coroutine runs
 * until it blocks, yields or returns; one that blocks its thread (a blocking
 * syscall, a long loop) for about 10 ms has its queued coroutines handed to
 * another thread. Use goc_blocking for calls known to block.
 */

struct goc_opts {
    size_t stack_size;  /* usable stack bytes; 0: GOC_STACK_DEFAULT          */
    const char *name;   /* shown in crash reports; not copied; may be NULL   */
};

#define GOC_STACK_DEFAULT ((size_t)256 * 1024)
#define GOC_STACK_MIN ((size_t)4096)
#define GOC_STACK_MAX ((size_t)1 << 30)

/* Starts fn(arg) as a new coroutine. Never blocks.
 * Returns GOC_OK, GOC_ENOMEM (no memory for a stack), GOC_EAGAIN (the runtime
 * could not start its threads), GOC_EINVAL (fn is NULL, or stack_size is
 * over GOC_STACK_MAX) or GOC_EFORKED (in a child of fork(2) made after the
 * runtime started: there goc only lets the child exec; calls that start the
 * runtime fail so, and a call that would block aborts with a message). On
 * error nothing was started. */
GOC_API int goc_go(void (*fn)(void *), void *arg);
GOC_API int goc_go_with(const goc_opts *opts, void (*fn)(void *), void *arg);

/* Lets other coroutines run; on a plain thread it yields the CPU. */
GOC_API void goc_yield(void);

/* Sleeps at least ns (<= 0 returns at once, after a yield). Returns GOC_OK, or
 * GOC_ENOMEM when no timer could be allocated (it did not sleep). */
GOC_API int goc_sleep(int64_t ns);

/* Monotonic clock in nanoseconds, the clock of every deadline in goc. */
GOC_API int64_t goc_now(void);

/* The running coroutine's id (from 1), or 0 on a plain thread. */
GOC_API uint64_t goc_id(void);

/* Coroutines started and not yet returned. */
GOC_API size_t goc_count(void);

/* Number of processors (worker threads that run coroutines at once). */
GOC_API int goc_procs(void);

/* Runs fn(arg) as a coroutine (default stack) and waits until it returns:
 * Go's main, which is a goroutine. A plain thread that talks to coroutines
 * all the time (a producer, a ping-pong) pays a futex wake-up per hand-off,
 * microseconds each; run as a coroutine, the same code hands off in tens of
 * nanoseconds. From a coroutine fn simply runs. Returns GOC_OK once fn has
 * returned, or an error of goc_go (fn did not run); GOC_EINVAL for NULL. */
GOC_API int goc_main(void (*fn)(void *), void *arg);

/* Runs fn(arg) on a helper thread while the calling coroutine waits, so a
 * blocking call does not hold a worker. From a plain thread fn runs directly.
 * Up to 1024 calls run at once, each on its own thread; more wait for one to
 * return. Returns GOC_OK, GOC_EINVAL for a NULL fn, or GOC_EAGAIN when no
 * helper thread could be started (fn did not run). */
GOC_API int goc_blocking(void (*fn)(void *), void *arg);

/* ------------------------------------------------------------------------ */
/* Channels                                                                  */
/* ------------------------------------------------------------------------ */
/*
 * A channel carries values of one fixed size (0 allowed) between coroutines
 * and threads. Unbuffered (cap 0): a send completes when a receiver takes the
 * value. Buffered: values queue FIFO up to cap. Waiting senders and receivers
 * are served first come, first served. A send happens-before the matching
 * receive completes; a close happens-before a receive that observes it.
 *
 * Channels are reference counted: goc_chan_make returns one reference,
 * goc_chan_retain adds one, goc_chan_release drops one. Operations on a channel
 * need a reference held for their whole duration. Releasing more times than
 * retained aborts with a message (as Go panics on misuse) where the freed
 * memory has not been handed out again. Should the last reference go while
 * operations still wait on the channel (a coroutine that borrowed it), the
 * channel is not freed, so they can still leave it (a timeout, another
 * select case), and those that nothing else can end are reported as blocked
 * forever (see "Seeing inside"). A NULL channel blocks
 * forever and is never ready in select, as in Go.
 */

/* Returns a new channel, or NULL when out of memory. */
GOC_API goc_chan *goc_chan_make(size_t elem_size, size_t cap);
GOC_API goc_chan *goc_chan_retain(goc_chan *c);
GOC_API void goc_chan_release(goc_chan *c);

/* Sends *v (elem_size bytes; v may be NULL for elem_size 0). Blocks until a
 * receiver or buffer space takes it. Returns GOC_OK, or GOC_CLOSED if the
 * channel is or becomes closed (the value is not delivered), or GOC_EINVAL
 * at once, nothing sent, for a NULL v on a channel with elements (the same
 * for the try and timeout forms). */
GOC_API int goc_send(goc_chan *c, const void *v);

/* Receives into *out (NULL discards). Blocks until a value arrives. Returns
 * GOC_OK, or GOC_CLOSED once the channel is closed and drained (*out zeroed). */
GOC_API int goc_recv(goc_chan *c, void *out);

/* As above without blocking: GOC_EAGAIN when they would block. */
GOC_API int goc_try_send(goc_chan *c, const void *v);
GOC_API int goc_try_recv(goc_chan *c, void *out);

/* As above with a limit: GOC_ETIMEDOUT when ns passed first (at once for a
 * negative ns other than GOC_FOREVER; ns 0 is the try form, GOC_EAGAIN), or
 * GOC_ENOMEM when the deadline's timer could not be armed. */
GOC_API int goc_send_timeout(goc_chan *c, const void *v, int64_t ns);
GOC_API int goc_recv_timeout(goc_chan *c, void *out, int64_t ns);

/* Closes the channel and wakes every waiter: receivers drain the buffer and
 * then get GOC_CLOSED; blocked senders get GOC_CLOSED. Returns GOC_OK, or
 * GOC_CLOSED when it was already closed (or c is NULL), or GOC_EINVAL for a
 * context's done channel, which only its context closes. */
GOC_API int goc_close(goc_chan *c);

/* Values buffered now, and the capacity. 0 for NULL. */
GOC_API size_t goc_len(goc_chan *c);
GOC_API size_t goc_cap(goc_chan *c);

/* ------------------------------------------------------------------------ */
/* Select                                                                    */
/* ------------------------------------------------------------------------ */
/*
 * goc_select waits until one of several channel operations can proceed and
 * performs exactly that one. Among ready cases one is chosen uniformly at
 * random. The same channel may appear in several cases.
 *
 *     int x; goc_case cs[] = { GOC_RECV(in, &x), GOC_SEND(out, &y) };
 *     switch (goc_select(cs, 2, 100 * GOC_MS)) {
 *     case 0: if (!cs[0].ok) ...closed...; break;
 *     case 1: ...sent...; break;
 *     case GOC_ETIMEDOUT: ...;
 *     }
 */

enum { GOC_OP_RECV = 1, GOC_OP_SEND = 2 };

struct goc_case {
    goc_chan *ch;  /* NULL: never ready                                   */
    void *ptr;     /* recv: where the value goes (NULL discards);         */
                   /* send: the value to send                             */
    int op;        /* GOC_OP_RECV or GOC_OP_SEND                          */
    int ok;        /* out: 1 done, 0 the channel was closed               */
};

#define GOC_RECV(c, p) ((goc_case){.ch = (c), .ptr = (p), .op = GOC_OP_RECV, .ok = 0})
#define GOC_SEND(c, p) \
    ((goc_case){.ch = (c), .ptr = (void *)(p), .op = GOC_OP_SEND, .ok = 0})

/* Returns the index of the case that fired. timeout 0 is Go's default:
 * GOC_EAGAIN when nothing is ready; > 0 ends in GOC_ETIMEDOUT (other
 * negatives at once, as time.After(-d) in Go); GOC_FOREVER waits without
 * limit. A send case on a closed channel counts as ready (Go would panic): it
 * fires with ok = 0 and its value is not delivered. A recv case fires with
 * ok = 1 for a value, ok = 0 when the channel is closed and drained.
 * Returns GOC_EINVAL, with no case performed, for n > GOC_SELECT_MAX, an op
 * that is neither, or a send case with a NULL ptr on a channel with
 * elements (NULL is fine for elem_size 0 and NULL channels); and
 * GOC_ENOMEM when no memory was left for its bookkeeping (more than 8
 * cases) or, when it blocks, for its timeout's timer. */
GOC_API int goc_select(goc_case *cases, size_t n, int64_t timeout);

#define GOC_SELECT_MAX 1024

/* ------------------------------------------------------------------------ */
/* Time                                                                      */
/* ------------------------------------------------------------------------ */
/*
 * Timers deliver the firing time (int64_t, goc_now clock) on a channel of
 * capacity 1, usable in select. A ticker fires every period; when the reader
 * is slow, ticks are dropped and the period is kept, as in Go. After stop or
 * reset returns, no stale value from before is received (Go 1.23 semantics).
 * A NULL timer or ticker is refused: stop and reset return false (ticker
 * reset: GOC_EINVAL), chan returns NULL, free does nothing.
 */

/* A channel that receives the time once, after ns. The caller owns one
 * reference (goc_chan_release it when done); the last release stops the
 * timer if it has not fired, so an abandoned goc_after costs nothing more
 * (Go 1.23). NULL when out of memory. */
GOC_API goc_chan *goc_after(int64_t ns);

GOC_API goc_timer *goc_timer_new(int64_t ns);        /* NULL: ENOMEM           */
GOC_API goc_chan *goc_timer_chan(goc_timer *t);      /* borrowed reference     */
/* stop and reset: true if the timer was pending, or had fired and its value
 * was not yet received (that value is discarded; Go 1.23). Safe to call from
 * many coroutines and threads at once. A reset either takes effect or,
 * when no memory is left to arm the timer, changes nothing: goc_timer_reset
 * then returns false, goc_timer_reset_checked GOC_ENOMEM (GOC_EINVAL for a
 * NULL t); on GOC_OK it stores stop's answer in *pending (may be NULL). */
GOC_API bool goc_timer_stop(goc_timer *t);
GOC_API bool goc_timer_reset(goc_timer *t, int64_t ns);
GOC_API int goc_timer_reset_checked(goc_timer *t, int64_t ns, bool *pending);
GOC_API void goc_timer_free(goc_timer *t);           /* stops it, frees it     */

GOC_API goc_ticker *goc_ticker_new(int64_t period);  /* NULL: ENOMEM/EINVAL    */
GOC_API goc_chan *goc_ticker_chan(goc_ticker *t);    /* borrowed reference     */
GOC_API void goc_ticker_stop(goc_ticker *t);
/* Restarts the ticker with a new period, the first tick one period from now,
 * dropping a tick not yet received. GOC_OK; GOC_EINVAL for a NULL t or a
 * period <= 0; GOC_ENOMEM when no memory is left to arm it: then the
 * ticker goes on as before. */
GOC_API int goc_ticker_reset(goc_ticker *t, int64_t period);
GOC_API void goc_ticker_free(goc_ticker *t);         /* stops it, frees it     */

/* ------------------------------------------------------------------------ */
/* Sync                                                                      */
/* ------------------------------------------------------------------------ */
/*
 * Coroutine-aware locks, as Go's sync package and x/sync/semaphore: a
 * coroutine that waits parks (its worker runs other coroutines; a worker
 * thread never blocks on these); a plain thread that waits sleeps. Coroutines
 * and threads may share any of them. All are zero-initialised (the *_INIT
 * macros, or memset 0; goc_sem needs goc_sem_init) and need no destroy while
 * nobody waits. None may be copied or moved once used.
 *
 * Happens-before, as in Go's memory model: unlock happens-before the next
 * lock (of either kind, for goc_rwmutex); a done (or negative add)
 * happens-before the goc_wg_wait it releases; the return of once's fn
 * happens-before every goc_once_do returns; a goc_sem_release happens-before
 * the acquires it lets through. ThreadSanitizer sees exactly these edges.
 *
 * Misuse that Go answers with a panic (unlocking an unlocked mutex,
 * releasing more semaphore weight than is held) aborts with a message.
 */

/* Opaque storage, so the *_INIT macros need no internals (sizes checked in src/). */
struct goc_mutex { uint64_t opaque_[4]; };
struct goc_rwmutex { uint64_t opaque_[12]; };
struct goc_wg { uint64_t opaque_[4]; };
struct goc_once { uint64_t opaque_[6]; };
struct goc_cond { uint64_t opaque_[4]; };
struct goc_sem { uint64_t opaque_[6]; };

#define GOC_MUTEX_INIT {{0}}
#define GOC_RWMUTEX_INIT {{0}}
#define GOC_WG_INIT {{0}}
#define GOC_ONCE_INIT {{0}}
#define GOC_COND_INIT {{0}}

/* A mutual exclusion lock (Go's sync.Mutex); not recursive, not owned: any
 * coroutine or thread may unlock it. lock blocks while it is held: it spins
 * briefly where that can pay (the holder runs on another CPU), then waits. A
 * waiter that has waited over 1 ms switches the mutex to starvation mode, in
 * which unlock hands it to the longest waiter directly, so nobody starves.
 * Uncontended lock and unlock are one atomic instruction each. */
GOC_API void goc_mutex_lock(goc_mutex *m);
/* Aborts if m is not locked. */
GOC_API void goc_mutex_unlock(goc_mutex *m);
/* Takes m if it is free right now, never blocks; false if it is held (or
 * being handed to a starving waiter). */
GOC_API bool goc_mutex_trylock(goc_mutex *m);

/* A reader/writer lock (Go's sync.RWMutex): any number of readers or one
 * writer. rlock blocks while a writer holds the lock or waits for it: a
 * waiting writer holds back new readers, so a stream of readers cannot starve
 * it, and its unlock admits the readers that queued meanwhile. Not
 * recursive: a reader that calls rlock again may deadlock behind a waiting
 * writer, as in Go. runlock/unlock of a lock not held that way abort. */
GOC_API void goc_rwmutex_rlock(goc_rwmutex *m);
GOC_API void goc_rwmutex_runlock(goc_rwmutex *m);
GOC_API void goc_rwmutex_lock(goc_rwmutex *m);
GOC_API void goc_rwmutex_unlock(goc_rwmutex *m);

/* A wait group (Go's sync.WaitGroup): add(n) before starting n pieces of
 * work, done() as each finishes, wait() blocks until the counter is zero; any
 * number of coroutines and threads may wait, and the group may be reused for
 * a new wave once wait has returned. The counter stays within 0..INT32_MAX:
 * an add that would leave it outside returns GOC_ERANGE and changes nothing
 * (so done without a matching add is reported, not undefined). */
GOC_API int goc_wg_add(goc_wg *wg, int64_t delta); /* GOC_OK or GOC_ERANGE */
GOC_API int goc_wg_done(goc_wg *wg);               /* goc_wg_add(wg, -1)   */
GOC_API void goc_wg_wait(goc_wg *wg);

/* Runs fn(arg) exactly once across all callers (Go's sync.Once); the others
 * wait until it has returned, then return too. fn must not call goc_once_do
 * on the same once (deadlock, as in Go), and must return: leaving it by
 * longjmp leaves the once locked, and later callers wait forever. */
GOC_API void goc_once_do(goc_once *o, void (*fn)(void *), void *arg);

/* A condition variable used with a goc_mutex (Go's sync.Cond). wait: m must
 * be locked; atomically unlocks it and waits for a signal or broadcast that
 * comes after the call, then locks m again before returning. There are no
 * spurious wake-ups, but check the condition in a loop anyway: another
 * locker may change it first. signal wakes the longest waiter, broadcast
 * every current waiter; both are no-ops when nobody waits, and may be called
 * with or without m held. */
GOC_API void goc_cond_wait(goc_cond *c, goc_mutex *m);
GOC_API void goc_cond_signal(goc_cond *c);
GOC_API void goc_cond_broadcast(goc_cond *c);

/* A weighted semaphore of size n (Go's x/sync/semaphore.Weighted); n < 0 is
 * taken as 0. Waiters are served in FIFO order: a request at the head is
 * not passed by smaller ones behind it, even when those would fit.
 * acquire(n) blocks until n is available and nobody queued before it; it
 * returns GOC_OK, or GOC_EINVAL (at once, nothing taken) when n < 0 or n is
 * larger than the size. try_acquire takes n only if that needs no waiting
 * (false otherwise, and for the invalid n). release gives n back and wakes
 * the waiters that now fit; releasing more than is held aborts. goc_sem_init
 * must not be called while the semaphore is in use. */
GOC_API void goc_sem_init(goc_sem *s, int64_t n);
GOC_API int goc_sem_acquire(goc_sem *s, int64_t n);
/* acquire_ctx is acquire that gives up when ctx is cancelled or times out
 * (Go's Weighted.Acquire): it returns GOC_OK with n held, or goc_ctx_err(ctx)
 * with nothing taken; a ctx already done fails even if n is free. A waiter
 * that gives up at the head of the queue lets the ones behind it through. */
GOC_API int goc_sem_acquire_ctx(goc_sem *s, goc_ctx *ctx, int64_t n);
GOC_API bool goc_sem_try_acquire(goc_sem *s, int64_t n);
GOC_API void goc_sem_release(goc_sem *s, int64_t n);

/* ------------------------------------------------------------------------ */
/* Context                                                                   */
/* ------------------------------------------------------------------------ */
/*
 * A context carries cancellation, a deadline and values down a tree of work
 * (Go's context package). Cancelling a context cancels all its descendants and
 * only them; when goc_ctx_cancel returns, every descendant is cancelled.
 * goc_ctx_done is a channel closed on cancellation: receive from it or select
 * on it. A context is cancelled once: by goc_ctx_cancel (GOC_ECANCELED), by
 * its deadline (GOC_ETIMEDOUT) or by its parent (the parent's error).
 *
 *     goc_ctx *ctx = goc_ctx_with_timeout(parent, 100 * GOC_MS);
 *     goc_case cs[] = { GOC_RECV(work, &item), GOC_RECV(goc_ctx_done(ctx), NULL) };
 *     if (goc_select(cs, 2, GOC_FOREVER) == 1) return goc_ctx_err(ctx);
 *     ...
 *     goc_ctx_cancel(ctx);   // releases its timer now, as Go's defer cancel()
 *     goc_ctx_release(ctx);
 *
 * Contexts are reference counted: each constructor returns one reference,
 * which goc_ctx_release drops; releasing does not cancel. A context holds a
 * reference to its parent, so a parent lives while it has children. The
 * background context is a static root that is never cancelled; retain and
 * release do nothing to it. A NULL parent means the background. All functions
 * are safe from any coroutine or thread, concurrently, and never park: at
 * worst they spin while a concurrent cancel of the same subtree finishes.
 * Cancel happens-before goc_ctx_err returns non-zero and before a receive
 * from done completes.
 */

GOC_API goc_ctx *goc_ctx_background(void);

/* A child of parent that goc_ctx_cancel cancels. A child of a cancelled
 * parent is born cancelled, with the parent's error. NULL: out of memory. */
GOC_API goc_ctx *goc_ctx_with_cancel(goc_ctx *parent);

/* As with_cancel, and cancelled with GOC_ETIMEDOUT at deadline t (goc_now
 * clock), or after ns. If the parent's deadline is earlier, the child keeps
 * the parent's (and needs no timer); a deadline already past gives a child
 * born timed out, and ns GOC_FOREVER none of its own (as with_cancel).
 * NULL: out of memory, or no timer could be armed. */
GOC_API goc_ctx *goc_ctx_with_timeout(goc_ctx *parent, int64_t ns);
GOC_API goc_ctx *goc_ctx_with_deadline(goc_ctx *parent, int64_t t);

/* A child carrying key -> val (keys compare as pointers; NULL is a key like
 * any other). It is cancelled with its parent and has no cancel of its own:
 * goc_ctx_cancel on it does nothing. NULL: out of memory. */
GOC_API goc_ctx *goc_ctx_with_value(goc_ctx *parent, const void *key, void *val);

/* Cancels c and its descendants with GOC_ECANCELED, closes their done
 * channels, stops their deadline timers and detaches c from its parent.
 * Idempotent; the first error stays. Nothing for the background, value
 * contexts and NULL. */
GOC_API void goc_ctx_cancel(goc_ctx *c);

/* A channel of element size 0, closed when c is cancelled (a value context's
 * is its nearest cancelable ancestor's). Borrowed: valid while the caller
 * holds c. NULL for the background (never ready, as Go's nil Done()).
 * Receive only, as in Go: goc_close refuses it; sending on it is a misuse. */
GOC_API goc_chan *goc_ctx_done(goc_ctx *c);

/* 0 while c is live, then GOC_ECANCELED or GOC_ETIMEDOUT. Once done is closed
 * this is non-zero, and once it is non-zero done is closed. */
GOC_API int goc_ctx_err(goc_ctx *c);

/* The value of the nearest context on the path to the root whose key is key;
 * NULL if none. */
GOC_API void *goc_ctx_value(goc_ctx *c, const void *key);

/* The nearest deadline (own or inherited, goc_now clock); 0: none. */
GOC_API int64_t goc_ctx_deadline(goc_ctx *c);

GOC_API goc_ctx *goc_ctx_retain(goc_ctx *c);
/* Drops one reference; the last one frees c (stopping its timer, leaving its
 * parent's list) and drops c's reference to its parent. Releasing more times
 * than retained aborts with a message, as goc_chan_release does. */
GOC_API void goc_ctx_release(goc_ctx *c);

/* ------------------------------------------------------------------------ */
/* Group                                                                     */
/* ------------------------------------------------------------------------ */
/*
 * A group runs coroutines for one task (Go's errgroup.WithContext): each
 * member gets the group's context; the first non-zero result cancels that
 * context and is what goc_group_wait returns. goc_group_limit bounds how many
 * members run at once; goc_group_go then waits for a free slot (errgroup's
 * SetLimit). A member's return happens-before goc_group_wait returns.
 *
 *     goc_group *g = goc_group_new(ctx);
 *     goc_group_limit(g, 8);
 *     for (int i = 0; i < n; i++) goc_group_go(g, fetch, &urls[i]);
 *     int err = goc_group_wait(g);
 *     goc_group_free(g);
 */

/* A group whose context is a child of parent (NULL: the background).
 * NULL: out of memory. */
GOC_API goc_group *goc_group_new(goc_ctx *parent);

/* At most n members run at once from now on; n <= 0: no limit. Raising the
 * limit lets waiting goc_group_go calls proceed; lowering it takes effect as
 * members return. NULL: nothing. */
GOC_API void goc_group_limit(goc_group *g, int n);

/* Starts fn(group ctx, arg) as a member, first waiting for a slot when the
 * limit is reached (slots are handed out in arrival order). Returns GOC_OK, or
 * GOC_EINVAL (g or fn NULL), GOC_ENOMEM, GOC_EAGAIN (from goc_go): then
 * nothing was started. */
GOC_API int goc_group_go(goc_group *g, int (*fn)(goc_ctx *, void *), void *arg);

/* Waits until every member has returned (members started by members
 * included, if started before their starter returned), cancels the group's
 * context, and returns the first non-zero result, or 0 (GOC_EINVAL for a
 * NULL g). May be called again, and from several coroutines and threads at
 * once. */
GOC_API int goc_group_wait(goc_group *g);

/* The group's context (borrowed: valid until goc_group_free); NULL for NULL. */
GOC_API goc_ctx *goc_group_ctx(goc_group *g);

/* Frees a group after goc_group_wait; freeing one with members still running
 * is fatal. NULL: nothing. */
GOC_API void goc_group_free(goc_group *g);

/* ------------------------------------------------------------------------ */
/* Signals                                                                   */
/* ------------------------------------------------------------------------ */
/*
 * Signals arrive as messages (Go's signal.Notify): each listed signal that the
 * process receives is sent as an int (the signal number) on ch without
 * blocking: if ch is full, or unbuffered with no receiver waiting, it is
 * dropped, so give ch a buffer. Handlers never run goc code: a handler writes
 * to a pipe that a runtime thread reads. The disposition a signal had before
 * the first goc_signal_notify for it comes back when the last channel stops
 * listening.
 *
 *     goc_chan *sig = goc_chan_make(sizeof(int), 1);
 *     goc_signal_notify(sig, (int[]){SIGINT, SIGTERM}, 2);
 *     int s; goc_recv(sig, &s);           // graceful shutdown starts here
 */

/* Adds signals[0..n) to those delivered on ch (a channel of int); calling it
 * again for the same ch adds to its set. The registry holds one reference to
 * ch until goc_signal_stop. Returns GOC_OK; GOC_EINVAL for a NULL ch or
 * signals, n == 0, a channel whose element is not an int, or a signal that
 * cannot be delivered as a message: out of range, SIGKILL, SIGSTOP, the
 * synchronous faults SIGSEGV, SIGBUS, SIGFPE, SIGILL, and the real-time
 * signals the C library reserves; GOC_ENOMEM; GOC_EAGAIN when the pipe or
 * its reader thread could not be created. On error nothing changed. */
GOC_API int goc_signal_notify(goc_chan *ch, const int *signals, size_t n);

/* Stops all delivery to ch: once it returns, nothing more is sent on ch.
 * Releases the registry's reference. GOC_OK (also if ch was not registered),
 * or GOC_EINVAL for NULL. */
GOC_API int goc_signal_stop(goc_chan *ch);

/* ------------------------------------------------------------------------ */
/* I/O and network                                                           */
/* ------------------------------------------------------------------------ */
/*
 * Go's net package over a netpoller: one coroutine per connection, written in
 * blocking style, costs no thread. A coroutine that waits for an fd parks and
 * its worker runs others; one epoll instance (edge-triggered, each fd
 * registered once) wakes it. On a plain thread the same calls block the
 * thread. fds are plain ints, so setsockopt, getsockname and friends work as
 * usual. Every fd goc creates is non-blocking and close-on-exec; close those
 * with goc_fd_close, which wakes every goc call waiting on the fd (a plain
 * close under a waiting call is a user error, as in Go).
 *
 * OS errors come back as negated errno values (GOC_ECONNREFUSED ==
 * -ECONNREFUSED); goc_strerror names them all. Timeouts follow the rest of
 * goc: GOC_FOREVER waits without limit, 0 tries once (GOC_EAGAIN when not
 * ready), a negative duration has already passed (GOC_ETIMEDOUT at once).
 * The _ctx twins take a context in place of the timeout and fail with
 * goc_ctx_err(ctx) once it is done, even when the fd is ready.
 *
 * Foreign fds (from other libraries) work too: a non-blocking socket or pipe
 * is waited on through the poller; a blocking fd, and a regular file (epoll
 * refuses those), is read and written on a helper thread, never holding a
 * worker. Regular files are always ready: timeouts do not apply to them.
 *
 *     int fd = goc_dial("tcp", "example.com:80", 5 * GOC_SEC);
 *     if (fd < 0) return fd;                      // GOC_ENOHOST, -ECONNREFUSED …
 *     goc_write(fd, req, len, GOC_FOREVER);       // all of it, or an error
 *     ssize_t n = goc_read(fd, buf, sizeof buf, 10 * GOC_SEC);
 *     goc_fd_close(fd);
 */

#define GOC_READ 1
#define GOC_WRITE 2

/* Waits until fd is ready for events (GOC_READ, GOC_WRITE or both). Returns
 * the ready subset (> 0), GOC_EAGAIN (timeout 0, not ready), GOC_ETIMEDOUT,
 * GOC_CLOSED once goc_fd_close closed fd, GOC_EINVAL (fd < 0, no events), or
 * a negated errno when fd cannot be watched (-EBADF). An error or hang-up
 * on fd counts as ready for both. */
GOC_API int goc_fd_wait(int fd, int events, int64_t timeout);
GOC_API int goc_fd_wait_ctx(goc_ctx *ctx, int fd, int events);

/* poll(2) without holding a worker: fills revents and returns how many fds
 * have some (POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL as poll reports
 * them), 0 when the timeout passed first, GOC_EINVAL (fds NULL with n > 0),
 * GOC_ENOMEM, or a negated errno. Negative fds are skipped, as in poll. For
 * libraries that hand out their fds (libcurl, hiredis, libpq, c-ares). */
GOC_API int goc_poll(struct pollfd *fds, size_t n, int64_t timeout);

/* One read of up to n bytes: bytes read (> 0), 0 at end of file (or n == 0),
 * or an error: GOC_EAGAIN, GOC_ETIMEDOUT, GOC_CLOSED, -ECONNRESET, … */
GOC_API ssize_t goc_read(int fd, void *buf, size_t n, int64_t timeout);
GOC_API ssize_t goc_read_ctx(goc_ctx *ctx, int fd, void *buf, size_t n);

/* Writes all n bytes, as Go's Conn.Write: returns n, or an error (then some
 * bytes may have been written). Never raises SIGPIPE: a closed peer is
 * -EPIPE or -ECONNRESET. Two goc_writes on one fd never interleave their
 * bytes, and reads queue behind reads; a read and a write run in parallel. */
GOC_API ssize_t goc_write(int fd, const void *buf, size_t n, int64_t timeout);
GOC_API ssize_t goc_write_ctx(goc_ctx *ctx, int fd, const void *buf, size_t n);

/* A listening socket: network "tcp", "tcp4", "tcp6" ("host:port",
 * "[v6]:port", ":port"; port 0 picks one, read it back with getsockname),
 * "unix" (address is a path), or "udp", "udp4", "udp6" (a bound datagram
 * socket). Returns the fd, GOC_EINVAL (unknown network, malformed address),
 * GOC_ENOHOST, or a negated errno (-EADDRINUSE, -EACCES, …). */
GOC_API int goc_listen(const char *network, const char *address);

/* A connection from a listening socket: its fd (non-blocking, close-on-exec),
 * or an error as goc_read's; -EMFILE when out of fds (it never spins on it). */
GOC_API int goc_accept(int lfd, int64_t timeout);
GOC_API int goc_accept_ctx(goc_ctx *ctx, int lfd);

/* A connected socket (for "udp", a connected datagram socket). Host names
 * are resolved on helper threads, never holding a worker; with several
 * addresses they are tried in Happy Eyeballs order (RFC 8305: families
 * interleaved, a new attempt every 300 ms while earlier ones are pending).
 * The timeout covers resolution and every attempt. Returns the fd, or
 * GOC_EINVAL, GOC_ENOHOST (the name does not resolve), GOC_ETIMEDOUT,
 * -ECONNREFUSED, -ENETUNREACH, … (the first attempt's error). */
GOC_API int goc_dial(const char *network, const char *address, int64_t timeout);
GOC_API int goc_dial_ctx(goc_ctx *ctx, const char *network, const char *address);

/* Wakes every goc call waiting on fd with GOC_CLOSED, then closes it; calls
 * already inside a system call on fd finish first, and the last of them
 * closes it, so the number is not reused under them. Returns GOC_OK,
 * GOC_CLOSED when fd is already being closed, or GOC_EINVAL for fd < 0. */
GOC_API int goc_fd_close(int fd);

/* ------------------------------------------------------------------------ */
/* Seeing inside                                                             */
/* ------------------------------------------------------------------------ */
/*
 * What a running program is doing, as Go's runtime metrics, goroutine dump
 * and deadlock report show it. Counting costs the hot paths no atomic
 * operation (each worker counts its own events; goc_stats sums them), so it
 * is always on. Environment variables, read when the runtime starts:
 *
 *   GOC_DEBUG=stats     print goc_stats to stderr at exit
 *   GOC_DEBUG=leaks     at exit, list the coroutines still alive (the dump)
 *                       and the channels never released, by where each was
 *                       made ("stats,leaks" for both)
 *   GOC_TRACE=file.json record an execution trace from the start, written
 *                       at exit (goc_trace_start, below)
 *   GOC_DEADLOCK=0      no deadlock detection, whole or partial (see below)
 *   GOC_TRACEBACK=none  leave SIGQUIT alone (see goc_dump)
 *
 * Deadlock: when every coroutine waits on a goc object, no timer is pending
 * (sleeps, timeouts, tickers and deadlines are all timers), nothing waits on
 * an fd, no goc_blocking call runs, no channel listens for signals, and every
 * thread of the process is one of goc's own or blocked in a goc call without
 * a timeout, nothing can ever wake anything: goc prints
 * "goc: all coroutines are asleep - deadlock!" and the dump to stderr and
 * exits with status 2, as Go does. A thread goc does not know (it could still
 * send) prevents the report, so it is never false; the price is that it is
 * not complete: a helper thread of some library (or a sanitizer's) keeps it
 * silent. It runs only once the runtime has started (the first goc_go,
 * timer, ...): a program that only ever blocks plain threads is not checked.
 *
 * Partial deadlock: when the last reference to a channel is released while
 * coroutines or threads still wait on it and nothing else can end their
 * waits (a send or receive without a timeout, or a select without one whose
 * other cases are NULL channels), nobody can ever reach them: goc writes
 * "goc: N coroutines are blocked forever on channel 0x... (last reference
 * released)" and their dump entries to stderr, and the program runs on.
 * Waiters that hold a reference of their own are not seen (a coroutine
 * blocked in a receive on a channel only it still references is stuck just
 * the same); GOC_DEADLOCK=0 turns this report off too.
 *
 * Trace: goc_trace_start (or GOC_TRACE=file.json, from the runtime's start)
 * records what each worker runs; goc_trace_stop, or else a normal exit (not
 * a deadlock or SIGQUIT exit), writes it in the Chrome trace-event format
 * that ui.perfetto.dev and chrome://tracing open (docs/tracing.md): one
 * track per worker, a slice per coroutine run
 * ("coroutine 7", with why it stopped: its wait reason, or "yield or exit"),
 * instant events for spawn, park (with the reason), unpark (with the
 * coroutine readied) and steal (with the victim worker and how many were
 * taken), and flow arrows from the run that spawned or readied a coroutine
 * to the run where it next runs. Each worker keeps up to 262,144 events (6 MiB);
 * past that its track ends early. Tracing costs a clock read and a 24-byte
 * record per event (ping-pong: ~150 -> ~570 ns per round trip here); off,
 * it costs one predictable branch at each switch, ready and spawn.
 */

typedef struct goc_stats_t {
    uint64_t coroutines_live;      /* started and not yet returned           */
    uint64_t coroutines_started;
    uint64_t coroutines_finished;
    uint64_t switches;             /* coroutines scheduled onto a worker     */
    uint64_t parks;                /* coroutines that blocked (switched out) */
    uint64_t wakes;                /* coroutines readied after a park        */
    uint64_t steals;               /* successful steals between workers      */
    uint64_t spins;                /* idle workers' searches for work        */
    uint64_t timer_fires;          /* timers run (sleeps, timeouts, tickers) */
    uint64_t polls;                /* netpoller polls (epoll_wait calls)     */
    uint64_t blocking_calls;       /* goc_blocking calls from coroutines     */
    uint64_t stack_bytes_reserved; /* address space mapped for stacks        */
    uint64_t stack_bytes_committed; /* of which resident in memory now       */
    int workers;                   /* worker threads, replacements included  */
} goc_stats_t;

/* Fills *s with the runtime's counters since it started (all zero before).
 * Every counter only grows between calls, but the counters are read one by
 * one while the workers run, so they are not one atomic snapshot: parks and
 * wakes of the same moment may differ by the few in flight. Never blocks
 * (it briefly takes an internal lock to measure the stacks). NULL: nothing. */
GOC_API void goc_stats(goc_stats_t *s);

/* Writes every live coroutine to f, Go's goroutine dump: its id, name
 * (goc_opts.name), state (running on worker N, runnable, waiting), what it
 * waits on (channel receive or send with the channel's address and element
 * size, select with its number of cases, mutex, rwmutex, WaitGroup, cond,
 * semaphore, group, sleep, fd, goc_blocking), for how long (to about a
 * millisecond), and where goc_go was called (symbolised with dladdr, which
 * sees exported symbols: link with -rdynamic for names of your own). A
 * coroutine parked in a wait also gets a backtrace of its stack, innermost
 * call first, up to 32 frames: "at fn+0x1c (file)", or "at 0x... (file+0x...)"
 * for what dladdr cannot name, goc's own frames included (addr2line -f -e
 * file 0x... names them). It is found with the call-frame information that
 * compilers emit by default (.eh_frame), so code built without frame
 * pointers is walked through; it ends at the first frame without it (code
 * built with -fno-asynchronous-unwind-tables), and there is none with
 * GOC_CONTEXT=ucontext. A running coroutine is never walked. Then the
 * plain threads blocked in goc calls without a timeout. Coroutines with
 * identical waits, names and spawn sites are folded into one entry with a
 * count and their ids. Safe from any thread or coroutine while the program
 * runs: each coroutine's line is read without stopping it, so a coroutine
 * that moves meanwhile may show its state of a moment before.
 *
 * On SIGQUIT (Ctrl-\), as in Go, goc writes "SIGQUIT: quit" and the dump to
 * stderr and exits with status 2, if SIGQUIT had its default action when the
 * runtime started; GOC_TRACEBACK=none (or 0) keeps the default action (a
 * core dump), and goc_signal_notify for SIGQUIT takes the signal over. */
GOC_API void goc_dump(FILE *f);

/* Starts recording an execution trace (see "Trace" above) into the file at
 * path, which it creates or truncates now; events go to memory, and the
 * file is written when goc_trace_stop is called, or at normal exit if it
 * never is. May be called before the runtime starts, from any thread or
 * coroutine. Returns GOC_OK; GOC_EINVAL for a NULL or empty path;
 * GOC_EALREADY while a trace records or is being written (GOC_TRACE's
 * included), with nothing created; the negated errno of opening the file
 * (GOC_ENOENT, GOC_EACCES, ...); GOC_ENOMEM. */
GOC_API int goc_trace_start(const char *path);

/* Stops the trace goc_trace_start started, writes it to its file, closes
 * the file and returns once it is complete (formatting takes about 100 ns
 * an event; a coroutine waits for it on a goc_blocking thread). A new trace
 * may start afterwards. Returns GOC_OK; GOC_EINVAL when no trace records
 * (never started, or stopped already); a negated errno (GOC_EIO, -ENOSPC,
 * ...) when the file could not be written whole: the trace has stopped all
 * the same. */
GOC_API int goc_trace_stop(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */
/* POSIX codes keep their negated value, goc's own sit at -10000 and below. */

#define GOC_ERRORS(X)                                                      \
    X(OK, 0, "success")                                                    \
    X(EAGAIN, -EAGAIN, "operation would block")                            \
    X(ENOMEM, -ENOMEM, "out of memory")                                    \
    X(EINVAL, -EINVAL, "invalid argument")                                 \
    X(ETIMEDOUT, -ETIMEDOUT, "timed out")                                  \
    X(ECANCELED, -ECANCELED, "canceled")                                   \
    X(ERANGE, -ERANGE, "result out of range")                              \
    X(EPIPE, -EPIPE, "broken pipe")                                        \
    X(EBADF, -EBADF, "bad file descriptor")                                \
    X(EMFILE, -EMFILE, "too many open files")                              \
    X(ENFILE, -ENFILE, "too many open files in system")                    \
    X(ECONNREFUSED, -ECONNREFUSED, "connection refused")                   \
    X(ECONNRESET, -ECONNRESET, "connection reset by peer")                 \
    X(ECONNABORTED, -ECONNABORTED, "connection aborted")                   \
    X(ENOTCONN, -ENOTCONN, "socket is not connected")                      \
    X(EADDRINUSE, -EADDRINUSE, "address already in use")                   \
    X(EADDRNOTAVAIL, -EADDRNOTAVAIL, "cannot assign requested address")    \
    X(EAFNOSUPPORT, -EAFNOSUPPORT, "address family not supported")         \
    X(ENETUNREACH, -ENETUNREACH, "network is unreachable")                 \
    X(EHOSTUNREACH, -EHOSTUNREACH, "no route to host")                     \
    X(ENOTSOCK, -ENOTSOCK, "not a socket")                                 \
    X(EACCES, -EACCES, "permission denied")                                \
    X(ENOENT, -ENOENT, "no such file or directory")                        \
    X(EIO, -EIO, "input/output error")                                     \
    X(EALREADY, -EALREADY, "operation already in progress")                \
    X(CLOSED, -10001, "closed")                                            \
    X(ENOHOST, -10002, "no such host")                                     \
    X(ERESOLVE, -10003, "name resolution failed (temporary)")            \
    X(EFORKED, -10004, "goc cannot run in a forked child before exec")

enum {
#define GOC__ERR_ENUM(name, value, text) GOC_##name = (value),
    GOC_ERRORS(GOC__ERR_ENUM)
#undef GOC__ERR_ENUM
};

/* "closed"; another negated errno gets the C library's text; else
 * "unknown error". */
GOC_API const char *goc_strerror(int err);
/* "GOC_CLOSED"; "GOC_?" for codes not in the table. */
GOC_API const char *goc_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* GOC_H */
