/* The scheduler: spawning, yielding, sleeping, work spread over workers,
 * blocked workers handed off, stack reuse and limits. */
#include <stdatomic.h>
#include <pthread.h>

#include "check.h"

static _Atomic long counter;

static void add_one(void *arg) {
    (void)arg;
    atomic_fetch_add(&counter, 1);
}

static void wait_count(long want) {
    while (atomic_load(&counter) < want) goc_sleep(GOC_MS / 10);
}

TEST(spawn_from_main_runs_all) {
    int n = CHECK_SCALE(100000);
    for (int i = 0; i < n; i++) CHECK_OK(goc_go(add_one, NULL));
    wait_count(n);
    CHECK_EQ(atomic_load(&counter), n);
    while (goc_count() != 0) goc_sleep(GOC_MS);
}

static void yielder(void *arg) {
    long *n = arg;
    for (int i = 0; i < 1000; i++) goc_yield();
    atomic_fetch_add(&counter, *n);
}

TEST(yield_interleaves) {
    static long one = 1;
    for (int i = 0; i < 100; i++) CHECK_OK(goc_go(yielder, &one));
    wait_count(100);
}

TEST(ids_unique_and_zero_on_threads) {
    CHECK_EQ(goc_id(), 0);
}
