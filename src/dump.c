/* The coroutine dump (goc_dump): the registry of coroutine records, the list
 * of plain threads blocked in goc, and the report, grouped as Go's.
 *
 * Invariants: a record is in the registry at most once, and registered is 1
 * exactly while it is (except in a slot trimmed to zero pages, which reads
 * 0 and is found already there when registered again); a registered record
 * stays mapped while it is registered (slabs are never unmapped; under TSan
 * goc__reg_exit takes it out before its stack is unmapped); live is 1 from
 * spawn until the coroutine has returned.
 *
 * Locking: reg.lock guards the registry's table and is held while the dump
 * copies records out (so under TSan no record is unmapped under it);
 * threads.lock guards the blocked-thread list, and is taken under reg.lock
 * and under the lock a plain thread's wait releases (park.c), a leaf
 * (lockrank.h). Neither is held while writing the report.
 *
 * Design: Go keeps allgs, every g ever made, and marks dead ones; here the
 * record lives at the top of a stack slot and slots are reused, so the
 * registry holds slots' records, added the first time a slot runs a
 * coroutine. Spawning then costs a load and a branch (registered?) and two
 * stores (wait, live), exiting one store, and no lock or shared cache line,
 * where a list of live coroutines under a lock would cost two lock round
 * trips per coroutine. The dump reads each record without stopping its
 * coroutine (goc has no preemption to stop it with): it copies the fields,
 * then checks that the coroutine is still the same one (live, same id).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "chan.h"
#include "debug.h"
#include "goc.h"
#include "sched.h"

#define TOMB ((goc__g *)1)

/* dladdr is in libc from glibc 2.34 and in libdl before: weak, so libgoc
 * needs no -ldl, and prints bare addresses where nobody linked it. */
#pragma weak dladdr
static int symbolise(const void *pc, Dl_info *di) { return dladdr ? dladdr(pc, di) : 0; }

static struct {
    goc__lock lock;
    goc__g **v;       /* open addressing; NULL empty, TOMB deleted */
    size_t cap, used; /* used: entries and tombstones              */
    size_t n;         /* entries                                   */
} reg;

static size_t slot_of(goc__g *g, size_t cap) {
    uint64_t h = (uint64_t)(uintptr_t)g * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

/* With reg.lock: g's place, or the empty one where it would go. */
static size_t find(goc__g *g) {
    size_t i = slot_of(g, reg.cap), tomb = SIZE_MAX;
    for (;; i = (i + 1) & (reg.cap - 1)) {
        if (reg.v[i] == g) return i;
        if (reg.v[i] == TOMB && tomb == SIZE_MAX) tomb = i;
        if (!reg.v[i]) return tomb != SIZE_MAX ? tomb : i;
    }
}

static bool grow_locked(void) {
    size_t cap = reg.cap ? reg.cap * 2 : 1024;
    if (reg.n * 4 < reg.cap) cap = reg.cap; /* mostly tombstones: rehash in place */
    goc__g **old = reg.v, **v = goc__calloc_quiet(cap, sizeof *v);
    if (!v) return false;
    size_t oldcap = reg.cap;
    reg.v = v;
    reg.cap = cap;
    reg.used = reg.n;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i] && old[i] != TOMB) reg.v[find(old[i])] = old[i];
    goc__free(old);
    return true;
}

void goc__reg_add(goc__g *g) {
    goc__lock_acquire(&reg.lock, GOC__RANK_DUMP_REG);
    if ((reg.used + 1) * 2 > reg.cap && !grow_locked()) {
        goc__lock_release(&reg.lock); /* not listed; tried again at its next spawn */
        return;
    }
    size_t i = find(g);
    if (reg.v[i] != g) {
        if (!reg.v[i]) reg.used++;
        reg.v[i] = g;
        reg.n++;
    }
    g->registered = 1;
    goc__lock_release(&reg.lock);
}

