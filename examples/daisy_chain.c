/* Daisy chain: 100,000 coroutines whispering down a line of channels.
 *
 * Mirrors "Daisy-chain" ("Chinese whispers, gopher style") from Rob Pike's
 * "Go Concurrency Patterns":
 *
 *     func f(left, right chan int) { left <- 1 + <-right }
 *
 *     func main() {
 *         const n = 100000
 *         leftmost := make(chan int)
 *         right := leftmost
 *         left := leftmost
 *         for i := 0; i < n; i++ {
 *             right = make(chan int)
 *             go f(left, right)
 *             left = right
 *         }
 *         go func(c chan int) { c <- 1 }(right)
 *         fmt.Println(<-leftmost)
 *     }
 *
 * Every coroutine blocks on its right-hand channel until the 1 sent at the
 * far right end ripples back, one increment per coroutine. The point is how
 * cheap a blocked coroutine is: each here has a 16 KiB stack (goc_go_with),
 * of which it touches a page or so, instead of the 256 KiB default.
 *
 *     daisy_chain [n]      n coroutines (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

struct link {
    goc_chan *left, *right;
};

/* left <- 1 + <-right */
static void whisper(void *p) {
    struct link l = *(struct link *)p;
    free(p);
    int v;
    goc_recv(l.right, &v);
    v++;
    goc_send(l.left, &v);
    goc_chan_release(l.left);
    goc_chan_release(l.right);
}

/* go func(c chan int) { c <- 1 }(right) */
static void shout(void *p) {
    goc_chan *c = p;
    goc_send(c, &(int){1});
    goc_chan_release(c);
}

static const goc_opts small = {.stack_size = 16 * 1024, .name = "whisper"};

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    int64_t start = goc_now();

    goc_chan *leftmost = goc_chan_make(sizeof(int), 0);
    goc_chan *left = goc_chan_retain(leftmost), *right;
    for (int i = 0; i < n; i++) {
        right = goc_chan_make(sizeof(int), 0);
        struct link *l = malloc(sizeof *l);
        *l = (struct link){goc_chan_retain(left), goc_chan_retain(right)};
        if (goc_go_with(&small, whisper, l) != GOC_OK) {
            fprintf(stderr, "daisy_chain: no memory for coroutine %d\n", i);
            return 1;
        }
        goc_chan_release(left); /* the link holds its own reference */
        left = right;
    }
    goc_go(shout, left); /* hands main's reference to the rightmost channel to shout */

    int v;
    goc_recv(leftmost, &v);
    printf("%d\n", v);
    printf("(%d coroutines, %.0f ms)\n", n, (double)(goc_now() - start) / GOC_MS);
    goc_chan_release(leftmost);
    return 0;
}
