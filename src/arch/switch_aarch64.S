/* Context switch for AArch64 (AAPCS64).
 *
 * void *goc__ctx_switch(void **save_sp, void *sp, void *arg)
 *   Saves x19-x29, lr, d8-d15 and FPCR in a 176-byte frame, stores sp in
 *   *save_sp, loads sp, restores the same frame there and returns arg to the
 *   saved lr. FPCR (rounding mode, FZ, DN) is per coroutine, as MXCSR and the
 *   x87 control word are on x86-64: fesetround in one coroutine must not leak
 *   into the others of its thread. msr fpcr is skipped when unchanged. It
 *   ends in ret, so the return predictor stays in step (switch_x86_64.S).
 *
 * Frame, from the saved sp upward:
 *   d8..d15 (0x00-0x3f) x19..x28 (0x40-0x8f) x29 x30 (0x90-0x9f) fpcr pad
 *   (a fresh frame is zeroed: FPCR 0 is the default environment)
 */
#if defined(__aarch64__) && !defined(GOC_CTX_UCONTEXT)
    .text
    .globl goc__ctx_switch
    .hidden goc__ctx_switch
    .type goc__ctx_switch, %function
    .p2align 4
goc__ctx_switch:
    .cfi_startproc
    sub sp, sp, #0xb0
    stp d8, d9, [sp, #0x00]
    stp d10, d11, [sp, #0x10]
    stp d12, d13, [sp, #0x20]
    stp d14, d15, [sp, #0x30]
    stp x19, x20, [sp, #0x40]
    stp x21, x22, [sp, #0x50]
    stp x23, x24, [sp, #0x60]
    stp x25, x26, [sp, #0x70]
    stp x27, x28, [sp, #0x80]
    stp x29, x30, [sp, #0x90]
    mrs x10, fpcr
    str x10, [sp, #0xa0]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldp d8, d9, [sp, #0x00]
    ldp d10, d11, [sp, #0x10]
    ldp d12, d13, [sp, #0x20]
    ldp d14, d15, [sp, #0x30]
    ldp x19, x20, [sp, #0x40]
    ldp x21, x22, [sp, #0x50]
    ldp x23, x24, [sp, #0x60]
    ldp x25, x26, [sp, #0x70]
    ldp x27, x28, [sp, #0x80]
    ldp x29, x30, [sp, #0x90]
    ldr x9, [sp, #0xa0]
    cmp x9, x10
    b.eq 1f
    msr fpcr, x9
1:
    add sp, sp, #0xb0
    mov x0, x2
    ret
    .cfi_endproc
    .size goc__ctx_switch, .-goc__ctx_switch

/* First code of a fresh context: x19 = arg, x20 = fn, x0 = transfer.
 * Calls fn(arg, transfer) with a null frame record; fn never returns. */
    .globl goc__ctx_entry
    .hidden goc__ctx_entry
    .type goc__ctx_entry, %function
    .p2align 4
goc__ctx_entry:
    .cfi_startproc
    .cfi_undefined x30
    mov x1, x0
    mov x0, x19
    mov x29, #0
    mov x30, #0
    blr x20
    brk #0
    .cfi_endproc
    .size goc__ctx_entry, .-goc__ctx_entry
#endif
    .section .note.GNU-stack, "", %progbits
