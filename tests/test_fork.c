/* fork(2) after the runtime started: the child gets clear errors and
 * aborts with a message where it would hang, exec works, and the signals
 * goc caught go back to their dispositions (a child that goc's handler
 * would keep alive on SIGTERM dies of it, and the parent hears nothing). */
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "check.h"
#include "testutil.h"

static void nothing(void *arg) { (void)arg; }

static void runtime_up(void) {
    CHECK_OK(goc_go(nothing, NULL));
    WAIT_UNTIL(goc_count() == 0, 20);
}

/* Runs fn in a child of fork; returns its wait status, its stderr in err. */
static int in_child(void (*fn)(void), char *err, size_t n) {
    int p[2];
    CHECK_EQ(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK_OP(pid, >=, 0);
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        fn();
        _exit(0);
    }
    close(p[1]);
    size_t got = 0;
    for (ssize_t r; got + 1 < n && (r = read(p[0], err + got, n - 1 - got)) > 0;) got += (size_t)r;
    err[got] = 0;
    close(p[0]);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    return st;
}

static void child_calls(void) {
    if (goc_go(nothing, NULL) != GOC_EFORKED) _exit(10);
    if (goc_after(GOC_MS) != NULL) _exit(11);
    if (goc_count() != 0) _exit(12);
    goc_chan *ch = goc_chan_make(sizeof(int), 1); /* non-blocking calls work */
    int v = 5;
    if (!ch || goc_try_send(ch, &v) != GOC_OK || goc_try_recv(ch, &v) != GOC_OK || v != 5) _exit(13);
    goc_chan_release(ch);
    execl("/bin/sh", "sh", "-c", "exit 7", (char *)NULL);
    _exit(14);
}

TEST(forked_child_gets_errors_then_execs) {
    runtime_up();
    char err[512];
    int st = in_child(child_calls, err, sizeof err);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 7)
        check_fail(__FILE__, __LINE__, "child status %#x (7 is exec's), stderr: %s", st, err);
    CHECK_OK(goc_go(nothing, NULL)); /* the parent goes on */
    WAIT_UNTIL(goc_count() == 0, 20);
}

static void child_blocks(void) {
    goc_chan *ch = goc_chan_make(sizeof(int), 0);
    int v;
    goc_recv(ch, &v); /* nobody can ever send: abort, not hang */
    _exit(20);
}

TEST(blocking_in_a_forked_child_aborts_with_a_message) {
    runtime_up();
    char err[512];
    int st = in_child(child_blocks, err, sizeof err);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    if (!strstr(err, "child of fork"))
        check_fail(__FILE__, __LINE__, "want the fork message, got: %s", err);
}

static void child_sigterm(void) {
    kill(getpid(), SIGTERM);
    for (int i = 0; i < 100; i++) usleep(10000);
    _exit(30); /* SIGTERM was caught, not fatal */
}

TEST(forked_child_dies_of_sigterm_after_signal_notify) {
    goc_chan *ch = goc_chan_make(sizeof(int), 1);
    CHECK_OK(goc_signal_notify(ch, (const int[]){SIGTERM}, 1));
    char err[512];
    int st = in_child(child_sigterm, err, sizeof err);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    /* The parent heard nothing of the child's signal. */
    CHECK_ERR(GOC_ETIMEDOUT, goc_recv_timeout(ch, NULL, 50 * GOC_MS));
    CHECK_OK(goc_signal_stop(ch));
    goc_chan_release(ch);
}
