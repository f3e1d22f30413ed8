/* Coroutine stacks: slots carved from large reserved regions, one size class
 * per power of two from 4 KiB to 1 GiB, cached per worker, pages committed
 * only when touched and handed back to the kernel when idle. The coroutine's
 * record (goc__g) lives at the top of its own slot, in the page the stack
 * touches first, so an idle coroutine costs one page. */
#ifndef GOC_STACK_H
#define GOC_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GOC__STACK_CLASSES 20             /* 4 KiB << 0 .. 4 KiB << 19 = 2 GiB */
/* Below every stack. MADV_GUARD_INSTALL guards cost no VMA and no memory
 * whatever their size, so they are large: a frame of ordinary C up to 64 KiB
 * that skips the stack's last page still faults in its own guard; larger
 * ones are caught when compiled with -fstack-clash-protection (a usage flag
 * of goc's CMake package and goc.pc). */
#define GOC__STACK_GUARD ((size_t)65536)
/* Without MADV_GUARD_INSTALL, this many slots at most get an mprotected
 * guard, two VMAs each; the rest rely on the canary (stack.c). */
#define GOC__GUARD_VMA_BUDGET 8192

struct goc__g;

/* A worker's private cache: LIFO lists of free slots, pages still resident. */
typedef struct goc__stacks {
    struct {
        struct goc__g *head;
        uint32_t n;
    } c[GOC__STACK_CLASSES];
} goc__stacks;

/* How overflows are caught. */
enum goc__guard_mode {
    GOC__GUARD_INSTALL,  /* MADV_GUARD_INSTALL pages: no VMA, everywhere    */
    GOC__GUARD_MPROTECT, /* mprotect pages while the VMA budget lasts + canary */
    GOC__GUARD_CANARY,   /* a canary word checked at every switch-out       */
};

void goc__stack_init(void);
enum goc__guard_mode goc__stack_guard_mode(void);

/* Bytes a slot holds beyond the stack size a user asks for: the coroutine's
 * record, the runtime's own frames, and what the dynamic linker's lazy
 * binding trampoline saves on the stack at a first call through the PLT (the
 * whole XSAVE area on x86-64: ~2.7 KB with AVX-512, CPUID leaf 0xD). Set by
 * goc__stack_init. */
size_t goc__stack_reserve(void);

/* Test hook, before the runtime starts: use this mode instead of probing the
 * kernel, so the mprotect and canary paths run on any kernel. */
void goc__stack_guard_force(enum goc__guard_mode mode);

/* A free slot for a stack of at least `size` bytes (record included), with
 * g->stack_lo, g->stack_size, g->sclass and g->canary set; NULL when out of
 * memory. cache is the calling worker's, or NULL off the workers. */
struct goc__g *goc__stack_alloc(goc__stacks *cache, size_t size);
void goc__stack_free(goc__stacks *cache, struct goc__g *g);

/* Gives the pages of stacks that stayed free since the previous call back to
 * the kernel. Returns true while some freed stacks still await it. */
bool goc__stack_trim(void);

/* True when g's canary word has been overwritten. */
bool goc__stack_canary_dead(const struct goc__g *g);

#endif
