/* Signals as channel messages (Go's os/signal Notify and Stop).
 *
 * The handler runs no goc code: it writes the signal number, one byte, to a
 * self-pipe (write(2) is async-signal-safe; errno is preserved) and returns. A
 * reader thread, started by the first goc_signal_notify, reads the pipe and
 * try-sends the number as an int to every channel registered for it, so a
 * full channel drops the signal and never blocks the reader.
 *
 * Invariants (reg.lock held):
 *   - each registered channel has one entry, with a non-empty signal mask or
 *     stopping mask, and one reference held by the registry;
 *   - nlisten[s] is the number of entries whose mask has s; our handler is
 *     installed for s exactly while nlisten[s] > 0, and old[s] holds the
 *     disposition it replaced, restored when nlisten[s] drops to 0;
 *   - every delivery happens under reg.lock, so once goc_signal_stop(ch)
 *     returns, nothing more is sent on ch;
 *   - `caught` counts the signals our handler took, `handled` those the
 *     reader has delivered or the handler dropped; stop restores the old
 *     handlers, then keeps delivering to ch (its `stopping` mask) until
 *     `handled` reaches what `caught` was, so a signal caught before stop is
 *     delivered, not lost in the pipe (Go's TestAtomicStop: a SIGINT either
 *     reaches the channel or takes its default action).
 *
 * Locking: reg.lock (an internal spin lock: every critical section is short,
 * sigaction and a try-send at worst) guards the registry; reg.lock < channel
 * lock (the reader try-sends with it held). The handler takes no lock.
 *
 * Design: a self-pipe rather than signalfd: signalfd needs the signals
 * blocked in every thread, including threads the program starts itself, and
 * changes how they behave when nobody listens; a handler plus pipe works with
 * any thread layout and restores the previous disposition exactly. Signals
 * arriving faster than the reader drains the pipe (64 KiB) are dropped, as a
 * full channel drops them. The synchronous fault signals are refused: a
 * handler that returns from SIGSEGV re-runs the faulting instruction, and the
 * runtime reports stack overflows through SIGSEGV.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "goc.h"

typedef struct entry {
    goc_chan *ch;
    uint64_t mask;     /* BIT(s) for each signal s                    */
    uint64_t stopping; /* signals a stop in progress still delivers    */
} entry;

static struct {
    goc__lock lock;
    entry *v;                       /* (lock) */
    size_t n, cap;                  /* (lock) */
    int nlisten[NSIG];              /* (lock) */
    struct sigaction old[NSIG];     /* (lock) valid while nlisten[s] > 0 */
    bool started;                   /* (lock) pipe and reader are up     */
} reg;

#define BIT(s) ((uint64_t)1 << ((s) - 1))

static _Atomic int wfd = -1; /* the pipe's write end, for the handler */
static _Atomic uint32_t caught, handled; /* see the invariants */

/* ---- the handler and the reader -------------------------------------- */

static void on_signal(int sig) {
    int saved = errno;
    atomic_fetch_add_explicit(&caught, 1, memory_order_relaxed);
    unsigned char b = (unsigned char)sig;
    int fd = atomic_load_explicit(&wfd, memory_order_acquire);
    goc__race_acquire(&wfd); /* TSan: the pipe was made before (see start) */
    if (write(fd, &b, 1) != 1)
        atomic_fetch_add_explicit(&handled, 1, memory_order_release); /* full: dropped */
    errno = saved;
}

/* With reg.lock held. */
static void deliver(int sig) {
    if (sig <= 0 || sig > 64) return;
    for (size_t i = 0; i < reg.n; i++)
        if ((reg.v[i].mask | reg.v[i].stopping) & BIT(sig)) goc_try_send(reg.v[i].ch, &sig);
}

static void *reader_main(void *arg) {
    int fd = (int)(intptr_t)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    unsigned char buf[256];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) goc__throw("signal pipe: read returned %zd, errno %d", n, errno);
        goc__lock_acquire(&reg.lock);
        for (ssize_t i = 0; i < n; i++) deliver(buf[i]);
        goc__lock_release(&reg.lock);
        atomic_fetch_add_explicit(&handled, (uint32_t)n, memory_order_release);
        goc__futex_wake(&handled, INT32_MAX);
    }
    return NULL;
}

