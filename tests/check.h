/* A small test harness: named cases, each run in its own child process (a
 * crash cannot hide the others), each runnable alone by name:
 *
 *     ./test_chan                 all cases
 *     ./test_chan close_wakes_all one case
 *     CHECK_NOFORK=1 ./test_chan x in-process, for a debugger
 *
 * Assertions print both values, and error codes by name. check_spawn runs a
 * case in a fresh process and captures its output, for death tests and
 * sanitizer reports. The parent never starts the goc runtime, so forking it
 * is safe.
 *
 * A case that cannot run here says so and why, with CHECK_SKIP, and is
 * counted as skipped, never as passed ("skip NAME: REASON" in the output).
 *
 * Emulation. The AArch64 cross build (cmake/aarch64-linux-gnu.cmake) runs
 * the suite under qemu-user; CTest then sets GOC_TEST_EMULATOR to the
 * emulator's command line, words separated by spaces ("qemu-aarch64 -L
 * /usr/aarch64-linux-gnu"). check_exec runs a target program through it, so
 * check_spawn and the examples need no binfmt_misc registration, and
 * CHECK_SKIP_EMULATED skips the few cases qemu-user (7.2, Debian 12) cannot
 * run. A test binary run under qemu by hand, without the variable, runs every
 * case. Skipped under qemu-user, each with its reason printed:
 *   test_debug    deadlock_main_recv_no_sender, deadlock_wg_never_done,
 *                 deadlock_mutex_held_by_finished_coroutine,
 *                 deadlock_select_over_dead_channels: qemu runs a thread of
 *                 its own (RCU) in the process; the detector sees a thread it
 *                 does not know in /proc/self/task and rightly stays silent.
 *   test_debug    stats_timers_polls_blocking_stacks, when committed stack
 *                 bytes read 0: qemu's mincore fails (ENOMEM) on a range with
 *                 PROT_NONE pages, the mprotect guards (the rest is checked).
 *   test_stack    million_alive_small_stacks_then_rss_returns, its second
 *                 half: qemu keeps a descriptor for every page ever mapped
 *                 (~6 MiB a GiB, in the process's RSS, never freed), and the
 *                 slots spanned ~75 GiB (the million alive and their VMAs are
 *                 checked).
 *   test_signal   realtime_signals_are_delivered, after SIGRTMIN + 1 arrived:
 *                 qemu has no host signal for the guest's SIGRTMAX, and
 *                 raise fails.
 *   test_examples demo: the tour execs the examples itself, which the host
 *                 kernel refuses without binfmt_misc (each example runs in
 *                 its own case).
 *   test_net      io_loop_does_not_starve_its_peers, only when its timed
 *                 bound is passed (emulated dials and accepts, loaded cores).
 * Scripts: goc_gdb is skipped (gdb cannot attach to an emulated program);
 * sanitize_cflags builds its TSan program without running it (TSan re-execs
 * itself) and runs ASan without LeakSanitizer (it needs ptrace). Guard pages
 * are not skipped: qemu answers MADV_GUARD_INSTALL with 0 and installs
 * nothing, so the runtime finds it ineffective and uses mprotect guards
 * (src/stack.c), which qemu honours. */
#ifndef CHECK_H
#define CHECK_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "goc.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define CHECK_LEAKS() __lsan_do_leak_check()
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/lsan_interface.h>
#define CHECK_LEAKS() __lsan_do_leak_check()
#endif
#endif
#ifndef CHECK_LEAKS
#define CHECK_LEAKS() ((void)0)
#endif

typedef struct {
    const char *name;
    void (*fn)(void);
} check_case;

/* Room for this many cases; main refuses to run when there were more. */
#ifndef CHECK_MAX_CASES
#define CHECK_MAX_CASES 256
#endif

static check_case check_cases[CHECK_MAX_CASES];
static int check_ncases, check_dropped;
static const char *check_current = "";

