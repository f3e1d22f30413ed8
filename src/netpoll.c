/* The epoll instance, its wake-up eventfd, and one poll.
 *
 * Invariants: at most one thread is inside goc__netpoll_run (np.polling);
 * np.blocking is true only while that thread may block in epoll_wait;
 * np.wake_sig is 1 from a goc__netpoll_break that wrote the eventfd until
 * the poller read it, so a storm of breaks costs one write.
 *
 * Locking: init_lock guards the instance's one creation, a leaf (lockrank.h);
 * fd.c takes the descriptor's lock per event.
 *
 * Design: Go's netpoll_epoll.go: edge-triggered, each fd registered once, an
 * eventfd to interrupt a blocked poll, one poller at a time (go#65064: many
 * pollers on many cores fight over the epoll lock). Timeouts under a
 * millisecond use epoll_pwait2 (Linux 5.11), else round up: never a busy
 * loop of zero-timeout polls.
 */
#include "netpoll.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fd.h"
#include "goc.h"
#include "lock.h"
#include "san.h"
#include "sched.h"

#define MAX_EVENTS 128
#define WAKE_TAG UINT64_MAX /* epoll data of the eventfd */

_Atomic int goc__netpoll_waiters;

static struct {
    goc__lock init_lock;
    _Atomic int state; /* 0 not yet, 1 ready, < 0 the init error */
    int epfd, efd;
    _Atomic bool polling, blocking;
    _Atomic uint32_t wake_sig;
    _Atomic int64_t last;
    _Atomic bool no_pwait2;
} np;

/* A server's fds are its connections: the soft limit (often 1024) goes up
 * to the hard one, as Go does at start (go#46279). */
static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int init_slow(void) {
    goc__lock_acquire(&np.init_lock, GOC__RANK_NETPOLL);
    int st = atomic_load(&np.state);
    if (st == 0) {
        raise_nofile();
        int ep = epoll_create1(EPOLL_CLOEXEC);
        int ev = ep < 0                           ? -1
                 : goc__fault_hit(GOC__FAULT_FD) ? (errno = EMFILE, -1)
                                                  : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.u64 = WAKE_TAG};
        if (ep < 0 || ev < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) != 0) {
            st = -errno;
            if (ev >= 0) close(ev);
            if (ep >= 0) close(ep);
            /* Out of fds may pass: try again next time. */
            goc__lock_release(&np.init_lock);
            return st;
        }
        np.epfd = ep;
        np.efd = ev;
        st = 1;
        goc__race_release(&np); /* TSan tracks fds: their creation before use */
        atomic_store_explicit(&np.state, 1, memory_order_release);
    }
    goc__lock_release(&np.init_lock);
    return st == 1 ? GOC_OK : st;
}

int goc__netpoll_init(void) {
    if (GOC_LIKELY(atomic_load_explicit(&np.state, memory_order_acquire) == 1)) return GOC_OK;
    return init_slow();
}

int goc__netpoll_fd(void) {
    goc__race_acquire(&np); /* the epoll fd's creation before its use */
    return np.epfd;
}

int64_t goc__netpoll_last(void) { return atomic_load_explicit(&np.last, memory_order_relaxed); }

void goc__netpoll_wait_added(void) {
    atomic_fetch_add(&goc__netpoll_waiters, 1);
    /* Nobody blocks in epoll_wait: an idle worker comes to do it. Busy
     * workers poll between coroutines, the monitor when they do not. */
    if (!atomic_load(&np.blocking)) goc__wakep();
}

void goc__netpoll_wait_removed(void) { atomic_fetch_sub(&goc__netpoll_waiters, 1); }

void goc__netpoll_break(void) {
    if (atomic_load(&np.state) != 1) return;
    if (atomic_load_explicit(&np.wake_sig, memory_order_relaxed) ||
        atomic_exchange(&np.wake_sig, 1))
        return;
    uint64_t one = 1;
    goc__race_acquire(&np);
    ssize_t r = write(np.efd, &one, sizeof one);
    (void)r; /* EAGAIN: the counter is full, so a wake-up is pending anyway */
}

bool goc__netpoll_acquire(void) {
    if (atomic_load(&np.state) != 1 || atomic_load_explicit(&np.polling, memory_order_relaxed))
        return false;
    return !atomic_exchange(&np.polling, true);
}

void goc__netpoll_release(void) { atomic_store(&np.polling, false); }

/* epoll_wait until deadline (0: no wait, < 0: none), with a nanosecond
 * timeout where the kernel takes one. */
static int wait_events(struct epoll_event *ev, int64_t deadline) {
    if (deadline <= 0) return epoll_wait(np.epfd, ev, MAX_EVENTS, deadline == 0 ? 0 : -1);
    int64_t left = deadline - goc__now();
    if (left <= 0) return epoll_wait(np.epfd, ev, MAX_EVENTS, 0);
#ifdef SYS_epoll_pwait2
    if (!atomic_load_explicit(&np.no_pwait2, memory_order_relaxed)) {
        struct timespec ts = {left / GOC_SEC, left % GOC_SEC};
        long n = syscall(SYS_epoll_pwait2, np.epfd, ev, MAX_EVENTS, &ts, NULL, 0);
        if (n >= 0 || errno != ENOSYS) return (int)n;
        atomic_store(&np.no_pwait2, true);
    }
#endif
    int64_t ms = (left + GOC_MS - 1) / GOC_MS; /* rounded up: never 0 */
    return epoll_wait(np.epfd, ev, MAX_EVENTS, ms > INT32_MAX ? INT32_MAX : (int)ms);
}

int goc__netpoll_run(int64_t deadline) {
    struct epoll_event ev[MAX_EVENTS];
    goc__race_acquire(&np);
    if (deadline != 0) atomic_store(&np.blocking, true);
    int n = wait_events(ev, deadline);
    if (deadline != 0) atomic_store(&np.blocking, false);
    int readied = 0;
    goc__stat_global(&goc__stat_polls, 1);
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u64 == WAKE_TAG) {
            /* Read, then clear: a break that lands in between sees the flag
             * still set and writes nothing, which is right (it was for this
             * poller, awake now). Cleared first, its write could be consumed
             * by this read with its edge already reported: the flag stayed
             * set, no break ever wrote again, and a worker slept in
             * epoll_wait for good. */
            uint64_t v;
            ssize_t r = read(np.efd, &v, sizeof v);
            (void)r;
            atomic_store(&np.wake_sig, 0);
            continue;
        }
        readied += goc__fd_event((int)(uint32_t)ev[i].data.u64, (uint32_t)(ev[i].data.u64 >> 32),
                                 ev[i].events);
    }
    atomic_store_explicit(&np.last, goc__now(), memory_order_relaxed);
    atomic_store(&np.polling, false);
    return readied;
}
