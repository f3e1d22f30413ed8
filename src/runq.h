/* A worker's local run queue: a bounded single-producer, multi-consumer ring
 * plus a one-entry `next` slot, as in Go's runtime (runqput/runqget/runqsteal).
 *
 * Invariants: only the owner writes tail and buf; owner and thieves take from
 * head with a CAS, and the owner may also put one entry back before head with
 * a CAS (goc__runq_push_head); tail - head <= GOC_RUNQ_SIZE; `next` runs before
 * anything in the ring and may be taken by a thief only when the owner is not
 * running a coroutine or has been slow to schedule (runq_steal's take_next).
 *
 * Because head moves both ways, an index alone could come back to a value a
 * thief read before (pop, then push_head into the same slot: ABA), and the
 * thief's CAS would succeed on stale copies, running one coroutine twice and
 * losing another. So head carries a tag in its upper 32 bits that every
 * push_head bumps: a (tag, index) pair never repeats within 2^32 head pushes.
 *
 * Memory orders: the owner publishes buf[t] with a release store of tail; a
 * consumer reads head and tail with acquire, copies entries, then claims them
 * with a release CAS of head (release so the owner's later overwrite of those
 * slots cannot be reordered before our reads, acquire on the owner's side
 * through its load of head). Slots are relaxed atomics: a thief may read a slot
 * the owner is overwriting, but then its CAS of head fails and it discards it.
 */
#ifndef GOC_RUNQ_H
#define GOC_RUNQ_H

#include <stdbool.h>

#include "sys.h"

#ifndef GOC_RUNQ_SIZE
#define GOC_RUNQ_SIZE 256
#endif
_Static_assert((GOC_RUNQ_SIZE & (GOC_RUNQ_SIZE - 1)) == 0, "GOC_RUNQ_SIZE: power of two");

struct goc__g;

typedef struct goc__runq {
    _Alignas(GOC_CACHELINE) _Atomic uint64_t head;  /* consumers: tag:index */
    _Atomic(struct goc__g *) next;                  /* runs next; CAS        */
    _Alignas(GOC_CACHELINE) _Atomic uint32_t tail;  /* owner                */
    _Atomic(struct goc__g *) buf[GOC_RUNQ_SIZE];
} goc__runq;

#define GOC__RLX memory_order_relaxed
#define GOC__ACQ memory_order_acquire
#define GOC__REL memory_order_release

/* The ring index and the tagged head values that move it. */
static inline uint32_t goc__runq_idx(uint64_t head) { return (uint32_t)head; }
static inline uint64_t goc__runq_advance(uint64_t head, uint32_t n) {
    return (head & ~(uint64_t)UINT32_MAX) | (uint32_t)(goc__runq_idx(head) + n);
}
static inline uint64_t goc__runq_retreat(uint64_t head) {
    uint64_t tag = (head & ~(uint64_t)UINT32_MAX) + ((uint64_t)1 << 32);
    return tag | (uint32_t)(goc__runq_idx(head) - 1);
}

/* Owner (or a thief: it is a CAS): takes `next`; NULL when empty. */
static inline struct goc__g *goc__runq_get_next(goc__runq *q) {
    struct goc__g *g = atomic_load_explicit(&q->next, GOC__RLX);
    if (g && atomic_compare_exchange_strong_explicit(&q->next, &g, NULL, GOC__ACQ, GOC__RLX))
        return g;
    return NULL;
}

/* Owner: takes the entry at the head of the ring; NULL when empty. */
static inline struct goc__g *goc__runq_pop(goc__runq *q) {
    for (;;) {
        uint64_t hv = atomic_load_explicit(&q->head, GOC__ACQ);
        uint32_t h = goc__runq_idx(hv), t = atomic_load_explicit(&q->tail, GOC__RLX);
        GOC_ASSERT(t - h <= GOC_RUNQ_SIZE); /* the owner's tail, a head no older */
        if (t == h) return NULL;
        struct goc__g *g = atomic_load_explicit(&q->buf[h % GOC_RUNQ_SIZE], GOC__RLX);
        if (atomic_compare_exchange_weak_explicit(&q->head, &hv, goc__runq_advance(hv, 1),
                                                  GOC__REL, GOC__RLX))
            return g;
    }
}

