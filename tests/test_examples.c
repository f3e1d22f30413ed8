/* Every example is a test: each case runs one program of examples/ (built
 * beside this test, in <build>/examples) and checks what it prints —
 * deterministic output exactly, timing-dependent output by property (every
 * task processed exactly once, a search that answers before its deadline,
 * values that arrive in order).
 *
 * Every example is built (examples/CMakeLists.txt writes their names to
 * built.txt): one that is missing fails its case, never skips it; CTest
 * runs this test only when the build makes the examples. Under the sanitizers every example must exit 0
 * with no report, except the racy half of `race`, whose ThreadSanitizer
 * report is its expected output. */
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdbool.h>

#include "check.h"

#include "testutil.h"

/* ---- running an example ------------------------------------------------ */

typedef struct {
    int status;      /* wait(2) form                */
    char *out, *err; /* stdout and stderr, NUL-ended */
    size_t nout, nerr;
    char *argv0;
} run_t;

static char exdir[PATH_MAX + 16];

/* The examples directory of this build tree: ../examples from this binary. */
static const char *examples_dir(void) {
    if (!exdir[0]) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        CHECK(n > 0);
        self[n] = 0;
        *strrchr(self, '/') = 0;
        snprintf(exdir, sizeof exdir, "%s/../examples", self);
    }
    return exdir;
}

/* path = the examples directory / name; a path too long fails the test. */
static void example_path(char *path, size_t size, const char *name) {
    int n = snprintf(path, size, "%s/%s", examples_dir(), name);
    CHECK(n > 0 && (size_t)n < size);
}

/* Whether the build made examples/<name> (built.txt has one name a line). */
static bool built(const char *name) {
    char path[PATH_MAX + 64], line[256];
    example_path(path, sizeof path, "built.txt");
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        found = strcmp(line, name) == 0;
    }
    fclose(f);
    return found;
}

static void append(char **buf, size_t *n, const char *data, size_t len) {
    *buf = realloc(*buf, *n + len + 1);
    CHECK(*buf != NULL);
    memcpy(*buf + *n, data, len);
    *n += len;
    (*buf)[*n] = 0;
}

/* Runs examples/<name> with the given arguments (NULL-terminated), with a
 * 60 s alarm so a hang fails the case instead of the whole test. An example
 * the build did not make fails the case. */
static run_t *run_example(const char *name, ...) {
    if (!built(name))
        check_fail(__FILE__, __LINE__, "examples/%s was not built (not in %s/built.txt)", name,
                   examples_dir());
    char *argv[16];
    int argc = 0;
    char path[PATH_MAX + 64];
    example_path(path, sizeof path, name);
    argv[argc++] = path;
    va_list ap;
    va_start(ap, name);
    for (char *a; argc < 15 && (a = va_arg(ap, char *)) != NULL;) argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    int po[2], pe[2];
    CHECK(pipe(po) == 0 && pipe(pe) == 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        alarm(60); /* survives exec: SIGALRM ends a hung example */
        check_exec(argv); /* through GOC_TEST_EMULATOR in a cross build */
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    run_t *r = calloc(1, sizeof *r);
    CHECK(r != NULL);
    append(&r->out, &r->nout, "", 0);
    append(&r->err, &r->nerr, "", 0);
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    for (int open = 2; open > 0;) {
        CHECK(poll(fds, 2, -1) > 0);
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !fds[i].revents) continue;
            char tmp[8192];
            ssize_t k = read(fds[i].fd, tmp, sizeof tmp);
            if (k <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open--;
            } else if (i == 0) {
                append(&r->out, &r->nout, tmp, (size_t)k);
            } else {
                append(&r->err, &r->nerr, tmp, (size_t)k);
            }
        }
    }
    waitpid(pid, &r->status, 0);
    r->argv0 = strdup(name);
    return r;
}

static void free_run(run_t *r) {
    if (!r) return;
    free(r->out);
    free(r->err);
    free(r->argv0);
    free(r);
}

/* Prints what the example printed, for a failing check (split_lines may
 * have turned its newlines into NULs). */
static void dump(const run_t *r) {
    fprintf(stderr, "---- %s stdout ----\n", r->argv0);
    for (size_t i = 0; i < r->nout; i++) fputc(r->out[i] ? r->out[i] : '\n', stderr);
    fprintf(stderr, "---- %s stderr ----\n%s----\n", r->argv0, r->err);
}

