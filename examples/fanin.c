/* Fan-in: merge several channels into one, so whoever is ready speaks.
 *
 * Mirrors "Multiplexing" and "Fan-in using select" from Rob Pike's "Go
 * Concurrency Patterns":
 *
 *     func fanIn(input1, input2 <-chan string) <-chan string {
 *         c := make(chan string)
 *         go func() {
 *             for {
 *                 select {
 *                 case s := <-input1: c <- s
 *                 case s := <-input2: c <- s
 *                 }
 *             }
 *         }()
 *         return c
 *     }
 *
 * Unlike the generator example, Joe and Ann are no longer in lockstep: the
 * merged channel delivers whichever message is ready first.
 *
 * The two versions here are Pike's: one coroutine per input, and a single
 * coroutine with a select. The select version also shows the NULL-channel
 * idiom: when an input closes, setting it to NULL disables its case (a NULL
 * channel is never ready), and once both are NULL the merged channel closes.
 *
 *     fanin          10 messages through each version
 */
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

typedef struct {
    char text[32];
} message;

/* ---- the talkers, as in generator.c ------------------------------------- */

struct boring_args {
    const char *name;
    int n;
    goc_chan *c;
};

static void boring_loop(void *p) {
    struct boring_args a = *(struct boring_args *)p;
    free(p);
    for (int i = 0; i < a.n; i++) {
        message m;
        snprintf(m.text, sizeof m.text, "%s %d", a.name, i);
        goc_send(a.c, &m);
        goc_sleep((rand() % 10) * GOC_MS);
    }
    goc_close(a.c);
    goc_chan_release(a.c);
}

static goc_chan *boring(const char *name, int n) {
    goc_chan *c = goc_chan_make(sizeof(message), 0);
    struct boring_args *a = malloc(sizeof *a);
    *a = (struct boring_args){name, n, goc_chan_retain(c)};
    goc_go(boring_loop, a);
    return c;
}

/* ---- fan-in, one coroutine per input ------------------------------------ */

struct forward_args {
    goc_chan *in, *out;
};

/* for s := range in { out <- s } */
static void forward(void *p) {
    struct forward_args a = *(struct forward_args *)p;
    free(p);
    message m;
    while (goc_recv(a.in, &m) == GOC_OK) goc_send(a.out, &m);
    goc_chan_release(a.in);
    goc_chan_release(a.out);
}

static void go_forward(goc_chan *in, goc_chan *out) {
    struct forward_args *a = malloc(sizeof *a);
    *a = (struct forward_args){goc_chan_retain(in), goc_chan_retain(out)};
    goc_go(forward, a);
}

/* The merged channel is never closed: nobody here knows when both
 * forwarders are done (that takes a WaitGroup, see pipeline.c). The reader
 * must know how many messages to expect. */
static goc_chan *fan_in(goc_chan *input1, goc_chan *input2) {
    goc_chan *c = goc_chan_make(sizeof(message), 0);
    go_forward(input1, c);
    go_forward(input2, c);
    return c;
}

/* ---- fan-in with select ------------------------------------------------- */

struct merge_args {
    goc_chan *in1, *in2, *out;
};

static void merge_loop(void *p) {
    struct merge_args a = *(struct merge_args *)p;
    free(p);
    goc_chan *in1 = a.in1, *in2 = a.in2; /* set to NULL once drained */
    while (in1 || in2) {
        message m;
        goc_case cases[] = {GOC_RECV(in1, &m), GOC_RECV(in2, &m)};
        int i = goc_select(cases, 2, GOC_FOREVER);
        if (!cases[i].ok) { /* closed: a NULL channel disables this case */
            if (i == 0) in1 = NULL;
            else in2 = NULL;
            continue;
        }
        goc_send(a.out, &m);
    }
    goc_close(a.out); /* both inputs are done, so the merged stream is too */
    goc_chan_release(a.in1);
    goc_chan_release(a.in2);
    goc_chan_release(a.out);
}

static goc_chan *fan_in_select(goc_chan *input1, goc_chan *input2) {
    goc_chan *c = goc_chan_make(sizeof(message), 0);
    struct merge_args *a = malloc(sizeof *a);
    *a = (struct merge_args){goc_chan_retain(input1), goc_chan_retain(input2), goc_chan_retain(c)};
    goc_go(merge_loop, a);
    return c;
}

int main(void) {
    message m;

    printf("fan-in, a coroutine per input:\n");
    goc_chan *joe = boring("Joe", 5), *ann = boring("Ann", 5);
    goc_chan *c = fan_in(joe, ann);
    for (int i = 0; i < 10; i++) {
        goc_recv(c, &m);
        printf("  %s\n", m.text);
    }
    goc_chan_release(joe), goc_chan_release(ann), goc_chan_release(c);

    printf("fan-in with select:\n");
    joe = boring("Joe", 5), ann = boring("Ann", 5);
    c = fan_in_select(joe, ann);
    while (goc_recv(c, &m) == GOC_OK) printf("  %s\n", m.text);
    goc_chan_release(joe), goc_chan_release(ann), goc_chan_release(c);

    printf("You're both boring; I'm leaving.\n");
    return 0;
}
