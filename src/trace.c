/* The execution trace: GOC_TRACE=file.json writes, at exit, the Chrome
 * trace-event format that Perfetto's UI and chrome://tracing open: one track
 * per worker, a slice per coroutine run (named for the coroutine, with why
 * it stopped), instant events for spawn, park (with the wait reason), unpark
 * and steal, and flow arrows from the run that readied or spawned a
 * coroutine to the run where it next runs.
 *
 * Invariants: each worker writes only its own buffer, events in the order
 * they happened on it; an event is complete before the buffer's count that
 * covers it is published (release), and the writer reads the count first
 * (acquire). A full buffer drops what comes next: the trace then ends early
 * on that worker, it never goes wrong. On output every slice has a begin and
 * an end: a run still open at the end of a buffer closes at its last event.
 * Every flow written has both ends: a start (an UNPARK or SPAWN inside a
 * run) and an end (the RUN it names, on any worker, of the same coroutine
 * and no earlier); one whose other end was dropped or never recorded (a
 * ready from the scheduler, from a plain thread) is left out.
 * Locking: none; buffers are allocated by their owner on its first event.
 *
 * Design: recording is a store of 24 bytes and a clock read per event, behind
 * one flag that is set once when the runtime starts, so a program that does
 * not trace pays a load and a predictable branch at each switch, ready and
 * spawn. A switch is recorded once, by the side that resumes (a run ends
 * where the worker's next begins, or where its scheduler resumes), and a
 * park is derived there from the wait reason of the one that left, so
 * parking itself has no hook; the traced paths are separate cold calls, so
 * no hot path keeps registers alive across a call it does not make.
 * A flow's id is where its start lies (worker * EVENTS + index + 1): the
 * readier leaves it in the wakee's record, its next RUN copies it, and the
 * writer checks the pair by indexing, with no table to match ends. Go's
 * tracer links wakers and wakees the same way (GoUnblock, then GoStart).
 * Formatting waits for exit, off every hot path. Go's tracer streams
 * partitions to a file as it goes; a bounded buffer per worker (EVENTS) is
 * simpler and enough for the seconds a trace is looked at.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug.h"
#include "goc.h"
#include "sched.h"
#include "trace.h"

#define EVENTS (1u << 18) /* per worker: 6 MiB, some 100 ms of ping-pong */

_Static_assert((uint64_t)GOC__MAXW * EVENTS < UINT32_MAX, "flow ids fit 32 bits");

typedef struct tev {
    int64_t ts;
    uint64_t id;   /* the coroutine's                                        */
    uint32_t aux;  /* UNPARK, SPAWN: the flow started, RUN: the flow ended   *
                    * (0: none); STEAL: how many coroutines were taken       */
    uint8_t kind;
    uint8_t why;   /* PARK: the wait reason; STEAL: the victim's index low   *
                    * byte, `hi` the rest; writer: flows matched (below)     */
    uint16_t hi;
} tev;

typedef struct trbuf {
    _Atomic uint32_t n;
    _Atomic bool inside; /* the owner is recording an event (enter .. leave) */
    const goc__g *last;  /* the coroutine of the last RUN, until a STOP */
    tev v[EVENTS];
} trbuf;

bool goc__trace_on;
static _Atomic bool recording; /* the truth behind goc__trace_on: see enter() */
static trbuf *_Atomic bufs[GOC__MAXW];
static int64_t t0;

/* Starting and stopping (ctl.lock): OFF -> ON at a start, ON -> WRITING at
 * a stop, WRITING -> OFF once the file is written and closed. */
enum { OFF, ON, WRITING };
static struct {
    pthread_mutex_t lock;
    int state;
    FILE *f;
    char *path;
    bool atexit_set;
} ctl = {.lock = PTHREAD_MUTEX_INITIALIZER};

static trbuf *buf_of(goc__w *w) {
    trbuf *b = atomic_load_explicit(&bufs[w->index], memory_order_relaxed);
    if (GOC_UNLIKELY(!b)) {
        b = calloc(1, sizeof *b); /* not goc__malloc: no fault injection here */
        if (!b) return NULL;
        atomic_store_explicit(&bufs[w->index], b, memory_order_release);
    }
    return b;
}

/* w's buffer, with w marked inside it, or NULL when not recording. A stop
 * clears `recording` and then waits until no buffer is inside; a worker
 * marks itself inside and then reads `recording`. Both orders are seq_cst,
 * so either the worker sees the stop and leaves, or the stop sees it inside
 * and waits for its leave (release): nothing is written into a buffer once
 * the stop has read it (Dekker's pattern). */
