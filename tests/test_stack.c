/* Stacks: a million coroutines spawned and finished, a million alive at once
 * on small stacks within the VMA budget, RSS back near the baseline after
 * the wave, reuse without page faults, usable sizes, stack overflow reports
 * (guard pages and canaries), and out-of-memory paths. */
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <wchar.h>
#include <sys/socket.h>

#include "check.h"
#include "sched.h"
#include "stack.h"
#include "sys.h"
#include "testutil.h"

static _Atomic long counter;

static void add_one(void *arg) {
    (void)arg;
    atomic_fetch_add(&counter, 1);
}

static void wait_all_exited(void) { WAIT_UNTIL(goc_count() == 0, 120); }

static const char *guard_name(void) {
    switch (goc__stack_guard_mode()) {
    case GOC__GUARD_INSTALL: return "MADV_GUARD_INSTALL";
    case GOC__GUARD_MPROTECT: return "mprotect";
    case GOC__GUARD_CANARY: return "canary";
    }
    return "?";
}

/* ---- a million ------------------------------------------------------------ */

TEST(million_spawned_and_finished) {
    long n = SPAWN_SCALE(1000000);
    for (long i = 0; i < n; i++) {
        if (i % 256 == 0) throttle_live();
        int r = goc_go(add_one, NULL);
        if (r != GOC_OK) check_fail(__FILE__, __LINE__, "spawn %ld: %s", i, goc_err_name(r));
    }
    WAIT_UNTIL(atomic_load(&counter) == n, 120);
    wait_all_exited();
}

static void spawn_many(void *arg) {
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++) {
        int r = goc_go(add_one, NULL);
        if (r != GOC_OK) check_fail(__FILE__, __LINE__, "spawn %ld: %s", i, goc_err_name(r));
        if (i % 64 == 0) goc_yield();
        if (i % 256 == 0) throttle_live();
    }
}

TEST(million_spawned_from_coroutines) {
    long n = SPAWN_SCALE(1000000);
    for (int i = 0; i < 4; i++) CHECK_OK(goc_go(spawn_many, (void *)(intptr_t)(n / 4)));
    WAIT_UNTIL(atomic_load(&counter) == n / 4 * 4, 120);
    wait_all_exited();
}

static gate the_gate;

static void park_at_gate(void *arg) {
    (void)arg;
    gate_wait(&the_gate);
    atomic_fetch_add(&counter, 1);
}

static const size_t small_sizes[] = {4096, 8192, 16384, 5000, 12000};

