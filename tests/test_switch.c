/* The context switch: every callee-saved register of the ABI, the SSE
 * control/status register's control bits and the x87 control word survive
 * switches, also when the coroutine moves to another worker thread; a new
 * coroutine starts with the default floating-point environment. */
#include <fenv.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"
#include "testutil.h"

static _Atomic long counter;

/* ---- callee-saved integer and FP registers, checked in assembly ------------ */

/* uint64_t probe_callee_saved(void (*fn)(void), uint64_t seed):
 * loads every callee-saved register with a value derived from seed, calls
 * fn, and returns a bit mask of the registers that came back changed. */
uint64_t probe_callee_saved(void (*fn)(void), uint64_t seed);

#if defined(__x86_64__)
/* rbx rbp r12 r13 r14 r15 -> bits 0..5 */
__asm__(
    "    .pushsection .text\n"
    "    .p2align 4\n"
    "    .type probe_callee_saved, @function\n"
    "probe_callee_saved:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    subq $24, %rsp\n" /* 8 + 48 + 24: aligned for the call */
    "    movq %rdi, 0(%rsp)\n"
    "    movq %rsi, 8(%rsp)\n"
    "    movq %rsi, %rbx\n  xorq $0x1111, %rbx\n"
    "    movq %rsi, %rbp\n  xorq $0x2222, %rbp\n"
    "    movq %rsi, %r12\n  xorq $0x3333, %r12\n"
    "    movq %rsi, %r13\n  xorq $0x4444, %r13\n"
    "    movq %rsi, %r14\n  xorq $0x5555, %r14\n"
    "    movq %rsi, %r15\n  xorq $0x6666, %r15\n"
    "    callq *0(%rsp)\n"
    "    xorl %eax, %eax\n"
    "    movq 8(%rsp), %rcx\n"
    "    movq %rcx, %rdx\n  xorq $0x1111, %rdx\n  cmpq %rdx, %rbx\n  je 1f\n  orl $1, %eax\n1:\n"
    "    movq %rcx, %rdx\n  xorq $0x2222, %rdx\n  cmpq %rdx, %rbp\n  je 1f\n  orl $2, %eax\n1:\n"
    "    movq %rcx, %rdx\n  xorq $0x3333, %rdx\n  cmpq %rdx, %r12\n  je 1f\n  orl $4, %eax\n1:\n"
    "    movq %rcx, %rdx\n  xorq $0x4444, %rdx\n  cmpq %rdx, %r13\n  je 1f\n  orl $8, %eax\n1:\n"
    "    movq %rcx, %rdx\n  xorq $0x5555, %rdx\n  cmpq %rdx, %r14\n  je 1f\n  orl $16, %eax\n1:\n"
    "    movq %rcx, %rdx\n  xorq $0x6666, %rdx\n  cmpq %rdx, %r15\n  je 1f\n  orl $32, %eax\n1:\n"
    "    addq $24, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    retq\n"
    "    .size probe_callee_saved, .-probe_callee_saved\n"
    "    .popsection\n"); /* the compiler's idea of the current section holds */
#define PROBE_REGS "rbx rbp r12 r13 r14 r15"
#elif defined(__aarch64__)
/* x19..x29 -> bits 0..10, d8..d15 -> bits 11..18 */
#define CHK(reg, k, bit)                                   \
    "    add x9, x1, #" #k "\n"                            \
    "    cmp " #reg ", x9\n"                               \
    "    b.eq 1f\n"                                        \
    "    orr x0, x0, #" #bit "\n"                          \
    "1:\n"
#define CHKD(reg, k, bit)                                  \
    "    fmov x10, " #reg "\n"                             \
    "    add x9, x1, #" #k "\n"                            \
    "    cmp x10, x9\n"                                    \
    "    b.eq 1f\n"                                        \
    "    orr x0, x0, #" #bit "\n"                          \
    "1:\n"