/* Owner: takes `next`, else the head of the ring; NULL when empty. */
static inline struct goc__g *goc__runq_get(goc__runq *q) {
    struct goc__g *g = goc__runq_get_next(q);
    return g ? g : goc__runq_pop(q);
}

/* Owner: puts g at the head of the ring, to run before everything in it
 * (thieves take from the head too). False when the ring is full. Slot h-1 is
 * outside [h, tail), so no thief reads it while we fill it; a thief that
 * moves head first makes our CAS fail, and we retry one slot further on. */
static inline bool goc__runq_push_head(goc__runq *q, struct goc__g *g) {
    for (;;) {
        uint64_t hv = atomic_load_explicit(&q->head, GOC__ACQ);
        uint32_t h = goc__runq_idx(hv), t = atomic_load_explicit(&q->tail, GOC__RLX);
        GOC_ASSERT(t - h <= GOC_RUNQ_SIZE);
        if (t - h >= GOC_RUNQ_SIZE) return false;
        atomic_store_explicit(&q->buf[(h - 1) % GOC_RUNQ_SIZE], g, GOC__RLX);
        if (atomic_compare_exchange_weak_explicit(&q->head, &hv, goc__runq_retreat(hv),
                                                  GOC__REL, GOC__RLX))
            return true;
    }
}

/* Owner: appends g to the ring. False when the ring is full (nothing done). */
static inline bool goc__runq_push(goc__runq *q, struct goc__g *g) {
    uint32_t h = goc__runq_idx(atomic_load_explicit(&q->head, GOC__ACQ));
    uint32_t t = atomic_load_explicit(&q->tail, GOC__RLX);
    GOC_ASSERT(t - h <= GOC_RUNQ_SIZE);
    if (t - h >= GOC_RUNQ_SIZE) return false;
    atomic_store_explicit(&q->buf[t % GOC_RUNQ_SIZE], g, GOC__RLX);
    atomic_store_explicit(&q->tail, t + 1, GOC__REL);
    return true;
}

/* Owner: puts g into `next` and returns what it displaced (NULL if empty).
 * Only the owner fills the slot and thieves only empty it, so an empty slot
 * stays empty until our store: a plain release store is enough. */
static inline struct goc__g *goc__runq_put_next(goc__runq *q, struct goc__g *g) {
    if (GOC_LIKELY(atomic_load_explicit(&q->next, GOC__RLX) == NULL)) {
        atomic_store_explicit(&q->next, g, GOC__REL);
        return NULL;
    }
    return atomic_exchange_explicit(&q->next, g, memory_order_acq_rel);
}

static inline bool goc__runq_empty(goc__runq *q) {
    uint32_t h = goc__runq_idx(atomic_load_explicit(&q->head, GOC__ACQ));
    uint32_t t = atomic_load_explicit(&q->tail, GOC__ACQ);
    return t == h && atomic_load_explicit(&q->next, GOC__RLX) == NULL;
}

static inline uint32_t goc__runq_len(goc__runq *q) {
    uint32_t h = goc__runq_idx(atomic_load_explicit(&q->head, GOC__ACQ));
    uint32_t t = atomic_load_explicit(&q->tail, GOC__ACQ);
    return t - h + (atomic_load_explicit(&q->next, GOC__RLX) != NULL);
}

/* Owner: takes up to half of its ring (for the global queue when full) into
 * out[]; returns how many. */
uint32_t goc__runq_grab_half(goc__runq *q, struct goc__g **out);

/* Thief: moves about half of src's ring, at most max entries, into dst's
 * (dst owned by the caller and empty) and returns one of them to run, or
 * NULL. take_next allows src's `next` slot when it takes nothing from the
 * ring (empty, or max 0). */
struct goc__g *goc__runq_steal(goc__runq *dst, goc__runq *src, uint32_t max, bool take_next);

#endif
