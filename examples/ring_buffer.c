/* Ring-buffer channel: a buffered channel that drops its oldest value when
 * full, so a slow reader always sees the freshest data and the writer never
 * blocks.
 *
 * Mirrors the classic Go ring buffer (a coroutine between two channels):
 *
 *     func (r *RingBuffer) Run() {
 *         for v := range r.inputChannel {
 *             select {
 *             case r.outputChannel <- v:
 *             default:
 *                 <-r.outputChannel // full: drop the oldest
 *                 r.outputChannel <- v
 *             }
 *         }
 *         close(r.outputChannel)
 *     }
 *
 * select with a default (a goc_select timeout of 0) tries the send without
 * blocking. The drop is a non-blocking receive, not Go's `<-out`: if the
 * reader emptied the buffer in between, there is nothing to drop (and with a
 * ring of one a blocking receive would wait forever). The send after it
 * cannot block, because the ring is the only sender on out.
 *
 * Here a producer writes 1..20 every millisecond or so; the reader takes one
 * value every 5 ms through a ring of 4. The reader sees increasing values
 * with gaps where old ones were dropped, and always the last one.
 *
 *     ring_buffer [n]      produce 1..n (default 20)
 */
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

struct ring {
    goc_chan *in, *out;
};

static void ring_run(void *p) {
    struct ring r = *(struct ring *)p;
    free(p);
    int v;
    while (goc_recv(r.in, &v) == GOC_OK) {
        goc_case send[] = {GOC_SEND(r.out, &v)};
        if (goc_select(send, 1, 0) == GOC_EAGAIN) { /* default: full */
            goc_try_recv(r.out, NULL);             /* drop the oldest */
            goc_send(r.out, &v);
        }
    }
    goc_close(r.out);
    goc_chan_release(r.in);
    goc_chan_release(r.out);
}

/* Returns the output of a ring of size n fed from in. */
static goc_chan *ring_buffer(goc_chan *in, size_t n) {
    goc_chan *out = goc_chan_make(sizeof(int), n);
    struct ring *r = malloc(sizeof *r);
    *r = (struct ring){goc_chan_retain(in), goc_chan_retain(out)};
    goc_go(ring_run, r);
    return out;
}

struct producer_args {
    goc_chan *out;
    int n;
};

static void producer(void *p) {
    struct producer_args a = *(struct producer_args *)p;
    free(p);
    for (int i = 1; i <= a.n; i++) {
        goc_send(a.out, &i);
        goc_sleep(GOC_MS);
    }
    goc_close(a.out);
    goc_chan_release(a.out);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20;
    goc_chan *in = goc_chan_make(sizeof(int), 0);
    struct producer_args *a = malloc(sizeof *a);
    *a = (struct producer_args){goc_chan_retain(in), n};
    goc_go(producer, a);

    goc_chan *out = ring_buffer(in, 4);
    int v, got = 0;
    printf("read:");
    while (goc_recv(out, &v) == GOC_OK) {
        printf(" %d", v);
        got++;
        goc_sleep(5 * GOC_MS); /* a slow reader */
    }
    printf("\n%d of %d values read, %d dropped\n", got, n, n - got);
    goc_chan_release(in);
    goc_chan_release(out);
    return 0;
}
