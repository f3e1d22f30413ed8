/* The lock-order checker of GOC_LOCKRANK builds (the ranks and rules are in
 * lockrank.h): each thread keeps a record of the locks it holds, by rank, and
 * every acquire is checked against it before the lock is taken, so a
 * violation is reported even where it would not deadlock this time.
 *
 * Invariants (per thread): count[r] is the number of rank-r locks this thread
 * holds, and bit r of mask is set iff count[r] > 0; for an ADDR rank, top[r]
 * is the highest address among them; a lock this thread holds has the word
 * tag << 8 | rank, with this thread's tag.
 *
 * Design: a count per rank rather than Go's stack of held locks: select, a
 * poll over many fds and a context's cancel walk hold any number of locks of
 * one rank, and a stack would need a bound. Ranks held are increasing in the
 * order they were taken, so the highest bit of mask is the one an acquire
 * must be above. The holder's tag sits in the lock word itself, so the
 * record needs no table of addresses, and the struct keeps its one word.
 */
#include "lockrank.h"

#include "lock.h"

int goc__lockrank_enabled(void) { return GOC_LOCKRANK; }

#if GOC_LOCKRANK

enum { NEST_ONE, NEST_ADDR, NEST_CHILD, NEST_LEAF };

static const struct {
    const char *name;
    int nest;
} ranks[GOC__NRANKS] = {
    [GOC__RANK_NONE] = {"unranked", NEST_ONE},
#define ROW(n, nest, str) [GOC__RANK_##n] = {str, NEST_##nest},
    GOC__LOCK_RANKS(ROW)
#undef ROW
};

#define BIT(r) ((uint64_t)1 << (r))
#define LEAF_BIT(n, nest, str) | (NEST_##nest == NEST_LEAF ? BIT(GOC__RANK_##n) : 0)
#define LEAVES (0 GOC__LOCK_RANKS(LEAF_BIT))
_Static_assert(((BIT(GOC__NRANKS) - 1) & ~LEAVES & ~((LEAVES & -LEAVES) - 1)) == 0,
               "lockrank.h: the LEAF ranks come last");
static const uint64_t leaves = LEAVES;

static _Thread_local struct {
    uint32_t tag; /* 0 until this thread's first lock */
    uint64_t mask;
    uint32_t count[GOC__NRANKS];
    uintptr_t top[GOC__NRANKS];
} me;

static _Atomic uint32_t tags;

static const char *name_of(unsigned r) { return r < GOC__NRANKS ? ranks[r].name : "?"; }

static unsigned highest(uint64_t mask) { return 63u - (unsigned)__builtin_clzll(mask); }

uint32_t goc__lockrank_word(enum goc__lockrank r) {
    if (GOC_UNLIKELY(me.tag == 0)) me.tag = atomic_fetch_add(&tags, 1) % 0xffffffu + 1;
    return me.tag << 8 | (uint32_t)r;
}

static void record(goc__lock *l, enum goc__lockrank r) {
    me.count[r]++;
    me.mask |= BIT(r);
    if ((uintptr_t)l > me.top[r]) me.top[r] = (uintptr_t)l;
}

uint32_t goc__lockrank_acquire(goc__lock *l, enum goc__lockrank r, const goc__lock *parent) {
    if (r <= GOC__RANK_NONE || r >= GOC__NRANKS)
        goc__throw("lock %p taken with rank %d, which lockrank.h does not have", (void *)l, (int)r);
    uint32_t word = goc__lockrank_word(r);
    const char *name = ranks[r].name;
    uint32_t v = atomic_load_explicit(&l->v, memory_order_relaxed);
    if (v >> 8 == me.tag)
        goc__throw("lock order: %s lock %p taken again by the thread that holds it (as %s)", name,
                   (void *)l, name_of(v & 0xff));
    if (me.mask & leaves)
        goc__throw("lock order: %s lock %p taken while holding a %s lock, a leaf (lockrank.h)",
                   name, (void *)l, ranks[highest(me.mask & leaves)].name);
    uint64_t above = me.mask & ~(BIT(r) | (BIT(r) - 1));
    if (above)
        goc__throw("lock order: %s lock %p taken while holding a %s lock, which ranks after it "
                   "(lockrank.h)",
                   name, (void *)l, ranks[highest(above)].name);
    if (me.mask & BIT(r)) {
        switch (ranks[r].nest) {
        case NEST_ADDR:
            if ((uintptr_t)l <= me.top[r])
                goc__throw("lock order: %s lock %p taken while holding %s lock %p: two of them "
                           "only in ascending address order (lockrank.h)",
                           name, (void *)l, name, (void *)me.top[r]);
            break;
        case NEST_CHILD:
            if (!parent)
                goc__throw("lock order: %s lock %p taken while holding another, not as its "
                           "child (goc__lock_acquire_child, lockrank.h)",
                           name, (void *)l);
            break;
        default:
            goc__throw("lock order: %s lock %p taken while holding another %s lock (lockrank.h)",
                       name, (void *)l, name);
        }
    }
    if (parent && atomic_load_explicit(&parent->v, memory_order_relaxed) != word)
        goc__throw("lock order: %s lock %p taken as the child of %p, which this thread does not "
                   "hold as a %s lock",
                   name, (void *)l, (const void *)parent, name);
    record(l, r);
    return word;
}

void goc__lockrank_took(goc__lock *l, enum goc__lockrank r) { record(l, r); }

void goc__lockrank_release(goc__lock *l) {
    uint32_t v = atomic_load_explicit(&l->v, memory_order_relaxed);
    unsigned r = v & 0xff;
    if (v == 0) goc__throw("lock %p released while free", (void *)l);
    if (v >> 8 != me.tag || r >= GOC__NRANKS || !(me.mask & BIT(r)))
        goc__throw("%s lock %p released by a thread that does not hold it", name_of(r),
                   (void *)l);
    if (--me.count[r] == 0) {
        me.mask &= ~BIT(r);
        me.top[r] = 0;
    }
}

void goc__lockrank_none_held(const char *where) {
    if (GOC_UNLIKELY(me.mask))
        goc__throw("%s with a %s lock held (lockrank.h: no lock is held across a switch)", where,
                   ranks[highest(me.mask)].name);
}

int goc__lockrank_held(const goc__lock *l) {
    return me.tag && atomic_load_explicit(&l->v, memory_order_relaxed) >> 8 == me.tag;
}

#endif