/* With reg.lock held: the pipe and the reader, once. GOC_OK or GOC_EAGAIN. */
static int start(void) {
    if (reg.started) return GOC_OK;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return GOC_EAGAIN;
    if (fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0 ||
        goc__thread_start(reader_main, (void *)(intptr_t)fds[0], 64 * 1024) != 0) {
        close(fds[0]);
        close(fds[1]);
        return GOC_EAGAIN;
    }
    goc__race_release(&wfd); /* a handler on any thread writes to the pipe */
    atomic_store(&wfd, fds[1]);
    reg.started = true;
    return GOC_OK;
}

/* ---- registration ---------------------------------------------------- */

/* Signals a channel may receive: not the unstoppable ones, not the
 * synchronous faults, not the real-time signals glibc keeps for itself. */
static bool valid(int s) {
    if (s <= 0 || s >= NSIG || s > 64) return false;
    switch (s) {
    case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL:
        return false;
    }
    return s < 32 || s >= SIGRTMIN;
}

static void listen_one(int s) {
    if (reg.nlisten[s]++ > 0) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(s, &sa, &reg.old[s]);
}

static void unlisten_one(int s) {
    if (--reg.nlisten[s] > 0) return;
    sigaction(s, &reg.old[s], NULL);
}

static entry *find(goc_chan *ch) {
    for (size_t i = 0; i < reg.n; i++)
        if (reg.v[i].ch == ch) return &reg.v[i];
    return NULL;
}

/* With reg.lock held: room for one more entry. */
static int reserve(void) {
    if (reg.n < reg.cap) return GOC_OK;
    size_t cap = reg.cap ? reg.cap * 2 : 8;
    entry *v = goc__realloc(reg.v, cap * sizeof *v);
    if (!v) return GOC_ENOMEM;
    reg.v = v;
    reg.cap = cap;
    return GOC_OK;
}

int goc_signal_notify(goc_chan *ch, const int *signals, size_t n) {
    if (!ch || !signals || n == 0 || ch->elem != sizeof(int)) return GOC_EINVAL;
    uint64_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        if (!valid(signals[i])) return GOC_EINVAL;
        mask |= BIT(signals[i]);
    }
    goc__lock_acquire(&reg.lock);
    int r = start();
    if (r == GOC_OK) r = reserve();
    if (r != GOC_OK) {
        goc__lock_release(&reg.lock);
        return r;
    }
    entry *e = find(ch);
    if (!e) {
        e = &reg.v[reg.n++];
        *e = (entry){goc_chan_retain(ch), 0, 0};
    }
    uint64_t added = mask & ~e->mask;
    e->mask |= mask;
    for (int s = 1; s <= 64; s++)
        if (added & BIT(s)) listen_one(s);
    goc__lock_release(&reg.lock);
    return GOC_OK;
}

/* Waits until the reader has handled every signal caught up to `target`. */
static void wait_handled(uint32_t target) {
    for (;;) {
        uint32_t h = atomic_load_explicit(&handled, memory_order_acquire);
        if ((int32_t)(h - target) >= 0) return;
        goc__futex_wait(&handled, h, goc__now() + GOC_MS);
    }
}

int goc_signal_stop(goc_chan *ch) {
    if (!ch) return GOC_EINVAL;
    goc__lock_acquire(&reg.lock);
    entry *e = find(ch);
    if (!e) {
        goc__lock_release(&reg.lock);
        return GOC_OK;
    }
    for (int s = 1; s <= 64; s++)
        if (e->mask & BIT(s)) unlisten_one(s);
    e->stopping |= e->mask;
    e->mask = 0;
    uint32_t target = atomic_load_explicit(&caught, memory_order_relaxed);
    goc__lock_release(&reg.lock);
    wait_handled(target); /* signals caught before now reach ch first */
    goc__lock_acquire(&reg.lock);
    e = find(ch); /* reg.v may have moved; a concurrent stop may have removed it */
    bool removed = e && e->mask == 0;
    if (e) e->stopping = 0;
    if (removed) *e = reg.v[--reg.n];
    goc__lock_release(&reg.lock);
    if (removed) goc_chan_release(ch);
    return GOC_OK;
}
