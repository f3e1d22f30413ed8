/* The guided tour `make demo` runs. For now: a coroutine pipeline over
 * channels with a select timeout, the smallest program that shows goc's
 * pieces working together. */
#include <stdio.h>

#include "goc.h"

static void generate(void *arg) {
    goc_chan *out = arg;
    for (int i = 1; i <= 10; i++) goc_send(out, &i);
    goc_close(out);
}

static void square(void *arg) {
    goc_chan **io = arg;
    int v;
    while (goc_recv(io[0], &v) == GOC_OK) goc_send(io[1], &(int){v * v});
    goc_close(io[1]);
}

int main(void) {
    goc_chan *nums = goc_chan_make(sizeof(int), 0), *squares = goc_chan_make(sizeof(int), 0);
    goc_chan *io[2] = {nums, squares};
    goc_go(generate, nums);
    goc_go(square, io);
    printf("goc demo: %d workers\nsquares:", goc_procs());
    int v, sum = 0;
    while (goc_recv(squares, &v) == GOC_OK) {
        printf(" %d", v);
        sum += v;
    }
    printf("\nsum of squares 1..10 = %d\n", sum);
    goc_case cs[] = {GOC_RECV(NULL, NULL)};
    if (goc_select(cs, 1, 10 * GOC_MS) == GOC_ETIMEDOUT) printf("a select on nothing timed out after 10 ms\n");
    goc_chan_release(nums);
    goc_chan_release(squares);
    return sum == 385 ? 0 : 1;
}