#if defined(GOC_TSAN)
void goc__reg_exit(goc__g *g) {
    goc__lock_acquire(&reg.lock, GOC__RANK_DUMP_REG);
    atomic_store_explicit(&g->live, 0, memory_order_relaxed);
    if (g->registered && reg.cap) {
        size_t i = find(g);
        if (reg.v[i] == g) {
            reg.v[i] = TOMB;
            reg.n--;
        }
        g->registered = 0;
    }
    goc__lock_release(&reg.lock);
}
#endif

/* ---- blocked threads ----------------------------------------------------- */

static struct {
    goc__lock lock;
    goc__list list; /* newest first */
    int n;
} threads;

static goc__tblock *tblock_of(goc__link *l) { return GOC__LIST_ENTRY(l, goc__tblock, link); }

static _Thread_local int my_tid;

void goc__thread_blocked(goc__tblock *b, goc__g *g) {
    if (!my_tid) my_tid = (int)syscall(SYS_gettid);
    b->g = g;
    b->tid = my_tid;
    goc__lock_acquire(&threads.lock, GOC__RANK_DUMP_THREADS);
    goc__list_push_front(&threads.list, &b->link);
    threads.n++;
    goc__lock_release(&threads.lock);
    /* Every worker may be idle and the monitor asleep: this may be the
     * block that makes the program deadlocked. */
    if (goc__sched_idle_all()) goc__monitor_kick();
}

void goc__thread_unblocked(goc__tblock *b) {
    goc__lock_acquire(&threads.lock, GOC__RANK_DUMP_THREADS);
    goc__list_remove(&threads.list, &b->link);
    threads.n--;
    goc__lock_release(&threads.lock);
}

int goc__threads_blocked(bool *woken) {
    goc__lock_acquire(&threads.lock, GOC__RANK_DUMP_THREADS);
    int n = threads.n;
    *woken = false;
    for (goc__link *l = threads.list.head; l; l = l->next)
        *woken |= goc__thread_woken(tblock_of(l)->g);
    goc__lock_release(&threads.lock);
    return n;
}

/* ---- the report ---------------------------------------------------------- */

const char *goc__wait_name(int why) {
    static const char *const names[GOC__WAIT_N] = {
        [GOC__WAIT_NONE] = "runnable",
        [GOC__WAIT_RECV] = "chan receive",
        [GOC__WAIT_SEND] = "chan send",
        [GOC__WAIT_NIL] = "nil chan",
        [GOC__WAIT_SELECT] = "select",
        [GOC__WAIT_MUTEX] = "mutex lock",
        [GOC__WAIT_RLOCK] = "rwmutex rlock",
        [GOC__WAIT_WLOCK] = "rwmutex lock",
        [GOC__WAIT_WG] = "waitgroup wait",
        [GOC__WAIT_COND] = "cond wait",
        [GOC__WAIT_SEM] = "semaphore acquire",
        [GOC__WAIT_GROUP] = "group",
        [GOC__WAIT_SLEEP] = "sleep",
        [GOC__WAIT_FD] = "fd wait",
        [GOC__WAIT_BLOCKING] = "blocking call",
    };
    return why >= 0 && why < GOC__WAIT_N && names[why] ? names[why] : "unknown";
}

enum { ST_RUNNING, ST_RUNNABLE, ST_WAITING, ST_THREAD };

typedef struct entry {
    goc__g *g;         /* the record read (coroutines) */
    uint64_t id;       /* coroutine id, or thread id */
    const char *name;
    void *pc;
    const void *obj;
    int64_t since;
    uint32_t arg;
    int state, worker;
    uint8_t why;
    size_t elem;       /* channel waits */
    bool ctx_done;     /* a context's done channel */
} entry;

static int cmp_entry(const void *pa, const void *pb) {
    const entry *a = pa, *b = pb;
#define CMP(x) if (a->x != b->x) return a->x < b->x ? -1 : 1
    CMP(state);
    CMP(worker);
    CMP(why);
    CMP(obj);
    CMP(arg);
    CMP(pc);
    CMP(name);
    CMP(id);
#undef CMP
    return 0;
}