static trbuf *enter(goc__w *w) {
    trbuf *b;
    if (!w || !(b = buf_of(w))) return NULL;
    atomic_store(&b->inside, true);
    if (!atomic_load(&recording)) {
        atomic_store_explicit(&b->inside, false, memory_order_release);
        return NULL;
    }
    return b;
}

static void leave(trbuf *b) { atomic_store_explicit(&b->inside, false, memory_order_release); }

/* Appends an event, unless the buffer is full. */
static inline void put(trbuf *b, tev e) {
    uint32_t n = atomic_load_explicit(&b->n, memory_order_relaxed);
    if (n >= EVENTS) return;
    b->v[n] = e;
    atomic_store_explicit(&b->n, n + 1, memory_order_release);
}

static uint32_t flow_id(int worker, uint32_t index) { return (uint32_t)worker * EVENTS + index + 1; }

void goc__trace_event(goc__w *w, int kind, goc__g *g) {
    trbuf *b = enter(w);
    if (!b) return;
    if (atomic_load_explicit(&b->n, memory_order_relaxed) >= EVENTS) {
        if (g) g->trace_flow = 0; /* no flow starts here, and none ends later */
        leave(b);
        return;
    }
    int64_t now = goc__now();
    uint64_t id = g ? g->id : 0;
    if (kind == GOC__TEV_RUN || kind == GOC__TEV_STOP) {
        /* The coroutine that left: parked if it has a wait reason (its park
         * hook has not run yet, so nobody can have readied it). */
        if (b->last && atomic_load_explicit(&b->last->wait, memory_order_relaxed))
            put(b, (tev){.ts = now, .id = b->last->id, .kind = GOC__TEV_PARK,
                         .why = atomic_load_explicit(&b->last->wait, memory_order_relaxed)});
        b->last = g;
        uint32_t flow = 0;
        if (g) {
            flow = g->trace_flow; /* its readier wrote it before queueing it */
            g->trace_flow = 0;
        }
        put(b, (tev){.ts = now, .id = id, .aux = flow, .kind = (uint8_t)kind});
    } else {
        /* UNPARK or SPAWN. Inside a run, a flow starts here (at index n,
         * not full: checked above) and ends where g next runs. */
        uint32_t n = atomic_load_explicit(&b->n, memory_order_relaxed);
        uint32_t flow = b->last ? flow_id(w->index, n) : 0;
        put(b, (tev){.ts = now, .id = id, .aux = flow, .kind = (uint8_t)kind});
        g->trace_flow = flow;
    }
    leave(b);
}

void goc__trace_steal(goc__w *w, const goc__g *g, int victim, uint32_t n) {
    trbuf *b = enter(w);
    if (!b) return;
    put(b, (tev){.ts = goc__now(), .id = g->id, .aux = n, .kind = GOC__TEV_STEAL,
                 .why = (uint8_t)victim, .hi = (uint16_t)(victim >> 8)});
    leave(b);
}

static void us(FILE *f, int64_t ns) { fprintf(f, "%lld.%03lld", (long long)(ns / 1000), (long long)(ns % 1000)); }

typedef struct out {
    FILE *f;
    bool first; /* no event written yet: no comma before the next */
} out;

/* Opens an event: name first (tests/test_debug.c counts events by it). */
static void begin_event(out *o, const char *name, const char *ph, int tid, int64_t ts) {
    fprintf(o->f, "%s\n{\"name\":\"%s\",\"ph\":\"%s\",\"pid\":1,\"tid\":%d,\"ts\":",
            o->first ? "" : ",", name, ph, tid);
    us(o->f, ts - t0);
    o->first = false;
}

static void instant(out *o, int tid, const char *name, const tev *e) {
    begin_event(o, name, "i", tid, e->ts);
    fprintf(o->f, ",\"s\":\"t\",\"args\":{\"id\":%llu", (unsigned long long)e->id);
    if (e->kind == GOC__TEV_PARK)
        fprintf(o->f, ",\"reason\":\"%s\"", e->why ? goc__wait_name(e->why) : "parked");
    if (e->kind == GOC__TEV_STEAL)
        fprintf(o->f, ",\"victim\":%d,\"taken\":%u", e->why | e->hi << 8, e->aux);
    fprintf(o->f, "}}");
}

