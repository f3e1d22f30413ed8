/* Stack slots: carving, caching, trimming, guards.
 *
 * A slot is [guard GOC__STACK_GUARD][stack ......... record goc__g]. Slots of
 * one class are carved from slabs, large MAP_NORESERVE regions (one VMA each,
 * merged by the kernel when adjacent), so a million stacks need no million
 * VMAs. A free slot is in exactly one place:
 *   a worker's cache    pages resident, reused on the spawn hot path;
 *   class->fresh        freed recently, pages resident;
 *   class->aged         free since the previous trim, pages resident;
 *   class->runs         never used or trimmed: no resident pages;
 *   nowhere             trimmed beyond IDLE_KEEP: unmapped, no longer ours.
 * Invariants: fresh/aged are lists through the record's `next`; a run is a
 * range of contiguous slots whose guards are installed iff run.guarded;
 * nidle is the sum of the runs' lengths.
 *
 * Locking: class->lock guards fresh, aged and runs; carving a slab registers
 * it with stats.c under it (lockrank.h). Trimming (the monitor) takes the
 * aged list out under the lock and calls madvise outside it.
 *
 * Guards (64 KiB, stack.h says why): MADV_GUARD_INSTALL (Linux 6.13+) marks
 * guard pages without a VMA or memory, and they survive MADV_DONTNEED, so
 * each slot gets them once. Its success is checked, not trusted: qemu-user
 * answers it with 0 and does nothing (it passes only MADV_DONTNEED on), which
 * left stacks with neither guard nor canary (guard_works). Without it, the first
 * GOC__GUARD_VMA_BUDGET slots get the whole guard mprotected (two VMAs each,
 * whatever its length) and every slot a canary word, checked at each
 * switch-out; past the budget the guard is untouched address space, so a
 * frame that skips the canary writes there and not into the neighbouring
 * slot, unreported. Under TSan each stack is its own mapping, unmapped when
 * freed, so TSan forgets its shadow state and a reused stack cannot look like
 * a race between unrelated coroutines.
 */
#include "stack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "g.h"

#if defined(GOC_ASAN)
#include <sanitizer/lsan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE ((size_t)4096)
#define SLAB_BYTES ((size_t)64 << 20)
#define CANARY 0x676f632d73746b21ULL /* "goc-stk!" */
#define BATCH 16 /* slots opened together */
/* Address space: a worker caches at most CACHE_BYTES of one class (none of
 * the classes above it, so a spawn from any thread reuses a big stack that
 * another freed); a trim keeps IDLE_KEEP of released slots per class
 * reserved and unmaps contiguous stretches of at least UNMAP_MIN beyond it
 * (smaller ones would split mappings, one VMA each). */
#define CACHE_BYTES ((size_t)16 << 20)
#define IDLE_KEEP SLAB_BYTES
#define UNMAP_MIN (SLAB_BYTES / 4)

struct run {
    char *base;
    size_t n;
    bool guarded;
};

struct klass {
    goc__lock lock;
    goc__g *fresh, *aged;
    size_t nfresh, naged;
    struct run *runs;
    size_t nruns, capruns;
    size_t nidle; /* slots in runs: reserved address space, no pages */
};

static enum goc__guard_mode guard_mode = GOC__GUARD_CANARY;
static _Atomic int mprotect_budget = GOC__GUARD_VMA_BUDGET;
static int guard_forced = -1;

void goc__stack_guard_force(enum goc__guard_mode mode) { guard_forced = (int)mode; }

/* The runtime's frames below a coroutine's function (entry, switch, hooks). */
#define RUNTIME_FRAMES ((size_t)1024)
/* _dl_fixup and the symbol lookup under the trampoline's register save. */
#define DL_FIXUP_FRAMES ((size_t)2048)

static size_t reserve;

/* What the lazy-binding trampoline saves: on x86-64 glibc's
 * _dl_runtime_resolve_xsave(c) stores the XSAVE area of every state XCR0
 * enables (CPUID 0xD.0 EBX), plus its own alignment and registers; on
 * AArch64 it stores x0-x8 and q0-q7. Sized from this CPU, so a 4 KiB stack
 * that works on one machine works on an AVX-512 one too. */