__asm__(
    "    .pushsection .text\n"
    "    .p2align 4\n"
    "    .type probe_callee_saved, %function\n"
    "probe_callee_saved:\n"
    "    stp x29, x30, [sp, #-176]!\n"
    "    stp x19, x20, [sp, #16]\n"
    "    stp x21, x22, [sp, #32]\n"
    "    stp x23, x24, [sp, #48]\n"
    "    stp x25, x26, [sp, #64]\n"
    "    stp x27, x28, [sp, #80]\n"
    "    stp d8, d9, [sp, #96]\n"
    "    stp d10, d11, [sp, #112]\n"
    "    stp d12, d13, [sp, #128]\n"
    "    stp d14, d15, [sp, #144]\n"
    "    str x1, [sp, #160]\n"
    "    add x19, x1, #0x11\n"
    "    add x20, x1, #0x22\n"
    "    add x21, x1, #0x33\n"
    "    add x22, x1, #0x44\n"
    "    add x23, x1, #0x55\n"
    "    add x24, x1, #0x66\n"
    "    add x25, x1, #0x77\n"
    "    add x26, x1, #0x88\n"
    "    add x27, x1, #0x99\n"
    "    add x28, x1, #0xaa\n"
    "    add x29, x1, #0xbb\n"
    "    add x9, x1, #0x101\n  fmov d8, x9\n"
    "    add x9, x1, #0x202\n  fmov d9, x9\n"
    "    add x9, x1, #0x303\n  fmov d10, x9\n"
    "    add x9, x1, #0x404\n  fmov d11, x9\n"
    "    add x9, x1, #0x505\n  fmov d12, x9\n"
    "    add x9, x1, #0x606\n  fmov d13, x9\n"
    "    add x9, x1, #0x707\n  fmov d14, x9\n"
    "    add x9, x1, #0x808\n  fmov d15, x9\n"
    "    blr x0\n"
    "    mov x0, #0\n"
    "    ldr x1, [sp, #160]\n"
    CHK(x19, 0x11, 0x1) CHK(x20, 0x22, 0x2) CHK(x21, 0x33, 0x4) CHK(x22, 0x44, 0x8)
    CHK(x23, 0x55, 0x10) CHK(x24, 0x66, 0x20) CHK(x25, 0x77, 0x40) CHK(x26, 0x88, 0x80)
    CHK(x27, 0x99, 0x100) CHK(x28, 0xaa, 0x200) CHK(x29, 0xbb, 0x400)
    CHKD(d8, 0x101, 0x800) CHKD(d9, 0x202, 0x1000) CHKD(d10, 0x303, 0x2000)
    CHKD(d11, 0x404, 0x4000) CHKD(d12, 0x505, 0x8000) CHKD(d13, 0x606, 0x10000)
    CHKD(d14, 0x707, 0x20000) CHKD(d15, 0x808, 0x40000)
    "    ldp d14, d15, [sp, #144]\n"
    "    ldp d12, d13, [sp, #128]\n"
    "    ldp d10, d11, [sp, #112]\n"
    "    ldp d8, d9, [sp, #96]\n"
    "    ldp x27, x28, [sp, #80]\n"
    "    ldp x25, x26, [sp, #64]\n"
    "    ldp x23, x24, [sp, #48]\n"
    "    ldp x21, x22, [sp, #32]\n"
    "    ldp x19, x20, [sp, #16]\n"
    "    ldp x29, x30, [sp], #176\n"
    "    ret\n"
    "    .size probe_callee_saved, .-probe_callee_saved\n"
    "    .popsection\n"); /* the compiler's idea of the current section holds */
#define PROBE_REGS "x19..x29 d8..d15"
#endif

#if defined(__x86_64__) || defined(__aarch64__)
static _Atomic uint64_t probe_bad;
static _Atomic long probe_yields;

/* Called with the probe's values in the callee-saved registers. Every few
 * calls it sleeps instead, which parks the coroutine (and, with two workers,
 * often resumes it on the other thread). */
static void switch_point(void) {
    long n = atomic_fetch_add(&probe_yields, 1);
    if (n % 16 == 0)
        goc_sleep(GOC_US * 50);
    else
        goc_yield();
}

static void probe_loop(void *arg) {
    uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 2000; i++) {
        uint64_t bad = probe_callee_saved(switch_point, seed + (uint64_t)i * 0x10000);
        if (bad) atomic_fetch_or(&probe_bad, bad);
    }
    atomic_fetch_add(&counter, 1);
}

TEST(callee_saved_registers_survive_switches) {
    /* Sanity: a call that does not switch keeps them. */
    CHECK_EQ(probe_callee_saved(switch_point, 12345), 0);
    for (int i = 1; i <= 8; i++) CHECK_OK(goc_go(probe_loop, (void *)(uintptr_t)i));
    WAIT_UNTIL(atomic_load(&counter) == 8, 60);
    if (atomic_load(&probe_bad))
        check_fail(__FILE__, __LINE__, "registers (%s) changed across a switch: mask %#llx",
                   PROBE_REGS, (unsigned long long)atomic_load(&probe_bad));
}
#endif

/* ---- floating-point values live across switches ------------------------------- */

/* Many FP and integer values live across each call of sw: the compiler keeps
 * them in callee-saved registers (d8-d15 on AArch64) or spills them. */
