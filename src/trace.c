/* The execution trace: GOC_TRACE=file.json writes, at exit, the Chrome
 * trace-event format that Perfetto's UI and chrome://tracing open: one track
 * per worker, a slice per coroutine run (named for the coroutine, with why
 * it stopped), and instant events for spawn, park (with the wait reason) and
 * unpark.
 *
 * Invariants: each worker writes only its own buffer, events in the order
 * they happened on it; an event is complete before the buffer's count that
 * covers it is published (release), and the writer reads the count first
 * (acquire). A full buffer drops what comes next: the trace then ends early
 * on that worker, it never goes wrong. On output every slice has a begin and
 * an end: a run still open at the end of a buffer closes at its last event.
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
 * Formatting waits for exit, off every hot path. Go's tracer streams
 * partitions to a file as it goes; a bounded buffer per worker (EVENTS) is
 * simpler and enough for the seconds a trace is looked at.
 */
#include <stdio.h>
#include <stdlib.h>

#include "debug.h"
#include "goc.h"
#include "sched.h"
#include "trace.h"

#define EVENTS (1u << 18) /* per worker: 6 MiB, some 100 ms of ping-pong */

typedef struct tev {
    int64_t ts;
    uint64_t id;
    uint8_t kind, why;
} tev;

typedef struct trbuf {
    _Atomic uint32_t n;
    const goc__g *last; /* the coroutine of the last RUN, until a STOP */
    tev v[EVENTS];
} trbuf;

bool goc__trace_on;
static trbuf *_Atomic bufs[GOC__MAXW];
static const char *trace_path;
static int64_t t0;

static trbuf *buf_of(goc__w *w) {
    trbuf *b = atomic_load_explicit(&bufs[w->index], memory_order_relaxed);
    if (GOC_UNLIKELY(!b)) {
        b = calloc(1, sizeof *b); /* not goc__malloc: no fault injection here */
        if (!b) return NULL;
        atomic_store_explicit(&bufs[w->index], b, memory_order_release);
    }
    return b;
}

static inline void put(trbuf *b, int64_t ts, int kind, const goc__g *g) {
    uint32_t n = atomic_load_explicit(&b->n, memory_order_relaxed);
    if (n >= EVENTS) return;
    b->v[n] = (tev){ts, g ? g->id : 0, (uint8_t)kind,
                    kind == GOC__TEV_PARK ? atomic_load_explicit(&g->wait, memory_order_relaxed) : 0};
    atomic_store_explicit(&b->n, n + 1, memory_order_release);
}

void goc__trace_event(goc__w *w, int kind, const goc__g *g) {
    trbuf *b;
    if (!w || !(b = buf_of(w)) || atomic_load_explicit(&b->n, memory_order_relaxed) >= EVENTS)
        return;
    int64_t now = goc__now();
    if (kind == GOC__TEV_RUN || kind == GOC__TEV_STOP) {
        /* The coroutine that left: parked if it has a wait reason (its park
         * hook has not run yet, so nobody can have readied it). */
        if (b->last && atomic_load_explicit(&b->last->wait, memory_order_relaxed))
            put(b, now, GOC__TEV_PARK, b->last);
        b->last = g;
    }
    put(b, now, kind, g);
}

static void us(FILE *f, int64_t ns) { fprintf(f, "%lld.%03lld", (long long)(ns / 1000), (long long)(ns % 1000)); }

static void instant(FILE *f, int tid, const char *name, const tev *e, bool *first) {
    fprintf(f, "%s\n{\"name\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":%d,\"ts\":", *first ? "" : ",",
            name, tid);
    us(f, e->ts - t0);
    fprintf(f, ",\"args\":{\"id\":%llu", (unsigned long long)e->id);
    if (e->kind == GOC__TEV_PARK)
        fprintf(f, ",\"reason\":\"%s\"", e->why ? goc__wait_name(e->why) : "parked");
    fprintf(f, "}}");
    *first = false;
}

static void slice(FILE *f, int tid, uint64_t id, int64_t begin, int64_t end, const char *why,
                  bool *first) {
    fprintf(f, "%s\n{\"name\":\"coroutine %llu\",\"cat\":\"run\",\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"ts\":",
            *first ? "" : ",", (unsigned long long)id, tid);
    us(f, begin - t0);
    fprintf(f, ",\"dur\":");
    us(f, end - begin);
    fprintf(f, ",\"args\":{\"id\":%llu,\"stop\":\"%s\"}}", (unsigned long long)id, why);
    *first = false;
}

static void write_trace(void) {
    goc__trace_on = false;
    FILE *f = fopen(trace_path, "w");
    if (!f) {
        fprintf(stderr, "goc: GOC_TRACE: cannot write %s\n", trace_path);
        return;
    }
    fprintf(f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
    bool first = true;
    int nw = goc__nworkers();
    for (int i = 0; i < nw && i < GOC__MAXW; i++) {
        fprintf(f, "%s\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,"
                   "\"args\":{\"name\":\"worker %d\"}}",
                first ? "" : ",", i, i);
        first = false;
        trbuf *b = atomic_load_explicit(&bufs[i], memory_order_acquire);
        if (!b) continue;
        uint32_t n = atomic_load_explicit(&b->n, memory_order_acquire);
        bool open = false;
        uint64_t id = 0;
        int64_t begin = 0, last = 0;
        const char *why = "yield or exit";
        for (uint32_t k = 0; k < n; k++) {
            const tev *e = &b->v[k];
            last = e->ts;
            switch (e->kind) {
            case GOC__TEV_RUN:
                if (open) slice(f, i, id, begin, e->ts, why, &first);
                open = true, id = e->id, begin = e->ts, why = "yield or exit";
                break;
            case GOC__TEV_STOP:
                if (open) slice(f, i, id, begin, e->ts, why, &first);
                open = false;
                break;
            case GOC__TEV_PARK:
                why = e->why ? goc__wait_name(e->why) : "parked";
                instant(f, i, "park", e, &first);
                break;
            case GOC__TEV_UNPARK: instant(f, i, "unpark", e, &first); break;
            case GOC__TEV_SPAWN: instant(f, i, "spawn", e, &first); break;
            }
        }
        if (open) slice(f, i, id, begin, last, "trace end", &first);
    }
    fprintf(f, "\n]}\n");
    fclose(f);
}

void goc__trace_start(const char *path) {
    trace_path = path;
    t0 = goc__now();
    atexit(write_trace);
    goc__trace_on = true;
}