/* A flow's name: what started it. */
static const char *flow_name(int start_kind) { return start_kind == GOC__TEV_SPAWN ? "first run" : "wakeup"; }

/* The start ("s") or end ("f") of a flow. An end lies 1 ns into the slice
 * it ends (when the slice lasts that long) and binds to it ("bp":"e"), so
 * both viewers find it whatever order they sort equal times in. */
static void flow(out *o, int tid, const char *ph, uint32_t id, int start_kind, int64_t ts) {
    begin_event(o, flow_name(start_kind), ph, tid, ts);
    fprintf(o->f, ",\"cat\":\"flow\",\"id\":%u%s}", id, ph[0] == 'f' ? ",\"bp\":\"e\"" : "");
}

/* A run, from its RUN event to end; the flow that RUN ends, if any, ends in it. */
static void slice(out *o, int tid, const tev *run, int64_t end, const char *why) {
    char name[40];
    snprintf(name, sizeof name, "coroutine %llu", (unsigned long long)run->id);
    begin_event(o, name, "X", tid, run->ts);
    fprintf(o->f, ",\"cat\":\"run\",\"dur\":");
    us(o->f, end - run->ts);
    fprintf(o->f, ",\"args\":{\"id\":%llu,\"stop\":\"%s\"}}", (unsigned long long)run->id, why);
    if (run->aux) flow(o, tid, "f", run->aux, run->why, run->ts + (end > run->ts));
}

/* With every buffer still: the start of the flow that RUN event e ends
 * (UNPARK or SPAWN, same coroutine, no later), or NULL. */
static tev *flow_start(const tev *e, trbuf *const *b, const uint32_t *n, int nw) {
    uint32_t id = e->aux;
    if (!id) return NULL;
    uint32_t w = (id - 1) / EVENTS, k = (id - 1) % EVENTS;
    if ((int)w >= nw || !b[w] || k >= n[w]) return NULL;
    tev *s = &b[w]->v[k];
    if ((s->kind != GOC__TEV_UNPARK && s->kind != GOC__TEV_SPAWN) || s->aux != id ||
        s->id != e->id || s->ts > e->ts)
        return NULL;
    return s;
}

/* Keeps the flows whose two ends were recorded: a start's `why` becomes 1,
 * an end's `why` its start's kind; any other end loses its id. */
static void match_flows(trbuf *const *b, const uint32_t *n, int nw) {
    for (int i = 0; i < nw; i++)
        for (uint32_t k = 0; b[i] && k < n[i]; k++) {
            tev *e = &b[i]->v[k];
            if (e->kind != GOC__TEV_RUN || !e->aux) continue;
            tev *s = flow_start(e, b, n, nw);
            if (s) {
                s->why = 1;
                e->why = s->kind;
            } else {
                e->aux = 0;
            }
        }
}

/* Writes what the buffers hold to f and closes it: GOC_OK or a negated
 * errno. No worker records meanwhile (the stop waited for them). */