TEST(million_alive_small_stacks_then_rss_returns) {
    long n = TU_MIN(LIVE_SCALE(1000000), SPAWN_SCALE(1000000) * 2 > 4000 ? LIVE_SCALE(1000000) : 2000);
    /* Warm up: start the runtime, touch the code paths, then let the
     * monitor trim what that wave freed. */
    for (int i = 0; i < 1000; i++) CHECK_OK(goc_go(add_one, NULL));
    WAIT_UNTIL(atomic_load(&counter) == 1000, 60);
    goc_sleep(300 * GOC_MS);
    long base = rss_bytes(), vmas_before = vma_count();

    for (long i = 0; i < n; i++) {
        goc_opts o = {.stack_size = small_sizes[i % 5], .name = "parked"};
        int r = goc_go_with(&o, park_at_gate, NULL);
        if (r != GOC_OK) check_fail(__FILE__, __LINE__, "spawn %ld: %s", i, goc_err_name(r));
    }
    WAIT_UNTIL(gate_waiting(&the_gate) == n, 120);
    CHECK_EQ(goc_count(), n); /* all alive at once */
    long peak = rss_bytes(), vmas = vma_count();
    printf("%ld alive: rss %ld MB over a %ld MB baseline (%ld bytes each), %ld VMAs (%ld before); guards: %s\n",
           n, (peak - base) >> 20, base >> 20, (peak - base) / n, vmas, vmas_before, guard_name());
    /* No VMA per coroutine: a million would pass vm.max_map_count. Without
     * MADV_GUARD_INSTALL (kernels before 6.13, qemu-user) the mprotected
     * guards take two VMAs a slot, within their budget. (Under TSan each
     * stack is its own mapping, and each fiber has TSan's.) */
#ifndef TU_TSAN
    long guard_vmas = goc__stack_guard_mode() == GOC__GUARD_MPROTECT ? 2 * GOC__GUARD_VMA_BUDGET : 0;
    CHECK_OP(vmas, <, vmas_before + 2000 + guard_vmas);
#endif

    CHECK_EQ(gate_open(&the_gate), n);
    WAIT_UNTIL(atomic_load(&counter) == 1000 + n, 120);
    wait_all_exited();
    /* qemu-user keeps a descriptor for every page of address space the
     * program ever mapped, about 6 MiB a GiB, never freed and counted in
     * this process's RSS; the million slots span some 75 GiB. */
    CHECK_SKIP_EMULATED("qemu-user's own page descriptors for the ~75 GiB the slots spanned stay "
                        "resident; the million alive at once and their VMAs were checked");

    /* The monitor returns freed stacks to the kernel about every 100 ms. */
    long allowed = base + (16 << 20) + (peak - base) / 50, now = rss_bytes();
#ifdef CHECK_SANITIZED
    int64_t deadline = goc_now() + GOC_SEC;
#else
    int64_t deadline = goc_now() + 20 * GOC_SEC;
#endif
    while (now > allowed && goc_now() < deadline) {
        goc_sleep(50 * GOC_MS);
        now = rss_bytes();
    }
    printf("after the wave: rss %ld MB (allowed %ld MB), slots still resident in pools: %zu\n",
           now >> 20, allowed >> 20, goc__stack_rss_slots());
#ifndef CHECK_SANITIZED
    CHECK_OP(now, <=, allowed);
#endif
    /* (Not under the sanitizers: TSan keeps its per-fiber state, ~1 MB
     * each, and ASan the shadow of every stack it unpoisoned; the stacks
     * themselves are released, as goc__stack_rss_slots shows.) */
    WAIT_UNTIL(goc__stack_rss_slots() == 0, 20);
}

/* ---- reuse ------------------------------------------------------------------ */

static long minor_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static _Atomic long reuse_faults = -1;

/* Spawns and finishes one child at a time: each spawn should take the stack
 * the previous child just freed, with its pages still resident. */
static void reuse_loop(void *arg) {
    long n = (long)(intptr_t)arg;
    for (int round = 0; round < 2; round++) {
        long f0 = minor_faults();
        for (long i = 0; i < n; i++) {
            long before = atomic_load(&counter);
            CHECK_OK(goc_go(add_one, NULL));
            while (atomic_load(&counter) == before) goc_yield();
        }
        if (round == 1) atomic_store(&reuse_faults, minor_faults() - f0);
    }
}

TEST(stack_reuse_without_page_faults) {
#ifdef TU_TSAN
    return; /* by design each stack is mapped and unmapped under TSan */
#endif
    long n = CHECK_SCALE(100000);
    CHECK_OK(goc_go(reuse_loop, (void *)(intptr_t)n));
    WAIT_UNTIL(atomic_load(&reuse_faults) >= 0, 60);
    long f = atomic_load(&reuse_faults);
    printf("%ld page faults over %ld spawns after warm-up\n", f, n);
    /* A fresh stack costs at least one fault (its record's page). */
    CHECK_OP(f, <, n / 20);
}

/* ---- usable sizes ------------------------------------------------------------ */

static _Atomic int used_ok;

/* A first call through the PLT, different for each index, so the dynamic
 * linker's lazy-binding trampoline runs on the deep stack (the test is not
 * linked with -z now). Arguments go through volatiles: no constant folding. */
static volatile const char *vs1 = "goc", *vs2 = "stack";
static volatile const wchar_t *vws = L"goc";