static size_t lazy_bind_bytes(void) {
#if defined(__x86_64__)
    unsigned a = 0xd, b = 0, c = 0, d = 0;
    __asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    size_t xsave = b ? b : 4096; /* no XSAVE leaf: assume the worst seen */
    return xsave + 64 + 8 * 16;
#else
    return 512;
#endif
}

size_t goc__stack_reserve(void) { return reserve; }

static size_t class_bytes(int c) { return PAGE << c; }
static size_t slot_bytes(int c) { return GOC__STACK_GUARD + class_bytes(c); }

static int class_of(size_t size) {
    int c = 0;
    while (class_bytes(c) < size) c++;
    return c;
}

/* Whether MADV_GUARD_INSTALL really guards page p (mapped, never touched).
 * A system call that reads a guard page fails with EFAULT; an ordinary
 * page reads as an empty path, ENOENT. An emulator that accepts the advice
 * and ignores it (qemu-user) reads the page as ordinary. The raw syscall,
 * so no sanitizer interceptor reads the path first. */
static bool guard_works(char *p) {
    int saved = errno;
    bool ok = madvise(p, PAGE, MADV_GUARD_INSTALL) == 0 &&
              syscall(SYS_faccessat, AT_FDCWD, p, F_OK, 0) == -1 && errno == EFAULT;
    errno = saved;
    return ok;
}

void goc__stack_init(void) {
    reserve = GOC__G_SIZE + RUNTIME_FRAMES + DL_FIXUP_FRAMES + lazy_bind_bytes();
    /* Under TSan too: each TSan stack is its own mapping, and guard pages
     * (no extra VMA) turn a deep overflow into a fault in the guard, which
     * the SIGSEGV handler reports with the coroutine's id. With canaries
     * alone a deep overflow runs past the slot and TSan reports an anonymous
     * crash (tests/test_stack.c: overflow_reported_with_id_and_name, under
     * make test-tsan). */
    if (guard_forced >= 0) {
        guard_mode = (enum goc__guard_mode)guard_forced;
        return;
    }
    int on_valgrind = 0;
#if defined(GOC_VALGRIND)
    on_valgrind = RUNNING_ON_VALGRIND;
#endif
    char *p = on_valgrind ? NULL : goc__map(2 * PAGE);
    if (p && guard_works(p))
        guard_mode = GOC__GUARD_INSTALL;
    else
        guard_mode = on_valgrind ? GOC__GUARD_CANARY : GOC__GUARD_MPROTECT;
    if (p) goc__unmap(p, 2 * PAGE);
}

enum goc__guard_mode goc__stack_guard_mode(void) { return guard_mode; }

/* The record sits at the top of the slot; slot is the guard's first byte. */
static goc__g *slot_record(char *slot, int c) {
    return (goc__g *)(slot + slot_bytes(c) - GOC__G_SIZE);
}

static char *record_slot(goc__g *g) { return g->stack_lo - GOC__STACK_GUARD; }

/* First use of a slot that has no resident pages. */
static goc__g *slot_open(char *slot, int c, bool guarded, bool first_open) {
    bool canary = guard_mode != GOC__GUARD_INSTALL;
    if (!guarded && guard_mode == GOC__GUARD_INSTALL &&
        madvise(slot, GOC__STACK_GUARD, MADV_GUARD_INSTALL) != 0)
        canary = true;
    /* The whole guard: two VMAs whatever its length. */
    if (!guarded && guard_mode == GOC__GUARD_MPROTECT && atomic_fetch_sub(&mprotect_budget, 1) > 0)
        mprotect(slot, GOC__STACK_GUARD, PROT_NONE);
#if defined(GOC_ASAN) && !defined(GOC_TSAN)
    /* Stacks hold pointers too: the leak checker must scan them (not the
     * guards, which fault). Register each slot once, at its first opening:
     * open_batch may have installed its guards just before. */
    if (first_open) __lsan_register_root_region(slot + GOC__STACK_GUARD, class_bytes(c));
#else
    (void)first_open;
#endif
    goc__g *g = slot_record(slot, c);
    g->stack_lo = slot + GOC__STACK_GUARD;
    g->stack_size = class_bytes(c);
    g->sclass = (uint8_t)c;
    g->canary = canary;
    if (canary) *(uint64_t *)g->stack_lo = CANARY;
    return g;
}

