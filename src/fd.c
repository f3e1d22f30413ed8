/* Per-fd descriptors, fd waits, goc_fd_wait, goc_poll and goc_fd_close.
 *
 * A descriptor (goc__pd) per fd number lives in a table of chunks allocated
 * on demand and never freed: epoll can report an fd after its close, and an
 * event must always find memory to look at. Each registration carries the
 * descriptor's generation (seq) in epoll's data; goc_fd_close bumps it, so
 * an event meant for a closed fd never wakes the number's next owner.
 *
 * Waiting: a waiter queues a node on the direction it waits for and parks;
 * an edge wakes every node of that direction (they retry their system call;
 * most find data, the rest wait again). An edge that finds no waiter sets
 * the direction's ready bit, which the next wait consumes instead of
 * parking: edge-triggered epoll reports each edge once. Deadlines are the
 * wait's own timer (park.c), a context is a receive node on its done
 * channel, as goc_sem_acquire_ctx does.
 *
 * Invariants: a node is queued on at most one list, and only while its wait
 * is unclaimed or being claimed under the descriptor's lock; a claimed node
 * is unlinked by its claimer; goc__netpoll_waiters counts queued nodes;
 * refs & PD_CLOSING is set from goc_fd_close until the last call inside
 * leaves and the fd is closed, and no call enters meanwhile.
 *
 * Locking: a descriptor's lock guards its waiter lists and flags. A wait on
 * several fds (goc_poll) takes their locks in ascending address order, then
 * a context's done channel lock (lockrank.h); a context's error is read
 * after they are released, as a context's lock ranks before them. A park
 * hook releases them, the done lock first and the descriptors' last, since
 * the waiter's own clean-up takes every descriptor lock again before it
 * returns (so the hook may read the node array on its stack until its last
 * release).
 *
 * ThreadSanitizer tracks fds: the descriptor carries the edges that the
 * kernel gives (a call's use of the fd before its close, a close before the
 * number's next owner), as Go's internal/poll does for reads and writes.
 */
#include "fd.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chan.h"
#include "netpoll.h"
#include "park.h"

#define PD_CLOSING 0x80000000u
#define CHUNK_BITS 10
#define CHUNK (1u << CHUNK_BITS)
#define MAX_FD (1u << 22)     /* beyond Linux's fs.nr_open maximum */
#define CTX_WON (-20001)      /* the done channel woke the wait    */
#define POLL_STACK_NODES 16   /* goc_poll's nodes on the stack up to this */

typedef struct goc__fdw {
    goc__wait *wt;
    goc__pd *pd;
    int fd;
    int dir;
    goc__link link;               /* (l) in waiters[dir]; then a wake list */
    bool queued;                  /* (l) in waiters[dir]                 */
    bool for_lock;                /* waits for busy[dir] to clear, not an edge */
} goc__fdw;

static _Atomic(goc__pd *) chunks[MAX_FD / CHUNK];

goc__pd *goc__pd_get(int fd) {
    if (fd < 0 || (unsigned)fd >= MAX_FD) return NULL;
    unsigned c = (unsigned)fd >> CHUNK_BITS;
    goc__pd *chunk = atomic_load_explicit(&chunks[c], memory_order_acquire);
    if (GOC_UNLIKELY(!chunk)) {
        goc__pd *fresh = goc__calloc(CHUNK, sizeof *fresh);
        if (!fresh) return NULL;
        goc__pd *none = NULL;
        if (atomic_compare_exchange_strong(&chunks[c], &none, fresh))
            chunk = fresh;
        else {
            goc__free(fresh);
            chunk = none;
        }
    }
    return &chunk[(unsigned)fd & (CHUNK - 1)];
}

/* The descriptor of fd if its chunk exists; never allocates. */
static goc__pd *pd_find(int fd) {
    if (fd < 0 || (unsigned)fd >= MAX_FD) return NULL;
    goc__pd *chunk = atomic_load_explicit(&chunks[(unsigned)fd >> CHUNK_BITS], memory_order_acquire);
    return chunk ? &chunk[(unsigned)fd & (CHUNK - 1)] : NULL;
}

goc__pd *goc__pd_open(int fd, int *err) {
    if (fd < 0) {
        *err = GOC_EINVAL;
        return NULL;
    }
    int r = goc__rt_start();
    if (r == GOC_OK) r = goc__netpoll_init();
    if (r != GOC_OK) {
        *err = r;
        return NULL;
    }
    goc__pd *pd = goc__pd_get(fd);
    if (!pd) *err = (unsigned)fd >= MAX_FD ? GOC_EBADF : GOC_ENOMEM;
    return pd;
}

