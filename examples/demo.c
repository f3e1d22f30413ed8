/* The guided tour that `make tour` runs: for each pattern of the lesson, one
 * line on what it shows, then the output of its example (long outputs
 * shortened). The examples are the programs beside this one; each is also
 * a test (tests/test_examples.c) and is explained in docs/patterns.md.
 *
 * The tour itself is a plain C driver: it runs each example as a child
 * process, so every example is exactly what you get running it yourself.
 *
 *     demo            the whole tour
 *     demo name…      only these stops
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef GOC_SOURCE_DIR
#define GOC_SOURCE_DIR "."
#endif

static const struct stop {
    const char *name;
    const char *what;
    const char *args[3];
} tour[] = {
    {"race", "count++ from two coroutines, then fixed 3 ways (`make race`: the detector)", {0}},
    {"workerpool", "36 workers, 50 tasks over one channel (the readers' pool, `go c` fixed)", {0}},
    {"generator", "a function that returns a channel; two generators in lockstep", {0}},
    {"fanin", "merge two channels into one, by coroutines and by select", {0}},
    {"restore_sequence", "fan-in, then take turns again: a wait channel in each message", {0}},
    {"select_timeout", "time.After in select: per message, then for the whole talk", {0}},
    {"quit_signal", "tell a coroutine to stop, and wait for its cleanup", {0}},
    {"daisy_chain", "100,000 coroutines (16 KiB stacks) pass a number down a chain", {0}},
    {"google_search", "1.0 sequential, 2.0 concurrent, 2.1 80 ms timeout, 3.0 replicas", {0}},
    {"ping_pong", "two players, one ball, an unbuffered table", {0}},
    {"subscription", "a fetch loop: one select over fetch, fetch-done, send and close", {0}},
    {"bounded_parallelism", "digest a tree with 20 workers; the first error stops all",
     {GOC_SOURCE_DIR "/src"}},
    {"context", "a slow request cancelled by its timeout, then by its parent", {0}},
    {"ring_buffer", "a channel that drops its oldest value when full", {0}},
    {"pipeline", "gen -> square x2 -> merge; stop early, and nothing leaks", {0}},
    {"rate_limit", "a ticker spaces requests; a token channel allows bursts", {0}},
    {"errgroup", "first error wins and cancels the rest; at most N at once", {0}},
    {"shutdown", "SIGINT as a message: cancel a context, wait for the workers", {"30"}},
    {"prime_sieve", "a coroutine per prime, filtering the numbers after it", {0}},
    {"echo_server", "a TCP server: a coroutine per connection, stopped by SIGINT", {"20"}},
};

#define HEAD 20 /* lines shown from the start of a long output */
#define TAIL 4  /* … and from its end */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs examples/<s->name>; prints its output indented, long outputs
 * shortened. Returns its exit status. */
static int run(const char *path, const struct stop *s) {
    int p[2];
    if (pipe(p) != 0) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        const char *argv[5] = {s->name};
        for (int i = 0; i < 3 && s->args[i]; i++) argv[i + 1] = s->args[i];
        execv(path, (char **)argv);
        _exit(127);
    }
    close(p[1]);
    FILE *out = fdopen(p[0], "r");
    char line[512], tail[TAIL][512];
    long n = 0;
    while (fgets(line, sizeof line, out)) {
        if (n < HEAD) printf("   | %s", line);
        else strcpy(tail[n % TAIL], line);
        n++;
    }
    fclose(out);
    if (n > HEAD + TAIL) printf("   | ... (%ld more lines)\n", n - HEAD - TAIL);
    for (long i = n > HEAD + TAIL ? n - TAIL : HEAD; i < n; i++) printf("   | %s", tail[i % TAIL]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv) {
    char dir[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (len <= 0) return 1;
    dir[len] = 0;
    *strrchr(dir, '/') = 0;

    printf("goc: the Go concurrency lesson's programs, in C\n\n");
    double start = now_s();
    int failed = 0, n = (int)(sizeof tour / sizeof tour[0]);
    for (int i = 0; i < n; i++) {
        bool wanted = argc < 2;
        for (int a = 1; a < argc; a++) wanted |= strcmp(argv[a], tour[i].name) == 0;
        if (!wanted) continue;
        printf("%2d. %s: %s\n", i + 1, tour[i].name, tour[i].what);
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", dir, tour[i].name);
        if (access(path, X_OK) != 0) {
            printf("   (not built yet: the library lacks functions it calls)\n\n");
            continue;
        }
        double t = now_s();
        int rc = run(path, &tour[i]);
        if (rc != 0) {
            printf("   !! %s exited with status %d\n", tour[i].name, rc);
            failed++;
        }
        printf("   (%.2f s)\n\n", now_s() - t);
    }
    printf("Tour done in %.1f s. The programs are in %s: run them again,\n"
           "read them in examples/. docs/patterns.md explains each pattern, and\n"
           "`make race` shows the race detector at work.\n",
           now_s() - start, dir);
    return failed ? 1 : 0;
}