bool goc__stack_canary_dead(const goc__g *g) {
    return g->canary && *(const uint64_t *)g->stack_lo != CANARY;
}

#if defined(GOC_TSAN)

goc__g *goc__stack_alloc(goc__stacks *cache, size_t size) {
    (void)cache;
    int c = class_of(size);
    char *slot = goc__map(slot_bytes(c));
    if (slot) goc__stat_stack_map(slot, slot_bytes(c));
    return slot ? slot_open(slot, c, false, true) : NULL;
}

void goc__stack_free(goc__stacks *cache, goc__g *g) {
    (void)cache;
    goc__stat_stack_unmap(record_slot(g), slot_bytes(g->sclass));
    goc__unmap(record_slot(g), slot_bytes(g->sclass));
}

bool goc__stack_trim(void) { return false; }
size_t goc__stack_rss_slots(void) { return 0; }

#else

static struct klass classes[GOC__STACK_CLASSES];

/* Resident free stacks a worker keeps: fewer of the big ones, none of the
 * biggest (0: spawns and exits go through the shared pool). */
static uint32_t cache_max(int c) {
    size_t n = CACHE_BYTES / class_bytes(c);
    return n > 64 ? 64 : n < 2 ? 0 : (uint32_t)n;
}

/* With k locked: records n contiguous slots at base as a run. */
static bool runs_push(struct klass *k, int c, char *base, size_t n, bool guarded) {
    if (k->nruns > 0) {
        struct run *last = &k->runs[k->nruns - 1];
        if (last->n == 0) {
            *last = (struct run){base, n, guarded};
            k->nidle += n;
            return true;
        }
        if (last->guarded == guarded && last->base + last->n * slot_bytes(c) == base) {
            last->n += n;
            k->nidle += n;
            return true;
        }
    }
    if (k->nruns == k->capruns) {
        size_t cap = k->capruns ? k->capruns * 2 : 16;
        struct run *r = goc__realloc(k->runs, cap * sizeof *r);
        if (!r) return false;
        k->runs = r;
        k->capruns = cap;
    }
    k->runs[k->nruns++] = (struct run){base, n, guarded};
    k->nidle += n;
    return true;
}

/* With k locked: one slot with no resident pages, from a run or a new slab. */
static char *carve(struct klass *k, int c, bool *guarded) {
    while (k->nruns > 0) {
        struct run *r = &k->runs[k->nruns - 1];
        if (r->n == 0) {
            k->nruns--;
            continue;
        }
        char *slot = r->base;
        r->base += slot_bytes(c);
        r->n--;
        k->nidle--;
        *guarded = r->guarded;
        return slot;
    }
    size_t per = SLAB_BYTES / slot_bytes(c);
    if (per == 0) per = 1;
    char *slab = goc__map(per * slot_bytes(c));
    if (!slab) return NULL;
    madvise(slab, per * slot_bytes(c), MADV_NOHUGEPAGE);
    goc__stat_stack_map(slab, per * slot_bytes(c));
    if (per > 1 && !runs_push(k, c, slab + slot_bytes(c), per - 1, false)) {
        goc__unmap(slab + slot_bytes(c), (per - 1) * slot_bytes(c));
    }
    *guarded = false;
    return slab;
}

static goc__g *pop(goc__g **list, size_t *n) {
    goc__g *g = *list;
    if (g) {
        *list = g->next;
        (*n)--;
    }
    return g;
}

/* With k locked: up to n slots with no resident pages, into v. */
static size_t carve_n(struct klass *k, int c, char **v, bool *guarded, size_t n) {
    size_t got = 0;
    while (got < n && (v[got] = carve(k, c, &guarded[got]))) got++;
    return got;
}

/* Readies fresh slots in bulk: one vectored call installs the guards of all
 * of them and one faults in their top pages (the record and the first frames
 * live there), instead of a syscall and a page fault per spawn. Where the
 * kernel lacks process_madvise, slot_open installs guards one by one and the
 * pages fault on first touch. */