static int write_trace(FILE *f) {
    int nw = goc__nworkers();
    if (nw > GOC__MAXW) nw = GOC__MAXW;
    static trbuf *b[GOC__MAXW]; /* static: off a small coroutine stack; ctl.state serialises */
    static uint32_t n[GOC__MAXW];
    for (int i = 0; i < nw; i++) {
        b[i] = atomic_load_explicit(&bufs[i], memory_order_acquire);
        n[i] = b[i] ? atomic_load_explicit(&b[i]->n, memory_order_acquire) : 0;
    }
    match_flows(b, n, nw);
    out o = {f, true};
    fprintf(f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
    for (int i = 0; i < nw; i++) {
        fprintf(f, "%s\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,"
                   "\"args\":{\"name\":\"worker %d\"}}",
                o.first ? "" : ",", i, i);
        o.first = false;
        const tev *run = NULL; /* the open slice's RUN */
        int64_t last = 0;
        const char *why = "yield or exit";
        for (uint32_t k = 0; k < n[i]; k++) {
            const tev *e = &b[i]->v[k];
            last = e->ts;
            switch (e->kind) {
            case GOC__TEV_RUN:
                if (run) slice(&o, i, run, e->ts, why);
                run = e, why = "yield or exit";
                break;
            case GOC__TEV_STOP:
                if (run) slice(&o, i, run, e->ts, why);
                run = NULL;
                break;
            case GOC__TEV_PARK:
                why = e->why ? goc__wait_name(e->why) : "parked";
                instant(&o, i, "park", e);
                break;
            case GOC__TEV_UNPARK:
            case GOC__TEV_SPAWN:
                instant(&o, i, e->kind == GOC__TEV_SPAWN ? "spawn" : "unpark", e);
                if (e->why == 1) flow(&o, i, "s", e->aux, e->kind, e->ts);
                break;
            case GOC__TEV_STEAL: instant(&o, i, "steal", e); break;
            }
        }
        if (run) slice(&o, i, run, last, "trace end");
    }
    fprintf(f, "\n]}\n");
    int r = ferror(f) ? GOC_EIO : GOC_OK;
    if (fclose(f) != 0 && r == GOC_OK) r = errno ? -errno : GOC_EIO;
    return r;
}

static void write_job(void *arg) {
    int *r = arg;
    *r = write_trace(ctl.f);
}

/* goc_trace_stop; helper: a coroutine may format on a goc_blocking thread. */
static int stop(bool helper) {
    pthread_mutex_lock(&ctl.lock);
    if (ctl.state != ON) {
        pthread_mutex_unlock(&ctl.lock);
        return GOC_EINVAL;
    }
    ctl.state = WRITING;
    goc__trace_on = false;
    atomic_store(&recording, false);
    pthread_mutex_unlock(&ctl.lock);
    for (int i = 0; i < GOC__MAXW; i++) {
        trbuf *b = atomic_load_explicit(&bufs[i], memory_order_acquire);
        while (b && atomic_load(&b->inside)) sched_yield(); /* an event takes ~100 ns */
    }
    /* Formatting takes a while (~100 ns an event): on a coroutine, on a
     * helper thread, so the worker goes on running the others. */
    int r = GOC_OK;
    if (!helper || goc__self()->kind != GOC__G_CORO || goc_blocking(write_job, &r) != GOC_OK)
        write_job(&r);
    pthread_mutex_lock(&ctl.lock);
    ctl.f = NULL;
    ctl.state = OFF;
    pthread_mutex_unlock(&ctl.lock);
    return r;
}

int goc_trace_stop(void) { return stop(true); }

/* At exit, a trace still recording is written (GOC_TRACE's, or one that
 * goc_trace_stop never stopped), on the exiting thread: a coroutine that
 * called exit must not park inside it. */
static void stop_at_exit(void) {
    const char *path = ctl.path;
    int r = stop(false);
    if (r != GOC_OK && r != GOC_EINVAL)
        fprintf(stderr, "goc: trace: cannot write %s: %s\n", path ? path : "?", goc_strerror(r));
}

int goc_trace_start(const char *path) {
    if (!path || !*path) return GOC_EINVAL;
    pthread_mutex_lock(&ctl.lock);
    if (ctl.state != OFF) {
        pthread_mutex_unlock(&ctl.lock);
        return GOC_EALREADY;
    }
    char *copy = goc__malloc(strlen(path) + 1);
    if (!copy) {
        pthread_mutex_unlock(&ctl.lock);
        return GOC_ENOMEM;
    }
    strcpy(copy, path);
    FILE *f = fopen(path, "we");
    if (!f) {
        int err = errno ? -errno : GOC_EIO;
        pthread_mutex_unlock(&ctl.lock);
        goc__free(copy);
        return err;
    }
    if (!ctl.atexit_set) ctl.atexit_set = atexit(stop_at_exit) == 0;
    goc__free(ctl.path);
    ctl.path = copy;
    ctl.f = f;
    /* Nobody is inside a buffer (the last stop waited for them, and
     * `recording` is false): they start empty. */
    for (int i = 0; i < GOC__MAXW; i++) {
        trbuf *b = atomic_load_explicit(&bufs[i], memory_order_acquire);
        if (!b) continue;
        atomic_store_explicit(&b->n, 0, memory_order_relaxed);
        b->last = NULL;
    }
    t0 = goc__now();
    ctl.state = ON;
    atomic_store(&recording, true); /* publishes the resets above */
    goc__trace_on = true;
    pthread_mutex_unlock(&ctl.lock);
    return GOC_OK;
}

void goc__trace_env(const char *path) {
    int r = goc_trace_start(path);
    if (r == GOC_EALREADY)
        fprintf(stderr, "goc: GOC_TRACE=%s ignored: goc_trace_start was called first\n", path);
    else if (r != GOC_OK)
        fprintf(stderr, "goc: GOC_TRACE: cannot write %s: %s\n", path, goc_strerror(r));
}