static __attribute__((noinline)) long first_call(int i) {
    const char *a = (const char *)vs1, *b = (const char *)vs2;
    switch (i) {
    case 0: return strverscmp(a, b);
    case 1: return strcasestr(b, a) != NULL;
    case 2: return memmem(b, 5, a, 1) != NULL;
    case 3: return (long)wcsnlen((const wchar_t *)vws, 8);
    case 4: return (long)strpbrk(b, a);
    case 5: return (long)strcspn(b, a);
    case 6: return strncasecmp(a, b, 2);
    case 7: return (long)strnlen(b, 3);
    case 8: return (long)strxfrm(NULL, a, 0);
    case 9: return (long)strtoul(a, NULL, 36);
    default: return (long)strchrnul(b, 'x');
    }
}

/* Uses `want` bytes of stack in one frame, lowest address first, then calls
 * through the PLT for the first time from the bottom of it. */
static __attribute__((noinline)) void use_stack(size_t want, int call) {
    volatile char *p = __builtin_alloca(want);
    for (size_t i = 0; i < want; i += 256) p[i] = (char)i;
    p[want - 1] = 1;
    if (call >= 0) p[0] = (char)first_call(call);
}

struct use {
    size_t want;
    int call;
};

static void use_stack_entry(void *arg) {
    struct use *u = arg;
    use_stack(u->want, u->call);
    atomic_fetch_add(&used_ok, 1);
}

TEST(requested_stack_size_is_usable) {
    /* What a coroutine may count on: its stack_size less a margin for this
     * test's own frames (a sanitizer's are larger), on every CPU: the first
     * call through the PLT at the bottom of it saves the XSAVE area there. */
#ifdef CHECK_SANITIZED
    size_t margin = 1536;
#else
    size_t margin = 256;
#endif
    static struct use u[11];
    size_t sizes[] = {4096, 8192, 10000, 65536, 100000, GOC_STACK_DEFAULT, 1 << 20, 8 << 20};
    int n = (int)(sizeof sizes / sizeof sizes[0]);
    for (int i = 0; i < n; i++) {
        u[i] = (struct use){sizes[i] - margin, i};
        goc_opts o = {.stack_size = sizes[i], .name = "user"};
        CHECK_OK(goc_go_with(&o, use_stack_entry, &u[i]));
        WAIT_UNTIL(atomic_load(&used_ok) == i + 1, 60); /* one first call each */
    }
    /* Zero means the default. */
    u[n] = (struct use){GOC_STACK_DEFAULT - margin, n};
    goc_opts o = {.stack_size = 0};
    CHECK_OK(goc_go_with(&o, use_stack_entry, &u[n]));
    u[n + 1] = (struct use){GOC_STACK_DEFAULT - margin, n + 1};
    CHECK_OK(goc_go(use_stack_entry, &u[n + 1]));
    WAIT_UNTIL(atomic_load(&used_ok) == n + 2, 60);
}

TEST(largest_stack) {
    static struct use u = {64 << 20, -1};
    goc_opts o = {.stack_size = GOC_STACK_MAX};
    CHECK_OK(goc_go_with(&o, use_stack_entry, &u));
    WAIT_UNTIL(atomic_load(&used_ok) == 1, 60);
}

static void libc_on_default_stack(void *arg) {
    (void)arg;
    char buf[16384];
    /* Large formats: glibc's printf keeps big buffers on the stack. */
    int n = snprintf(buf, sizeof buf, "%.1000f|%5000d|%Lf", 1e300, 42, (long double)1e4000L);
    CHECK_OP(n, >, 6000);
    FILE *f = fopen("/dev/null", "w");
    CHECK(f != NULL);
    fprintf(f, "%s %.500e %*d\n", buf, 1.5, 3000, 7);
    fclose(f);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int r = getaddrinfo("localhost", "80", &hints, &res);
    if (r == 0) freeaddrinfo(res);
    atomic_fetch_add(&used_ok, 1);
}

