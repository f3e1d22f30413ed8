/* The execution trace (GOC_TRACE=file.json), the scheduler's side: events
 * recorded into the running worker's own bounded buffer, behind one
 * predictable branch on a flag that is set once, when the runtime starts.
 */
#ifndef GOC_TRACE_H
#define GOC_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "sys.h"

struct goc__g;
struct goc__w;

enum {
    GOC__TEV_RUN,    /* g starts running on the worker (after a switch) */
    GOC__TEV_STOP,   /* the worker is back in its scheduler (g NULL)    */
    GOC__TEV_PARK,   /* g parked (derived at the next RUN or STOP)      */
    GOC__TEV_UNPARK, /* the running coroutine readies g              */
    GOC__TEV_SPAWN,  /* the running coroutine (or g0) starts g       */
    GOC__TEV_STEAL,  /* the worker took g (and more) from another    */
};

/* Set when the runtime starts, cleared at exit. A plain bool, read without
 * an atomic: one `cmpb` and a branch at each site (an _Atomic load took two
 * more instructions); a worker that reads it late only records an event
 * more or less, and the buffers' counts are what the writer trusts. */
extern bool goc__trace_on;

/* Records an event of w, the calling worker: g is the coroutine concerned
 * (NULL for STOP). A run lasts from its RUN to the worker's next RUN or
 * STOP, so a switch is recorded once, by the side that resumes, before it
 * runs the hook of the one that left: that one cannot have been readied
 * yet, so its wait reason, if any, says it parked and why (a PARK event).
 * An UNPARK or SPAWN made inside a run starts a flow, which g's next RUN
 * ends: the id travels in g->trace_flow, written before g is queued. */
void goc__trace_event(struct goc__w *w, int kind, struct goc__g *g);

/* w took g, and n coroutines in all, from worker victim (steal.c). */
void goc__trace_steal(struct goc__w *w, const struct goc__g *g, int victim, uint32_t n);

#define GOC__TRACING() GOC_UNLIKELY(goc__trace_on)

#define GOC__TRACE(w, kind, g)                                   \
    do {                                                         \
        if (GOC__TRACING()) goc__trace_event((w), (kind), (g));  \
    } while (0)

/* GOC_TRACE=path at the runtime's start: goc_trace_start, or a message. */
void goc__trace_env(const char *path);

#endif
