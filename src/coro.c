/* Coroutine lifecycle: start, run, return. A coroutine is a goc__g record at
 * the top of its own stack slot (stack.c); goc_go takes a slot, lays out a
 * first frame that enters g_entry, and hands the record to the scheduler.
 *
 * Invariants: an id is never reused (ids come from per-worker batches of a
 * global counter, so spawning takes no shared cache line); a record is
 * initialised before it is queued, and the spawner's writes happen-before
 * the coroutine's start (the TSan edge on g).
 * Locking: none here; the scheduler's queues order the hand-off.
 */
#include "goc.h"
#include "debug.h"
#include "sched.h"

#define ID_BATCH 1024

static _Atomic uint64_t id_gen;

static uint64_t new_id(goc__w *w) {
    if (!w) return atomic_fetch_add(&id_gen, 1) + 1;
    if (w->id_next == w->id_end) {
        w->id_next = atomic_fetch_add(&id_gen, ID_BATCH) + 1;
        w->id_end = w->id_next + ID_BATCH;
    }
    return w->id_next++;
}

/* First code on a new stack; transfer is the worker that switched to us. */
static GOC_NORETURN void g_entry(void *arg, void *transfer) {
    goc__g *g = arg;
    goc__san_resumed(&g->san);
    goc__sched_entered(transfer);
    goc__race_acquire(g); /* the spawner's writes happen-before the start */
    g->fn(g->arg);
    goc__sched_exit(g);
}

static GOC_INLINE int spawn(const goc_opts *opts, void (*fn)(void *), void *arg, void *pc) {
    size_t size = opts && opts->stack_size ? opts->stack_size : GOC_STACK_DEFAULT;
    if (!fn || size > GOC_STACK_MAX) return GOC_EINVAL;
    if (size < GOC_STACK_MIN) size = GOC_STACK_MIN;
    int r = goc__rt_start();
    if (r != GOC_OK) return r;
    goc__w *w = goc__tls_w();
    size_t need = size + goc__stack_reserve();
    goc__g *g = goc__stack_alloc(w ? &w->stacks : NULL, need);
    if (!g) return GOC_ENOMEM;
    g->kind = GOC__G_CORO;
    g->fn = fn;
    g->arg = arg;
    g->name = opts ? opts->name : NULL;
    g->stack_asked = (uint32_t)size;
    g->id = new_id(w);
    g->next = NULL;
    g->spawn_pc = pc;
    size_t room = (size_t)((char *)g - g->stack_lo);
    /* Stagger stack tops across L1 sets, in what the size class rounded up. */
    size_t skew = g->stack_size - need >= 1024 ? (size_t)(g->id % 16) * 64 : 0;
    goc__san_stack_new(&g->san, g->stack_lo, room);
    goc__ctx_make(&g->ctx, g->stack_lo, room - skew, g_entry, g);
    goc__race_release(g);
    goc__reg_spawn(g);
    goc__sched_spawn(w, g);
    return GOC_OK;
}

/* Both record their caller, for goc_dump's "spawned at". */
GOC_NOINLINE int goc_go_with(const goc_opts *opts, void (*fn)(void *), void *arg) {
    return spawn(opts, fn, arg, __builtin_return_address(0));
}

GOC_NOINLINE int goc_go(void (*fn)(void *), void *arg) {
    return spawn(NULL, fn, arg, __builtin_return_address(0));
}

uint64_t goc_id(void) {
    goc__g *g = goc__self();
    return g->kind == GOC__G_CORO ? g->id : 0;
}