TEST(default_stack_runs_printf_and_getaddrinfo) {
    for (int i = 0; i < 10; i++) CHECK_OK(goc_go(libc_on_default_stack, NULL));
    WAIT_UNTIL(atomic_load(&used_ok) == 10, 60);
}

/* ---- overflow ----------------------------------------------------------------- */

static volatile int keep_going = 1;

static __attribute__((noinline)) int recurse_forever(int depth) {
    volatile char frame[512];
    frame[0] = (char)depth;
    frame[511] = (char)depth;
    if (!keep_going) return 0;
    return recurse_forever(depth + 1) + frame[0] + frame[511];
}

static void overflow_entry(void *arg) {
    (void)arg;
    printf("id=%llu\n", (unsigned long long)goc_id());
    fflush(stdout);
    for (int i = 0; i < 10; i++) goc_yield();
    recurse_forever(0);
}

/* Overshoots the usable stack by `by` bytes (into the guard zone), returns,
 * then switches out: with guard pages the write faults, with canaries the
 * switch-out finds the canary dead. */
static __attribute__((noinline)) void overshoot(size_t by) {
    char *lo = goc__self()->stack_lo;
    char here;
    size_t room = (size_t)(&here - lo);
    volatile char *p = __builtin_alloca(room + by);
    /* As a frame would: every byte, from `by` bytes under stack_lo up. */
    for (size_t i = 0; i < room + by; i++) p[i] = (char)i;
}

static void canary_entry(void *arg) {
    (void)arg;
    printf("id=%llu\n", (unsigned long long)goc_id());
    fflush(stdout);
    overshoot(256);
    goc_yield();
    goc_sleep(GOC_MS);
    printf("survived\n");
    fflush(stdout);
}

/* A frame larger than the stack left and the old 16 KiB guard together, as
 * a compiler without stack-clash protection lays it out: the frame's lowest
 * byte is written first, 32 KiB under the stack's lowest byte, nothing in
 * between touched. */
static __attribute__((noinline)) void skip_down(void) {
    char here;
    size_t room = (size_t)(&here - goc__self()->stack_lo);
    volatile char *p = (volatile char *)((uintptr_t)&here - room - 32768);
    *p = 1;
}

static void skip_entry(void *arg) {
    (void)arg;
    printf("id=%llu\n", (unsigned long long)goc_id());
    fflush(stdout);
    skip_down();
    printf("survived\n"); /* in a neighbour's slot: silent corruption */
    fflush(stdout);
    _exit(3);
}

/* A frame far larger than any guard, built with -fstack-clash-protection
 * (goc's usage flags, which the tests inherit as any user program does): the
 * compiler probes each page on the way down, so the first probe lands in the
 * guard; without the flag the lowest byte lands megabytes below, in another
 * coroutine's slot. */
static __attribute__((noinline)) void big_alloca(size_t n) {
    volatile char *p = __builtin_alloca(n);
    p[0] = 1;
    p[n - 1] = 1;
}

static void alloca_entry(void *arg) {
    (void)arg;
    printf("id=%llu\n", (unsigned long long)goc_id());
    fflush(stdout);
    big_alloca((size_t)1 << 20);
    printf("survived\n");
    fflush(stdout);
    _exit(3);
}

