/* Ping-pong: two players pass one ball over an unbuffered channel.
 *
 * Mirrors the opening example of Sameer Ajmani's "Advanced Go Concurrency
 * Patterns":
 *
 *     type Ball struct{ hits int }
 *
 *     func main() {
 *         table := make(chan *Ball)
 *         go player("ping", table)
 *         go player("pong", table)
 *         table <- new(Ball) // game on; toss the ball
 *         time.Sleep(1 * time.Second)
 *         <-table // game over; grab the ball
 *     }
 *
 *     func player(name string, table chan *Ball) {
 *         for {
 *             ball := <-table
 *             ball.hits++
 *             fmt.Println(name, ball.hits)
 *             time.Sleep(100 * time.Millisecond)
 *             table <- ball
 *         }
 *     }
 *
 * The channel carries a pointer: whoever received the ball owns it, so the
 * players touch ball->hits without a lock (the send happens-before the
 * receive). Who serves first is up to the scheduler; after that they
 * alternate.
 *
 * In Go the players stay blocked when main returns. Here main, which made
 * the table, closes it once it holds the ball: both players see the close
 * and leave.
 *
 *     ping_pong [ms]       length of the game (default 105 ms; 10 ms per hit)
 */
#include <stdio.h>
#include <stdlib.h>

#include "goc.h"

typedef struct {
    int hits;
} ball;

struct player_args {
    const char *name;
    goc_chan *table; /* of ball * */
};

static void player(void *p) {
    struct player_args a = *(struct player_args *)p;
    free(p);
    ball *b;
    while (goc_recv(a.table, &b) == GOC_OK) { /* GOC_CLOSED: the game is over */
        b->hits++;
        printf("%s %d\n", a.name, b->hits);
        goc_sleep(10 * GOC_MS);
        goc_send(a.table, &b);
    }
    goc_chan_release(a.table);
}

static void go_player(const char *name, goc_chan *table) {
    struct player_args *a = malloc(sizeof *a);
    *a = (struct player_args){name, goc_chan_retain(table)};
    goc_go(player, a);
}

int main(int argc, char **argv) {
    int64_t game = (argc > 1 ? atoi(argv[1]) : 105) * GOC_MS;
    goc_chan *table = goc_chan_make(sizeof(ball *), 0);
    go_player("ping", table);
    go_player("pong", table);

    ball *b = &(ball){0};
    goc_send(table, &b); /* game on; toss the ball */
    goc_sleep(game);
    goc_recv(table, &b); /* game over; grab the ball */
    goc_close(table);    /* and send the players home */
    printf("game over after %d hits\n", b->hits);
    goc_chan_release(table);
    return 0;
}