static void open_batch(int c, char **v, bool *guarded, size_t n, goc__g **out) {
    struct iovec guards[BATCH], tops[BATCH] = {{0}};
    bool first_open[BATCH]; /* not guarded before: never opened */
    size_t ng = 0;
    if (n == 0) return;
    for (size_t i = 0; i < n; i++) {
        first_open[i] = !guarded[i];
        if (!guarded[i] && guard_mode == GOC__GUARD_INSTALL)
            guards[ng++] = (struct iovec){v[i], GOC__STACK_GUARD};
        tops[i] = (struct iovec){v[i] + slot_bytes(c) - PAGE, PAGE};
    }
    if (ng > 0 && goc__vmadvise(guards, ng, MADV_GUARD_INSTALL) == 0)
        for (size_t i = 0; i < n; i++) guarded[i] = guarded[i] || guard_mode == GOC__GUARD_INSTALL;
    goc__vmadvise(tops, n, MADV_POPULATE_WRITE);
    for (size_t i = 0; i < n; i++) out[i] = slot_open(v[i], c, guarded[i], first_open[i]);
}

/* Takes one slot from the shared pool of class c, resident ones first. */
static goc__g *class_take(int c) {
    struct klass *k = &classes[c];
    goc__lock_acquire(&k->lock, GOC__RANK_STACK);
    goc__g *g = pop(&k->fresh, &k->nfresh);
    if (!g) g = pop(&k->aged, &k->naged);
    if (g) {
        goc__lock_release(&k->lock);
        return g;
    }
    char *slot;
    bool guarded;
    size_t n = carve_n(k, c, &slot, &guarded, 1);
    goc__lock_release(&k->lock);
    if (n == 0) return NULL;
    open_batch(c, &slot, &guarded, 1, &g);
    return g;
}

/* Fills an empty cache with freshly opened slots; false when out of memory. */
static bool cache_open_fresh(goc__stacks *cache, int c) {
    char *v[BATCH];
    bool guarded[BATCH];
    goc__g *g[BATCH];
    size_t want = cache_max(c) / 2 < BATCH ? cache_max(c) / 2 : BATCH;
    struct klass *k = &classes[c];
    goc__lock_acquire(&k->lock, GOC__RANK_STACK);
    size_t n = carve_n(k, c, v, guarded, want);
    goc__lock_release(&k->lock);
    open_batch(c, v, guarded, n, g);
    for (size_t i = 0; i < n; i++) {
        g[i]->next = cache->c[c].head;
        cache->c[c].head = g[i];
        cache->c[c].n++;
    }
    return n > 0;
}

/* Moves up to n resident slots of class c from the shared pool into cache. */
static void cache_refill(goc__stacks *cache, int c, uint32_t n) {
    struct klass *k = &classes[c];
    goc__lock_acquire(&k->lock, GOC__RANK_STACK);
    while (n-- > 0) {
        goc__g *g = pop(&k->fresh, &k->nfresh);
        if (!g) g = pop(&k->aged, &k->naged);
        if (!g) break;
        g->next = cache->c[c].head;
        cache->c[c].head = g;
        cache->c[c].n++;
    }
    goc__lock_release(&k->lock);
}

goc__g *goc__stack_alloc(goc__stacks *cache, size_t size) {
    if (size > class_bytes(GOC__STACK_CLASSES - 1)) return NULL;
    int c = class_of(size);
    if (!cache || cache_max(c) == 0) return class_take(c);
    if (!cache->c[c].head) cache_refill(cache, c, cache_max(c) / 2);
    if (!cache->c[c].head && !cache_open_fresh(cache, c)) return NULL;
    goc__g *g = cache->c[c].head;
    cache->c[c].head = g->next;
    cache->c[c].n--;
    return g;
}

/* Gives n slots of the list to the shared pool as freshly freed. */
static void class_give(int c, goc__g *head, goc__g *tail, size_t n) {
    struct klass *k = &classes[c];
    goc__lock_acquire(&k->lock, GOC__RANK_STACK);
    tail->next = k->fresh;
    k->fresh = head;
    k->nfresh += n;
    goc__lock_release(&k->lock);
}

void goc__stack_free(goc__stacks *cache, goc__g *g) {
    int c = g->sclass;
    if (!cache || cache_max(c) == 0) {
        class_give(c, g, g, 1);
        return;
    }
    g->next = cache->c[c].head;
    cache->c[c].head = g;
    if (++cache->c[c].n <= cache_max(c)) return;
    /* Over the limit: hand the older half to the pool in one batch. */
    uint32_t keep = cache_max(c) / 2;
    goc__g *last = cache->c[c].head;
    for (uint32_t i = 1; i < keep; i++) last = last->next;
    goc__g *head = last->next, *tail = head;
    size_t n = 1;
    while (tail->next) {
        tail = tail->next;
        n++;
    }
    last->next = NULL;
    cache->c[c].n = keep;
    class_give(c, head, tail, n);
}

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Gives n contiguous slots at base back to the kernel, address space and
 * all; false when munmap refused (they stay mapped). */
