/* The portable back end: makecontext/swapcontext. Each switch costs a
 * sigprocmask system call, so it is a fallback, not the default. The
 * transfer pointer travels in the target context, never in a thread-local. */
#include "ctx.h"

#if defined(GOC_CTX_UCONTEXT)
#include <stdint.h>
#include <stdlib.h>

static void trampoline(unsigned hi, unsigned lo) {
    goc__ctx *c = (goc__ctx *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
    c->fn(c->arg, c->transfer);
    abort();
}

void goc__ctx_make(goc__ctx *c, void *lo, size_t size, void (*fn)(void *, void *), void *arg) {
    getcontext(&c->uc);
#if defined(__x86_64__)
    /* getcontext captured the spawner's MXCSR and x87 control word; a new
     * coroutine starts with the defaults, as with the assembly back end. */
    c->uc.uc_mcontext.fpregs->mxcsr = 0x1f80;
    c->uc.uc_mcontext.fpregs->cwd = 0x037f;
#endif
    c->uc.uc_stack.ss_sp = lo;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = NULL;
    c->fn = fn;
    c->arg = arg;
    uintptr_t p = (uintptr_t)c;
    makecontext(&c->uc, (void (*)(void))trampoline, 2, (unsigned)(p >> 32), (unsigned)p);
}

void *goc__ctx_swap(goc__ctx *from, goc__ctx *to, void *arg) {
    to->transfer = arg;
    swapcontext(&from->uc, &to->uc);
    return from->transfer;
}
#endif
