/* Channels' internals, shared by chan.c (single operations, close) and
 * select.c. The design follows Go's runtime/chan.go: a lock per channel, a
 * ring buffer, and FIFO queues of waiting senders and receivers whose nodes
 * live on the waiters' stacks.
 */
#ifndef GOC_CHAN_H
#define GOC_CHAN_H

#include "goc.h"
#include "list.h"
#include "park.h"

/* One waiting operation on one channel: a blocked send or recv, or one case
 * of a blocked select (all cases of a select share one goc__wait). */
typedef struct goc__node {
    goc__wait *wt;
    goc__link link;   /* (l) in the channel's queue; then a close's wake list */
    void *elem;       /* send: the value; recv: destination or NULL          */
    int index;        /* case index in a select; 0 for a plain operation     */
    bool queued;      /* (l) linked in a queue                               */
    bool success;     /* set by the waker: true transferred, false closed    */
} goc__node;

/* Fields: (l) the channel lock, (a) atomic, (i) immutable. */
struct goc_chan {
    goc__lock lock;
    size_t elem;           /* (i) element size, may be 0                   */
    size_t cap;            /* (i) buffer capacity in elements              */
    size_t count;          /* (l) values in the buffer                     */
    size_t head;           /* (l) index of the oldest buffered value       */
    _Atomic size_t refs;   /* (a) 40 bytes in: see goc__ref_release        */
    bool closed;           /* (l)                                          */
    bool owned_close;      /* (i) a context's done: only goc__chan_close   */
    goc__list sendq;       /* (l) blocked senders' nodes, oldest first     */
    goc__list recvq;       /* (l) blocked receivers' nodes, oldest first   */
    char *buf;             /* (i) cap * elem bytes                         */
    void (*on_free)(void *); /* (i) the last release runs it before the free */
    void *on_free_arg;     /* (i)                                          */
#if defined(GOC_TSAN)
    char *race;            /* (i) 2 sync addresses per slot (bounded), chan.c */
#endif
};

/* Locks c; a wait for the lock is reported to the scheduler, which then
 * keeps coroutines that share channels together (ring_stealable). */
static inline void goc__chan_lock(goc_chan *c) {
    if (GOC_LIKELY(goc__lock_take(&c->lock, GOC__RANK_CHAN))) return;
    goc__lock_spin(&c->lock, GOC__RANK_CHAN);
    goc__sched_contended();
}

/* Channel operations with c locked. Each returns GOC_OK (done), GOC_CLOSED,
 * or GOC_EAGAIN (would block: nothing changed). A waiter the operation
 * completed is claimed and unlinked and returned in *wake: the caller wakes
 * it with goc__chan_wake after unlocking. */
int goc__chan_send_locked(goc_chan *c, const void *v, goc__node **wake);
int goc__chan_recv_locked(goc_chan *c, void *out, goc__node **wake);

/* Closes c; goc_close is this for channels that are not a context's done. */
int goc__chan_close(goc_chan *c);

/* Queue q (a channel's sendq or recvq) with the channel locked: n joins at
 * the tail, or leaves from wherever it stands, and n->queued follows. */
void goc__waitq_push(goc__list *q, goc__node *n);
void goc__waitq_unlink(goc__list *q, goc__node *n);

/* Test hook: nodes queued as senders (send) or receivers, counted under the
 * lock; a waiter is queued only once it can no longer miss a wake-up. */
size_t goc__chan_waiters(goc_chan *c, bool send);

/* Wakes a waiter handed back by an operation above (no lock held). */
void goc__chan_wake(goc__node *n);

/* The waiter's side after blocking: TSan edge from the waker. */
static inline void goc__node_woken(goc__node *n) { goc__race_acquire(n); }

/* Copies an element; common sizes become plain moves. */
static inline void goc__elem_copy(void *dst, const void *src, size_t n) {
    switch (n) {
    case 0: return;
    case 4: goc__copy(dst, src, 4); return;
    case 8: goc__copy(dst, src, 8); return;
    case 16: goc__copy(dst, src, 16); return;
    default: goc__copy(dst, src, n);
    }
}

#endif
