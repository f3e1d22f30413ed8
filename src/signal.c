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
 *   - `writes` packs the bytes the handler has written to the pipe (high
 *     32 bits) and the handlers between catching a signal and writing it
 *     (low 32 bits); `handled` counts the bytes the reader has delivered.
 *     Stop restores the old handlers, waits for a moment when no handler is
 *     in flight, and keeps delivering to ch (its `stopping` mask) until
 *     `handled` reaches the bytes written by then: the pipe is FIFO, so a
 *     signal caught before stop is delivered, not lost in the pipe (Go's
 *     TestAtomicStop: a SIGINT either reaches the channel or takes its
 *     default action). Counting caught signals instead, a later signal for
 *     another channel could be handled in place of one still being written.
 *     As in Go, a handler the kernel entered but that has not yet run its
 *     first instruction when stop looks is not seen.
 *
 * Locking: reg.lock (an internal spin lock: every critical section is short,
 * sigaction and a try-send at worst) guards the registry; it ranks before
 * channel locks (lockrank.h): the reader try-sends with it held. The
 * handler takes no lock.
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
#include <sched.h>
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
static _Atomic uint64_t writes;   /* see the invariants */
static _Atomic uint32_t handled;
static void (*_Atomic test_stall)(int); /* goc__test_signal_stall */

#define WRITTEN ((uint64_t)1 << 32)

/* ---- the handler and the reader -------------------------------------- */

static void on_signal(int sig) {
    int saved = errno;
    atomic_fetch_add_explicit(&writes, 1, memory_order_relaxed); /* in flight */
    void (*stall)(int) = atomic_load_explicit(&test_stall, memory_order_relaxed);
    if (stall) stall(sig);
    unsigned char b = (unsigned char)sig;
    int fd = atomic_load_explicit(&wfd, memory_order_acquire);
    goc__race_acquire(&wfd); /* TSan: the pipe was made before (see start) */
    bool ok = write(fd, &b, 1) == 1; /* a full pipe drops the signal */
    atomic_fetch_add_explicit(&writes, ok ? WRITTEN - 1 : (uint64_t)-1, memory_order_release);
    errno = saved;
}

void goc__test_signal_stall(void (*fn)(int)) { atomic_store(&test_stall, fn); }

void goc__signal_census(int *threads, bool *active) {
    goc__lock_acquire(&reg.lock, GOC__RANK_SIGNAL);
    *threads = reg.started;
    *active = reg.n > 0;
    goc__lock_release(&reg.lock);
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
        goc__lock_acquire(&reg.lock, GOC__RANK_SIGNAL);
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
    goc__fork_watch(); /* a child of fork gets the old dispositions back */
    goc__lock_acquire(&reg.lock, GOC__RANK_SIGNAL);
    entry *e = find(ch);
    int r = start();
    if (r == GOC_OK && !e) r = reserve(); /* adding signals needs no new entry */
    if (r != GOC_OK) {
        goc__lock_release(&reg.lock);
        return r;
    }
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

/* Waits until the reader has delivered every signal a handler has caught so
 * far. A handler is in flight for a few instructions, on another thread. */
static void wait_delivered(void) {
    uint64_t w;
    while ((uint32_t)(w = atomic_load_explicit(&writes, memory_order_acquire)) != 0) sched_yield();
    uint32_t target = (uint32_t)(w >> 32);
    for (;;) {
        uint32_t h = atomic_load_explicit(&handled, memory_order_acquire);
        if ((int32_t)(h - target) >= 0) return;
        goc__futex_wait(&handled, h, goc__now() + GOC_MS);
    }
}

int goc_signal_stop(goc_chan *ch) {
    if (!ch) return GOC_EINVAL;
    goc__lock_acquire(&reg.lock, GOC__RANK_SIGNAL);
    entry *e = find(ch);
    if (!e) {
        goc__lock_release(&reg.lock);
        return GOC_OK;
    }
    for (int s = 1; s <= 64; s++)
        if (e->mask & BIT(s)) unlisten_one(s);
    e->stopping |= e->mask;
    e->mask = 0;
    goc__lock_release(&reg.lock);
    wait_delivered(); /* signals caught before now reach ch first */
    goc__lock_acquire(&reg.lock, GOC__RANK_SIGNAL);
    e = find(ch); /* reg.v may have moved; a concurrent stop may have removed it */
    bool removed = e && e->mask == 0;
    if (e) e->stopping = 0;
    if (removed) *e = reg.v[--reg.n];
    goc__lock_release(&reg.lock);
    if (removed) goc_chan_release(ch);
    return GOC_OK;
}

/* fork.c, in a child: the dispositions goc replaced come back. No lock: the
 * child has one thread, and reg.lock may be held by a parent thread that is
 * not there. */
void goc__signal_forked(void) {
    for (int s = 1; s < NSIG; s++)
        if (reg.nlisten[s] > 0) sigaction(s, &reg.old[s], NULL);
}
