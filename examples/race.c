/* The lesson's data race, and three ways to fix it.
 *
 * Mirrors the lesson's first program:
 *
 *     var count = 0
 *     func add() { count++ }
 *     func main() { go add(); go add() }
 *
 * count++ is a read, an add and a write. Two coroutines doing it at once,
 * with nothing ordering one after the other, is a data race: the result is
 * undefined (updates get lost), and it may look right a thousand times
 * before it doesn't. So do not judge by the count below; judge by the race
 * detector: built with ThreadSanitizer (`make race`, goc's `go run -race`),
 * this program reports the racy version and stays silent for the fixes:
 *
 *   mutex    guard the state that stays put with a lock (sync.Mutex)
 *   atomic   make the increment one indivisible step (sync/atomic)
 *   channel  let one coroutine own the counter and send it increments:
 *            "do not communicate by sharing memory; share memory by
 *            communicating"
 *
 * (The lesson's rule of thumb: data that moves goes through channels; state
 * that stays put, read and changed in place, gets a lock.)
 *
 * main waits for the adders with a WaitGroup (sync.WaitGroup) in every
 * version; the lesson's main returns at once, which hides the bug and the
 * result alike.
 *
 *     race [racy|mutex|atomic|channel]…   the versions to run (default: all)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "goc.h"

#define ADDS 100000 /* per coroutine: enough for lost updates to show */

/* ---- racy: the lesson's program ----------------------------------------- */

static long count;

static void add(void *arg) {
    goc_wg *wg = arg;
    for (int i = 0; i < ADDS; i++) count++; /* DATA RACE */
    goc_wg_done(wg);
}

static long racy(void) {
    goc_wg wg = GOC_WG_INIT;
    goc_wg_add(&wg, 2);
    goc_go(add, &wg);
    goc_go(add, &wg);
    goc_wg_wait(&wg);
    return count;
}

/* ---- fix 1: a mutex ------------------------------------------------------ */

static long locked_count;
static goc_mutex mu = GOC_MUTEX_INIT;

static void add_locked(void *arg) {
    goc_wg *wg = arg;
    for (int i = 0; i < ADDS; i++) {
        goc_mutex_lock(&mu);
        locked_count++;
        goc_mutex_unlock(&mu);
    }
    goc_wg_done(wg);
}

static long with_mutex(void) {
    goc_wg wg = GOC_WG_INIT;
    goc_wg_add(&wg, 2);
    goc_go(add_locked, &wg);
    goc_go(add_locked, &wg);
    goc_wg_wait(&wg);
    return locked_count;
}

/* ---- fix 2: an atomic ------------------------------------------------------ */

static atomic_long atomic_count;

static void add_atomic(void *arg) {
    goc_wg *wg = arg;
    for (int i = 0; i < ADDS; i++) atomic_fetch_add(&atomic_count, 1);
    goc_wg_done(wg);
}

static long with_atomic(void) {
    goc_wg wg = GOC_WG_INIT;
    goc_wg_add(&wg, 2);
    goc_go(add_atomic, &wg);
    goc_go(add_atomic, &wg);
    goc_wg_wait(&wg);
    return atomic_load(&atomic_count);
}

/* ---- fix 3: a coroutine owns the counter ----------------------------------- */

struct counter {
    goc_chan *incr; /* of int: amounts to add                     */
    goc_chan *read; /* of long: the total, sent once incr closes */
};

/* The only code that touches the count: a local variable of its own. */
static void counter_loop(void *arg) {
    struct counter *c = arg;
    long count = 0;
    int n;
    while (goc_recv(c->incr, &n) == GOC_OK) count += n;
    goc_send(c->read, &count);
}

struct adder {
    goc_chan *incr;
    goc_wg *wg;
};

static void add_by_message(void *arg) {
    struct adder *a = arg;
    for (int i = 0; i < ADDS; i++) goc_send(a->incr, &(int){1});
    goc_wg_done(a->wg);
}

static long with_channel(void) {
    struct counter c = {goc_chan_make(sizeof(int), 64), goc_chan_make(sizeof(long), 0)};
    goc_go(counter_loop, &c);

    goc_wg wg = GOC_WG_INIT;
    struct adder a = {c.incr, &wg};
    goc_wg_add(&wg, 2);
    goc_go(add_by_message, &a);
    goc_go(add_by_message, &a);
    goc_wg_wait(&wg);

    goc_close(c.incr); /* the senders are done: closing is theirs to do */
    long total;
    goc_recv(c.read, &total);
    goc_chan_release(c.incr);
    goc_chan_release(c.read);
    return total;
}

static const struct {
    const char *name, *what;
    long (*run)(void);
} versions[] = {
    {"racy", "count++ from two coroutines", racy},
    {"mutex", "count++ under a goc_mutex", with_mutex},
    {"atomic", "atomic_fetch_add", with_atomic},
    {"channel", "one coroutine owns count; the others send it increments", with_channel},
};

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep our lines in order with TSan's */
    int nversions = (int)(sizeof versions / sizeof versions[0]);
    for (int v = 0; v < nversions; v++) {
        bool wanted = argc < 2;
        for (int a = 1; a < argc; a++) wanted |= strcmp(argv[a], versions[v].name) == 0;
        if (!wanted) continue;
        printf("%-8s %s\n", versions[v].name, versions[v].what);
        long n = versions[v].run();
        printf("%-8s count = %ld (want %d)%s\n", "", n, 2 * ADDS,
               v == 0 ? ", right or wrong by luck: ask the race detector" : "");
    }
    return 0;
}
