/* workerpool: the lesson's pool (worker/pool/main of lesson.txt's comments,
 * with its `go c` bug fixed): 36 workers receive tasks from one channel until
 * it is closed; a pool coroutine sends the n tasks and closes it; the caller
 * waits on a WaitGroup of 36. Here the channel has capacity 64 and a task is
 * a number to add (the lesson sleeps and prints instead). The figure is wall
 * time per task. Default n = 1,000,000. Go peer: go/workerpool. */
#include "bench.h"

#define WORKERS 36
#define CAP 64

static long n;
static goc_chan *tasks;
static goc_wg wg = GOC_WG_INIT;
static long long sums[WORKERS];

static void worker(void *p) {
    long long *sum = p;
    long task;
    long long local = 0;
    while (goc_recv(tasks, &task) == GOC_OK) local += task;
    *sum = local;
    goc_wg_done(&wg);
}

static void pool(void *arg) {
    (void)arg;
    for (intptr_t i = 0; i < WORKERS; i++)
        if (goc_go(worker, &sums[i]) != GOC_OK) bench_fail("workerpool", "goc_go failed");
    for (long i = 0; i < n; i++)
        if (goc_send(tasks, &i) != GOC_OK) bench_fail("workerpool", "send failed");
    goc_close(tasks);
}

static void run(void *arg) {
    (void)arg;
    tasks = goc_chan_make(sizeof(long), CAP);
    if (!tasks) bench_fail("workerpool", "goc_chan_make failed");
    bench_clock c = bench_start();
    goc_wg_add(&wg, WORKERS);
    pool(NULL); /* the producer is the driver: main itself in the thread form */
    goc_wg_wait(&wg);
    long long sum = 0;
    for (int i = 0; i < WORKERS; i++) sum += sums[i];
    long long want = (long long)n * (n - 1) / 2;
    if (sum != want) bench_fail("workerpool", "sum %lld, want %lld", sum, want);
    bench_report("workerpool", n, (double)n, c, NULL);
    goc_chan_release(tasks);
}

int main(int argc, char **argv) {
    n = bench_arg(argc, argv, 1000000);
    bench_run_main(run, NULL);
    return 0;
}