#define FAIL_RUN(r, ...)                                 \
    do {                                                 \
        dump(r);                                         \
        check_fail(__FILE__, __LINE__, __VA_ARGS__);     \
    } while (0)

#define EXPECT(r, cond)                                   \
    do {                                                  \
        if (!(cond)) FAIL_RUN(r, "check failed: %s", #cond); \
    } while (0)

/* The example exited 0 and wrote nothing to stderr (no sanitizer report). */
static void expect_clean_at(const run_t *r, const char *file, int line) {
    if (WIFSIGNALED(r->status)) {
        dump(r);
        check_fail(file, line, "%s: killed by signal %d%s", r->argv0, WTERMSIG(r->status),
                   WTERMSIG(r->status) == SIGALRM ? " (hung for 60 s)" : "");
    }
    if (WEXITSTATUS(r->status) != 0) {
        dump(r);
        check_fail(file, line, "%s: exit status %d", r->argv0, WEXITSTATUS(r->status));
    }
    if (r->nerr) {
        dump(r);
        check_fail(file, line, "%s: unexpected output on stderr", r->argv0);
    }
}
#define expect_clean(r) expect_clean_at((r), __FILE__, __LINE__)

/* stdout is exactly want. */
#define EXPECT_OUT(r, want)                                                        \
    do {                                                                           \
        if (strcmp((r)->out, (want)) != 0)                                         \
            FAIL_RUN(r, "stdout differs; expected:\n%s", (want));                  \
    } while (0)

/* ---- reading output ---------------------------------------------------- */

/* Splits text into lines (modifying it); returns the count. */
static int split_lines(char *text, char **lines, int max) {
    int n = 0;
    for (char *s = text; *s && n < max;) {
        char *nl = strchr(s, '\n');
        lines[n++] = s;
        if (!nl) break;
        *nl = 0;
        s = nl + 1;
    }
    return n;
}

static bool starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- the examples -------------------------------------------------------- */

TEST(prime_sieve) {
    run_t *r = run_example("prime_sieve", "100", NULL);
    expect_clean(r);
    EXPECT_OUT(r, "2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59 61 67 71 73 79 83 89 97\n"
                  "25 primes below 100\n");
    free_run(r);

#ifdef CHECK_SANITIZED
    r = run_example("prime_sieve", "1000", NULL); /* a filter per prime: 168 */
    expect_clean(r);
    EXPECT(r, strstr(r->out, "\n168 primes below 1000\n") != NULL);
#else
    r = run_example("prime_sieve", "5000", NULL);
    expect_clean(r);
    EXPECT(r, strstr(r->out, "\n669 primes below 5000\n") != NULL);
#endif
    free_run(r);
}

TEST(generator) {
    run_t *r = run_example("generator", NULL);
    expect_clean(r);
    /* Reading joe and ann in turn keeps them in lockstep. */
    EXPECT_OUT(r, "Joe 0\nAnn 0\nJoe 1\nAnn 1\nJoe 2\nAnn 2\nJoe 3\nAnn 3\nJoe 4\nAnn 4\n"
                  "You're both boring; I'm leaving.\n");
    free_run(r);
}

/* Checks lines[0..n) hold "<indent>Joe i" and "<indent>Ann i" for i in
 * 0..count-1, each speaker in order, interleaved in any way. */
static void expect_merged(const run_t *r, char **lines, int n, const char *indent, int count) {
    int next[2] = {0, 0};
    const char *who[2] = {"Joe", "Ann"};
    for (int i = 0; i < n; i++) {
        char want[2][64];
        for (int k = 0; k < 2; k++) snprintf(want[k], sizeof want[k], "%s%s %d", indent, who[k], next[k]);
        if (strcmp(lines[i], want[0]) == 0) next[0]++;
        else if (strcmp(lines[i], want[1]) == 0) next[1]++;
        else FAIL_RUN(r, "line \"%s\": expected \"%s\" or \"%s\"", lines[i], want[0], want[1]);
    }
    EXPECT(r, next[0] == count && next[1] == count);
}

TEST(fanin) {
    run_t *r = run_example("fanin", NULL);
    expect_clean(r);
    char *lines[64];
    int n = split_lines(r->out, lines, 64);
    EXPECT(r, n == 23);
    EXPECT(r, strcmp(lines[0], "fan-in, a coroutine per input:") == 0);
    expect_merged(r, lines + 1, 10, "  ", 5);
    EXPECT(r, strcmp(lines[11], "fan-in with select:") == 0);
    expect_merged(r, lines + 12, 10, "  ", 5);
    EXPECT(r, strcmp(lines[22], "You're both boring; I'm leaving.") == 0);
    free_run(r);
}

TEST(restore_sequence) {
    run_t *r = run_example("restore_sequence", NULL);
    expect_clean(r);
    char *lines[64];
    int n = split_lines(r->out, lines, 64);
    EXPECT(r, n == 11);
    /* Round i is one line from each, in either order: nobody speaks twice. */
    for (int i = 0; i < 5; i++) {
        char joe[32], ann[32];
        snprintf(joe, sizeof joe, "Joe: %d", i);
        snprintf(ann, sizeof ann, "Ann: %d", i);
        const char *a = lines[2 * i], *b = lines[2 * i + 1];
        EXPECT(r, (strcmp(a, joe) == 0 && strcmp(b, ann) == 0) ||
                      (strcmp(a, ann) == 0 && strcmp(b, joe) == 0));
    }
    EXPECT(r, strcmp(lines[10], "You're both boring; I'm leaving.") == 0);
    free_run(r);
}

/* lines[*i..] are "<name> 0", "<name> 1", … up to the line end; returns how
 * many, leaving *i on the first other line. */
static int count_sequence(char **lines, int n, int *i, const char *name) {
    int k = 0;
    for (char want[64]; *i < n; (*i)++, k++) {
        snprintf(want, sizeof want, "%s %d", name, k);
        if (strcmp(lines[*i], want) != 0) break;
    }
    return k;
}

TEST(select_timeout) {
    run_t *r = run_example("select_timeout", NULL);
    expect_clean(r);
    char *lines[64];
    int n = split_lines(r->out, lines, 64), i = 0;
    /* Joe slows down by 20 ms a message against a 50 ms limit per message;
     * Ann talks every 10 ms for a 55 ms conversation. How many get through
     * depends on timing (a stalled process may see even Joe's first message
     * time out); that each phase ends with its timeout does not, and timers
     * never fire early, which bounds the counts from above. */
    int joe = count_sequence(lines, n, &i, "Joe");
    EXPECT(r, joe <= 4);
    EXPECT(r, i < n && strcmp(lines[i++], "You're too slow.") == 0);
    int ann = count_sequence(lines, n, &i, "Ann");
    EXPECT(r, ann <= 6);
    EXPECT(r, i < n && strcmp(lines[i++], "You talk too much.") == 0);
    EXPECT(r, i == n);
    free_run(r);
}

TEST(quit_signal) {
    run_t *r = run_example("quit_signal", "4", NULL);
    expect_clean(r);
    EXPECT_OUT(r, "Joe: 0\nJoe: 1\nJoe: 2\nJoe: 3\n"
                  "Joe hears: \"Bye!\"\nJoe: cleaning up\nJoe says: \"See you!\"\n");
    free_run(r);
}

TEST(daisy_chain) {
#ifdef CHECK_SANITIZED
    const char *n = "500", *want = "501\n"; /* slow to make under TSan */
#else
    const char *n = "20000", *want = "20001\n";
#endif
    run_t *r = run_example("daisy_chain", n, NULL);
    expect_clean(r);
    EXPECT(r, starts_with(r->out, want));
    free_run(r);
}

/* One version's block of google_search's output, from lines[*i]. */
static void expect_search(const run_t *r, char **lines, int n, int *i, const char *version,
                          bool may_time_out) {
    char want[64];
    snprintf(want, sizeof want, "Google Search %s:", version);
    EXPECT(r, *i < n && strcmp(lines[(*i)++], want) == 0);
    bool kinds[3] = {false, false, false}, timed_out = false;
    const char *kind_names[3] = {"web", "image", "video"};
    int results = 0;
    for (; *i < n && starts_with(lines[*i], "  ") && !strstr(lines[*i], " results in "); (*i)++) {
        if (strcmp(lines[*i], "  timed out") == 0) {
            timed_out = true;
            continue;
        }
        bool known = false;
        for (int k = 0; k < 3; k++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "  %s result for \"golang\" (%s", kind_names[k],
                     kind_names[k]);
            if (starts_with(lines[*i], prefix)) {
                EXPECT(r, !kinds[k]); /* one result per kind */
                kinds[k] = known = true;
            }
        }
        EXPECT(r, known);
        results++;
    }
    int got = -1;
    long long ms = -1;
    EXPECT(r, *i < n && sscanf(lines[(*i)++], "  %d results in %lld ms", &got, &ms) == 2);
    EXPECT(r, got == results);
    if (may_time_out) {
        /* Within its deadline: every kind answered, or the timeout marker.
         * Not the elapsed time: on an overloaded machine a thread waits its
         * turn for a CPU far past 80 ms (40 busy threads on 2 CPUs: a sleep
         * 250 ms late), and this must not fail then. */
        EXPECT(r, results == 3 || timed_out);
        EXPECT(r, ms >= 0);
    } else {
        EXPECT(r, results == 3 && !timed_out);
    }
}

