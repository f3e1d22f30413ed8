/* The leak report (GOC_DEBUG=leaks): at exit, the coroutines still alive
 * (goc_dump's list) and the channels never released, with where each was
 * made, folded by place.
 *
 * Invariants: while leak tracking is on, every channel made since the
 * program started is in chans exactly until its last release; the flag is
 * set before main (a constructor) and never changes, so a channel is
 * either tracked from birth to death or not at all.
 * Locking: chans.lock guards the table; a leaf (lockrank.h).
 *
 * Design: Go has no such report (its collector frees what is unreachable;
 * goroutine leaks are found with goleak in tests). Here nothing collects a
 * channel, so a forgotten release is a leak worth a line. Tracking costs a
 * lock per make and release, so it is off unless asked: then
 * goc_chan_make and the last release pay one predictable branch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "debug.h"
#include "goc.h"

bool goc__leaks_on;

#define TOMB ((goc_chan *)1)

static struct {
    goc__lock lock;
    struct ent {
        goc_chan *c;
        void *pc;
    } *v;
    size_t cap, used, n;
} chans;

static size_t slot_of(const goc_chan *c, size_t cap) {
    return (size_t)(((uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

/* With the lock: c's place, or the one where it would go. */
static size_t find(const goc_chan *c) {
    size_t i = slot_of(c, chans.cap), tomb = SIZE_MAX;
    for (;; i = (i + 1) & (chans.cap - 1)) {
        if (chans.v[i].c == c) return i;
        if (chans.v[i].c == TOMB && tomb == SIZE_MAX) tomb = i;
        if (!chans.v[i].c) return tomb != SIZE_MAX ? tomb : i;
    }
}

static bool grow_locked(void) {
    size_t cap = chans.cap ? chans.cap * 2 : 1024;
    if (chans.n * 4 < chans.cap) cap = chans.cap; /* mostly tombstones: rehash */
    struct ent *old = chans.v, *v = goc__calloc_quiet(cap, sizeof *v);
    if (!v) return false;
    size_t oldcap = chans.cap;
    chans.v = v;
    chans.cap = cap;
    chans.used = chans.n;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].c && old[i].c != TOMB) chans.v[find(old[i].c)] = old[i];
    goc__free(old);
    return true;
}

void goc__leak_chan_made(goc_chan *c, void *pc) {
    goc__lock_acquire(&chans.lock, GOC__RANK_LEAKS);
    if ((chans.used + 1) * 2 <= chans.cap || grow_locked()) {
        size_t i = find(c);
        if (!chans.v[i].c) chans.used++;
        chans.v[i] = (struct ent){c, pc};
        chans.n++;
    }
    goc__lock_release(&chans.lock);
}

void goc__leak_chan_freed(goc_chan *c) {
    goc__lock_acquire(&chans.lock, GOC__RANK_LEAKS);
    if (chans.cap) {
        size_t i = find(c);
        if (chans.v[i].c == c) {
            chans.v[i].c = TOMB;
            chans.n--;
        }
    }
    goc__lock_release(&chans.lock);
}

typedef struct leak {
    void *pc;
    size_t elem, cap;
    const goc_chan *c;
} leak;

static int cmp_leak(const void *pa, const void *pb) {
    const leak *a = pa, *b = pb;
    if (a->pc != b->pc) return a->pc < b->pc ? -1 : 1;
    if (a->elem != b->elem) return a->elem < b->elem ? -1 : 1;
    if (a->cap != b->cap) return a->cap < b->cap ? -1 : 1;
    return 0;
}

static void report(void) {
    goc__lock_acquire(&chans.lock, GOC__RANK_LEAKS);
    size_t n = 0;
    leak *v = goc__malloc_quiet((chans.n + 1) * sizeof *v);
    for (size_t i = 0; v && i < chans.cap; i++) {
        goc_chan *c = chans.v[i].c;
        if (c && c != TOMB) v[n++] = (leak){chans.v[i].pc, c->elem, c->cap, c};
    }
    goc__lock_release(&chans.lock);
    size_t live = goc_count();
    FILE *f = stderr;
    if (!v) {
        fprintf(f, "goc: leaks at exit: out of memory for the report\n");
        return;
    }
    if (live == 0 && n == 0) {
        fprintf(f, "goc: no leaks at exit\n");
        goc__free(v);
        return;
    }
    fprintf(f, "goc: leaks at exit: %zu coroutines alive, %zu channels never released\n", live, n);
    if (live) {
        fputc('\n', f);
        goc_dump(f);
    }
    qsort(v, n, sizeof *v, cmp_leak);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && cmp_leak(&v[i], &v[j]) == 0) j++;
        fputc('\n', f);
        if (j - i == 1)
            fprintf(f, "channel %p (elem %zu bytes, cap %zu)\n", (const void *)v[i].c, v[i].elem,
                    v[i].cap);
        else
            fprintf(f, "%zu channels (elem %zu bytes, cap %zu)\n", j - i, v[i].elem, v[i].cap);
        goc__print_pc(f, "made at", v[i].pc);
        i = j;
    }
    fflush(f);
    goc__free(v);
}

__attribute__((constructor)) static void leaks_init(void) {
    if (!goc__env_listed(getenv("GOC_DEBUG"), "leaks")) return;
    goc__leaks_on = true;
    atexit(report);
}
