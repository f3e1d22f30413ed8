/* goc_read and goc_write: one system call at a time, parking on the poller
 * between them.
 *
 * Invariants: a read holds its fd's read direction (goc__pd_lock) from its
 * first system call to its last, a write its write direction, so reads
 * queue behind reads and two writes never interleave their bytes; every
 * call is inside the fd (goc__pd_enter) while it may touch it, so
 * goc_fd_close never frees the number under it.
 *
 * Kinds of fd: one goc made, or a foreign non-blocking one, is read until
 * EAGAIN and then waited on; a foreign blocking fd is waited on for
 * readiness (if epoll takes it) and then read on a helper thread
 * (goc_blocking), and a regular file only on a helper thread. A socket is
 * written with MSG_NOSIGNAL; any other fd with SIGPIPE blocked in the
 * calling thread, and a SIGPIPE that the write raised is taken back, so a
 * closed peer is -EPIPE, never a signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd.h"
#include "goc.h"
#include "park.h"

/* How a call reaches fd. */
enum kind { NONBLOCKING, BLOCKING, FILE_ONLY };

struct io {
    goc__pd *pd;
    int fd;
    int dir;
    enum kind kind;
    int64_t deadline; /* goc_now; < 0 none, 0 try once */
    goc_ctx *ctx;
};

static enum kind kind_of(goc__pd *pd, int fd, int *err) {
    goc__lock_acquire(&pd->lock, GOC__RANK_FD);
    bool owned = pd->owned;
    goc__lock_release(&pd->lock);
    if (owned) return NONBLOCKING;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) {
        *err = -errno;
        return NONBLOCKING;
    }
    int w = goc__pd_watch(pd, fd);
    if (w < 0) *err = w;
    if (w == 1) return FILE_ONLY;
    return (fl & O_NONBLOCK) ? NONBLOCKING : BLOCKING;
}

/* Enters fd and takes its direction; GOC_OK or an error (nothing held). */
static int io_begin(struct io *io) {
    int err = GOC_OK;
    goc__preempt_point();
    if (io->ctx && (err = goc_ctx_err(io->ctx)) != 0) return err;
    if (!(io->pd = goc__pd_open(io->fd, &err))) return err;
    if (goc__pd_enter(io->pd) != GOC_OK) return GOC_CLOSED;
    io->kind = kind_of(io->pd, io->fd, &err);
    if (err == GOC_OK) err = goc__pd_lock(io->pd, io->fd, io->dir, io->deadline, io->ctx);
    if (err != GOC_OK) goc__pd_leave(io->pd, io->fd);
    return err;
}

static void io_end(struct io *io) {
    goc__pd_unlock(io->pd, io->dir);
    goc__pd_leave(io->pd, io->fd);
}

/* A blocking system call on a helper thread. */
struct call {
    int fd;
    void *buf;
    size_t n;
    bool write;
    ssize_t r;
};

static ssize_t nosigpipe_write(int fd, const void *buf, size_t n);

static void call_run(void *p) {
    struct call *c = p;
    do {
        c->r = c->write ? nosigpipe_write(c->fd, c->buf, c->n) : read(c->fd, c->buf, c->n);
    } while (c->r < 0 && errno == EINTR);
    if (c->r < 0) c->r = -errno;
}

static ssize_t blocking_call(int fd, void *buf, size_t n, bool write) {
    struct call c = {fd, buf, n, write, 0};
    int r = goc_blocking(call_run, &c);
    return r != GOC_OK ? r : c.r;
}