/* ---- waiter lists (descriptor locked) ---------------------------------- */

static void node_push(goc__fdw *n) {
    GOC_ASSERT_HELD(&n->pd->lock);
    GOC_ASSERT(!n->queued); /* on at most one list */
    goc__list_push_back(&n->pd->waiters[n->dir], &n->link);
    n->queued = true;
    goc__netpoll_wait_added();
}

static void node_unlink(goc__fdw *n) {
    GOC_ASSERT_HELD(&n->pd->lock);
    GOC_ASSERT(n->queued);
    goc__list_remove(&n->pd->waiters[n->dir], &n->link);
    n->queued = false;
    goc__netpoll_wait_removed();
}

static goc__fdw *node_of(goc__link *l) { return GOC__LIST_ENTRY(l, goc__fdw, link); }

/* Claims every waiter of pd's direction dir with why, unlinking all of
 * them; the claimed ones go onto the front of wake. Returns whether a
 * waiter for an edge (not for the lock) was claimed: one that will retry
 * its system call, so the edge needs no ready bit. */
static bool claim_all(goc__pd *pd, int dir, int why, goc__list *wake) {
    bool edge_taken = false;
    goc__link *l;
    while ((l = pd->waiters[dir].head)) {
        goc__fdw *n = node_of(l);
        node_unlink(n);
        if (goc__wait_claim(n->wt, why)) {
            edge_taken |= !n->for_lock;
            goc__list_push_front(wake, &n->link);
        }
    }
    return edge_taken;
}

/* After the descriptor locks are released: wakes what claim_all collected,
 * each popped before its wake (it is gone once its waiter runs); returns how
 * many. An event from the poller (polled) queues its waiters at the tail, as
 * Go's netpoll readies do, not in the hand-off slot a running coroutine's
 * wake takes: polls also run in I/O calls that complete without blocking
 * (sched.c: goc__preempt_point), and dialers such a poll readied into `next`
 * would run ahead of an accept loop that yielded there, again and again,
 * until the listen backlog overflowed (tests/test_net.c:
 * io_loop_does_not_starve_its_peers). */
static int wake_all(goc__list *wake, bool polled) {
    int k = 0;
    goc__link *l;
    while ((l = goc__list_pop_front(wake))) {
        goc__wait *wt = node_of(l)->wt;
        if (polled)
            goc__ready(wt->g, false);
        else
            goc__wait_wake(wt);
        k++;
    }
    return k;
}

/* ---- events and close -------------------------------------------------- */

int goc__fd_event(int fd, uint32_t seq, uint32_t events) {
    goc__pd *pd = pd_find(fd);
    if (!pd) return 0;
    uint8_t bits = 0;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) bits |= GOC_READ;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) bits |= GOC_WRITE;
    goc__list wake = {0};
    goc__lock_acquire(&pd->lock, GOC__RANK_FD);
    if (pd->seq == seq) {
        for (int dir = 0; dir < 2; dir++) {
            uint8_t bit = (uint8_t)(1 << dir);
            if ((bits & bit) && !claim_all(pd, dir, GOC_OK, &wake)) pd->ready |= bit;
        }
    }
    goc__lock_release(&pd->lock);
    return wake_all(&wake, true);
}

/* The last call out (or goc_fd_close itself) closes fd: the registration
 * goes first, then the generation moves on, then the number is freed. */
static void really_close(goc__pd *pd, int fd) {
    goc__race_acquire(pd); /* every call inside fd left before the close */
    if (goc__netpoll_init() == GOC_OK) epoll_ctl(goc__netpoll_fd(), EPOLL_CTL_DEL, fd, NULL);
    goc__lock_acquire(&pd->lock, GOC__RANK_FD);
    pd->seq++;
    pd->ready = 0;
    pd->owned = false;
    pd->closing = false;
    pd->busy[0] = pd->busy[1] = false;
    goc__lock_release(&pd->lock);
    atomic_store(&pd->refs, 0);
    close(fd);
    goc__race_release(pd); /* the close before the number's next owner */
}

int goc__pd_enter(goc__pd *pd) {
    uint32_t r = atomic_load_explicit(&pd->refs, memory_order_relaxed);
    do {
        if (r & PD_CLOSING) return GOC_CLOSED;
    } while (!atomic_compare_exchange_weak(&pd->refs, &r, r + 1));
    goc__race_acquire(pd);
    return GOC_OK;
}

void goc__pd_leave(goc__pd *pd, int fd) {
    goc__race_release(pd);
    if (atomic_fetch_sub(&pd->refs, 1) == (PD_CLOSING | 1)) really_close(pd, fd);
}

