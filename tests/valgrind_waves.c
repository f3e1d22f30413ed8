/* Spawn-heavy program for tests/valgrind_test.sh: waves of coroutines on
 * stacks of four size classes, each wave reusing the stacks the previous
 * one freed (from the workers' caches, the shared pools, and, after a pause,
 * slots the monitor trimmed), with frames that leave data behind. memcheck
 * must report nothing: goc marks a reused stack addressable again (san.h). */
#include <stdio.h>
#include <string.h>

#include "goc.h"

static goc_wg wg = GOC_WG_INIT;
static goc_mutex mu = GOC_MUTEX_INIT;
static long total;

static void work(void *arg) {
    goc_chan *c = arg;
    char buf[2048];
    int v = 0;
    memset(buf, 7, sizeof buf);
    goc_yield();
    if (goc_recv(c, &v) != GOC_OK) v = -1000;
    goc_mutex_lock(&mu);
    total += v + buf[v % 2048];
    goc_mutex_unlock(&mu);
    goc_wg_done(&wg);
}

int main(void) {
    enum { WAVES = 12, N = 200 };
    long want = 0;
    for (int wave = 0; wave < WAVES; wave++) {
        goc_chan *c = goc_chan_make(sizeof(int), N);
        goc_wg_add(&wg, N);
        for (int i = 0; i < N; i++) {
            goc_opts o = {.stack_size = (size_t)4096 << (i % 4)};
            if (goc_go_with(&o, work, c) != GOC_OK) return 1;
        }
        for (int i = 0; i < N; i++) {
            goc_send(c, &i);
            want += i + 7;
        }
        goc_wg_wait(&wg);
        goc_chan_release(c);
        if (wave % 4 == 3) goc_sleep(250 * GOC_MS); /* the monitor trims freed stacks */
    }
    printf("%d waves of %d: total %ld, want %ld\n", WAVES, N, total, want);
    return total == want ? 0 : 1;
}
