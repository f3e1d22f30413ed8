/* goc__ctx_make for the assembly back ends: lays out the frame that
 * goc__ctx_switch pops so that it "returns" into goc__ctx_entry. */
#include "ctx.h"

#include <stdint.h>

#if !defined(GOC_CTX_UCONTEXT)
void goc__ctx_entry(void);

void goc__ctx_make(goc__ctx *c, void *lo, size_t size, void (*fn)(void *, void *), void *arg) {
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uint64_t *s = (uint64_t *)top;
#if defined(__x86_64__)
    *--s = 0;                           /* pad: keeps the frame 16-aligned */
    *--s = (uint64_t)goc__ctx_entry;    /* the first switch returns here    */
    *--s = 0;                           /* rbp                             */
    *--s = 0;                           /* rbx                             */
    *--s = (uint64_t)arg;               /* r12                             */
    *--s = (uint64_t)fn;                /* r13                             */
    *--s = 0;                           /* r14                             */
    *--s = 0;                           /* r15                             */
    *--s = 0x1F80 | (0x037FULL << 32);  /* default MXCSR, x87 control word */
#elif defined(__aarch64__)
    s -= 0xb0 / 8;
    for (int i = 0; i < 0xb0 / 8; i++) s[i] = 0;
    s[0x40 / 8] = (uint64_t)arg;            /* x19 */
    s[0x48 / 8] = (uint64_t)fn;             /* x20 */
    s[0x98 / 8] = (uint64_t)goc__ctx_entry; /* x30 */
#else
#error "no context switch for this architecture: build with GOC_CONTEXT=ucontext"
#endif
    c->sp = s;
}
#endif