static void overflow_child(const char *kind) {
    const char *mode = getenv("OVERFLOW_GUARD");
    if (mode && strcmp(mode, "canary") == 0) goc__stack_guard_force(GOC__GUARD_CANARY);
    if (mode && strcmp(mode, "mprotect") == 0) goc__stack_guard_force(GOC__GUARD_MPROTECT);
    goc_opts o = {.stack_size = 65536, .name = "deep"};
    if (strcmp(kind, "unnamed") == 0) o.name = NULL;
    if (strcmp(kind, "default") == 0) o.stack_size = 0;
    void (*fn)(void *) = strcmp(kind, "canary") == 0 ? canary_entry : overflow_entry;
    if (strcmp(kind, "skip") == 0 || strcmp(kind, "alloca") == 0) {
        /* Parked neighbours of the same class first: main's spawns carve
         * slots upwards, so they lie below the overflowing one, where an
         * overflow that skips its guard lands. */
        o.stack_size = 16384;
        goc_opts n = {.stack_size = 16384, .name = "neighbour"};
        for (int i = 0; i < 64; i++) CHECK_OK(goc_go_with(&n, park_at_gate, NULL));
        fn = strcmp(kind, "skip") == 0 ? skip_entry : alloca_entry;
    }
    /* Some company on the other workers, so the overflow is not alone. */
    for (int i = 0; i < 100; i++) goc_go(add_one, NULL);
    CHECK_OK(goc_go_with(&o, fn, NULL));
    goc_sleep(20 * GOC_SEC);
    _exit(7);
}

TEST(overflow_child) {
    const char *kind = getenv("OVERFLOW_CHILD");
    if (kind) overflow_child(kind);
}

static void expect_overflow_report(const char *kind, const char *name, size_t size) {
    char out[16384], env[64], want[256];
    snprintf(env, sizeof env, "OVERFLOW_CHILD=%s", kind);
    int st = check_spawn("overflow_child", env, out, sizeof out);
    const char *idl = strstr(out, "id=");
    if (!idl) check_fail(__FILE__, __LINE__, "%s: no id printed: %s", kind, out);
    unsigned long long id = strtoull(idl + 3, NULL, 10);
    if (name)
        snprintf(want, sizeof want, "goc: stack overflow in coroutine %llu \"%s\" (stack of %zu bytes)",
                 id, name, size);
    else
        snprintf(want, sizeof want, "goc: stack overflow in coroutine %llu (stack of %zu bytes)", id,
                 size);
    if (!strstr(out, want))
        check_fail(__FILE__, __LINE__, "%s (guards: %s): want \"%s\" in:\n%s", kind, guard_name(),
                   want, out);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
        check_fail(__FILE__, __LINE__, "%s: want death by SIGABRT, status %#x", kind, st);
    CHECK(strstr(out, "survived") == NULL);
}

static void expect_overflow_report_in(const char *mode, const char *kind, const char *name, size_t size) {
    setenv("OVERFLOW_GUARD", mode, 1);
    expect_overflow_report(kind, name, size);
    unsetenv("OVERFLOW_GUARD");
}

/* The mprotect guard (kernels before 6.13) catches a deep overflow; the
 * canary (past the mprotect budget, or under Valgrind) catches one that
 * returned before it hit anything, at the next switch-out. A deep overflow
 * without a guard page runs into the slot below and cannot be reported. */
TEST(overflow_reported_mprotect_guard) { expect_overflow_report_in("mprotect", "named", "deep", 65536); }
TEST(overflow_by_a_little_reported_mprotect_guard) {
    expect_overflow_report_in("mprotect", "canary", "deep", 65536);
}
TEST(overflow_by_a_little_reported_canary_only) {
    expect_overflow_report_in("canary", "canary", "deep", 65536);
}

TEST(overflow_reported_with_id_and_name) { expect_overflow_report("named", "deep", 65536); }
TEST(overflow_reported_without_name) { expect_overflow_report("unnamed", NULL, 65536); }
TEST(overflow_of_default_stack_reported) { expect_overflow_report("default", "deep", GOC_STACK_DEFAULT); }
TEST(overflow_by_a_little_reported) { expect_overflow_report("canary", "deep", 65536); }

/* A frame that skips the old 16 KiB guard (like alloca(33000) on a 16 KiB
 * stack, without probes) still lands in the 64 KiB guard: reported, never
 * written into the neighbouring slot. Frames larger than the guard are caught only when
 * compiled with -fstack-clash-protection (the next test). */