int goc_fd_close(int fd) {
    int err;
    goc__pd *pd = goc__pd_open(fd, &err);
    if (!pd) { /* no descriptor, so nobody can wait on fd */
        if (fd < 0) return GOC_EINVAL;
        return close(fd) == 0 ? GOC_OK : -errno;
    }
    goc__list wake = {0};
    goc__lock_acquire(&pd->lock, GOC__RANK_FD);
    if (pd->closing) {
        goc__lock_release(&pd->lock);
        return GOC_CLOSED;
    }
    pd->closing = true;
    claim_all(pd, GOC__DIR_READ, GOC_CLOSED, &wake);
    claim_all(pd, GOC__DIR_WRITE, GOC_CLOSED, &wake);
    goc__lock_release(&pd->lock);
    wake_all(&wake, false);
    if (atomic_fetch_or(&pd->refs, PD_CLOSING) == 0) really_close(pd, fd);
    return GOC_OK;
}

/* ---- registration ------------------------------------------------------ */

static int epoll_add(goc__pd *pd, int fd, uint32_t seq) {
    if (goc__fault_hit(GOC__FAULT_FD)) return -ENOMEM;
    goc__race_acquire(pd);
    struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                            .data.u64 = (uint64_t)seq << 32 | (uint32_t)fd};
    return epoll_ctl(goc__netpoll_fd(), EPOLL_CTL_ADD, fd, &e) == 0 ? GOC_OK : -errno;
}

int goc__fd_register(int fd) {
    int err;
    goc__pd *pd = goc__pd_open(fd, &err);
    if (!pd) return err;
    goc__lock_acquire(&pd->lock, GOC__RANK_FD);
    int r = epoll_add(pd, fd, pd->seq);
    if (r == GOC_OK) {
        pd->owned = true;
        pd->ready = 0;
    }
    goc__lock_release(&pd->lock);
    return r;
}

int goc__pd_watch(goc__pd *pd, int fd) {
    goc__lock_acquire(&pd->lock, GOC__RANK_FD);
    bool owned = pd->owned;
    uint32_t seq = pd->seq;
    goc__lock_release(&pd->lock);
    if (owned) return GOC_OK;
    int r = epoll_add(pd, fd, seq);
    if (r == GOC_OK || r == -EEXIST) return GOC_OK;
    return r == -EPERM ? 1 : r;
}

/* ---- waiting ----------------------------------------------------------- */

struct held {
    goc__fdw *nodes;
    size_t n;
    goc_chan *done;
};

/* Park hook: the done lock, then each descriptor once (nodes are sorted by
 * descriptor); nothing of h is read after the last release. */
static void unlock_held(void *p) {
    struct held *h = p;
    goc__fdw *nodes = h->nodes;
    size_t n = h->n;
    if (h->done) goc__lock_release(&h->done->lock);
    for (size_t i = 0; i < n; i++) {
        goc__pd *pd = nodes[i].pd;
        bool last_of_pd = i + 1 == n || nodes[i + 1].pd != pd;
        if (last_of_pd) goc__lock_release(&pd->lock);
    }
}

static void lock_all(goc__fdw *nodes, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (i == 0 || nodes[i].pd != nodes[i - 1].pd) goc__lock_acquire(&nodes[i].pd->lock, GOC__RANK_FD);
}

static void unlock_all(goc__fdw *nodes, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (i + 1 == n || nodes[i + 1].pd != nodes[i].pd) goc__lock_release(&nodes[i].pd->lock);
}

/* With every descriptor locked: what a wait returns without parking, or 1
 * to park. Consumes one ready bit. */
static int check_locked(goc__fdw *nodes, size_t n) {
    for (size_t i = 0; i < n; i++) {
        goc__pd *pd = nodes[i].pd;
        uint8_t bit = (uint8_t)(1 << nodes[i].dir);
        if (pd->closing) return GOC_CLOSED;
        if (nodes[i].for_lock) {
            if (!pd->busy[nodes[i].dir]) return GOC_OK;
        } else if (pd->ready & bit) {
            pd->ready &= (uint8_t)~bit;
            return GOC_OK;
        }
    }
    return 1;
}

