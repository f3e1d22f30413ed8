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
 * is safe. */
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
        execl(check_self, check_self, name, (char *)NULL);
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
    if (WIFSIGNALED(st))
        printf("FAIL %s (signal %d)\n", c->name, WTERMSIG(st));
    else
        printf("FAIL %s (exit %d)\n", c->name, WEXITSTATUS(st));
    return 1;
}

int main(int argc, char **argv) {
    check_self = argv[0];
    setvbuf(stdout, NULL, _IOLBF, 0);
    int nofork = getenv("CHECK_NOFORK") != NULL, failed = 0, ran = 0;
    if (check_dropped) { /* never run a silently truncated suite */
        fprintf(stderr, "check.h: %d cases past the %dth were not registered: raise CHECK_MAX_CASES\n",
                check_dropped, CHECK_MAX_CASES);
        return 2;
    }
    for (int i = 0; i < check_ncases; i++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++) wanted |= strcmp(argv[a], check_cases[i].name) == 0;
        if (!wanted) continue;
        failed += check_run(&check_cases[i], nofork);
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no such case\n");
        return 2;
    }
    if (!nofork) printf("%d/%d passed\n", ran - failed, ran);
    return failed ? 1 : 0;
}

#endif
