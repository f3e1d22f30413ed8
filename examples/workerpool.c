/* Worker pool: a fixed number of workers take tasks from one channel.
 *
 * Mirrors the pool from the lesson's readers' comments:
 *
 *     func worker(tasksCh <-chan int, wg *sync.WaitGroup) {
 *         defer wg.Done()
 *         for {
 *             task, ok := <-tasksCh
 *             if !ok {
 *                 return
 *             }
 *             d := time.Duration(task) * time.Millisecond
 *             time.Sleep(d)
 *             fmt.Println("processing task", task)
 *         }
 *     }
 *
 *     func pool(wg *sync.WaitGroup, workers, tasks int) {
 *         tasksCh := make(chan int)
 *         for i := 0; i < workers; i++ {
 *             go worker(tasksCh, wg)   // the comment's code says `go c(…)`
 *         }
 *         for i := 0; i < tasks; i++ {
 *             tasksCh <- i
 *         }
 *         close(tasksCh)
 *     }
 *
 *     func main() {
 *         var wg sync.WaitGroup
 *         wg.Add(36)
 *         go pool(&wg, 36, 50)
 *         wg.Wait()
 *     }
 *
 * The bug the readers point out is fixed: the comment starts `go c(tasksCh,
 * wg)`, a function that does not exist; the pool must start `worker`.
 *
 * 36 workers share an unbuffered channel of 50 tasks: each send hands one
 * task to one idle worker, so every task is processed exactly once, in an
 * order decided by the sleeps. close(tasksCh) is how the pool says "no more
 * tasks": each worker's receive then fails and it returns, calling Done;
 * main's Wait returns once all 36 have.
 *
 *     workerpool [workers tasks]    (default 36 50)
 */
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

struct worker_args {
    goc_chan *tasks;
    goc_wg *wg;
};

static void worker(void *p) {
    struct worker_args a = *(struct worker_args *)p;
    free(p);
    int task;
    while (goc_recv(a.tasks, &task) == GOC_OK) { /* GOC_CLOSED: no more tasks */
        goc_sleep(task * GOC_MS);
        printf("processing task %d\n", task);
    }
    goc_chan_release(a.tasks);
    goc_wg_done(a.wg); /* Go's defer wg.Done(): the last thing it does */
}

struct pool_args {
    goc_wg *wg;
    int workers, tasks;
};

static void pool(void *p) {
    struct pool_args a = *(struct pool_args *)p;
    free(p);
    goc_chan *tasks = goc_chan_make(sizeof(int), 0);
    for (int i = 0; i < a.workers; i++) {
        struct worker_args *w = malloc(sizeof *w);
        *w = (struct worker_args){goc_chan_retain(tasks), a.wg};
        goc_go(worker, w); /* fixed: the comment's code starts `c` here */
    }
    for (int i = 0; i < a.tasks; i++) goc_send(tasks, &i);
    goc_close(tasks);
    goc_chan_release(tasks);
}

int main(int argc, char **argv) {
    int workers = argc > 2 ? atoi(argv[1]) : 36;
    int tasks = argc > 2 ? atoi(argv[2]) : 50;

    goc_wg wg = GOC_WG_INIT;
    goc_wg_add(&wg, workers);
    struct pool_args *a = malloc(sizeof *a);
    *a = (struct pool_args){&wg, workers, tasks};
    goc_go(pool, a);
    goc_wg_wait(&wg);
    return 0;
}
