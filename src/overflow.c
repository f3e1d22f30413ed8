/* Stack overflow reports. A coroutine that runs into its guard pages faults;
 * the SIGSEGV handler, on the worker's alternate signal stack, recognises the
 * address as the running coroutine's guard and reports it. Where there are no
 * guard pages the scheduler checks a canary word at every switch-out. Either
 * way the report names the coroutine, then the process aborts: its memory can
 * no longer be trusted. Faults that are not ours go to the previous handler.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

static struct sigaction previous;

void goc__stack_overflow(const goc__g *g) {
    char buf[256];
    /* snprintf with only integers and strings does not allocate in glibc. */
    snprintf(buf, sizeof buf,
             "goc: stack overflow in coroutine %llu%s%s%s (stack of %lu bytes)\n",
             (unsigned long long)g->id, g->name ? " \"" : "", g->name ? g->name : "",
             g->name ? "\"" : "", (unsigned long)g->stack_asked);
    goc__print_raw(buf);
    abort();
}

static void on_segv(int sig, siginfo_t *si, void *uc) {
    goc__w *w = goc__tls_w();
    if (w && w->cur) {
        const char *a = si->si_addr;
        const goc__g *g = w->cur;
        if (a >= g->stack_lo - GOC__STACK_GUARD && a < g->stack_lo) goc__stack_overflow(g);
    }
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, si, uc);
        return;
    }
    if (previous.sa_handler == SIG_IGN) return;
    if (previous.sa_handler != SIG_DFL) {
        previous.sa_handler(sig);
        return;
    }
    /* Default action: restore it and let the access fault again. */
    signal(sig, SIG_DFL);
}

void goc__overflow_handler_install(void) {
    /* Once only: a start that failed is retried, and a second install would
     * record this very handler as `previous` and chain to itself forever. */
    static bool installed;
    if (installed) return;
    installed = true;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous);
}