/* Waits on nodes (sorted by descriptor, pd/fd/dir set) as goc__pd_wait does. */
static int wait_nodes(goc__fdw *nodes, size_t n, int64_t deadline, goc_ctx *ctx) {
    goc__wait wt;
    goc__wait_init(&wt, goc__self(), true);
    goc_chan *done = ctx ? goc_ctx_done(ctx) : NULL;
    lock_all(nodes, n);
    int r = check_locked(nodes, n);
    if (r == 1 && deadline == 0) r = GOC_EAGAIN;
    bool cancelled = false;
    if (r == 1 && done) {
        goc__chan_lock(done);
        cancelled = done->closed;
        if (cancelled) goc__lock_release(&done->lock);
    }
    if (r != 1 || cancelled) {
        unlock_all(nodes, n);
        /* The error only now: a context's lock ranks before these. */
        return cancelled ? goc_ctx_err(ctx) : r;
    }
    for (size_t i = 0; i < n; i++) {
        nodes[i].wt = &wt;
        node_push(&nodes[i]);
    }
    goc__node dn = {.wt = &wt, .index = CTX_WON};
    if (done) goc__waitq_push(&done->recvq, &dn);
    struct held h = {nodes, n, done};
    int lowest = nodes[0].fd; /* what goc_dump shows */
    for (size_t i = 1; i < n; i++) lowest = nodes[i].fd < lowest ? nodes[i].fd : lowest;
    goc__waiting(wt.g, GOC__WAIT_FD, (void *)(intptr_t)lowest, (uint32_t)n);
    int why = goc__wait_block(&wt, deadline, unlock_held, &h);
    lock_all(nodes, n);
    for (size_t i = 0; i < n; i++)
        if (nodes[i].queued) node_unlink(&nodes[i]);
    unlock_all(nodes, n);
    if (done) {
        goc__chan_lock(done);
        if (dn.queued) goc__waitq_unlink(&done->recvq, &dn);
        goc__lock_release(&done->lock);
    }
    if (why == CTX_WON) {
        int err = goc_ctx_err(ctx);
        return err ? err : GOC_OK; /* a send on done, a misuse: look again */
    }
    return why;
}

int goc__pd_wait(goc__pd *pd, int fd, int dir, int64_t deadline, goc_ctx *ctx) {
    goc__fdw node = {.pd = pd, .fd = fd, .dir = dir};
    return wait_nodes(&node, 1, deadline, ctx);
}

int goc__pd_lock(goc__pd *pd, int fd, int dir, int64_t deadline, goc_ctx *ctx) {
    for (;;) {
        goc__lock_acquire(&pd->lock, GOC__RANK_FD);
        int r = pd->closing ? GOC_CLOSED : !pd->busy[dir] ? GOC_OK : deadline == 0 ? GOC_EAGAIN : 1;
        if (r == GOC_OK) pd->busy[dir] = true;
        goc__lock_release(&pd->lock);
        if (r != 1) return r;
        /* Queue behind the holder; its unlock wakes this direction. */
        goc__fdw node = {.pd = pd, .fd = fd, .dir = dir, .for_lock = true};
        if ((r = wait_nodes(&node, 1, deadline, ctx)) != GOC_OK) return r;
    }
}

void goc__pd_unlock(goc__pd *pd, int dir) {
    goc__list wake = {0};
    goc__lock_acquire(&pd->lock, GOC__RANK_FD);
    pd->busy[dir] = false;
    /* The waiters retry: those queued for the lock take it, the rest find
     * their system call still would block and wait again. */
    claim_all(pd, dir, GOC_OK, &wake);
    goc__lock_release(&pd->lock);
    wake_all(&wake, false);
}

/* ---- goc_fd_wait and goc_poll ------------------------------------------ */

static int poll_bits(short revents) {
    int bits = 0;
    if (revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) bits |= GOC_READ;
    if (revents & (POLLOUT | POLLHUP | POLLERR)) bits |= GOC_WRITE;
    return bits;
}

/* Clears the ready bits the caller is about to look at with poll(2): an
 * edge after this sets them again, so the wait that follows cannot miss it. */
static void forget_ready(goc__pd *pd, int events) {
    goc__lock_acquire(&pd->lock, GOC__RANK_FD);
    pd->ready &= (uint8_t)~events;
    goc__lock_release(&pd->lock);
}

