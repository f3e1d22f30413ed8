/* Machine context switch: saves exactly the callee-saved state of the ABI and
 * moves to another stack. Three back ends, chosen at build time:
 *   switch_x86_64.S   rbx rbp r12-r15, rsp, MXCSR and the x87 control word;
 *   switch_aarch64.S  x19-x29, lr, sp, d8-d15;
 *   ctx_ucontext.c    makecontext/swapcontext (GOC_CONTEXT=ucontext; slow: a
 *                     sigprocmask syscall per switch), for other platforms.
 *
 * A switch carries one pointer: goc__ctx_swap(from, to, arg) returns, in the
 * context that is resumed, the arg of whoever switched to it. The scheduler
 * passes its worker this way, so code after a switch never reads a stale
 * thread-local (the coroutine may have moved to another thread). */
#ifndef GOC_ARCH_CTX_H
#define GOC_ARCH_CTX_H

#include <stddef.h>

#if defined(GOC_CTX_UCONTEXT)
#include <ucontext.h>
typedef struct goc__ctx {
    ucontext_t uc;
    void *transfer;             /* arg of the last switch into this context */
    void (*fn)(void *, void *); /* entry, for a fresh context                */
    void *arg;
} goc__ctx;
void *goc__ctx_swap(goc__ctx *from, goc__ctx *to, void *arg);
#else
typedef struct goc__ctx {
    void *sp;
} goc__ctx;
void *goc__ctx_switch(void **save_sp, void *sp, void *arg);
static inline void *goc__ctx_swap(goc__ctx *from, goc__ctx *to, void *arg) {
    return goc__ctx_switch(&from->sp, to->sp, arg);
}
#endif

/* Prepares c to run fn(arg, transfer) on the stack [lo, lo + size) at its
 * first goc__ctx_swap; fn must never return. */
void goc__ctx_make(goc__ctx *c, void *lo, size_t size, void (*fn)(void *, void *), void *arg);

#endif
