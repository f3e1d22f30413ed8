/* fork(2) after the runtime started: Go's rule, a child may exec and little
 * else.
 *
 * A child of fork has one thread, the one that called fork: the workers,
 * the monitor, the helpers and the coroutines stay in the parent, and any
 * runtime lock a parent thread held at that moment stays held. So in the
 * child the runtime never starts again: goc_go, timers and everything that
 * starts the runtime return GOC_EFORKED, goc_count is 0, and a call that
 * would block (it could only wait for a thread that is not there) aborts
 * with a message instead of hanging; non-blocking calls on channels and
 * locks work. Signals goc_signal_notify caught get their previous
 * dispositions back, since goc's handler would write to the parent's pipe.
 * exec and posix_spawn are the way out, as in Go (syscall.ForkExec).
 *
 * Invariants: the handler is registered once, when the runtime starts or
 * the first signal is caught, whichever comes first.
 */
#include <pthread.h>

#include "sched.h"

void goc__signal_forked(void);

static void child(void) {
    goc__rt_forked();
    goc__signal_forked();
    goc__lend_forked();
}

static void watch(void) { pthread_atfork(NULL, NULL, child); }

void goc__fork_watch(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, watch);
}
