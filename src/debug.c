/* The switches of goc's introspection, read once when the runtime starts
 * (GOC_DEBUG, GOC_DEADLOCK, GOC_TRACEBACK), and the monitor's share of it:
 * the SIGQUIT dump and deadlock detection.
 *
 * Invariants: the SIGQUIT handler only sets a flag and kicks the monitor
 * (an atomic exchange and a futex wake, both async-signal-safe); the dump
 * itself runs on the monitor thread.
 * Locking: none of its own.
 *
 * Design: Go dumps every goroutine on SIGQUIT and exits with status 2; so
 * does goc, unless the program had given SIGQUIT a disposition of its own
 * before the runtime started (a library must not take a signal away from
 * its program) or GOC_TRACEBACK=none. Running the dump in the handler would
 * call stdio and malloc from a signal handler; the monitor is a thread of
 * goc's own that is never busy for long, so it is the natural place.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debug.h"
#include "goc.h"
#include "trace.h"

static _Atomic int quit_pending;

static void on_sigquit(int sig) {
    (void)sig;
    atomic_store(&quit_pending, 1);
    goc__monitor_kick();
}

static void print_stats(void) { goc__stats_print(stderr); }

bool goc__env_listed(const char *s, const char *word) {
    size_t n = strlen(word);
    while (s && *s) {
        if (strncmp(s, word, n) == 0 && (s[n] == ',' || s[n] == 0)) return true;
        s = strchr(s, ',');
        if (s) s++;
    }
    return false;
}

void goc__debug_start(void) {
    const char *dbg = getenv("GOC_DEBUG");
    if (goc__env_listed(dbg, "stats")) atexit(print_stats);
    const char *trace = getenv("GOC_TRACE");
    if (trace && *trace) goc__trace_env(trace);
    const char *dl = getenv("GOC_DEADLOCK");
    goc__deadlock_enabled = !(dl && strcmp(dl, "0") == 0);
    if (goc__deadlock_enabled) atexit(goc__partial_report); /* what the monitor has not written */
    const char *tb = getenv("GOC_TRACEBACK");
    if (tb && (strcmp(tb, "none") == 0 || strcmp(tb, "0") == 0)) return;
    struct sigaction old;
    if (sigaction(SIGQUIT, NULL, &old) != 0 || old.sa_handler != SIG_DFL ||
        (old.sa_flags & SA_SIGINFO))
        return; /* the program's own */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigquit;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGQUIT, &sa, NULL);
}

bool goc__debug_monitor(bool all_idle) {
    goc__partial_report();
    if (GOC_UNLIKELY(atomic_load_explicit(&quit_pending, memory_order_relaxed))) {
        fprintf(stderr, "SIGQUIT: quit\n\n");
        goc_dump(stderr);
        _exit(2);
    }
    return all_idle && goc__deadlock_enabled && goc__deadlock_check();
}
