/* Channels: make, send, receive, close, with Go's semantics.
 *
 * Invariants (with the channel lock held):
 *   - count <= cap; buffered values sit at buf[(head + k) % cap], k < count;
 *   - a channel never has both a waiting sender and a waiting receiver whose
 *     waits are unclaimed: an arriving operation pairs with the oldest waiter
 *     of the other kind before it would wait itself;
 *   - waiting senders exist only when the buffer is full, waiting receivers
 *     only when it is empty;
 *   - a closed channel has no waiters (close claims and wakes them all, and
 *     writes the zero value into each receiver's destination), and no
 *     operation enqueues on it.
 * A node whose wait was claimed elsewhere (the other case of a select, a
 * timeout) may linger in a queue until its owner or a waker unlinks it; it is
 * never paired with.
 *
 * Locking: one lock per channel; select holds several, in address order
 * (lockrank.h). A waiter is woken only after the lock is released
 * (goc__chan_wake). The last release takes the lock once more, to see
 * waiters that outlived every reference (abandon); kept.lock, the list of
 * such channels, is never held with another.
 *
 * Values move once: from a waiting sender straight into a waiting receiver's
 * destination, otherwise through the buffer. When a receiver takes from a full
 * buffer with senders waiting, the oldest sender's value refills the freed
 * slot, keeping FIFO order.
 *
 * Happens-before under TSan (san.h): a waiter releases its node before it
 * blocks and acquires it when woken; whoever completes its operation acquires
 * and releases that node, in both directions as for Go's unbuffered channels.
 * Buffer slot i has two sync addresses: senders release "sent(i)" and
 * receivers acquire it (send happens-before receive); receivers release
 * "taken(i)" and senders acquire it (the k-th receive happens-before the
 * (k+cap)-th send completes). Close releases the channel; whoever sees it
 * closed acquires it. The sync addresses live in a side array of at most
 * RACE_SLOTS pairs, slot i using pair i % RACE_SLOTS, so a TSan build makes
 * every channel an ordinary build makes (goc_chan_make(0, SIZE_MAX) included)
 * at a bounded cost; past RACE_SLOTS values in flight, sends and receives
 * RACE_SLOTS apart share a pair, an extra edge that can only hide a race
 * between them, never invent one.
 */
#include "chan.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#if defined(GOC_TSAN)
#define RACE_SLOTS ((size_t)1024)
#define SENT(c, i) ((c)->race + 16 * ((i) % RACE_SLOTS))
#define TAKEN(c, i) ((c)->race + 16 * ((i) % RACE_SLOTS) + 8)
#else
#define SENT(c, i) ((void)(i), (c))
#define TAKEN(c, i) ((void)(i), (c))
#endif

/* ---- lifetime --------------------------------------------------------- */

goc_chan *goc_chan_make(size_t elem, size_t cap) {
    size_t bytes;
    if (__builtin_mul_overflow(elem, cap, &bytes) || bytes > SIZE_MAX - sizeof(goc_chan))
        return NULL;
    goc_chan *c = goc__malloc(sizeof *c + bytes);
    if (!c) return NULL;
    goc__zero(c, sizeof *c);
    atomic_init(&c->refs, 1);
    c->elem = elem;
    c->cap = cap;
    c->buf = (char *)(c + 1);
#if defined(GOC_TSAN)
    c->race = goc__calloc(cap == 0 ? 1 : cap < RACE_SLOTS ? cap : RACE_SLOTS, 16);
    if (!c->race) {
        goc__free(c);
        return NULL;
    }
#endif
    if (GOC_UNLIKELY(goc__leaks_on)) goc__leak_chan_made(c, __builtin_return_address(0));
    return c;
}

