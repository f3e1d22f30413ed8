/* Per-fd state for the netpoller: who waits on an fd, which edges arrived
 * with nobody waiting, and the generation that keeps a stale event from
 * waking the fd number's next owner. io.c and net.c build on these calls.
 */
#ifndef GOC_FD_H
#define GOC_FD_H

#include <stdbool.h>
#include <stdint.h>

#include "goc.h"
#include "list.h"
#include "lock.h"

typedef struct goc__pd goc__pd;

enum { GOC__DIR_READ = 0, GOC__DIR_WRITE = 1 };

/* Field keys: (l) the descriptor's lock, (a) atomic. */
struct goc__pd {
    goc__lock lock;
    uint32_t seq;              /* (l) generation: goc_fd_close bumps it      */
    _Atomic uint32_t refs;     /* (a) calls inside the fd, | PD_CLOSING      */
    uint8_t ready;             /* (l) GOC_READ/GOC_WRITE edges not consumed  */
    bool owned;                /* (l) made by goc, registered at creation    */
    bool closing;              /* (l) goc_fd_close began                     */
    bool busy[2];              /* (l) a read / a write is in progress        */
    goc__list waiters[2];      /* (l) goc__fdw per direction, oldest first   */
};

/* The descriptor of fd, allocated on first use and never freed (epoll may
 * report an fd after its close). NULL when fd is out of range or no memory. */
goc__pd *goc__pd_get(int fd);

/* Starts the runtime and the poller, then goc__pd_get: GOC_EINVAL (fd < 0),
 * GOC_ENOMEM, GOC_EAGAIN or the poller's error in *err when NULL. */
goc__pd *goc__pd_open(int fd, int *err);

/* A call enters fd: GOC_OK, or GOC_CLOSED once goc_fd_close began. Each
 * GOC_OK is paired with goc__pd_leave, which closes fd if goc_fd_close ran
 * meanwhile and this was the last call inside. */
int goc__pd_enter(goc__pd *pd);
void goc__pd_leave(goc__pd *pd, int fd);

/* Registers an fd goc made with the poller (edge-triggered, both ways) and
 * marks it owned. GOC_OK or a negated errno (nothing registered). */
int goc__fd_register(int fd);

/* Makes sure fd is registered for a wait: owned fds are; a foreign one is
 * added (EEXIST: it is already). GOC_OK, 1 for a regular file (epoll
 * refuses it: it is always ready), or a negated errno. */
int goc__pd_watch(goc__pd *pd, int fd);

/* Waits on one direction of fd until an edge arrives (or one arrived unseen
 * since the last wait), the deadline (goc_now; < 0 none, 0 try), ctx (may
 * be NULL), or goc_fd_close. GOC_OK (retry the system call), GOC_EAGAIN,
 * GOC_ETIMEDOUT, GOC_CLOSED, GOC_ENOMEM, or ctx's error. */
int goc__pd_wait(goc__pd *pd, int fd, int dir, int64_t deadline, goc_ctx *ctx);

/* Serialises the reads (dir READ) or writes of fd across calls, waiting as
 * goc__pd_wait does. GOC_OK with the direction held, or an error. */
int goc__pd_lock(goc__pd *pd, int fd, int dir, int64_t deadline, goc_ctx *ctx);
void goc__pd_unlock(goc__pd *pd, int dir);

/* goc_fd_wait with a deadline (goc_now; < 0 none, 0 try) and ctx (NULL). */
int goc__fd_wait(goc_ctx *ctx, int fd, int events, int64_t deadline);

/* poll(2) over fds without holding a worker; deadline and ctx as above. */
int goc__poll(struct pollfd *fds, size_t n, int64_t deadline, goc_ctx *ctx);

/* The netpoller's event for (fd, seq): readies the waiters of the
 * directions it names; returns how many. */
int goc__fd_event(int fd, uint32_t seq, uint32_t events);

#endif