int goc__fd_wait(goc_ctx *ctx, int fd, int events, int64_t deadline) {
    if (events <= 0 || (events & ~(GOC_READ | GOC_WRITE))) return GOC_EINVAL;
    int err;
    goc__pd *pd = goc__pd_open(fd, &err);
    if (!pd) return err;
    if (goc__pd_enter(pd) != GOC_OK) return GOC_CLOSED;
    int r = goc__pd_watch(pd, fd);
    if (r == 1) r = events; /* a regular file is always ready */
    while (r == GOC_OK) {
        if (ctx && (r = goc_ctx_err(ctx)) != 0) break;
        forget_ready(pd, events);
        struct pollfd p = {.fd = fd, .events = (short)((events & GOC_READ ? POLLIN : 0) |
                                                       (events & GOC_WRITE ? POLLOUT : 0))};
        int k = poll(&p, 1, 0);
        if (k < 0 && errno != EINTR) {
            r = -errno;
            break;
        }
        if (k > 0) {
            r = (p.revents & POLLNVAL) ? GOC_EBADF : (poll_bits(p.revents) & events);
            if (r == 0) r = events; /* an error state: ready for what was asked */
            break;
        }
        goc__fdw nodes[2];
        size_t n = 0;
        if (events & GOC_READ) nodes[n++] = (goc__fdw){.pd = pd, .fd = fd, .dir = GOC__DIR_READ};
        if (events & GOC_WRITE) nodes[n++] = (goc__fdw){.pd = pd, .fd = fd, .dir = GOC__DIR_WRITE};
        r = wait_nodes(nodes, n, deadline, ctx);
    }
    goc__pd_leave(pd, fd);
    return r;
}

int goc_fd_wait(int fd, int events, int64_t timeout) {
    return goc__fd_wait(NULL, fd, events, timeout == 0 ? 0 : goc__deadline(timeout));
}

int goc_fd_wait_ctx(goc_ctx *ctx, int fd, int events) {
    if (!ctx) return GOC_EINVAL;
    return goc__fd_wait(ctx, fd, events, -1);
}

/* By descriptor address, the order their locks are taken in (one fd, one
 * descriptor: a chunk's descriptors are in fd order, but chunks are not). */
static int cmp_node(const void *a, const void *b) {
    const goc__fdw *x = a, *y = b;
    if (x->pd != y->pd) return (uintptr_t)x->pd < (uintptr_t)y->pd ? -1 : 1;
    return x->dir - y->dir;
}

/* Nodes for the fds of a poll set, sorted by descriptor; how many. Files and fds
 * epoll refuses get none: poll(2) reports them. */
static size_t poll_nodes(struct pollfd *fds, size_t n, goc__fdw *nodes, int *err) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int fd = fds[i].fd;
        if (fd < 0) continue;
        goc__pd *pd = goc__pd_open(fd, err);
        if (!pd) return 0;
        if (goc__pd_watch(pd, fd) != GOC_OK) continue;
        if (fds[i].events & (POLLIN | POLLPRI | POLLRDHUP))
            nodes[k++] = (goc__fdw){.pd = pd, .fd = fd, .dir = GOC__DIR_READ};
        if (fds[i].events & POLLOUT) nodes[k++] = (goc__fdw){.pd = pd, .fd = fd, .dir = GOC__DIR_WRITE};
    }
    qsort(nodes, k, sizeof *nodes, cmp_node);
    size_t out = 0; /* the same fd twice in the set: one node per direction */
    for (size_t i = 0; i < k; i++)
        if (out == 0 || cmp_node(&nodes[out - 1], &nodes[i]) != 0) nodes[out++] = nodes[i];
    return out;
}

int goc__poll(struct pollfd *fds, size_t n, int64_t deadline, goc_ctx *ctx) {
    if (!fds && n > 0) return GOC_EINVAL;
    goc__fdw stack_nodes[POLL_STACK_NODES], *nodes = stack_nodes;
    if (2 * n > POLL_STACK_NODES && !(nodes = goc__malloc(2 * n * sizeof *nodes))) return GOC_ENOMEM;
    int r;
    for (;;) {
        if (ctx && (r = goc_ctx_err(ctx)) != 0) break;
        int err = GOC_OK;
        size_t k = poll_nodes(fds, n, nodes, &err);
        if (err != GOC_OK) {
            r = err;
            break;
        }
        for (size_t i = 0; i < k; i++) forget_ready(nodes[i].pd, 1 << nodes[i].dir);
        r = poll(fds, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r != 0) {
            if (r < 0) r = -errno;
            break;
        }
        if (deadline == 0) break;
        r = wait_nodes(nodes, k, deadline, ctx); /* no nodes: the deadline or ctx */
        if (r == GOC_OK || r == GOC_CLOSED) continue; /* poll(2) says what */
        if (r == GOC_ETIMEDOUT) r = 0;
        break;
    }
    if (nodes != stack_nodes) goc__free(nodes);
    return r;
}

int goc_poll(struct pollfd *fds, size_t n, int64_t timeout) {
    return goc__poll(fds, n, timeout == 0 ? 0 : goc__deadline(timeout), NULL);
}
