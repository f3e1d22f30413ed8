/* The netpoller: one epoll instance that tells which fds became ready, for
 * the scheduler to ready the coroutines and threads waiting on them.
 *
 * Who polls: an idle worker blocks in epoll_wait (one at a time, while any
 * fd waiter exists) instead of its futex; a worker out of local work polls
 * without blocking; the monitor polls when nobody has for POLL_STALE. fd.c
 * owns the per-fd state and handles each event (goc__fd_event).
 */
#ifndef GOC_NETPOLL_H
#define GOC_NETPOLL_H

#include <stdbool.h>
#include <stdint.h>

#include "sys.h"

/* Creates the epoll instance and its wake-up eventfd once. GOC_OK or a
 * negated errno (then nothing can wait on fds; the rest of goc works). */
int goc__netpoll_init(void);

/* The epoll fd (valid after a successful init). */
int goc__netpoll_fd(void);

/* Waiters parked on fds, all of them: polling is pointless without any. */
extern _Atomic int goc__netpoll_waiters;

static inline bool goc__netpoll_active(void) {
    return atomic_load_explicit(&goc__netpoll_waiters, memory_order_relaxed) > 0;
}

/* A waiter was queued: count it and make sure somebody polls. */
void goc__netpoll_wait_added(void);
void goc__netpoll_wait_removed(void);

/* Polling is one thread's role at a time. acquire takes it if free; run,
 * with the role, polls once and gives it up: deadline 0 looks without
 * blocking, < 0 blocks until an event or goc__netpoll_break, else until that
 * goc_now time. Returns the number of waiters readied. */
bool goc__netpoll_acquire(void);
int goc__netpoll_run(int64_t deadline);
void goc__netpoll_release(void); /* gives back an acquire without polling */

/* A look without blocking when nobody else polls: waiters readied, or 0. */
static inline int goc__netpoll_try(void) {
    if (!goc__netpoll_active() || !goc__netpoll_acquire()) return 0;
    return goc__netpoll_run(0);
}

/* Ends a blocked goc__netpoll early; cheap when one is already pending. */
void goc__netpoll_break(void);

/* goc_now of the last poll, for the monitor. */
int64_t goc__netpoll_last(void);

#endif