TEST(google_search) {
    run_t *r = run_example("google_search", "3", NULL);
    expect_clean(r);
    char *lines[256];
    int n = split_lines(r->out, lines, 256), i = 0;
    for (int round = 0; round < 3; round++) {
        expect_search(r, lines, n, &i, "1.0", false);
        expect_search(r, lines, n, &i, "2.0", false);
        expect_search(r, lines, n, &i, "2.1", true);
        expect_search(r, lines, n, &i, "3.0", true);
    }
    EXPECT(r, i == n);
    free_run(r);
}

TEST(ping_pong) {
    run_t *r = run_example("ping_pong", "55", NULL);
    expect_clean(r);
    char *lines[256];
    int n = split_lines(r->out, lines, 256), hits = 0;
    /* Whoever serves, they alternate and every hit counts once. */
    const char *first = starts_with(lines[0], "ping ") ? "ping" : "pong";
    const char *second = first[1] == 'i' ? "pong" : "ping";
    for (; hits < n - 1; hits++) {
        char want[32];
        snprintf(want, sizeof want, "%s %d", hits % 2 ? second : first, hits + 1);
        if (strcmp(lines[hits], want) != 0) FAIL_RUN(r, "line %d: expected \"%s\"", hits + 1, want);
    }
    char want[64];
    snprintf(want, sizeof want, "game over after %d hits", hits);
    EXPECT(r, hits >= 1 && strcmp(lines[n - 1], want) == 0);
    free_run(r);
}

