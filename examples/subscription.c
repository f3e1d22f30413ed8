/* Subscription: turn a fetch-now-and-then API into a stream of updates.
 *
 * Mirrors the feed reader of Sameer Ajmani's "Advanced Go Concurrency
 * Patterns" (the lesson's hardest example). A fetcher answers "here are
 * some items, ask again at time next"; a subscription wraps it in a channel
 * of items and a close call:
 *
 *     type Subscription interface {
 *         Updates() <-chan Item // stream of Items
 *         Close() error         // shuts down the stream
 *     }
 *
 * All of the subscription's state lives in one coroutine, loop(), so none of
 * it needs a lock. loop() waits in a single select for whichever of four
 * things happens first:
 *
 *     case <-startFetch:      time to fetch: start one, in its own coroutine
 *     case r := <-fetchDone:  the fetch finished: queue its new items
 *     case errc := <-closing: Close was called: reply, close updates, return
 *     case updates <- first:  the reader took the oldest pending item
 *
 * and it switches cases on and off by setting their channel to NULL (a NULL
 * channel is never ready): no fetch while one runs or while the queue is
 * full; no send while there is nothing to send. That is the whole trick.
 *
 * Close is a request and a reply: it sends loop() a channel on which loop()
 * answers with the last fetch error once it has stopped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"

/* ---- a fake feed ---------------------------------------------------------- */

typedef struct {
    int guid; /* unique per item */
    char title[40];
} item;

#define MAX_FETCH 3 /* items one fetch returns at most */

typedef struct {
    item items[MAX_FETCH];
    int n;
    int64_t next; /* when to fetch again, goc_now clock */
    int err;
} fetch_result;

/* A fake fetcher for one blog. Each fetch returns three posts, one of them
 * seen already (feeds repeat themselves), and asks to be called again in
 * 10 ms; the second fetch fails, as networks do. */
typedef struct {
    const char *blog;
    int calls, newest;
} fetcher;

static fetch_result fetch(fetcher *f) {
    goc_sleep(2 * GOC_MS); /* the network */
    fetch_result r = {.next = goc_now() + 10 * GOC_MS};
    if (++f->calls == 2) {
        r.err = GOC_EAGAIN;
        return r;
    }
    int from = f->newest > 0 ? f->newest : 1; /* repeat the newest */
    for (; r.n < MAX_FETCH; r.n++) {
        item *it = &r.items[r.n];
        it->guid = from + r.n;
        snprintf(it->title, sizeof it->title, "%s post %d", f->blog, it->guid);
    }
    f->newest = from + MAX_FETCH - 1;
    return r;
}

/* ---- the subscription ------------------------------------------------------ */

typedef struct {
    fetcher *fetcher;
    goc_chan *updates; /* of item: the stream; closed by Close   */
    goc_chan *closing; /* of goc_chan * (a chan error): Close's request */
} subscription;

struct fetch_call {
    fetcher *f;
    goc_chan *done; /* of fetch_result, capacity 1 */
};

/* go func() { fetchDone <- fetch() }() */
static void fetch_async(void *p) {
    struct fetch_call a = *(struct fetch_call *)p;
    free(p);
    fetch_result r = fetch(a.f);
    goc_send(a.done, &r); /* capacity 1: never blocks */
    goc_chan_release(a.done);
}

#define MAX_PENDING 10
#define MAX_GUID 4096

static void loop(void *p) {
    subscription *s = p;
    item pending[MAX_PENDING + MAX_FETCH];
    int npending = 0;
    int64_t next = 0; /* when the fetcher wants to be asked again */
    int err = 0;      /* the last fetch's error, for Close */
    bool seen[MAX_GUID] = {false}; /* Go: a map[string]bool */
    goc_chan *fetch_done = NULL; /* non-NULL while a fetch runs */

    for (;;) {
        /* Enable the cases that make sense now; NULL disables the others. */
        goc_chan *start_fetch = NULL;
        if (fetch_done == NULL && npending < MAX_PENDING)
            start_fetch = goc_after(next - goc_now()); /* <= 0: at once */
        goc_chan *updates = npending > 0 ? s->updates : NULL;
        fetch_result result;
        goc_chan *errc;

        goc_case cases[] = {
            GOC_RECV(start_fetch, NULL),
            GOC_RECV(fetch_done, &result),
            GOC_RECV(s->closing, &errc),
            GOC_SEND(updates, &pending[0]),
        };
        int fired = goc_select(cases, 4, GOC_FOREVER);
        goc_chan_release(start_fetch); /* NULL is fine */

        switch (fired) {
        case 0: { /* start a fetch */
            fetch_done = goc_chan_make(sizeof(fetch_result), 1);
            struct fetch_call *c = malloc(sizeof *c);
            *c = (struct fetch_call){s->fetcher, goc_chan_retain(fetch_done)};
            goc_go(fetch_async, c);
            break;
        }
        case 1: /* a fetch finished */
            goc_chan_release(fetch_done);
            fetch_done = NULL;
            next = result.next;
            err = result.err;
            if (err) break; /* try again at next */
            for (int i = 0; i < result.n; i++) {
                item *it = &result.items[i];
                if (it->guid < MAX_GUID && !seen[it->guid]) {
                    seen[it->guid] = true;
                    pending[npending++] = *it;
                }
            }
            break;
        case 2: /* Close: stop, then reply */
            /* No garbage collector: a fetch still running uses the fetcher,
             * which the caller frees once Close returns. Wait for it. */
            if (fetch_done) {
                goc_recv(fetch_done, NULL);
                goc_chan_release(fetch_done);
            }
            goc_close(s->updates);
            goc_send(errc, &err); /* after this, s may be gone */
            return;
        case 3: /* the reader took pending[0] */
            npending--;
            memmove(pending, pending + 1, (size_t)npending * sizeof pending[0]);
            break;
        }
    }
}

static subscription *subscribe(fetcher *f) {
    subscription *s = malloc(sizeof *s);
    *s = (subscription){f, goc_chan_make(sizeof(item), 0), goc_chan_make(sizeof(goc_chan *), 0)};
    goc_go(loop, s);
    return s;
}

/* Stops the stream, frees the subscription, returns the last fetch error. */
static int sub_close(subscription *s) {
    goc_chan *errc = goc_chan_make(sizeof(int), 0);
    goc_send(s->closing, &errc);
    int err;
    goc_recv(errc, &err);
    goc_chan_release(errc);
    goc_chan_release(s->updates);
    goc_chan_release(s->closing);
    free(s);
    return err;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 6;
    fetcher blog = {.blog = "blog.golang.org"};
    subscription *sub = subscribe(&blog);
    item it;
    for (int i = 0; i < n && goc_recv(sub->updates, &it) == GOC_OK; i++)
        printf("%s\n", it.title);
    int err = sub_close(sub);
    printf("closed: %s\n", err ? goc_strerror(err) : "ok");
    return 0;
}
