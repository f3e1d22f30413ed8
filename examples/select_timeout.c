/* Timeouts with select: per message, and for the whole conversation.
 *
 * Mirrors "Timeout using select" and "Timeout for whole conversation using
 * select" from Rob Pike's "Go Concurrency Patterns":
 *
 *     for {                                       timeout := time.After(5 * time.Second)
 *         select {                                for {
 *         case s := <-c:                              select {
 *             fmt.Println(s)                          case s := <-c:
 *         case <-time.After(1 * time.Second):             fmt.Println(s)
 *             fmt.Println("You're too slow.")         case <-timeout:
 *             return                                      fmt.Println("You talk too much.")
 *         }                                               return
 *     }                                               }
 *                                                 }
 *
 * time.After inside the loop restarts the clock for every message; made once
 * outside the loop it bounds the whole conversation. goc_after is
 * time.After; its channel must be released like any other. (goc_select's
 * own timeout argument says the per-message form in one call.)
 *
 * In Go the abandoned talker stays blocked forever on its send; here main
 * closes a quit channel and the talker returns (see quit_signal.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

typedef struct {
    char text[32];
} message;

struct talker_args {
    const char *name;
    int64_t pause, slowdown; /* before message i it waits pause + i * slowdown */
    goc_chan *c, *quit;
};

static void talker(void *p) {
    struct talker_args a = *(struct talker_args *)p;
    free(p);
    for (int i = 0;; i++) {
        goc_sleep(a.pause + i * a.slowdown);
        message m;
        snprintf(m.text, sizeof m.text, "%s %d", a.name, i);
        goc_case cases[] = {GOC_SEND(a.c, &m), GOC_RECV(a.quit, NULL)};
        if (goc_select(cases, 2, GOC_FOREVER) == 1) break; /* told to stop */
    }
    goc_chan_release(a.c);
    goc_chan_release(a.quit);
}

/* Starts a talker; closing quit stops it. */
static goc_chan *talk(const char *name, int64_t pause, int64_t slowdown, goc_chan *quit) {
    goc_chan *c = goc_chan_make(sizeof(message), 0);
    struct talker_args *a = malloc(sizeof *a);
    *a = (struct talker_args){name, pause, slowdown, goc_chan_retain(c), goc_chan_retain(quit)};
    goc_go(talker, a);
    return c;
}

/* Joe gets slower with every message (0, 20, 40, 60 ms …); we give each
 * message 50 ms. */
static void timeout_per_message(void) {
    goc_chan *quit = goc_chan_make(0, 0);
    goc_chan *c = talk("Joe", 0, 20 * GOC_MS, quit);
    for (;;) {
        message m;
        goc_chan *timeout = goc_after(50 * GOC_MS); /* a fresh clock per message */
        goc_case cases[] = {GOC_RECV(c, &m), GOC_RECV(timeout, NULL)};
        int i = goc_select(cases, 2, GOC_FOREVER);
        goc_chan_release(timeout);
        if (i == 1) {
            printf("You're too slow.\n");
            break;
        }
        printf("%s\n", m.text);
    }
    goc_close(quit);
    goc_chan_release(c);
    goc_chan_release(quit);
}

/* Ann speaks every 10 ms; we give the whole conversation 55 ms. */
static void timeout_whole_conversation(void) {
    goc_chan *quit = goc_chan_make(0, 0);
    goc_chan *c = talk("Ann", 10 * GOC_MS, 0, quit);
    goc_chan *timeout = goc_after(55 * GOC_MS); /* one clock for the whole loop */
    for (;;) {
        message m;
        goc_case cases[] = {GOC_RECV(c, &m), GOC_RECV(timeout, NULL)};
        if (goc_select(cases, 2, GOC_FOREVER) == 1) {
            printf("You talk too much.\n");
            break;
        }
        printf("%s\n", m.text);
    }
    goc_chan_release(timeout);
    goc_close(quit);
    goc_chan_release(c);
    goc_chan_release(quit);
}

int main(void) {
    timeout_per_message();
    timeout_whole_conversation();
    return 0;
}