TEST(subscription) {
    run_t *r = run_example("subscription", "6", NULL);
    expect_clean(r);
    /* The second fetch fails and is retried; repeated posts are dropped. */
    EXPECT_OUT(r, "blog.golang.org post 1\nblog.golang.org post 2\nblog.golang.org post 3\n"
                  "blog.golang.org post 4\nblog.golang.org post 5\nblog.golang.org post 6\n"
                  "closed: ok\n");
    free_run(r);
}

TEST(ring_buffer) {
    run_t *r = run_example("ring_buffer", "20", NULL);
    expect_clean(r);
    /* read: increasing values, always ending with the newest */
    EXPECT(r, starts_with(r->out, "read:"));
    char *s = r->out + 5, *end, *rest = strchr(s, '\n');
    EXPECT(r, rest != NULL);
    *rest++ = 0;
    int last = 0, got = 0;
    for (long v; (v = strtol(s, &end, 10)), end != s; s = end, got++) {
        EXPECT(r, v > last);
        last = (int)v;
    }
    EXPECT(r, last == 20);
    char want[64];
    snprintf(want, sizeof want, "%d of 20 values read, %d dropped\n", got, 20 - got);
    EXPECT(r, strcmp(rest, want) == 0);
    free_run(r);
}

TEST(rate_limit) {
    run_t *r = run_example("rate_limit", NULL);
    expect_clean(r);
    char *lines[64];
    int n = split_lines(r->out, lines, 64);
    EXPECT(r, n == 12);
    EXPECT(r, strcmp(lines[0], "one request per 10 ms:") == 0);
    EXPECT(r, strcmp(lines[6], "bursts of 3, then one per 10 ms:") == 0);
    /* Request k waits for tick k; the bursty limiter lets three through at
     * once and then one per tick. A tick never comes early. */
    for (int k = 1; k <= 5; k++) {
        int req;
        long long at;
        EXPECT(r, sscanf(lines[k], "  request %d at +%lld ms", &req, &at) == 2 && req == k);
        EXPECT(r, at >= 10 * k - 1);
        EXPECT(r, sscanf(lines[6 + k], "  request %d at +%lld ms", &req, &at) == 2 && req == k);
        if (k > 3) EXPECT(r, at >= 10 * (k - 3) - 1);
    }
    free_run(r);
}

