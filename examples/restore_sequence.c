/* Restoring sequence: after a fan-in, make the talkers take turns again.
 *
 * Mirrors "Restoring sequencing" from Rob Pike's "Go Concurrency Patterns":
 * each message carries a channel on which its sender waits for the go-ahead.
 *
 *     type Message struct {
 *         str  string
 *         wait chan bool
 *     }
 *     // in boring: one waitForIt channel, shared by all its messages
 *     c <- Message{fmt.Sprintf("%s: %d", msg, i), waitForIt}
 *     <-waitForIt
 *     // in main:
 *     for i := 0; i < 5; i++ {
 *         msg1 := <-c; fmt.Println(msg1.str)
 *         msg2 := <-c; fmt.Println(msg2.str)
 *         msg1.wait <- true
 *         msg2.wait <- true
 *     }
 *
 * The fan-in lets whoever is ready speak first, but nobody speaks twice in a
 * row: each talker blocks on its wait channel until main has heard both.
 * So every round prints one line from Joe and one from Ann, in either order.
 */
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

typedef struct {
    char str[32];
    goc_chan *wait; /* the sender's go-ahead channel, alive while it waits */
} message;

struct boring_args {
    const char *name;
    int n;
    goc_chan *c;
};

static void boring_loop(void *p) {
    struct boring_args a = *(struct boring_args *)p;
    free(p);
    goc_chan *wait_for_it = goc_chan_make(sizeof(bool), 0); /* shared by all messages */
    for (int i = 0; i < a.n; i++) {
        message m = {.wait = wait_for_it};
        snprintf(m.str, sizeof m.str, "%s: %d", a.name, i);
        goc_send(a.c, &m);
        goc_sleep((rand() % 10) * GOC_MS);
        goc_recv(wait_for_it, NULL); /* until main says go */
    }
    goc_close(a.c);
    goc_chan_release(a.c);
    goc_chan_release(wait_for_it);
}

static goc_chan *boring(const char *name, int n) {
    goc_chan *c = goc_chan_make(sizeof(message), 0);
    struct boring_args *a = malloc(sizeof *a);
    *a = (struct boring_args){name, n, goc_chan_retain(c)};
    goc_go(boring_loop, a);
    return c;
}

/* Fan-in with select, as in fanin.c: closes when both inputs have closed. */
struct merge_args {
    goc_chan *in1, *in2, *out;
};

static void merge_loop(void *p) {
    struct merge_args a = *(struct merge_args *)p;
    free(p);
    goc_chan *in1 = a.in1, *in2 = a.in2;
    while (in1 || in2) {
        message m;
        goc_case cases[] = {GOC_RECV(in1, &m), GOC_RECV(in2, &m)};
        int i = goc_select(cases, 2, GOC_FOREVER);
        if (!cases[i].ok) {
            if (i == 0) in1 = NULL;
            else in2 = NULL;
            continue;
        }
        goc_send(a.out, &m);
    }
    goc_close(a.out);
    goc_chan_release(a.in1);
    goc_chan_release(a.in2);
    goc_chan_release(a.out);
}

static goc_chan *fan_in(goc_chan *input1, goc_chan *input2) {
    goc_chan *c = goc_chan_make(sizeof(message), 0);
    struct merge_args *a = malloc(sizeof *a);
    *a = (struct merge_args){goc_chan_retain(input1), goc_chan_retain(input2), goc_chan_retain(c)};
    goc_go(merge_loop, a);
    return c;
}

int main(void) {
    goc_chan *joe = boring("Joe", 5), *ann = boring("Ann", 5);
    goc_chan *c = fan_in(joe, ann);
    bool go_ahead = true;
    for (int i = 0; i < 5; i++) {
        message msg1, msg2;
        goc_recv(c, &msg1);
        printf("%s\n", msg1.str);
        goc_recv(c, &msg2);
        printf("%s\n", msg2.str);
        goc_send(msg1.wait, &go_ahead);
        goc_send(msg2.wait, &go_ahead);
    }
    printf("You're both boring; I'm leaving.\n");
    goc_chan_release(joe);
    goc_chan_release(ann);
    goc_chan_release(c);
    return 0;
}