static __attribute__((noinline)) double fp_work(void (*sw)(void), int rounds) {
    double a = 1.1, b = 2.2, c = 3.3, d = 4.4, e = 5.5, f = 6.6, g = 7.7, h = 8.8;
    double p = 0.5, q = 0.25, r = 0.125, s = 0.0625;
    unsigned long i1 = 1, i2 = 2, i3 = 3, i4 = 4, i5 = 5, i6 = 6;
    for (int k = 0; k < rounds; k++) {
        a = a * 1.0000001 + b * 1e-7;
        b = b * 0.9999999 + c * 1e-7;
        c = c + d * 1e-8 - e * 1e-8;
        d = d * 1.00000003 + f * 1e-9;
        e = e - g * 1e-9 + h * 1e-9;
        f = f * 0.99999997 + a * 1e-9;
        g = g + p * q;
        h = h - r * s;
        p = p * 1.0000001;
        q = q * 0.9999999;
        r = r + 1e-12;
        s = s - 1e-12;
        i1 += i2 ^ (unsigned long)k;
        i2 += i3 * 3;
        i3 ^= i4 + (unsigned long)k;
        i4 += i5 >> 1;
        i5 = i5 * 5 + i6;
        i6 += (unsigned long)k;
        sw();
    }
    return a + b + c + d + e + f + g + h + p + q + r + s +
           (double)((i1 ^ i2 ^ i3 ^ i4 ^ i5 ^ i6) & 0xffff);
}

static void no_switch(void) {}
static void yield_switch(void) { goc_yield(); }

static double fp_reference;
static _Atomic int fp_mismatch;

static void fp_loop(void *arg) {
    (void)arg;
    double v = fp_work(yield_switch, 5000);
    if (v != fp_reference) atomic_store(&fp_mismatch, 1);
    atomic_fetch_add(&counter, 1);
}

TEST(fp_values_survive_switches) {
    fp_reference = fp_work(no_switch, 5000);
    for (int i = 0; i < 8; i++) CHECK_OK(goc_go(fp_loop, NULL));
    WAIT_UNTIL(atomic_load(&counter) == 8, 60);
    CHECK_EQ(atomic_load(&fp_mismatch), 0);
}

/* ---- MXCSR and the x87 control word (x86-64) ---------------------------------- */

#if defined(__x86_64__)
static uint32_t get_mxcsr(void) {
    uint32_t v;
    __asm__ __volatile__("stmxcsr %0" : "=m"(v));
    return v;
}
static void set_mxcsr(uint32_t v) { __asm__ __volatile__("ldmxcsr %0" : : "m"(v)); }
static uint16_t get_fpucw(void) {
    uint16_t v;
    __asm__ __volatile__("fnstcw %0" : "=m"(v));
    return v;
}
static void set_fpucw(uint16_t v) { __asm__ __volatile__("fldcw %0" : : "m"(v)); }

#define MXCSR_CONTROL 0xffc0u /* masks, DAZ, rounding, FTZ; not the flags */

/* Per coroutine k: an SSE rounding mode (and FTZ/DAZ on odd k) and an x87
 * rounding mode and precision. */
static uint32_t mxcsr_for(int k) {
    return (0x1f80u & ~0x6000u) | ((uint32_t)(k & 3) << 13) | (k & 1 ? 0x8040u : 0);
}
static uint16_t fpucw_for(int k) {
    static const unsigned precision[3] = {0, 2, 3}; /* single, double, extended */
    return (uint16_t)((0x037fu & ~0x0f00u) | ((unsigned)((k + 1) & 3) << 10) | precision[k % 3] << 8);
}

static volatile double one = 1.0, three = 3.0, tiny = 1e-310;
static volatile long double lone = 1.0L, lthree = 3.0L;

struct fp_result {
    double third, denormal;
    long double lthird;
};

static struct fp_result compute(void) {
    struct fp_result r;
    r.third = one / three;
    r.denormal = tiny * one; /* flushed to zero under DAZ */
    r.lthird = lone / lthree;
    return r;
}

static struct fp_result fp_expected[8];
static _Atomic int fp_env_bad;
static _Atomic uint32_t bad_mxcsr;

static void fp_env_loop(void *arg) {
    int k = (int)(intptr_t)arg;
    set_mxcsr(mxcsr_for(k));
    set_fpucw(fpucw_for(k));
    for (int i = 0; i < 1000; i++) {
        if (i % 10 == 0)
            goc_sleep(GOC_US * 20);
        else
            goc_yield();
        uint32_t m = get_mxcsr();
        if ((m & MXCSR_CONTROL) != (mxcsr_for(k) & MXCSR_CONTROL) || get_fpucw() != fpucw_for(k)) {
            atomic_store(&bad_mxcsr, m);
            atomic_store(&fp_env_bad, 1 + k);
        }
        struct fp_result r = compute();
        if (memcmp(&r.third, &fp_expected[k].third, sizeof r.third) != 0 ||
            memcmp(&r.denormal, &fp_expected[k].denormal, sizeof r.denormal) != 0 ||
            memcmp(&r.lthird, &fp_expected[k].lthird, 10) != 0)
            atomic_store(&fp_env_bad, 100 + k);
    }
    atomic_fetch_add(&counter, 1);
}

