/* The global queue, and what a worker's local queue needs off its fast
 * path: spilling a full ring and draining a queue nobody runs (queues.h has
 * the rest and the rules).
 */
#include "queues.h"

size_t goc__sched_gq_len(void) { return atomic_load(&goc__sched.ngq); }

/* With sched.lock: the global queue's cheap invariants. Its length is ngq;
 * a list of up to millions is not walked, but empty means both ends NULL. */
static inline void gq_check_locked(void) {
    GOC_ASSERT_HELD(&goc__sched.lock);
    GOC_ASSERT((atomic_load_explicit(&goc__sched.ngq, memory_order_relaxed) == 0) ==
               (goc__sched.gq_head == NULL));
    GOC_ASSERT((goc__sched.gq_head == NULL) == (goc__sched.gq_tail == NULL));
    GOC_ASSERT(!goc__sched.gq_tail || !goc__sched.gq_tail->next);
}

void goc__gq_append_locked(goc__g *head, goc__g *tail, size_t n) {
    GOC_ASSERT(n > 0 && head->kind == GOC__G_CORO && !atomic_load(&head->wait));
    tail->next = NULL;
    if (goc__sched.gq_tail)
        goc__sched.gq_tail->next = head;
    else
        goc__sched.gq_head = head;
    goc__sched.gq_tail = tail;
    atomic_fetch_add(&goc__sched.ngq, n);
    gq_check_locked();
}

void goc__gq_prepend_locked(goc__g *head, goc__g *tail, size_t n) {
    GOC_ASSERT(n > 0 && head->kind == GOC__G_CORO);
    tail->next = goc__sched.gq_head;
    if (!goc__sched.gq_head) goc__sched.gq_tail = tail;
    goc__sched.gq_head = head;
    atomic_fetch_add(&goc__sched.ngq, n);
    gq_check_locked();
}

void goc__gq_append(goc__g *head, goc__g *tail, size_t n) {
    goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
    goc__gq_append_locked(head, tail, n);
    goc__lock_release(&goc__sched.lock);
}

goc__g *goc__gq_take_locked(goc__w *w, bool one) {
    size_t n = atomic_load_explicit(&goc__sched.ngq, memory_order_relaxed);
    if (n == 0) return NULL;
    size_t share = n / (size_t)atomic_load(&goc__sched.nactive) + 1;
    if (one || share > GOC_RUNQ_SIZE / 2) share = one ? 1 : GOC_RUNQ_SIZE / 2;
    if (share > n) share = n;
    goc__g *g = goc__sched.gq_head;
    goc__sched.gq_head = g->next;
    size_t taken = 1;
    while (taken < share && goc__runq_push(&w->q, goc__sched.gq_head)) {
        goc__sched.gq_head = goc__sched.gq_head->next;
        taken++;
    }
    if (!goc__sched.gq_head) goc__sched.gq_tail = NULL;
    atomic_fetch_sub(&goc__sched.ngq, taken);
    gq_check_locked();
    return g;
}

goc__g *goc__gq_take_slow(goc__w *w, bool one) {
    goc__lock_acquire(&goc__sched.lock, GOC__RANK_SCHED);
    goc__g *g = goc__gq_take_locked(w, one);
    goc__lock_release(&goc__sched.lock);
    return g;
}

/* Owner: the ring is full; moves half of it and g to the global queue. */
void goc__lq_spill(goc__w *w, goc__g *g) {
    goc__g *batch[GOC_RUNQ_SIZE / 2 + 1];
    for (;;) {
        uint32_t n = goc__runq_grab_half(&w->q, batch);
        if (n == 0) {
            if (goc__runq_push(&w->q, g)) return; /* thieves made room */
            continue;
        }
        batch[n++] = g;
        for (uint32_t i = 0; i + 1 < n; i++) batch[i]->next = batch[i + 1];
        goc__gq_append(batch[0], batch[n - 1], n);
        return;
    }
}

/* Empties w's queue, which w does not run meanwhile (w retires, or never
 * started), into a list: the ring, then `next`, the newest. */
size_t goc__lq_drain(goc__w *w, goc__g **head, goc__g **tail) {
    goc__g *g;
    size_t n = 0;
    *head = *tail = NULL;
    while ((g = goc__runq_pop(&w->q)) || (g = goc__runq_get_next(&w->q))) {
        g->next = NULL;
        if (*tail)
            (*tail)->next = g;
        else
            *head = g;
        *tail = g;
        n++;
    }
    w->nhead = w->nnext = 0;
    w->lifo_off = false;
    return n;
}
