/* Runtime statistics: goc_stats sums the workers' own counters (rtstats.h)
 * and a few global ones, and measures the stacks.
 *
 * Invariants: every per-worker counter is written by its owner only, with a
 * relaxed load and store, so counting costs the hot paths no atomic
 * read-modify-write and no shared cache line; a reader sums relaxed loads.
 * Each counter only grows, so a later goc_stats never reports less.
 * Locking: maps.lock guards the list of stack mappings; a leaf (lockrank.h),
 * taken under a stack class lock when a slab is mapped.
 *
 * Design: Go keeps such counters per P and sums them on read (runtime/metrics)
 * as well. Switches are the workers' schedule ticks (w->tick), which the
 * monitor reads already: counting them cost nothing new. Committed stack
 * bytes are what mincore(2) finds resident in the stack mappings, measured
 * on read: counting pages as they are touched would need a fault handler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "debug.h"
#include "goc.h"
#include "sched.h"

_Atomic uint64_t goc__stat_wakes_off, goc__stat_polls, goc__stat_blocking;

static struct {
    goc__lock lock;
    struct map {
        char *base;
        size_t len;
    } *v;
    size_t n, cap;
    _Atomic uint64_t reserved;
} maps;

void goc__stat_stack_map(void *base, size_t len) {
    atomic_fetch_add_explicit(&maps.reserved, len, memory_order_relaxed);
    goc__lock_acquire(&maps.lock, GOC__RANK_STATS);
    if (maps.n == maps.cap) {
        size_t cap = maps.cap ? 2 * maps.cap : 64;
        struct map *v = goc__realloc_quiet(maps.v, cap * sizeof *v);
        if (!v) {
            goc__lock_release(&maps.lock);
            return; /* reserved still counts it; committed misses it */
        }
        maps.v = v;
        maps.cap = cap;
    }
    maps.v[maps.n++] = (struct map){base, len};
    goc__lock_release(&maps.lock);
}

void goc__stat_stack_unmap(void *base, size_t len) {
    atomic_fetch_sub_explicit(&maps.reserved, len, memory_order_relaxed);
    goc__lock_acquire(&maps.lock, GOC__RANK_STATS);
    for (size_t i = maps.n; i-- > 0;) {
        if (maps.v[i].base == base) {
            maps.v[i] = maps.v[--maps.n];
            break;
        }
    }
    goc__lock_release(&maps.lock);
}

/* Resident bytes of the stack mappings. */
static uint64_t committed(void) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) page = 4096;
    uint64_t bytes = 0;
    unsigned char *vec = NULL;
    size_t veclen = 0;
    goc__lock_acquire(&maps.lock, GOC__RANK_STATS);
    for (size_t i = 0; i < maps.n; i++) {
        size_t pages = (maps.v[i].len + (size_t)page - 1) / (size_t)page;
        if (pages > veclen) {
            unsigned char *v = goc__realloc_quiet(vec, pages);
            if (!v) break;
            vec = v;
            veclen = pages;
        }
        if (mincore(maps.v[i].base, maps.v[i].len, vec) != 0) continue;
        for (size_t p = 0; p < pages; p++) bytes += (vec[p] & 1) ? (uint64_t)page : 0;
    }
    goc__lock_release(&maps.lock);
    goc__free(vec);
    return bytes;
}

void goc_stats(goc_stats_t *s) {
    if (!s) return;
    memset(s, 0, sizeof *s);
    int64_t started = goc__sched_spawned_off(), exited = 0;
    int n = goc__nworkers();
    for (int i = 0; i < n; i++) {
        goc__w *w = goc__worker(i);
        started += atomic_load_explicit(&w->spawned, memory_order_relaxed);
        exited += atomic_load_explicit(&w->exited, memory_order_relaxed);
        s->switches += atomic_load_explicit(&w->tick, memory_order_relaxed);
        s->parks += GOC__STAT_READ(w, parks);
        s->wakes += GOC__STAT_READ(w, wakes);
        s->steals += GOC__STAT_READ(w, steals);
        s->spins += GOC__STAT_READ(w, spins);
        s->timer_fires += GOC__STAT_READ(w, timer_fires);
    }
    s->wakes += atomic_load_explicit(&goc__stat_wakes_off, memory_order_relaxed);
    s->polls = atomic_load_explicit(&goc__stat_polls, memory_order_relaxed);
    s->blocking_calls = atomic_load_explicit(&goc__stat_blocking, memory_order_relaxed);
    /* Exits were read after spawns: never more finished than started. */
    if (exited > started) exited = started;
    s->coroutines_started = (uint64_t)started;
    s->coroutines_finished = (uint64_t)exited;
    s->coroutines_live = (uint64_t)(started - exited);
    s->workers = n;
    s->stack_bytes_reserved = atomic_load_explicit(&maps.reserved, memory_order_relaxed);
    s->stack_bytes_committed = committed();
}

void goc__stats_print(FILE *f) {
    goc_stats_t s;
    goc_stats(&s);
    fprintf(f,
            "goc stats: coroutines live %llu started %llu finished %llu\n"
            "goc stats: switches %llu parks %llu wakes %llu steals %llu spins %llu\n"
            "goc stats: timer fires %llu polls %llu blocking calls %llu workers %d\n"
            "goc stats: stack bytes reserved %llu committed %llu\n",
            (unsigned long long)s.coroutines_live, (unsigned long long)s.coroutines_started,
            (unsigned long long)s.coroutines_finished, (unsigned long long)s.switches,
            (unsigned long long)s.parks, (unsigned long long)s.wakes,
            (unsigned long long)s.steals, (unsigned long long)s.spins,
            (unsigned long long)s.timer_fires, (unsigned long long)s.polls,
            (unsigned long long)s.blocking_calls, s.workers,
            (unsigned long long)s.stack_bytes_reserved,
            (unsigned long long)s.stack_bytes_committed);
}