goc_chan *goc_chan_retain(goc_chan *c) {
    if (c) atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

_Static_assert(offsetof(goc_chan, refs) >= 32, "refs must survive malloc's free lists");

/* Channels whose last reference went while operations still waited on them
 * (abandon, below): never freed, and listed so that they stay reachable
 * (LeakSanitizer, valgrind). Guarded by kept.lock, never held with another. */
static struct {
    goc__lock lock;
    struct kept {
        goc_chan *c;
        struct kept *next;
    } *head;
} kept;

/* Does w's wait on c end only through c? A plain send or receive without a
 * deadline (not multi: no timer, no other channel can claim it), or a
 * select without a timeout whose every case is c or a NULL channel. With c
 * locked and w's node queued on c, unclaimed: w cannot leave without c's
 * lock, so its select's cases, on its stack, stay readable. */
static bool ends_only_through(goc_chan *c, goc__wait *w) {
    if (!w->multi) return true;
    if (atomic_load_explicit(&w->claimed, memory_order_acquire)) return false;
    if (atomic_load_explicit(&w->g->wait, memory_order_relaxed) != GOC__WAIT_SELECT ||
        w->deadline >= 0)
        return false; /* a timeout, or a semaphore or fd wait on a context's done */
    const goc_case *cs = w->g->wait_obj;
    for (uint32_t i = 0; i < w->g->wait_arg; i++)
        if (cs[i].ch && cs[i].ch != c) return false;
    return true;
}

/* With c locked, its last reference gone and some operation still queued:
 * that operation outlived every reference, which the API forbids ("an
 * operation needs a reference for its whole duration"). Nobody can name c
 * any more, so the waiters that only c could wake are blocked for ever: a
 * partial deadlock that this proves at no cost to anyone else, reported
 * (deadlock.c). c itself is kept, never freed: a waiter that times out, or
 * whose select fires elsewhere, takes c's lock to leave its queue, and the
 * dump reads c; freeing it would make the program's mistake a
 * use-after-free. Unlocks c. */
static GOC_NOINLINE void abandon(goc_chan *c) {
    size_t cap = 0, n = 0;
    goc__list *qs[2] = {&c->recvq, &c->sendq};
    for (int q = 0; q < 2; q++)
        for (goc__link *l = qs[q]->head; l; l = l->next) cap++;
    goc__g **gs = goc__malloc_quiet(cap * (sizeof *gs + sizeof(uint64_t) + sizeof(goc__wait *)));
    uint64_t *ids = gs ? (uint64_t *)(gs + cap) : NULL;
    goc__wait **seen = gs ? (goc__wait **)(ids + cap) : NULL;
    for (int q = 0; q < 2 && gs; q++)
        for (goc__link *l = qs[q]->head; l; l = l->next) {
            goc__node *x = GOC__LIST_ENTRY(l, goc__node, link);
            size_t k = 0;
            while (k < n && seen[k] != x->wt) k++; /* a select naming c twice: once */
            if (k < n || !ends_only_through(c, x->wt)) continue;
            seen[n] = x->wt;
            gs[n] = x->wt->g;
            ids[n++] = x->wt->g->id;
        }
    goc__lock_release(&c->lock);
    struct kept *k = goc__malloc_quiet(sizeof *k);
    if (k) {
        k->c = c;
        goc__lock_acquire(&kept.lock, GOC__RANK_KEPT);
        k->next = kept.head;
        kept.head = k;
        goc__lock_release(&kept.lock);
    }
    if (n) goc__partial_deadlock(c, gs, ids, n);
    goc__free(gs);
}

void goc_chan_release(goc_chan *c) {
    if (!c || !goc__ref_release(&c->refs, "goc_chan_release", c)) return;
    if (GOC_UNLIKELY(goc__leaks_on)) goc__leak_chan_freed(c);
    if (c->on_free) c->on_free(c->on_free_arg); /* goc_after's timer: stopped first */
    /* Anyone still queued? Under the lock: a waiter that queued under a
     * reference released since is seen (lock release -> acquire). */
    goc__lock_acquire(&c->lock, GOC__RANK_CHAN);
    if (GOC_UNLIKELY(c->recvq.head || c->sendq.head)) {
        abandon(c);
        return;
    }
    goc__lock_release(&c->lock);
#if defined(GOC_TSAN)
    goc__free(c->race);
#endif
    goc__free(c);
}

size_t goc_len(goc_chan *c) {
    if (!c) return 0;
    goc__lock_acquire(&c->lock, GOC__RANK_CHAN);
    size_t n = c->count;
    goc__lock_release(&c->lock);
    return n;
}

size_t goc_cap(goc_chan *c) { return c ? c->cap : 0; }

/* ---- wait queues ------------------------------------------------------ */

void goc__waitq_push(goc__list *q, goc__node *n) {
    GOC_ASSERT(!n->queued);
    goc__list_push_back(q, &n->link);
    n->queued = true;
}

void goc__waitq_unlink(goc__list *q, goc__node *n) {
    GOC_ASSERT(n->queued);
    goc__list_remove(q, &n->link);
    n->queued = false;
}

/* The oldest waiter of q that this operation may complete, claimed and
 * unlinked; stale nodes met on the way are unlinked and skipped. */
static GOC_INLINE goc__node *waitq_take(goc__list *q) {
    goc__link *l;
    while ((l = goc__list_pop_front(q))) {
        goc__node *n = GOC__LIST_ENTRY(l, goc__node, link);
        n->queued = false;
        if (goc__wait_claim(n->wt, n->index)) return n;
    }
    return NULL;
}

void goc__chan_wake(goc__node *n) {
    goc__race_release(n);
    goc__wait_wake(n->wt);
}

/* ---- operations with the lock held ------------------------------------ */

static char *slot(goc_chan *c, size_t i) { return c->buf + i * c->elem; }

/* Ring index arithmetic without a division (tens of cycles per operation). */
static size_t ring_add(const goc_chan *c, size_t i, size_t k) {
    i += k;
    return i >= c->cap ? i - c->cap : i;
}

static GOC_INLINE int send_locked(goc_chan *c, const void *v, goc__node **wake) {
    if (c->closed) return GOC_CLOSED;
    goc__node *r = waitq_take(&c->recvq);
    if (r) {
        goc__race_acquire(r);
        if (r->elem) goc__elem_copy(r->elem, v, c->elem);
        r->success = true;
        *wake = r;
        return GOC_OK;
    }
    if (c->count < c->cap) {
        size_t i = ring_add(c, c->head, c->count);
        goc__race_acquire(TAKEN(c, i));
        goc__elem_copy(slot(c, i), v, c->elem);
        goc__race_release(SENT(c, i));
        c->count++;
        return GOC_OK;
    }
    GOC_ASSERT(c->count == c->cap); /* senders wait only on a full buffer */
    return GOC_EAGAIN;
}

static GOC_INLINE int recv_locked(goc_chan *c, void *out, goc__node **wake) {
    GOC_ASSERT(c->count <= c->cap);
    goc__node *s = c->count == c->cap ? waitq_take(&c->sendq) : NULL;
    if (s) {
        goc__race_acquire(s);
        if (c->cap == 0) {
            if (out) goc__elem_copy(out, s->elem, c->elem);
        } else {
            /* Full buffer: take the oldest, the sender's value takes its slot. */
            size_t i = c->head;
            goc__race_acquire(SENT(c, i));
            if (out) goc__elem_copy(out, slot(c, i), c->elem);
            goc__race_release(TAKEN(c, i));
            goc__elem_copy(slot(c, i), s->elem, c->elem);
            goc__race_release(SENT(c, i));
            c->head = ring_add(c, i, 1);
        }
        s->success = true;
        *wake = s;
        return GOC_OK;
    }
    if (c->count > 0) {
        size_t i = c->head;
        goc__race_acquire(SENT(c, i));
        if (out) goc__elem_copy(out, slot(c, i), c->elem);
        goc__race_release(TAKEN(c, i));
        c->head = ring_add(c, i, 1);
        c->count--;
        return GOC_OK;
    }
    if (c->closed) {
        goc__race_acquire(c);
        if (out) goc__zero(out, c->elem);
        return GOC_CLOSED;
    }
    return GOC_EAGAIN;
}

int goc__chan_send_locked(goc_chan *c, const void *v, goc__node **wake) {
    return send_locked(c, v, wake);
}

int goc__chan_recv_locked(goc_chan *c, void *out, goc__node **wake) {
    return recv_locked(c, out, wake);
}

/* ---- blocking operations ---------------------------------------------- */

static void unlock_chan(void *c) { goc__lock_release(&((goc_chan *)c)->lock); }

static void park_unlock_chan(goc__w *w, void *c) {
    (void)w;
    unlock_chan(c);
}

/* Blocks on a NULL channel: only the deadline ends it. */
static GOC_NOINLINE int block_forever(int64_t deadline) {
    goc__wait wt;
    goc__wait_init(&wt, goc__self(), false);
    goc__waiting(wt.g, GOC__WAIT_NIL, NULL, 0);
    if (deadline < 0) {
        goc__wait_block(&wt, -1, NULL, NULL);
        goc__throw("a wait on a NULL channel was woken");
    }
    return goc__wait_block(&wt, deadline, NULL, NULL);
}

/* chan_wait's common case: coroutine self, on w, waits in q without a
 * deadline. Only a peer or close ends it, and neither needs anything of the
 * operation afterwards (close zeroes a receiver's value itself), so little
 * stays live across the switch. */
static GOC_NOINLINE int chan_park(goc_chan *c, goc__list *q, void *v, goc__w *w, goc__g *self,
                                  uint8_t why) {
    goc__wait wt;
    goc__node n = {.wt = &wt, .elem = v, .index = 0};
    goc__wait_init(&wt, self, false);
    goc__waitq_push(q, &n);
    goc__race_release(&n);
    goc__waiting_chan(self, why, c);
    goc__wait_park(&wt, w, park_unlock_chan, c);
    goc__node_woken(&n);
    return n.success ? GOC_OK : GOC_CLOSED;
}

/* Any other wait: a deadline, or a plain thread. */
static GOC_NOINLINE int chan_wait_block(goc_chan *c, goc__list *q, void *v, int64_t deadline) {
    goc__wait wt;
    goc__node n = {.wt = &wt, .elem = v, .index = 0};
    goc__wait_init(&wt, goc__self(), false);
    goc__waitq_push(q, &n);
    goc__race_release(&n);
    goc__waiting(wt.g, q == &c->sendq ? GOC__WAIT_SEND : GOC__WAIT_RECV, c, 0);
    int r = goc__wait_block(&wt, deadline, unlock_chan, c);
    if (r == GOC_OK) {
        goc__node_woken(&n);
        r = n.success ? GOC_OK : GOC_CLOSED;
    } else {
        goc__chan_lock(c);
        if (n.queued) goc__waitq_unlink(q, &n);
        goc__lock_release(&c->lock);
    }
    return r;
}

/* With c locked, for an operation that cannot complete now: waits in c's
 * queue until a peer completes it, close, or the deadline. The waits are
 * out of line so that the operations that complete at once stay small. */
static GOC_INLINE int chan_wait(goc_chan *c, void *v, bool send, int64_t deadline) {
    GOC_ASSERT_HELD(&c->lock);
    GOC_ASSERT(!c->closed); /* nothing waits on a closed channel */
    goc__list *q = send ? &c->sendq : &c->recvq;
    goc__w *w = goc__tls_w();
    if (deadline < 0 && w && w->cur)
        return chan_park(c, q, v, w, w->cur, send ? GOC__WAIT_SEND : GOC__WAIT_RECV);
    return chan_wait_block(c, q, v, deadline);
}

/* A send or receive: at once if possible, else wait until deadline (0: never
 * wait). */
static GOC_INLINE int chan_op(goc_chan *c, void *v, bool send, int64_t deadline) {
    if (!c) return deadline == 0 ? GOC_EAGAIN : block_forever(deadline);
    if (send && !v && c->elem) return GOC_EINVAL; /* nothing to send */
    goc__node *wake = NULL;
    goc__chan_lock(c);
    int r = send ? send_locked(c, v, &wake) : recv_locked(c, v, &wake);
    if (r == GOC_EAGAIN && deadline != 0) return chan_wait(c, v, send, deadline);
    goc__lock_release(&c->lock);
    if (wake) goc__chan_wake(wake);
    return r;
}

int goc_send(goc_chan *c, const void *v) { return chan_op(c, (void *)v, true, -1); }
int goc_recv(goc_chan *c, void *out) { return chan_op(c, out, false, -1); }
int goc_try_send(goc_chan *c, const void *v) { return chan_op(c, (void *)v, true, 0); }
int goc_try_recv(goc_chan *c, void *out) { return chan_op(c, out, false, 0); }

int goc_send_timeout(goc_chan *c, const void *v, int64_t ns) {
    return chan_op(c, (void *)v, true, ns == 0 ? 0 : goc__deadline(ns));
}

int goc_recv_timeout(goc_chan *c, void *out, int64_t ns) {
    return chan_op(c, out, false, ns == 0 ? 0 : goc__deadline(ns));
}

/* ---- close ------------------------------------------------------------ */

/* With c locked: claims every waiter of q for close, onto the front of
 * wake; a receiver's destination (elem bytes; 0 for senders) gets the zero
 * value. */
static void close_waiters(goc__list *q, size_t zero, goc__list *wake) {
    goc__node *n;
    while ((n = waitq_take(q))) {
        n->success = false;
        if (n->elem) goc__zero(n->elem, zero);
        goc__list_push_front(wake, &n->link);
    }
}

int goc_close(goc_chan *c) {
    if (c && c->owned_close) return GOC_EINVAL; /* Go's Done() is receive-only */
    return goc__chan_close(c);
}

int goc__chan_close(goc_chan *c) {
    if (!c) return GOC_CLOSED;
    goc__chan_lock(c);
    if (c->closed) {
        goc__lock_release(&c->lock);
        return GOC_CLOSED;
    }
    c->closed = true;
    goc__race_release(c);
    goc__list wake = {0};
    close_waiters(&c->recvq, c->elem, &wake);
    close_waiters(&c->sendq, 0, &wake);
    GOC_ASSERT(goc__list_empty(&c->recvq) && goc__list_empty(&c->sendq));
    goc__lock_release(&c->lock);
    goc__link *l; /* each popped before its wake: it lives on its waiter's stack */
    while ((l = goc__list_pop_front(&wake))) goc__chan_wake(GOC__LIST_ENTRY(l, goc__node, link));
    return GOC_OK;
}

/* ---- test hook -------------------------------------------------------- */

size_t goc__chan_waiters(goc_chan *c, bool send) {
    size_t n = 0;
    goc__chan_lock(c);
    for (goc__link *l = (send ? &c->sendq : &c->recvq)->head; l; l = l->next) n++;
    goc__lock_release(&c->lock);
    return n;
}
