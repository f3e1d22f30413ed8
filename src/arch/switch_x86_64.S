/* Context switch for x86-64 System V.
 *
 * void *goc__ctx_switch(void **save_sp, void *sp, void *arg)
 *   Pushes the callee-saved registers and the MXCSR / x87 control words, saves
 *   rsp in *save_sp, loads sp, pops the same frame there and returns arg.
 *
 *   It ends in a plain ret. In a microbenchmark that switches between two
 *   different call sites an indirect jmp is faster, but goc parks every
 *   coroutine through one call site, so the return-stack predictor guesses
 *   right, and a jmp would leave the return stack one entry off, mispredicting
 *   every return on the way back up (bench/pingpong, bench/yield; the
 *   figures are in docs/design.md, "Coroutines and the switch").
 *   stmxcsr is not free either, but the ABI makes MXCSR and the x87 control
 *   word callee-saved, so they stay.
 *
 * Frame, from the saved sp upward:
 *   [mxcsr:4 fpucw:2 pad:2] r15 r14 r13 r12 rbx rbp <return address>
 */
#if defined(__x86_64__) && !defined(GOC_CTX_UCONTEXT)
    .text
    .globl goc__ctx_switch
    .hidden goc__ctx_switch
    .type goc__ctx_switch, @function
    .p2align 4
goc__ctx_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    movq %rdx, %rax
    ret
    .cfi_endproc
    .size goc__ctx_switch, .-goc__ctx_switch

/* First code of a fresh context: r12 = arg, r13 = fn, rax = transfer.
 * Calls fn(arg, transfer) on an aligned stack with a null frame pointer, so
 * backtraces end here. fn never returns. */
    .globl goc__ctx_entry
    .hidden goc__ctx_entry
    .type goc__ctx_entry, @function
    .p2align 4
goc__ctx_entry:
    .cfi_startproc
    .cfi_undefined rip
    movq %r12, %rdi
    movq %rax, %rsi
    andq $-16, %rsp
    xorl %ebp, %ebp
    callq *%r13
    ud2
    .cfi_endproc
    .size goc__ctx_entry, .-goc__ctx_entry
#endif
    .section .note.GNU-stack, "", @progbits
