/* A spinning worker's search of the other workers: their due timers, then
 * half of a queue, for up to SPIN before it goes idle.
 *
 * What is fair game: everything of a worker that is not running a coroutine
 * (or is slow, or retiring); of a busy one, a long ring, or `next` and a
 * short ring only once they have stood still for GRACE, since a coroutine
 * readied on a busy worker is, most of the time, about to run there when its
 * readier blocks, and moving it to another core costs more than its wait.
 */
#include "goc.h"
#include "queues.h"
#include "rand.h"
#include "trace.h"

#define SPIN (5 * GOC_US)  /* a spinning worker's search before it sleeps */
#define GRACE (3 * GOC_US) /* a busy worker's `next` and short ring are its own this long */
#define RING_SHARE 4       /* a ring this long on a busy worker is worth sharing */
#define SHY (1 * GOC_MS)   /* after contention, share only stalled rings this long */

static _Atomic bool test_shy; /* goc__test_steal_shyly */

/* w runs due timers of v (w itself or another worker); true if any ran.
 * A timer's callback readies its sleeper into w's ring, so no more fire than
 * the ring has room for: an overflow would spill the earlier-woken half to
 * the global queue, behind everything there, and later deadlines would run
 * first. The rest fire once the ring has drained. */
bool goc__run_timers(goc__w *w, goc__w *v, int64_t now) {
    if (goc__timers_next(&v->timers) > now) return false;
    int room = GOC_RUNQ_SIZE - (int)goc__runq_len(&w->q);
    int fired = room > 0 ? goc__timers_run(&v->timers, &w->timers, now, room) : 0;
    if (fired > 0) GOC__STAT_ADD(w, timer_fires, fired);
    return fired > 0;
}

/* Has mark (of victim v) stayed the same for GRACE since s first saw it? */
static bool stale(struct goc__seen *s, goc__w *v, uint64_t mark, int64_t now) {
    if (s->victim != v || s->mark != mark) {
        *s = (struct goc__seen){v, mark, now};
        return false;
    }
    return now - s->since >= GRACE;
}

/* v is not running a coroutine, or is slow or retiring: all of its queue is
 * fair game. */
static bool victim_absent(goc__w *v) {
    return !atomic_load_explicit(&v->busy, memory_order_relaxed) ||
           atomic_load_explicit(&v->slow, memory_order_relaxed) ||
           atomic_load_explicit(&v->retire, memory_order_relaxed);
}

/* May a spinner take v's `next` slot? Yes when v is absent, or has run the
 * same coroutine for GRACE since we first saw the slot occupied: then v's
 * coroutine readied it and went on running instead of blocking. Before
 * that, `next` is v's own (hand-off locality; Go waits 3 us the same way). */
static bool next_stealable(goc__w *w, goc__w *v, int64_t now) {
    if (victim_absent(v)) return true;
    if (!atomic_load_explicit(&v->q.next, memory_order_relaxed)) return false;
    return stale(&w->seen_next[v->index % GOC__SEEN], v,
                 atomic_load_explicit(&v->tick, memory_order_relaxed), now);
}

/* May a spinner take half of v's ring? Yes when v is absent, when the ring
 * holds RING_SHARE or more, or when its head has not moved for GRACE (v is
 * not getting to it). A short ring that v is draining stays on v: moving a
 * coroutine to another core costs more than its wait there (bench/select's
 * fan-in into one select). For SHY after w's coroutines last found a channel
 * lock held, a long ring is no reason either: what w would steal fights its
 * victim over channels rather than running beside it (bench/workerpool, 36
 * receivers of one channel; tests/test_sched.c:
 * cpu_bound_work_spreads_while_workers_steal_shyly). Rings whose head stalls
 * are still shared, so work that runs for more than GRACE at a time spreads. */
static bool ring_stealable(goc__w *w, goc__w *v, int64_t now) {
    if (victim_absent(v)) return true;
    uint64_t hv = atomic_load_explicit(&v->q.head, memory_order_relaxed);
    uint32_t len = atomic_load_explicit(&v->q.tail, memory_order_relaxed) - goc__runq_idx(hv);
    if (len == 0) return false;
    bool shy = now < w->shy_until || atomic_load_explicit(&test_shy, memory_order_relaxed);
    if (len >= RING_SHARE && len <= GOC_RUNQ_SIZE && !shy) return true;
    return stale(&w->seen_ring[v->index % GOC__SEEN], v, hv, now);
}

/* One pass over the other workers: their due timers, then half a queue. */
static goc__g *steal_round(goc__w *w, int64_t now) {
    uint32_t contended = atomic_load_explicit(&w->contended, memory_order_relaxed);
    if (contended != w->contended_seen) {
        w->contended_seen = contended;
        w->shy_until = now + SHY;
    }
    int n = atomic_load(&goc__sched.nallw);
    if (n == 0) return NULL; /* we started before we were published */
    uint32_t start = goc__rand(&w->rnd) % (uint32_t)n;
    for (int i = 0; i < n; i++) {
        goc__w *v = goc__sched.allw[(start + (uint32_t)i) % (uint32_t)n];
        if (v == w) continue;
        goc__g *g;
        if (goc__run_timers(w, v, now) && (g = goc__lq_get(w))) return g;
        bool ring = ring_stealable(w, v, now), next = next_stealable(w, v, now);
        uint32_t had = goc__runq_len(&w->q);
        if ((ring || next) && (g = goc__runq_steal(&w->q, &v->q, ring ? GOC_RUNQ_SIZE : 0, next))) {
            GOC__STAT_ADD(w, steals, 1);
            if (GOC__TRACING()) goc__trace_steal(w, g, v->index, goc__runq_len(&w->q) - had + 1);
            return g;
        }
    }
    return NULL;
}

/* A spinning worker looks for work for up to SPIN before it sleeps: waking a
 * sleeping worker costs tens of microseconds, and while one spins, readies
 * elsewhere wake nobody. */
goc__g *goc__spin(goc__w *w) {
    GOC__STAT_ADD(w, spins, 1);
    int64_t start = goc__now();
    for (int round = 0;; round++) {
        int64_t now = round ? goc__now() : start; /* one clock read a round */
        goc__g *g = steal_round(w, now);
        if (g) return g;
        goc__run_timers(w, w, now);
        if ((g = goc__lq_get(w)) || (g = goc__gq_take(w, false))) return g;
        if (round >= 3 && now - start >= SPIN) return NULL;
        for (int k = 0; k < 64; k++) goc__cpu_relax(); /* spare the victims' cache lines */
    }
}

void goc__sched_contended(void) {
    goc__w *w = goc__tls_w();
    if (w)
        atomic_store_explicit(&w->contended,
                              atomic_load_explicit(&w->contended, memory_order_relaxed) + 1,
                              memory_order_relaxed);
}

void goc__test_steal_shyly(bool on) { atomic_store(&test_shy, on); }

uint32_t goc__test_contended(void) {
    uint32_t n = 0;
    for (int i = 0; i < atomic_load(&goc__sched.nallw); i++)
        n += atomic_load_explicit(&goc__sched.allw[i]->contended, memory_order_relaxed);
    return n;
}