TEST(mxcsr_and_x87_control_survive_switches) {
    uint32_t m0 = get_mxcsr();
    uint16_t c0 = get_fpucw();
    for (int k = 0; k < 8; k++) {
        set_mxcsr(mxcsr_for(k));
        set_fpucw(fpucw_for(k));
        fp_expected[k] = compute();
    }
    set_mxcsr(m0);
    set_fpucw(c0);
    /* The modes differ where they should, so the check has teeth. */
    CHECK(fp_expected[0].third != fp_expected[2].third);
    CHECK(fp_expected[0].denormal != fp_expected[1].denormal);
    for (int k = 0; k < 8; k++) CHECK_OK(goc_go(fp_env_loop, (void *)(intptr_t)k));
    WAIT_UNTIL(atomic_load(&counter) == 8, 60);
    if (atomic_load(&fp_env_bad))
        check_fail(__FILE__, __LINE__, "coroutine %d lost its FP environment (mxcsr %#x)",
                   atomic_load(&fp_env_bad) - 1, atomic_load(&bad_mxcsr));
    /* The main thread's own modes were never touched by the coroutines. */
    CHECK_EQ(get_mxcsr() & MXCSR_CONTROL, m0 & MXCSR_CONTROL);
    CHECK_EQ(get_fpucw(), c0);
}

static _Atomic uint32_t child_mxcsr;
static _Atomic uint32_t child_fpucw;

static void read_fp_env(void *arg) {
    (void)arg;
    atomic_store(&child_mxcsr, get_mxcsr());
    atomic_store(&child_fpucw, get_fpucw());
    atomic_fetch_add(&counter, 1);
}

static void spawn_with_odd_env(void *arg) {
    (void)arg;
    set_mxcsr(mxcsr_for(3));
    set_fpucw(fpucw_for(3));
    CHECK_OK(goc_go(read_fp_env, NULL)); /* runs next, on this worker */
    goc_yield();
    goc_sleep(GOC_MS);
    atomic_fetch_add(&counter, 1);
}

TEST(new_coroutine_starts_with_default_fp_env) {
    CHECK_OK(goc_go(spawn_with_odd_env, NULL));
    WAIT_UNTIL(atomic_load(&counter) == 2, 60);
    CHECK_EQ(atomic_load(&child_mxcsr) & MXCSR_CONTROL, 0x1f80);
    CHECK_EQ(atomic_load(&child_fpucw), 0x037f);
}
#endif

/* ---- the C library's view ---------------------------------------------------- */

static _Atomic int round_bad;

static void fesetround_loop(void *arg) {
    static const int modes[4] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    int mode = modes[(intptr_t)arg % 4];
    fesetround(mode);
    for (int i = 0; i < 1000; i++) {
        goc_yield();
        if (fegetround() != mode) atomic_store(&round_bad, 1);
    }
    atomic_fetch_add(&counter, 1);
}

TEST(fesetround_is_per_coroutine) {
    for (int i = 0; i < 8; i++) CHECK_OK(goc_go(fesetround_loop, (void *)(intptr_t)i));
    WAIT_UNTIL(atomic_load(&counter) == 8, 60);
    CHECK_EQ(atomic_load(&round_bad), 0);
    CHECK_EQ(fegetround(), FE_TONEAREST);
}

static _Atomic int child_round = -1;

static void read_round(void *arg) {
    (void)arg;
    atomic_store(&child_round, fegetround());
    atomic_fetch_add(&counter, 1);
}

static void spawn_with_upward(void *arg) {
    (void)arg;
    fesetround(FE_UPWARD);
    CHECK_OK(goc_go(read_round, NULL));
    goc_yield();
    goc_sleep(GOC_MS);
    CHECK_EQ(fegetround(), FE_UPWARD);
    atomic_fetch_add(&counter, 1);
}

TEST(new_coroutine_rounds_to_nearest) {
    CHECK_OK(goc_go(spawn_with_upward, NULL));
    WAIT_UNTIL(atomic_load(&counter) == 2, 60);
    CHECK_EQ(atomic_load(&child_round), FE_TONEAREST);
}