TEST(overflow_past_16k_guard_reported) {
    expect_overflow_report("skip", "deep", 16384);
}
TEST(overflow_past_16k_guard_reported_mprotect_guard) {
    expect_overflow_report_in("mprotect", "skip", "deep", 16384);
}
TEST(overflow_by_huge_alloca_reported_with_stack_clash_protection) {
#if defined(__clang__) && __clang_major__ < 16
    /* clang 14 accepts -fstack-clash-protection but does not probe this
     * alloca (the write lands past the guard): nothing to check there. */
    printf("skipped: clang %d does not probe a dynamic alloca\n", __clang_major__);
    return;
#endif
    expect_overflow_report("alloca", "deep", 16384);
}

/* ---- address space given back ----------------------------------------------------- */

static long vm_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0;
    if (!f) return -1;
    if (fscanf(f, "%ld", &size) != 1) size = -1;
    fclose(f);
    return size * sysconf(_SC_PAGESIZE);
}

enum { BURST = 6 };
static gate burst_gate;
static _Atomic long burst_done;

static void burst_member(void *arg) {
    (void)arg;
    gate_wait(&burst_gate);
    atomic_fetch_add(&burst_done, 1);
}

/* BURST coroutines with `stack` bytes alive at once, then all returned. */
static void burst(size_t stack) {
    long before = atomic_load(&burst_done);
    memset(&burst_gate, 0, sizeof burst_gate); /* a closed gate: the last burst is gone */
    goc_opts o = {.stack_size = stack, .name = "burst"};
    for (int i = 0; i < BURST; i++) {
        int r = goc_go_with(&o, burst_member, NULL);
        if (r != GOC_OK)
            check_fail(__FILE__, __LINE__, "spawn %d of a burst of %zu MiB stacks: %s (VmSize %ld MiB)", i,
                       stack >> 20, goc_err_name(r), vm_bytes() >> 20);
    }
    WAIT_UNTIL(gate_waiting(&burst_gate) == BURST, 60);
    CHECK_EQ(gate_open(&burst_gate), BURST);
    WAIT_UNTIL(atomic_load(&burst_done) == before + BURST, 60);
    size_t self = goc_id() != 0; /* a burst from a coroutine: it counts itself */
    WAIT_UNTIL(goc_count() == self, 60);
}

static _Atomic int bursts_from_coroutine;

static void bursts_entry(void *arg) {
    burst((size_t)arg);
    atomic_store(&bursts_from_coroutine, 1);
}

/* Under an RLIMIT_AS that holds one burst of the larger stacks and some
 * slack, bursts of two large size classes, from main and from a coroutine,
 * keep succeeding: the stacks a burst freed are reused by the next one,
 * whichever thread spawns it (no worker cache keeps large stacks), and once
 * trimmed they are unmapped, so the other class finds room. */
TEST(bursts_of_large_stacks_under_rlimit_as) {
#if defined(CHECK_SANITIZED)
    printf("skip: sanitizers reserve terabytes of shadow; RLIMIT_AS cannot be lowered\n");
    return;
#endif
    const size_t small = (size_t)32 << 20, big = (size_t)64 << 20; /* classes 64 and 128 MiB */
    burst(4096); /* the runtime and its threads are up */
    struct rlimit rl = {0, 0};
    CHECK(getrlimit(RLIMIT_AS, &rl) == 0);
    /* Room for one burst of the big stacks, and 512 MiB for threads the
     * monitor may start on a loaded machine (each with a malloc arena);
     * without reuse and unmapping the rounds need 1.5 GiB more. */
    rl.rlim_cur = (rlim_t)vm_bytes() + BURST * ((size_t)128 << 20) + ((size_t)512 << 20);
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    for (int round = 0; round < 3; round++) {
        burst(small);
        burst(small); /* from main: reuses what the last burst freed on the workers */
        atomic_store(&bursts_from_coroutine, 0);
        CHECK_OK(goc_go_with(&(goc_opts){.stack_size = 65536}, bursts_entry, (void *)small));
        WAIT_UNTIL(atomic_load(&bursts_from_coroutine), 60);
        goc__stack_trim(); /* what the monitor does every ~100 ms: fresh -> aged */
        goc__stack_trim(); /* aged -> released: unmapped */
        burst(big);
        goc__stack_trim();
        goc__stack_trim();
    }
    printf("VmSize at the end %ld MiB, limit %ld MiB\n", vm_bytes() >> 20, (long)(rl.rlim_cur >> 20));
}