static bool same_group(const entry *a, const entry *b) {
    return a->state == b->state && a->state != ST_RUNNING && a->state != ST_THREAD &&
           a->why == b->why && a->obj == b->obj && a->arg == b->arg && a->pc == b->pc &&
           a->name == b->name;
}

/* Reads g's wait details: what a channel carries, while it still waits. */
static void fill_wait(entry *e, goc__g *g) {
    e->why = atomic_load_explicit(&g->wait, memory_order_relaxed);
    e->obj = g->wait_obj;
    /* Channel waits leave arg as it was (chan.c's hot path skips it). */
    e->arg = e->why == GOC__WAIT_SELECT || e->why == GOC__WAIT_FD ? g->wait_arg : 0;
    e->since = g->wait_since;
    if ((e->why == GOC__WAIT_RECV || e->why == GOC__WAIT_SEND) && e->obj) {
        const goc_chan *c = e->obj;
        e->elem = c->elem;
        e->ctx_done = c->owned_close;
    }
}

static void print_wait(FILE *f, const entry *e, int64_t now, int64_t longest) {
    switch (e->state) {
    case ST_RUNNING: fprintf(f, "running on worker %d", e->worker); return;
    case ST_RUNNABLE: fprintf(f, "runnable"); return;
    default: break;
    }
    fprintf(f, "%s", goc__wait_name(e->why));
    switch (e->why) {
    case GOC__WAIT_RECV:
    case GOC__WAIT_SEND:
        fprintf(f, " %p, elem %zu bytes%s", e->obj, e->elem, e->ctx_done ? ", context done" : "");
        break;
    case GOC__WAIT_SELECT: fprintf(f, ", %u cases", e->arg); break;
    case GOC__WAIT_FD:
        fprintf(f, " fd %d", (int)(intptr_t)e->obj);
        if (e->arg > 1) fprintf(f, " and %u more", e->arg - 1);
        break;
    case GOC__WAIT_BLOCKING: {
        Dl_info di;
        if (symbolise(e->obj, &di) && di.dli_sname)
            fprintf(f, " %s", di.dli_sname);
        else
            fprintf(f, " %p", e->obj);
        break;
    }
    case GOC__WAIT_NIL:
    case GOC__WAIT_SLEEP:
    case GOC__WAIT_NONE: break;
    default: fprintf(f, " %p", e->obj);
    }
    if (longest > 0) {
        int64_t d = now - longest;
        if (d < 0) d = 0;
        fprintf(f, ", %lld.%03llds", (long long)(d / GOC_SEC),
                (long long)(d % GOC_SEC / GOC_MS));
    }
}

void goc__print_pc(FILE *f, const char *what, void *pc) {
    if (!pc) return;
    Dl_info di;
    if (symbolise(pc, &di) && di.dli_fname) {
        if (di.dli_sname)
            fprintf(f, "\t%s %s+0x%tx (%s)\n", what, di.dli_sname,
                    (char *)pc - (char *)di.dli_saddr, di.dli_fname);
        else
            fprintf(f, "\t%s %p (%s+0x%tx)\n", what, pc, di.dli_fname,
                    (char *)pc - (char *)di.dli_fbase);
        return;
    }
    fprintf(f, "\t%s %p\n", what, pc);
}

/* ---- backtraces ----------------------------------------------------------
 * Only of a coroutine parked in the wait the snapshot saw, never of one
 * that runs: under reg.lock (so under TSan its stack stays mapped), its
 * stack from the saved sp up is copied, and kept only if the coroutine
 * still waits the same wait, on no worker, with the same saved sp, after
 * the copy; the copy is unwound after the lock is released (unwind.c). The
 * one window this misses: a coroutine between leaving its worker (`cur`
 * changed) and saving its registers, a few instructions, whose old saved sp
 * can give a short or stale backtrace, never a fault (every read is within
 * the copy). */