static void check_register(const char *name, void (*fn)(void)) {
    if (check_ncases < CHECK_MAX_CASES)
        check_cases[check_ncases++] = (check_case){name, fn};
    else
        check_dropped++;
}

#define TEST(name)                                                     \
    static void test_##name(void);                                     \
    __attribute__((constructor)) static void check_reg_##name(void) {  \
        check_register(#name, test_##name);                            \
    }                                                                  \
    static void test_##name(void)

__attribute__((format(printf, 3, 4), noreturn)) static void check_fail(const char *file, int line,
                                                                       const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: [%s] ", file, line, check_current);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    _exit(1);
}

#define CHECK(c) \
    do { if (!(c)) check_fail(__FILE__, __LINE__, "check failed: %s", #c); } while (0)

#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                \
        if (a_ != b_) check_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
    } while (0)

#define CHECK_OP(a, op, b)                                                                      \
    do {                                                                                        \
        long long a_ = (long long)(a), b_ = (long long)(b);                                     \
        if (!(a_ op b_)) check_fail(__FILE__, __LINE__, "%s %s %s: %lld vs %lld", #a, #op, #b, a_, b_); \
    } while (0)

/* Compares goc error codes and prints their names. */
#define CHECK_ERR(want, got)                                                              \
    do {                                                                                  \
        int w_ = (want), g_ = (got);                                                      \
        if (w_ != g_)                                                                     \
            check_fail(__FILE__, __LINE__, "%s: expected %s, got %s (%d)", #got,          \
                       goc_err_name(w_), goc_err_name(g_), g_);                           \
    } while (0)

#define CHECK_OK(expr) CHECK_ERR(GOC_OK, (expr))

/* A case that cannot run here: prints "skip NAME: REASON" and ends the
 * case's process at once (_exit, runtime and all) with CHECK_SKIP_STATUS,
 * which the parent counts as a skip. Under CHECK_NOFORK it ends the whole
 * process (exit 77, CTest's usual "skipped"). */
#define CHECK_SKIP_STATUS 77
__attribute__((format(printf, 1, 2), noreturn, unused)) static void check_skip(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("skip %s: ", check_current);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    fflush(stdout);
    _exit(CHECK_SKIP_STATUS);
}
#define CHECK_SKIP(...) check_skip(__VA_ARGS__)

/* The emulator's command line from GOC_TEST_EMULATOR, or NULL natively. */
__attribute__((unused)) static const char *check_emulator(void) {
    const char *e = getenv("GOC_TEST_EMULATOR");
    return e && *e ? e : NULL;
}

/* Skips the case when the suite runs under an emulator (qemu-user), naming
 * the emulator (its first word) and why it cannot run the case. */
#define CHECK_SKIP_EMULATED(why)                                                           \
    do {                                                                                   \
        const char *emu_ = check_emulator();                                               \
        if (emu_) check_skip("under %.*s: %s", (int)strcspn(emu_, " "), emu_, (why));    \
    } while (0)

/* execv(argv[0], argv), through GOC_TEST_EMULATOR when it is set: under
 * qemu-user an execve of a target binary goes to the host kernel, which runs
 * it only where binfmt_misc has qemu registered. Returns only on failure.
 * Allocates nothing (it runs between fork and exec). */
__attribute__((unused)) static void check_exec(char *const argv[]) {
    const char *emu = check_emulator();
    if (!emu) {
        execv(argv[0], argv);
        return;
    }
    static char words[1024];
    char *all[64], *save = NULL;
    int n = 0;
    if (strlen(emu) >= sizeof words) return;
    strcpy(words, emu);
    for (char *w = strtok_r(words, " ", &save); w && n < 32; w = strtok_r(NULL, " ", &save))
        all[n++] = w;
    for (int i = 0; argv[i] && n < 63; i++) all[n++] = argv[i];
    all[n] = NULL;
    execvp(all[0], all);
}

/* Iterations scaled down under the sanitizers, which are 5-20x slower. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define CHECK_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define CHECK_SANITIZED 1
#endif
#endif
#ifdef CHECK_SANITIZED
#define CHECK_SCALE(n) ((n) / 20 > 0 ? (n) / 20 : 1)
#define CHECK_SANITIZED_OR(sanitized, plain) (sanitized)
#else
#define CHECK_SCALE(n) (n)
#define CHECK_SANITIZED_OR(sanitized, plain) (plain)
#endif

static const char *check_self;

/* Runs case `name` of this executable in a new process with extra env
 * (NAME=value or NULL); returns its exit status (wait(2) form) and fills out
 * (NUL-terminated, truncated) with its stdout and stderr. */
__attribute__((unused)) static int check_spawn(const char *name, const char *env, char *out, size_t outsz) {
    int p[2];
    if (pipe(p) != 0) check_fail(__FILE__, __LINE__, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        if (env) putenv((char *)env);
        setenv("CHECK_NOFORK", "1", 1);
        check_exec((char *const[]){(char *)check_self, (char *)name, NULL});
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    for (;;) {
        char tmp[4096];
        ssize_t r = read(p[0], tmp, sizeof tmp);
        if (r <= 0) break;
        for (ssize_t i = 0; i < r && n + 1 < outsz; i++) out[n++] = tmp[i];
    }
    out[n] = 0;
    close(p[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

/* Runs case `name` as check_spawn does and fails unless it aborted
 * (SIGABRT) with msg, and msg2 unless NULL, in its output: a misuse that is
 * fatal with a message, as Go panics. */
__attribute__((unused)) static void check_aborts_at(const char *file, int line, const char *name,
                                                    const char *env, const char *msg,
                                                    const char *msg2) {
    char out[4096];
    int st = check_spawn(name, env, out, sizeof out);
    if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT))
        check_fail(file, line, "%s: status %#x, output: %s", env, st, out);
    if (!strstr(out, msg) || (msg2 && !strstr(out, msg2)))
        check_fail(file, line, "%s: output lacks \"%s\"%s%s: %s", env, msg, msg2 ? " or " : "",
                   msg2 ? msg2 : "", out);
}
#define CHECK_ABORTS(name, env, msg, msg2) check_aborts_at(__FILE__, __LINE__, name, env, msg, msg2)

/* Runs one case: 0 passed, 1 failed, -1 skipped. */
static int check_run(const check_case *c, int nofork) {
    check_current = c->name;
    if (nofork) {
        c->fn();
        return 0;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        c->fn();
        fflush(stdout);
        CHECK_LEAKS(); /* _exit skips LeakSanitizer's exit-time check */
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        printf("ok   %s\n", c->name);
        return 0;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == CHECK_SKIP_STATUS) return -1; /* it said why */
    if (WIFSIGNALED(st))
        printf("FAIL %s (signal %d)\n", c->name, WTERMSIG(st));
    else
        printf("FAIL %s (exit %d)\n", c->name, WEXITSTATUS(st));
    return 1;
}

int main(int argc, char **argv) {
    check_self = argv[0];
    setvbuf(stdout, NULL, _IOLBF, 0);
    int nofork = getenv("CHECK_NOFORK") != NULL, failed = 0, skipped = 0, ran = 0;
    if (check_dropped) { /* never run a silently truncated suite */
        fprintf(stderr, "check.h: %d cases past the %dth were not registered: raise CHECK_MAX_CASES\n",
                check_dropped, CHECK_MAX_CASES);
        return 2;
    }
    for (int i = 0; i < check_ncases; i++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++) wanted |= strcmp(argv[a], check_cases[i].name) == 0;
        if (!wanted) continue;
        int r = check_run(&check_cases[i], nofork);
        failed += r > 0;
        skipped += r < 0;
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no such case\n");
        return 2;
    }
    if (!nofork && skipped)
        printf("%d/%d passed, %d skipped\n", ran - failed - skipped, ran - skipped, skipped);
    else if (!nofork)
        printf("%d/%d passed\n", ran - failed, ran);
    return failed ? 1 : 0;
}

#endif