/* ---- out of memory -------------------------------------------------------------- */

TEST(enomem_fresh_size_class) {
    /* 32 MiB stacks: a size class nothing has used, so the next spawn must
     * map a new slab. */
    goc_opts o = {.stack_size = 32 << 20};
    CHECK_OK(goc_go(add_one, NULL)); /* the runtime is up */
    WAIT_UNTIL(atomic_load(&counter) == 1, 60);
    goc__fault_arm(GOC__FAULT_MMAP, 1);
    CHECK_ERR(GOC_ENOMEM, goc_go_with(&o, add_one, NULL));
    goc__fault_arm(GOC__FAULT_MMAP, 0);
    CHECK_OK(goc_go_with(&o, add_one, NULL));
    WAIT_UNTIL(atomic_load(&counter) == 2, 60);
    wait_all_exited();
}

static _Atomic long spawned_before_enomem = -1;
static _Atomic int enomem_seen;

/* Keeps coroutines alive at the gate until the caches and the current slab
 * are used up and the next slab's mmap fails. */
static void spawn_until_enomem(long limit, size_t stack) {
    goc_opts o = {.stack_size = stack};
    goc_procs(); /* the runtime is up: its start maps memory too */
    CHECK_OK(goc_go_with(&o, park_at_gate, NULL)); /* this class has a slab */
    long i;
    int r = GOC_OK;
    for (i = 1; i < limit; i++) {
        goc__fault_arm(GOC__FAULT_MMAP, 1); /* every new slab fails */
        r = goc_go_with(&o, park_at_gate, NULL);
        if (r != GOC_OK) break;
    }
    goc__fault_arm(GOC__FAULT_MMAP, 0);
    if (r != GOC_ENOMEM)
        check_fail(__FILE__, __LINE__, "no GOC_ENOMEM after %ld spawns: %s", i, goc_err_name(r));
    atomic_store(&spawned_before_enomem, i);
}

static void enomem_in_coroutine(void *arg) {
    spawn_until_enomem(100000, (size_t)arg);
    atomic_store(&enomem_seen, 1);
}

static void check_enomem_recovers(long spawned) {
    CHECK_OP(spawned, >, 0);
    WAIT_UNTIL(gate_waiting(&the_gate) == spawned, 60);
    CHECK_EQ(gate_open(&the_gate), spawned); /* earlier coroutines finish */
    WAIT_UNTIL(atomic_load(&counter) == spawned, 60);
    for (int i = 0; i < 1000; i++) CHECK_OK(goc_go(add_one, NULL)); /* works again */
    WAIT_UNTIL(atomic_load(&counter) == spawned + 1000, 60);
    wait_all_exited();
}

TEST(enomem_after_slab_exhausted_from_main) {
    spawn_until_enomem(100000, 0);
    long spawned = atomic_load(&spawned_before_enomem);
    printf("GOC_ENOMEM after %ld spawns\n", spawned);
    check_enomem_recovers(spawned);
}

TEST(enomem_after_slab_exhausted_in_coroutine) {
    CHECK_OK(goc_go_with(&(goc_opts){.stack_size = 8192}, enomem_in_coroutine, (void *)(size_t)16384));
    WAIT_UNTIL(atomic_load(&enomem_seen), 60);
    long spawned = atomic_load(&spawned_before_enomem);
    printf("GOC_ENOMEM after %ld spawns\n", spawned);
    WAIT_UNTIL(gate_waiting(&the_gate) == spawned, 60);
    CHECK_EQ(gate_open(&the_gate), spawned);
    WAIT_UNTIL(atomic_load(&counter) == spawned, 60);
    wait_all_exited();
    for (int i = 0; i < 1000; i++) CHECK_OK(goc_go(add_one, NULL));
    WAIT_UNTIL(atomic_load(&counter) == spawned + 1000, 60);
}