TEST(race) {
    run_t *r = run_example("race", NULL);
#ifdef TU_TSAN
    /* The racy version's report is the expected output ... */
    free_run(r);
    r = run_example("race", "racy", NULL);
    EXPECT(r, WIFEXITED(r->status) && WEXITSTATUS(r->status) == 66); /* TSan's exit code */
    EXPECT(r, strstr(r->err, "WARNING: ThreadSanitizer: data race") != NULL);
    EXPECT(r, strstr(r->err, "race.c") != NULL);
    free_run(r);
    /* ... and the three fixes are silent. */
    r = run_example("race", "mutex", "atomic", "channel", NULL);
#endif
    expect_clean(r);
    char *lines[16];
    int n = split_lines(r->out, lines, 16), i = 0;
    const char *names[] = {"racy", "mutex", "atomic", "channel"};
    for (int v = 0; v < 4; v++) {
#ifdef TU_TSAN
        if (v == 0) continue;
#endif
        EXPECT(r, i + 1 < n && starts_with(lines[i], names[v]));
        long got = -1;
        EXPECT(r, sscanf(lines[i + 1], " count = %ld (want 200000)", &got) == 1);
        /* The racy count may be anything up to the right one. */
        EXPECT(r, v == 0 ? got <= 200000 : got == 200000);
        i += 2;
    }
    EXPECT(r, i == n);
    free_run(r);
}

TEST(workerpool) {
    run_t *r = run_example("workerpool", NULL);
    expect_clean(r);
    /* 36 workers, 50 tasks: every task processed exactly once. */
    char *lines[128];
    int n = split_lines(r->out, lines, 128), seen[50] = {0};
    EXPECT(r, n == 50);
    for (int i = 0; i < n; i++) {
        int task = -1;
        char end;
        EXPECT(r, sscanf(lines[i], "processing task %d%c", &task, &end) == 1);
        EXPECT(r, task >= 0 && task < 50 && !seen[task]);
        seen[task] = 1;
    }
    free_run(r);
}

TEST(pipeline) {
    run_t *r = run_example("pipeline", "1000", NULL);
    expect_clean(r);
    char *lines[8];
    int n = split_lines(r->out, lines, 8);
    EXPECT(r, n == 3);
    EXPECT(r, strcmp(lines[0], "sum of the squares of 1..1000: 333833500") == 0);
    /* Two squarers race for 1 and 2; whichever result comes first. */
    EXPECT(r, strcmp(lines[1], "first square: 1") == 0 || strcmp(lines[1], "first square: 4") == 0);
    /* Stopping early left no coroutine behind. */
    EXPECT(r, strcmp(lines[2], "coroutines left: 0") == 0);
    free_run(r);
}