/* write(2) to a non-socket with SIGPIPE held back in this thread. */
static ssize_t nosigpipe_write(int fd, const void *buf, size_t n) {
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t r = write(fd, buf, n);
    int e = errno;
    if (r < 0 && e == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return r;
}

/* One non-blocking system call: bytes, or -errno. */
static ssize_t try_once(struct io *io, void *buf, size_t n, bool *sock) {
    ssize_t r;
    if (io->dir == GOC__DIR_READ) {
        r = read(io->fd, buf, n);
    } else if (*sock) {
        r = send(io->fd, buf, n, MSG_NOSIGNAL);
        if (r < 0 && errno == ENOTSOCK) {
            *sock = false;
            r = nosigpipe_write(io->fd, buf, n);
        }
    } else {
        r = nosigpipe_write(io->fd, buf, n);
    }
    return r < 0 ? -errno : r;
}

/* Waits until io's fd may be ready again: GOC_OK or an error. */
static int io_wait(struct io *io) {
    if (io->deadline == 0) return GOC_EAGAIN;
    return goc__pd_wait(io->pd, io->fd, io->dir, io->deadline, io->ctx);
}

/* One transfer of up to n bytes, with io begun: bytes, 0 (EOF), or error. */
static ssize_t transfer(struct io *io, void *buf, size_t n, bool *sock) {
    for (;;) {
        if (io->ctx) {
            int e = goc_ctx_err(io->ctx);
            if (e) return e;
        }
        if (io->kind == FILE_ONLY) return blocking_call(io->fd, buf, n, io->dir == GOC__DIR_WRITE);
        if (io->kind == BLOCKING) { /* ready first, then block on a helper */
            int r = goc__fd_wait(io->ctx, io->fd, io->dir == GOC__DIR_READ ? GOC_READ : GOC_WRITE,
                                 io->deadline);
            if (r < 0) return r;
            return blocking_call(io->fd, buf, n, io->dir == GOC__DIR_WRITE);
        }
        ssize_t r = try_once(io, buf, n, sock);
        if (r == -EINTR) continue;
        if (r != -EAGAIN) return r;
        int w = io_wait(io);
        if (w != GOC_OK) return w;
    }
}

static ssize_t do_read(goc_ctx *ctx, int fd, void *buf, size_t n, int64_t deadline) {
    if (!buf && n > 0) return GOC_EINVAL;
    struct io io = {.fd = fd, .dir = GOC__DIR_READ, .deadline = deadline, .ctx = ctx};
    int err = io_begin(&io);
    if (err != GOC_OK) return err;
    bool sock = true;
    ssize_t r = n == 0 ? 0 : transfer(&io, buf, n, &sock);
    io_end(&io);
    return r;
}

static ssize_t do_write(goc_ctx *ctx, int fd, const void *buf, size_t n, int64_t deadline) {
    if (!buf && n > 0) return GOC_EINVAL;
    if (n > (size_t)SSIZE_MAX) return GOC_EINVAL;
    struct io io = {.fd = fd, .dir = GOC__DIR_WRITE, .deadline = deadline, .ctx = ctx};
    int err = io_begin(&io);
    if (err != GOC_OK) return err;
    bool sock = true;
    size_t done = 0;
    ssize_t r = 0;
    while (done < n) {
        r = transfer(&io, (char *)buf + done, n - done, &sock);
        if (r <= 0) break;
        done += (size_t)r;
    }
    io_end(&io);
    return done == n ? (ssize_t)n : r < 0 ? r : GOC_EIO;
}

static int64_t io_deadline(int64_t timeout) { return timeout == 0 ? 0 : goc__deadline(timeout); }

ssize_t goc_read(int fd, void *buf, size_t n, int64_t timeout) {
    return do_read(NULL, fd, buf, n, io_deadline(timeout));
}

ssize_t goc_read_ctx(goc_ctx *ctx, int fd, void *buf, size_t n) {
    if (!ctx) return GOC_EINVAL;
    return do_read(ctx, fd, buf, n, -1);
}

ssize_t goc_write(int fd, const void *buf, size_t n, int64_t timeout) {
    return do_write(NULL, fd, buf, n, io_deadline(timeout));
}

ssize_t goc_write_ctx(goc_ctx *ctx, int fd, const void *buf, size_t n) {
    if (!ctx) return GOC_EINVAL;
    return do_write(ctx, fd, buf, n, -1);
}
