/* select: wait on several channel operations, perform exactly one.
 *
 * As Go's runtime/select.go: visit the cases in a random order (uniform choice
 * among the ready ones), lock every channel in address order (so two selects
 * over overlapping sets cannot deadlock; a channel named twice is locked
 * once), and take the first ready case. If none is ready and the caller may
 * wait, enqueue one node per case, all sharing one goc__wait, and park; the
 * channel locks are released by the park hook. The first operation to claim
 * the wait fires its case and writes the index; on waking the select locks
 * everything again and unlinks its other nodes.
 *
 * Invariants: a blocked select is claimed, hence woken, exactly once; when it
 * returns, none of its nodes is in any queue.
 * Locking: the channel locks of the select, ascending by address, the one
 * way lockrank.h allows two channel locks at once.
 */
#include "chan.h"

#include <stdlib.h>
#include <string.h>

#include "rand.h"

#define SMALL 8 /* cases handled without heap allocation */

typedef struct {
    goc_case *cases;
    size_t n;
    uint16_t *poll;    /* random permutation of case indices             */
    uint16_t *lock;    /* case indices ordered by channel address        */
    goc__node *nodes;  /* one per case, when blocking                    */
} sel;

/* Not inlined: a coroutine may move threads, and an inlined thread-local
 * address could be reused after a switch. */
GOC_NOINLINE static uint32_t rnd(void) {
    static _Thread_local uint32_t x;
    if (!x) x = ((uint32_t)(uintptr_t)&x ^ (uint32_t)goc__now()) | 1;
    return goc__rand(&x);
}

static void order(sel *s) {
    for (size_t i = 0; i < s->n; i++) {
        size_t j = rnd() % (i + 1);
        s->poll[i] = s->poll[j];
        s->poll[j] = (uint16_t)i;
    }
    /* Insertion sort by address: n is small in practice. */
    for (size_t i = 0; i < s->n; i++) {
        uint16_t k = (uint16_t)i;
        uintptr_t a = (uintptr_t)s->cases[k].ch;
        size_t j = i;
        while (j > 0 && (uintptr_t)s->cases[s->lock[j - 1]].ch > a) {
            s->lock[j] = s->lock[j - 1];
            j--;
        }
        s->lock[j] = k;
    }
}

static void lock_all(sel *s) {
    goc_chan *prev = NULL;
    for (size_t i = 0; i < s->n; i++) {
        goc_chan *c = s->cases[s->lock[i]].ch;
        if (c && c != prev) goc__chan_lock(c);
        prev = c;
    }
}

/* Releases from the highest address down. As the park hook, it must not
 * touch s once the lowest lock is free: the select may then be woken, take
 * every lock, return and free s on another worker. Below the lowest channel
 * in lock order there are only NULL cases and repeats of it, so it stops
 * there. */
static void unlock_all(void *p) {
    sel *s = p;
    goc_chan *lowest = NULL;
    for (size_t i = 0; i < s->n && !lowest; i++) lowest = s->cases[s->lock[i]].ch;
    goc_chan *prev = NULL;
    for (size_t i = s->n; lowest && i-- > 0;) {
        goc_chan *c = s->cases[s->lock[i]].ch;
        if (c == lowest) {
            goc__lock_release(&c->lock);
            return;
        }
        if (c != prev) goc__lock_release(&c->lock);
        prev = c;
    }
}

/* With all locked: performs the first ready case in poll order; returns its
 * index, or -1 when none is ready. */
static int poll_ready(sel *s, goc__node **wake) {
    for (size_t k = 0; k < s->n; k++) {
        int i = s->poll[k];
        goc_case *cs = &s->cases[i];
        if (!cs->ch) continue;
        int r = cs->op == GOC_OP_SEND ? goc__chan_send_locked(cs->ch, cs->ptr, wake)
                                      : goc__chan_recv_locked(cs->ch, cs->ptr, wake);
        if (r == GOC_EAGAIN) continue;
        cs->ok = r == GOC_OK;
        return i;
    }
    return -1;
}

static goc__list *queue_of(goc_case *cs) {
    return cs->op == GOC_OP_SEND ? &cs->ch->sendq : &cs->ch->recvq;
}

/* Enqueues a node per case (with all locked), blocks, cleans up. Nodes are
 * queued in poll order: when several cases name one channel, which of them
 * a peer completes is random, as the choice among ready cases is. */
static int block(sel *s, int64_t deadline) {
    goc__wait wt;
    goc__wait_init(&wt, goc__self(), true);
    for (size_t k = 0; k < s->n; k++) {
        size_t i = s->poll[k];
        goc_case *cs = &s->cases[i];
        goc__node *nd = &s->nodes[i];
        *nd = (goc__node){.wt = &wt, .elem = cs->ptr, .index = (int)i};
        if (!cs->ch) continue;
        GOC_ASSERT(!cs->ch->closed); /* poll_ready took any closed one */
        goc__waitq_push(queue_of(cs), nd);
        goc__race_release(nd);
    }
    goc__waiting(wt.g, GOC__WAIT_SELECT, s->cases, (uint32_t)s->n);
    int r = goc__wait_block(&wt, deadline, unlock_all, s);
    lock_all(s);
    for (size_t i = 0; i < s->n; i++)
        if (s->nodes[i].queued) goc__waitq_unlink(queue_of(&s->cases[i]), &s->nodes[i]);
#if GOC_DEBUG_CHECKS
    for (size_t i = 0; i < s->n; i++) GOC_ASSERT(!s->nodes[i].queued); /* in no queue now */
#endif
    unlock_all(s);
    if (r >= 0) {
        goc__node *nd = &s->nodes[r];
        goc__node_woken(nd);
        goc_case *cs = &s->cases[r];
        cs->ok = nd->success; /* a receive that close ended holds zeroes */
    }
    return r;
}

static int run(sel *s, int64_t timeout) {
    order(s);
    lock_all(s);
    goc__node *wake = NULL;
    int i = poll_ready(s, &wake);
    if (i >= 0 || timeout == 0) {
        unlock_all(s);
        if (wake) goc__chan_wake(wake);
        return i >= 0 ? i : GOC_EAGAIN;
    }
    return block(s, goc__deadline(timeout));
}

int goc_select(goc_case *cases, size_t n, int64_t timeout) {
    if (n > GOC_SELECT_MAX || (n > 0 && !cases)) return GOC_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (cases[i].op != GOC_OP_SEND && cases[i].op != GOC_OP_RECV) return GOC_EINVAL;
        if (cases[i].op == GOC_OP_SEND && !cases[i].ptr && cases[i].ch && cases[i].ch->elem)
            return GOC_EINVAL; /* a send case with no value */
        cases[i].ok = 0;
    }
    uint16_t poll[SMALL], lock[SMALL];
    goc__node nodes[SMALL];
    sel s = {cases, n, poll, lock, nodes};
    void *heap = NULL;
    if (n > SMALL) {
        heap = goc__malloc(n * (2 * sizeof(uint16_t) + sizeof(goc__node)));
        if (!heap) return GOC_ENOMEM;
        s.nodes = heap;
        s.poll = (uint16_t *)(s.nodes + n);
        s.lock = s.poll + n;
    }
    int r = run(&s, timeout);
    goc__free(heap);
    return r;
}
