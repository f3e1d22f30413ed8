/* Generator: a function that returns a channel.
 *
 * Mirrors "Generator: function that returns a channel" and "Channels as a
 * handle on a service" from Rob Pike's "Go Concurrency Patterns":
 *
 *     func boring(msg string) <-chan string {
 *         c := make(chan string)
 *         go func() {
 *             for i := 0; ; i++ {
 *                 c <- fmt.Sprintf("%s %d", msg, i)
 *                 time.Sleep(time.Duration(rand.Intn(1e3)) * time.Millisecond)
 *             }
 *         }()
 *         return c
 *     }
 *     joe, ann := boring("Joe"), boring("Ann")
 *     for i := 0; i < 5; i++ { fmt.Println(<-joe); fmt.Println(<-ann) }
 *
 * Each call starts a coroutine and hands back the channel it talks on; the
 * caller neither knows nor cares how the values are made. Reading joe and
 * ann in turn keeps them in lockstep: Ann waits while Joe is slow.
 *
 * Differences from Go: boring says a fixed number of things and then closes
 * its channel, so the caller can range over it and no coroutine is left
 * blocked; the channel is reference counted, so the coroutine holds its own
 * reference and the caller releases the one it got.
 */
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

typedef struct {
    char text[32];
} message;

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
        goc_sleep((rand() % 10) * GOC_MS); /* a random little while */
    }
    goc_close(a.c); /* the sender closes: "no more values" */
    goc_chan_release(a.c);
}

/* Returns a receive-only (by convention) channel of n messages from name. */
static goc_chan *boring(const char *name, int n) {
    goc_chan *c = goc_chan_make(sizeof(message), 0);
    struct boring_args *a = malloc(sizeof *a);
    *a = (struct boring_args){name, n, goc_chan_retain(c)};
    goc_go(boring_loop, a);
    return c;
}

int main(void) {
    goc_chan *joe = boring("Joe", 5), *ann = boring("Ann", 5);
    message m;
    for (int i = 0; i < 5; i++) {
        goc_recv(joe, &m);
        printf("%s\n", m.text);
        goc_recv(ann, &m);
        printf("%s\n", m.text);
    }
    printf("You're both boring; I'm leaving.\n");
    goc_chan_release(joe);
    goc_chan_release(ann);
    return 0;
}