static bool unmap_slots(int c, char *base, size_t n) {
#if defined(GOC_ASAN)
    for (size_t i = 0; i < n; i++)
        __lsan_unregister_root_region(base + i * slot_bytes(c) + GOC__STACK_GUARD, class_bytes(c));
#endif
    if (goc__unmap_try(base, n * slot_bytes(c)) == 0) return true;
#if defined(GOC_ASAN)
    for (size_t i = 0; i < n; i++)
        __lsan_register_root_region(base + i * slot_bytes(c) + GOC__STACK_GUARD, class_bytes(c));
#endif
    return false;
}

/* Releases the pages of n slots (addresses in v, sorted) and records them as
 * runs, or unmaps them beyond the class's IDLE_KEEP; contiguous slots share
 * one call. */
static void release_sorted(int c, char **v, size_t n) {
    struct klass *k = &classes[c];
    size_t sb = slot_bytes(c);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && v[j] == v[j - 1] + sb) j++;
        size_t bytes = (j - i) * sb;
        goc__lock_acquire(&k->lock, GOC__RANK_STACK);
        bool unmap = bytes >= UNMAP_MIN && k->nidle * sb + bytes > IDLE_KEEP;
        goc__lock_release(&k->lock);
        if (unmap && unmap_slots(c, v[i], j - i)) {
            i = j;
            continue;
        }
        madvise(v[i], bytes, MADV_DONTNEED);
        goc__lock_acquire(&k->lock, GOC__RANK_STACK);
        bool ok = runs_push(k, c, v[i], j - i, true); /* guards survive DONTNEED */
        goc__lock_release(&k->lock);
        if (!ok) { /* no memory for the run: keep them as slots, reopened
                    * (their records were in the pages just released) */
            for (size_t m = i; m < j; m++) {
                goc__g *g = slot_open(v[m], c, true, false);
                class_give(c, g, g, 1);
            }
        }
        i = j;
    }
}

static void trim_class(int c) {
    struct klass *k = &classes[c];
    goc__lock_acquire(&k->lock, GOC__RANK_STACK);
    goc__g *list = k->aged;
    size_t n = k->naged;
    k->aged = k->fresh;
    k->naged = k->nfresh;
    k->fresh = NULL;
    k->nfresh = 0;
    goc__lock_release(&k->lock);
    if (n == 0) return;
    char **v = goc__malloc(n * sizeof *v);
    if (!v) {
        /* No memory to sort: give them back aged; the next trim tries again. */
        goc__lock_acquire(&k->lock, GOC__RANK_STACK);
        goc__g *tail = list;
        while (tail->next) tail = tail->next;
        tail->next = k->aged;
        k->aged = list;
        k->naged += n;
        goc__lock_release(&k->lock);
        return;
    }
    size_t i = 0;
    for (goc__g *g = list; g; g = g->next) v[i++] = record_slot(g);
    qsort(v, n, sizeof *v, cmp_ptr);
    /* In canary mode the released pages lose their canaries: those slots are
     * reopened through slot_open, which writes them again. */
    release_sorted(c, v, n);
    goc__free(v);
}

bool goc__stack_trim(void) {
    bool pending = false;
    for (int c = 0; c < GOC__STACK_CLASSES; c++) {
        trim_class(c);
        goc__lock_acquire(&classes[c].lock, GOC__RANK_STACK);
        pending |= classes[c].naged > 0;
        goc__lock_release(&classes[c].lock);
    }
    return pending;
}

size_t goc__stack_rss_slots(void) {
    size_t n = 0;
    for (int c = 0; c < GOC__STACK_CLASSES; c++) {
        goc__lock_acquire(&classes[c].lock, GOC__RANK_STACK);
        n += classes[c].nfresh + classes[c].naged;
        goc__lock_release(&classes[c].lock);
    }
    return n;
}

#endif