enum { BT_DEPTH = 32, BT_COPY = 64 * 1024 };

static bool on_a_worker(const goc__g *g) {
    int nw = goc__nworkers();
    for (int i = 0; i < nw; i++)
        if (*(goc__g *volatile *)&goc__worker(i)->cur == g) return true;
    return false;
}

static bool still_parked(const goc__g *g, const entry *e) {
    return atomic_load_explicit(&g->live, memory_order_acquire) && g->id == e->id &&
           atomic_load_explicit(&g->wait, memory_order_acquire) == e->why && !on_a_worker(g);
}

/* Words, not memcpy: another coroutine's stack, which ASan may have
 * poisoned in part, and no memcpy idiom for the compiler to restore. */
GOC_NO_SANITIZE_ADDRESS static void copy_stack(uint64_t *dst, const uint64_t *src, size_t words) {
    for (size_t i = 0; i < words; i++) {
        dst[i] = ((const volatile uint64_t *)src)[i];
    }
}

/* The return addresses of e's parked stack, innermost first; buf holds
 * BT_COPY bytes. */
static int backtrace_of(const entry *e, void **pcs, uint64_t *buf) {
#if defined(GOC_CTX_UCONTEXT)
    (void)e, (void)pcs, (void)buf;
    return 0;
#else
    goc__g *g = e->g;
    uintptr_t sp = 0;
    size_t len = 0;
    goc__lock_acquire(&reg.lock, GOC__RANK_DUMP_REG);
    if (g && e->state == ST_WAITING && g->registered && still_parked(g, e)) {
        sp = (uintptr_t)g->ctx.sp;
        uintptr_t top = (uintptr_t)g; /* frames lie below the record */
        if (sp % 8 == 0 && sp >= (uintptr_t)g->stack_lo && sp < top) {
            len = top - sp < BT_COPY ? top - sp : BT_COPY;
            copy_stack(buf, (const uint64_t *)sp, len / 8);
            if (!still_parked(g, e) || (uintptr_t)g->ctx.sp != sp) len = 0;
        }
    }
    goc__lock_release(&reg.lock);
    return len ? goc__unwind_copy(buf, sp, len, pcs, BT_DEPTH) : 0;
#endif
}

static void print_backtrace(FILE *f, const entry *e, bool folded, uint64_t *buf) {
    void *pcs[BT_DEPTH];
    int n = buf ? backtrace_of(e, pcs, buf) : 0;
    if (n > 0 && folded) fprintf(f, "	coroutine %llu:\n", (unsigned long long)e->id);
    for (int k = 0; k < n; k++) goc__print_pc(f, "at", pcs[k]);
}

/* Snapshot of every live coroutine and blocked thread; *n entries. NULL when
 * out of memory. */
static entry *snapshot(size_t *n) {
    int nw = goc__nworkers();
    goc__g **cur = goc__calloc_quiet(nw > 0 ? (size_t)nw : 1, sizeof *cur); /* not on a small stack */
    if (!cur) {
        *n = 0;
        return NULL;
    }
    for (int i = 0; i < nw; i++) cur[i] = *(goc__g *volatile *)&goc__worker(i)->cur;
    goc__lock_acquire(&reg.lock, GOC__RANK_DUMP_REG);
    goc__lock_acquire(&threads.lock, GOC__RANK_DUMP_THREADS);
    size_t cap = reg.n + (size_t)threads.n + 1, k = 0;
    entry *v = goc__malloc_quiet(cap * sizeof *v);
    if (!v) goto out;
    for (size_t i = 0; i < reg.cap; i++) {
        goc__g *g = reg.v[i];
        if (!g || g == TOMB || !atomic_load_explicit(&g->live, memory_order_acquire)) continue;
        entry *e = &v[k];
        *e = (entry){.g = g, .id = g->id, .name = g->name, .pc = g->spawn_pc, .worker = -1};
        fill_wait(e, g);
        e->state = e->why ? ST_WAITING : ST_RUNNABLE;
        for (int w = 0; w < nw; w++)
            if (cur[w] == g) e->state = ST_RUNNING, e->worker = w;
        if (e->state == ST_RUNNING) e->why = 0;
        /* Still the same coroutine? (a record is reused after an exit) */
        if (!atomic_load_explicit(&g->live, memory_order_acquire) || g->id != e->id) continue;
        k++;
    }
    for (goc__link *l = threads.list.head; l && k < cap; l = l->next) {
        goc__tblock *b = tblock_of(l);
        entry *e = &v[k++];
        *e = (entry){.g = b->g, .id = (uint64_t)b->tid, .state = ST_THREAD, .worker = -1};
        fill_wait(e, b->g);
    }
out:
    goc__lock_release(&threads.lock);
    goc__lock_release(&reg.lock);
    goc__free(cur);
    *n = k;
    return v;
}