/* SQLite's loop: make the nth allocation or mapping fail for n = 1, 2, ...
 * while coroutines spawn, sleep and exit; every call either works or says
 * GOC_ENOMEM, and everything that started finishes. */
static _Atomic long loop_started, loop_finished, loop_sleep_enomem;

static void loop_worker(void *arg) {
    (void)arg;
    int r = goc_sleep(GOC_MS / 2);
    if (r == GOC_ENOMEM)
        atomic_fetch_add(&loop_sleep_enomem, 1);
    else if (r != GOC_OK)
        check_fail(__FILE__, __LINE__, "goc_sleep: %s", goc_err_name(r));
    atomic_fetch_add(&loop_finished, 1);
}

static void fault_loop(enum goc__fault_kind kind) {
    long enomem = 0;
    goc_procs();
    for (long nth = 1; nth <= CHECK_SCALE(40) + 10; nth++) {
        goc__fault_arm(kind, nth);
        for (int i = 0; i < SPAWN_SCALE(300 * 300) / 300 + 20; i++) {
            goc_opts o = {.stack_size = (size_t)4096 << (i % 8)};
            int r = goc_go_with(&o, loop_worker, NULL);
            if (r == GOC_OK)
                atomic_fetch_add(&loop_started, 1);
            else if (r == GOC_ENOMEM)
                enomem++;
            else
                check_fail(__FILE__, __LINE__, "goc_go: %s", goc_err_name(r));
        }
        goc__fault_arm(kind, 0);
        WAIT_UNTIL(atomic_load(&loop_finished) == atomic_load(&loop_started), 60);
    }
    printf("%ld spawns failed with GOC_ENOMEM, %ld sleeps\n", enomem, atomic_load(&loop_sleep_enomem));
    CHECK_OK(goc_go(add_one, NULL));
    WAIT_UNTIL(atomic_load(&counter) == 1, 60);
    wait_all_exited();
}

TEST(fault_loop_mmap) { fault_loop(GOC__FAULT_MMAP); }
TEST(fault_loop_alloc) { fault_loop(GOC__FAULT_ALLOC); }

/* A trim that cannot record its released slots as a run (no memory for the
 * run array) keeps them as free slots: their records, in the pages it just
 * released, are written again, so each slot handed out later is whole. */
TEST(trim_without_memory_keeps_slots_whole) {
    goc_procs();          /* the runtime is up ... */
    usleep(400 * 1000);   /* ... and its monitor done trimming, asleep */
    enum { N = 40, SIZE = 64 * 1024 };
    goc__g *g[N];
    for (int i = 0; i < N; i++) CHECK((g[i] = goc__stack_alloc(NULL, SIZE)) != NULL);
    for (int i = 0; i < N; i += 2) goc__stack_free(NULL, g[i]); /* 20 separate runs */
    goc__stack_trim();                   /* fresh -> aged */
    goc__fault_arm(GOC__FAULT_ALLOC, 2); /* the trim's sort array, then the run array */
    goc__stack_trim();                   /* aged -> released */
    goc__fault_arm(GOC__FAULT_ALLOC, 0);
    for (int i = 0; i < N; i += 2) {
        CHECK((g[i] = goc__stack_alloc(NULL, SIZE)) != NULL);
        CHECK(g[i]->stack_lo != NULL);
        CHECK_EQ(g[i]->stack_size, (size_t)SIZE);
        CHECK_EQ(g[i]->stack_lo + g[i]->stack_size, (char *)g[i] + GOC__G_SIZE);
    }
    for (int i = 0; i < N; i++) goc__stack_free(NULL, g[i]);
    goc_opts o = {.stack_size = 4096}; /* the smallest class was not corrupted */
    CHECK_OK(goc_go_with(&o, add_one, NULL));
}
