/* The local run queue on its own, without the scheduler: one owner thread
 * pushing at both ends, popping and filling `next`, against thieves stealing
 * half at a time. Every entry must be taken exactly once; a head that moved
 * back and forth under a thief (ABA) would hand one entry out twice and lose
 * another. Then the limits of one steal. Entries are fake pointers: the
 * queue never dereferences them. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"
#include "runq.h"

#define THIEVES 2

static goc__runq owner_q;
static goc__runq thief_q[THIEVES];
static _Atomic unsigned char *taken;
static _Atomic bool owner_done;
static long nitems;

static struct goc__g *item(long id) { return (struct goc__g *)(uintptr_t)((id + 1) * 16); }

static void take(struct goc__g *g) {
    long id = (long)((uintptr_t)g / 16) - 1;
    if (id < 0 || id >= nitems) check_fail(__FILE__, __LINE__, "bogus entry %p", (void *)g);
    if (atomic_fetch_add_explicit(&taken[id], 1, memory_order_relaxed) != 0)
        check_fail(__FILE__, __LINE__, "entry %ld taken twice", id);
}

static void *thief(void *arg) {
    goc__runq *mine = arg;
    for (;;) {
        bool done = atomic_load(&owner_done);
        struct goc__g *g = goc__runq_steal(mine, &owner_q, GOC_RUNQ_SIZE, true);
        if (g) {
            take(g);
            while ((g = goc__runq_get(mine))) take(g);
        } else if (done) {
            return NULL;
        }
    }
}

/* Owner: takes one entry, or pushes it to the tail, or the head. */
static void owner_put(struct goc__g *g, bool head) {
    if (head ? goc__runq_push_head(&owner_q, g) : goc__runq_push(&owner_q, g)) return;
    struct goc__g *old = goc__runq_pop(&owner_q); /* makes room in the ring */
    if (old) take(old);
    CHECK(goc__runq_push(&owner_q, g));
}

TEST(every_entry_taken_once_under_stealing) {
    nitems = CHECK_SCALE(4000000);
    taken = calloc((size_t)nitems, 1);
    CHECK(taken);
    pthread_t th[THIEVES];
    for (int i = 0; i < THIEVES; i++) CHECK_EQ(pthread_create(&th[i], NULL, thief, &thief_q[i]), 0);
    uint64_t r = 88172645463325252ull;
    for (long id = 0; id < nitems;) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        struct goc__g *g;
        switch (r % 8) {
        case 0: case 1: case 2: /* spawn-like: pop then push at the head, the ABA window */
            if ((g = goc__runq_get(&owner_q))) take(g);
            owner_put(item(id++), true);
            break;
        case 3:
            owner_put(item(id++), false);
            break;
        case 4:
            if ((g = goc__runq_put_next(&owner_q, item(id++)))) owner_put(g, true);
            break;
        default:
            if ((g = goc__runq_get(&owner_q))) take(g);
        }
    }
    struct goc__g *g;
    while ((g = goc__runq_get(&owner_q))) take(g);
    atomic_store(&owner_done, true);
    for (int i = 0; i < THIEVES; i++) CHECK_EQ(pthread_join(th[i], NULL), 0);
    while ((g = goc__runq_get(&owner_q))) take(g);
    for (long id = 0; id < nitems; id++)
        if (atomic_load(&taken[id]) != 1)
            check_fail(__FILE__, __LINE__, "entry %ld taken %d times", id, atomic_load(&taken[id]));
    free((void *)taken);
}

/* A steal takes the ring's head half, no more than max, in order, and runs
 * the last of them; `next` only when it takes nothing from the ring. (Seven
 * entries: the sanitizer builds shrink the ring to eight.) */
TEST(steal_takes_half_of_the_head_at_most_max) {
    static goc__runq src, dst;
    for (long id = 0; id < 7; id++) CHECK(goc__runq_push(&src, item(id)));
    CHECK(goc__runq_put_next(&src, item(99)) == NULL);
    CHECK(goc__runq_steal(&dst, &src, 3, true) == item(2)); /* 3 of half 4 */
    CHECK(goc__runq_pop(&dst) == item(0));
    CHECK(goc__runq_pop(&dst) == item(1));
    CHECK(goc__runq_pop(&dst) == NULL);
    CHECK(goc__runq_steal(&dst, &src, GOC_RUNQ_SIZE, true) == item(4)); /* half of 4 */
    CHECK(goc__runq_pop(&dst) == item(3));
    CHECK(goc__runq_steal(&dst, &src, 0, false) == NULL);
    CHECK(goc__runq_steal(&dst, &src, 0, true) == item(99)); /* max 0: `next` only */
    CHECK_EQ(goc__runq_len(&src), 2);
    CHECK(goc__runq_steal(&dst, &src, 1, false) == item(5));
    CHECK(goc__runq_steal(&dst, &src, GOC_RUNQ_SIZE, false) == item(6));
    CHECK(goc__runq_steal(&dst, &src, GOC_RUNQ_SIZE, true) == NULL);
    CHECK(goc__runq_empty(&dst));
    CHECK(goc__runq_empty(&src));
}