/* ---- bounded_parallelism: a tree of files with known digests ---------------- */

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3u;
    return h;
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void remove_tree(const char *dir) {
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

TEST(bounded_parallelism) {
    if (!built("bounded_parallelism")) run_example("bounded_parallelism", NULL); /* fails */
    char root[] = "/tmp/goc-digest-XXXXXX", path[PATH_MAX];
    CHECK(mkdtemp(root) != NULL);
    snprintf(path, sizeof path, "%s/sub", root);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/sub/deeper", root);
    CHECK(mkdir(path, 0755) == 0);
    const char *files[][2] = {
        {"a.txt", "hello\n"}, {"sub/b.txt", ""}, {"sub/deeper/c.txt", "goc"}, {"z", "zzz"}};
    for (int i = 0; i < 4; i++) write_file(root, files[i][0], files[i][1]);
    snprintf(path, sizeof path, "%s/link", root);
    CHECK(symlink("a.txt", path) == 0); /* not a regular file: skipped */
    for (int i = 0; i < 40; i++) {       /* more files than digesters */
        char name[32], text[32];
        snprintf(name, sizeof name, "sub/n%02d", i);
        snprintf(text, sizeof text, "file %d", i);
        write_file(root, name, text);
    }

    /* Expected: "<digest>  <path>" sorted by path (the names sort as listed,
     * sub/n00..n39 after sub/deeper/). */
    char want[8192] = "";
    size_t w = 0;
#define WANT(path_, text_)                                                                  \
    w += (size_t)snprintf(want + w, sizeof want - w, "%016llx  %s/%s\n",                   \
                          (unsigned long long)fnv1a(text_), root, path_)
    WANT("a.txt", "hello\n");
    WANT("sub/b.txt", "");
    WANT("sub/deeper/c.txt", "goc");
    for (int i = 0; i < 40; i++) {
        char name[32], text[32];
        snprintf(name, sizeof name, "sub/n%02d", i);
        snprintf(text, sizeof text, "file %d", i);
        WANT(name, text);
    }
    WANT("z", "zzz");
#undef WANT

    run_t *r = run_example("bounded_parallelism", root, NULL);
    expect_clean(r);
    EXPECT_OUT(r, want);
    free_run(r);

    /* An error stops the run: a missing root, and (unless we are root, who
     * reads anything) an unreadable file among readable ones. */
    snprintf(path, sizeof path, "%s/missing", root);
    r = run_example("bounded_parallelism", path, NULL);
    EXPECT(r, WIFEXITED(r->status) && WEXITSTATUS(r->status) == 1);
    EXPECT(r, r->nout == 0 && strstr(r->err, "missing: No such file or directory\n") != NULL);
    free_run(r);
    if (geteuid() != 0) {
        snprintf(path, sizeof path, "%s/sub/n17", root);
        CHECK(chmod(path, 0) == 0);
        r = run_example("bounded_parallelism", root, NULL);
        EXPECT(r, WIFEXITED(r->status) && WEXITSTATUS(r->status) == 1);
        EXPECT(r, r->nout == 0 && strstr(r->err, "sub/n17: Permission denied\n") != NULL);
        free_run(r);
    }
    remove_tree(root);
}

TEST(context) {
    run_t *r = run_example("context", NULL);
    expect_clean(r);
    EXPECT_OUT(r, "10 ms request, 500 ms timeout: done\n"
                  "10 s request, 20 ms timeout: timed out\n"
                  "10 s request, parent cancelled at 20 ms: canceled\n");
    free_run(r);
}

TEST(errgroup) {
    run_t *r = run_example("errgroup", NULL);
    expect_clean(r);
    /* The failure at 50 ms cancels the 10 s fetch; the 5 ms one is done. */
    EXPECT_OUT(r, "fetch three URLs, one fails:\n"
                  "  http://www.golang.org/: fetched\n"
                  "  http://www.google.com/: Operation canceled\n"
                  "  http://www.somestupidname.com/: No route to host\n"
                  "  first error: No route to host\n"
                  "limit 2:\n"
                  "  12 chunks, all done, at most 2 at once\n");
    free_run(r);
}

TEST(shutdown) {
    run_t *r = run_example("shutdown", "20", NULL);
    expect_clean(r);
    EXPECT_OUT(r, "3 workers running; Ctrl-C (SIGINT) or SIGTERM stops them\n"
                  "got SIGINT: shutting down\n"
                  "workers stopped cleanly; bye\n");
    free_run(r);
}

TEST(echo_server) {
    run_t *r = run_example("echo_server", "50", NULL);
    expect_clean(r);
    EXPECT_OUT(r, "echo server up; 50 clients connect\n"
                  "50 clients got their echo\n"
                  "got SIGINT: shutting down\n"
                  "served 50 connections; bye\n");
    free_run(r);
}

/* The tour runs every example once more, as `make tour` does. Not under the
 * sanitizers: 100,000 coroutines of the daisy chain are slow there. */
TEST(demo) {
#ifndef CHECK_SANITIZED
    /* The tour starts the examples itself, with execv, which the host
     * kernel refuses for AArch64 binaries without binfmt_misc; each example
     * ran through the emulator in its own case above. */
    CHECK_SKIP_EMULATED("the tour execs the examples itself, not through the emulator");
    run_t *r = run_example("demo", NULL);
    expect_clean(r);
    EXPECT(r, starts_with(r->out, "goc: the Go concurrency lesson's programs, in C\n"));
    EXPECT(r, strstr(r->out, "\n 8. daisy_chain: ") && strstr(r->out, "   | 100001\n"));
    EXPECT(r, strstr(r->out, "\nTour done in ") != NULL);
    free_run(r);
#endif
}

/* Every C block of README.md is a program (examples/CMakeLists.txt writes
 * them out as readme_1.c, readme_2.c, …): each must build, and run cleanly. */
TEST(readme) {
    char path[PATH_MAX + 64], line[256];
    example_path(path, sizeof path, "built.txt");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    int ran = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!starts_with(line, "readme_")) continue;
        run_t *r = run_example(line, NULL);
        expect_clean(r);
        free_run(r);
        ran++;
    }
    fclose(f);
    CHECK(ran >= 1); /* the first program needs nothing but channels */
}
