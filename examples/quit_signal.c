/* Quit signal: tell a coroutine to stop, and wait until it has cleaned up.
 *
 * Mirrors "Quit channel" and "Receive on quit channel" from Rob Pike's "Go
 * Concurrency Patterns":
 *
 *     quit := make(chan string)
 *     c := boring("Joe", quit)
 *     for i := rand.Intn(10); i >= 0; i-- { fmt.Println(<-c) }
 *     quit <- "Bye!"
 *     fmt.Printf("Joe says: %q\n", <-quit)
 *
 *     // in boring:
 *     select {
 *     case c <- fmt.Sprintf("%s: %d", msg, i):
 *         // do nothing
 *     case <-quit:
 *         cleanup()
 *         quit <- "See you!"
 *         return
 *     }
 *
 * The talker offers its next message and listens for quit in one select, so
 * it can be stopped while it waits for a reader. The quit channel works in
 * both directions: main says "Bye!", and the talker answers on the same
 * channel only after its cleanup, so when main has the answer it knows the
 * talker is finished (a handshake, not just a signal).
 *
 *     quit_signal [n]      hear n messages before quitting (default 4)
 */
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

typedef struct {
    char text[32];
} message;

struct boring_args {
    const char *name;
    goc_chan *c, *quit;
};

static void cleanup(const char *name) { printf("%s: cleaning up\n", name); }

static void boring_loop(void *p) {
    struct boring_args a = *(struct boring_args *)p;
    free(p);
    for (int i = 0;; i++) {
        message m, bye;
        snprintf(m.text, sizeof m.text, "%s: %d", a.name, i);
        goc_case cases[] = {GOC_SEND(a.c, &m), GOC_RECV(a.quit, &bye)};
        if (goc_select(cases, 2, GOC_FOREVER) == 1) {
            printf("%s hears: \"%s\"\n", a.name, bye.text);
            cleanup(a.name);
            goc_send(a.quit, &(message){"See you!"}); /* the handshake */
            break;
        }
    }
    goc_chan_release(a.c);
    goc_chan_release(a.quit);
}

static goc_chan *boring(const char *name, goc_chan *quit) {
    goc_chan *c = goc_chan_make(sizeof(message), 0);
    struct boring_args *a = malloc(sizeof *a);
    *a = (struct boring_args){name, goc_chan_retain(c), goc_chan_retain(quit)};
    goc_go(boring_loop, a);
    return c;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 4;
    goc_chan *quit = goc_chan_make(sizeof(message), 0);
    goc_chan *c = boring("Joe", quit);
    message m;
    for (int i = 0; i < n; i++) {
        goc_recv(c, &m);
        printf("%s\n", m.text);
    }
    goc_send(quit, &(message){"Bye!"});
    goc_recv(quit, &m); /* returns once Joe has cleaned up */
    printf("Joe says: \"%s\"\n", m.text);
    goc_chan_release(c);
    goc_chan_release(quit);
    return 0;
}
