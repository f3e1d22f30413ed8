/* The slow paths of the local run queue: grabbing half for the global queue
 * and stealing half for another worker. The argument for the memory orders is
 * in runq.h. */
#include "runq.h"

uint32_t goc__runq_grab_half(goc__runq *q, struct goc__g **out) {
    for (;;) {
        uint64_t hv = atomic_load_explicit(&q->head, GOC__ACQ);
        uint32_t h = goc__runq_idx(hv), t = atomic_load_explicit(&q->tail, GOC__RLX);
        GOC_ASSERT(t - h <= GOC_RUNQ_SIZE);
        uint32_t n = (t - h) / 2;
        if (n == 0) return 0;
        for (uint32_t i = 0; i < n; i++)
            out[i] = atomic_load_explicit(&q->buf[(h + i) % GOC_RUNQ_SIZE], GOC__RLX);
        if (atomic_compare_exchange_strong_explicit(&q->head, &hv, goc__runq_advance(hv, n),
                                                    GOC__REL, GOC__RLX))
            return n;
    }
}

/* Copies half of src's ring into dst's buffer starting at dst's tail; the
 * entries become dst's only once the caller publishes dst's tail. */
static uint32_t grab(goc__runq *src, goc__runq *dst, uint32_t dt, uint32_t max, bool take_next) {
    for (;;) {
        uint64_t hv = atomic_load_explicit(&src->head, GOC__ACQ);
        uint32_t h = goc__runq_idx(hv), t = atomic_load_explicit(&src->tail, GOC__ACQ);
        uint32_t n = t - h;
        n -= n / 2;
        if (n > max) n = max;
        if (n == 0) {
            if (!take_next) return 0;
            struct goc__g *g = atomic_load_explicit(&src->next, GOC__RLX);
            if (!g) return 0;
            if (!atomic_compare_exchange_strong_explicit(&src->next, &g, NULL, GOC__ACQ, GOC__RLX))
                continue;
            atomic_store_explicit(&dst->buf[dt % GOC_RUNQ_SIZE], g, GOC__RLX);
            return 1;
        }
        if (n > GOC_RUNQ_SIZE / 2) continue; /* h and t read at different times */
        for (uint32_t i = 0; i < n; i++) {
            struct goc__g *g = atomic_load_explicit(&src->buf[(h + i) % GOC_RUNQ_SIZE], GOC__RLX);
            atomic_store_explicit(&dst->buf[(dt + i) % GOC_RUNQ_SIZE], g, GOC__RLX);
        }
        if (atomic_compare_exchange_strong_explicit(&src->head, &hv, goc__runq_advance(hv, n),
                                                    GOC__REL, GOC__RLX))
            return n;
    }
}

struct goc__g *goc__runq_steal(goc__runq *dst, goc__runq *src, uint32_t max, bool take_next) {
    uint32_t t = atomic_load_explicit(&dst->tail, GOC__RLX);
    uint32_t n = grab(src, dst, t, max, take_next);
    if (n == 0) return NULL;
    n--;
    struct goc__g *g = atomic_load_explicit(&dst->buf[(t + n) % GOC_RUNQ_SIZE], GOC__RLX);
    if (n == 0) return g;
    uint32_t h = goc__runq_idx(atomic_load_explicit(&dst->head, GOC__ACQ));
    if (t - h + n >= GOC_RUNQ_SIZE) goc__throw("runq_steal: destination overflow");
    atomic_store_explicit(&dst->tail, t + n, GOC__REL);
    return g;
}