/* Writes v's entries, sorted, folding identical waits. */
static void print_entries(FILE *f, entry *v, size_t n) {
    int64_t now = goc__now();
    qsort(v, n, sizeof *v, cmp_entry);
    uint64_t *bt = goc__malloc_quiet(BT_COPY); /* NULL: no backtraces */
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && same_group(&v[i], &v[j])) j++;
        int64_t longest = 0; /* the earliest known start of the group's waits */
        for (size_t k = i; k < j; k++)
            if (v[k].since > 0 && v[k].since != INT64_MAX && (longest == 0 || v[k].since < longest))
                longest = v[k].since;
        if (v[i].state == ST_WAITING && v[i].why == GOC__WAIT_NONE) longest = 0;
        fputc('\n', f);
        if (v[i].state == ST_THREAD)
            fprintf(f, "thread %llu [", (unsigned long long)v[i].id);
        else if (j - i == 1)
            fprintf(f, "coroutine %llu [", (unsigned long long)v[i].id);
        else
            fprintf(f, "%zu coroutines [", j - i);
        print_wait(f, &v[i], now, v[i].state >= ST_WAITING ? longest : 0);
        fprintf(f, "]");
        if (v[i].name) fprintf(f, " \"%s\"", v[i].name);
        if (j - i > 1) {
            fprintf(f, ": ids");
            for (size_t k = i; k < j && k < i + 16; k++)
                fprintf(f, " %llu", (unsigned long long)v[k].id);
            if (j - i > 16) fprintf(f, " ...");
        }
        fprintf(f, "\n");
        if (v[i].state == ST_WAITING) print_backtrace(f, &v[i], j - i > 1, bt);
        if (v[i].state != ST_THREAD) goc__print_pc(f, "spawned at", v[i].pc);
        i = j;
    }
    fflush(f);
    goc__free(bt);
}

void goc_dump(FILE *f) {
    if (!f) return;
    size_t n;
    entry *v = snapshot(&n);
    if (!v) {
        fprintf(f, "goc: dump: out of memory\n");
        return;
    }
    size_t ncoro = 0;
    for (size_t i = 0; i < n; i++) ncoro += v[i].state != ST_THREAD;
    fprintf(f, "goc: %zu coroutines, %d workers, %zu threads blocked in goc\n", ncoro,
            goc__nworkers(), n - ncoro);
    print_entries(f, v, n);
    goc__free(v);
}

void goc__dump_only(FILE *f, goc__g *const *gs, const uint64_t *ids, size_t m) {
    size_t n, kept = 0;
    entry *v = snapshot(&n);
    if (!v) {
        fprintf(f, "goc: dump: out of memory\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t id = v[i].state == ST_THREAD ? 0 : v[i].id; /* a thread's record has id 0 */
        for (size_t k = 0; k < m; k++)
            if (v[i].g == gs[k] && id == ids[k]) {
                v[kept++] = v[i];
                break;
            }
    }
    print_entries(f, v, kept);
    goc__free(v);
}
