/* accept: connection set-up and tear-down over loopback: DIALERS client
 * coroutines each dial, the server accepts, both close; n connections in
 * all. The figure is wall time per connection. Default n = 50,000. Go peer:
 * go/accept. */
#include <stdatomic.h>

#include "bench.h"

#define DIALERS 4

static long per_dialer;
static char addr[64];
static goc_wg wg = GOC_WG_INIT;
static atomic_long accepted;

static void acceptor(void *arg) {
    int l = (int)(intptr_t)arg;
    for (int fd; (fd = goc_accept(l, GOC_FOREVER)) >= 0;) {
        atomic_fetch_add(&accepted, 1);
        goc_fd_close(fd);
    }
}

static void dialer(void *arg) {
    (void)arg;
    for (long i = 0; i < per_dialer; i++) {
        int fd = goc_dial("tcp", addr, 10 * GOC_SEC);
        if (fd < 0) bench_fail("accept", "dial: %s", goc_strerror(fd));
        goc_fd_close(fd);
    }
    goc_wg_done(&wg);
}

static void run(void *arg) {
    long n = (long)(intptr_t)arg;
    per_dialer = n / DIALERS > 0 ? n / DIALERS : 1;
    int l = bench_listen("accept", addr, sizeof addr);
    if (goc_go(acceptor, (void *)(intptr_t)l) != GOC_OK) bench_fail("accept", "goc_go failed");
    bench_clock c = bench_start();
    goc_wg_add(&wg, DIALERS);
    for (int i = 0; i < DIALERS; i++)
        if (goc_go(dialer, NULL) != GOC_OK) bench_fail("accept", "goc_go failed");
    goc_wg_wait(&wg);
    long total = per_dialer * DIALERS;
    while (atomic_load(&accepted) < total) goc_sleep(100 * GOC_US);
    bench_report("accept", n, (double)total, c, NULL);
    goc_fd_close(l);
}

int main(int argc, char **argv) {
    long n = bench_arg(argc, argv, 50000);
    bench_run_main(run, (void *)(intptr_t)n);
    return 0;
}
