/* goc_listen, goc_accept and goc_dial: Go's net.Listen, Accept and Dial on
 * the netpoller.
 *
 * Invariants: every socket made here is non-blocking, close-on-exec and
 * registered with the poller before anyone sees it; a dial's losing
 * attempts are closed before it returns.
 *
 * Design: Dial follows RFC 8305 (Happy Eyeballs v2) as Go does: the
 * resolved addresses, families interleaved starting with the first one's,
 * are tried one after another, a new attempt starting when the previous
 * fails or 300 ms after it started while it is still pending; the first
 * connection wins, and the first error is the one reported. Accept returns
 * EMFILE to its caller instead of retrying, so a server out of fds never
 * spins (it sleeps and retries, as net/http does).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fd.h"
#include "net.h"
#include "park.h"

#define STAGGER (300 * GOC_MS)
#define MAX_ADDRS 16

struct netw {
    int family; /* AF_UNSPEC, AF_INET, AF_INET6 or AF_UNIX */
    int type;   /* SOCK_STREAM or SOCK_DGRAM                */
};

static int parse_network(const char *network, struct netw *nw) {
    static const struct {
        const char *name;
        struct netw nw;
    } table[] = {
        {"tcp", {AF_UNSPEC, SOCK_STREAM}}, {"tcp4", {AF_INET, SOCK_STREAM}},
        {"tcp6", {AF_INET6, SOCK_STREAM}}, {"udp", {AF_UNSPEC, SOCK_DGRAM}},
        {"udp4", {AF_INET, SOCK_DGRAM}},   {"udp6", {AF_INET6, SOCK_DGRAM}},
        {"unix", {AF_UNIX, SOCK_STREAM}},
    };
    if (!network) return GOC_EINVAL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(network, table[i].name) == 0) {
            *nw = table[i].nw;
            return GOC_OK;
        }
    }
    return GOC_EINVAL;
}

/* Splits "host:port", "[v6]:port" or ":port" into host ("" for none) and
 * port; GOC_EINVAL when malformed or too long. */
static int split_host_port(const char *addr, char *host, size_t hn, char *port, size_t pn) {
    if (!addr) return GOC_EINVAL;
    const char *colon = strrchr(addr, ':');
    if (!colon || colon[1] == 0) return GOC_EINVAL;
    const char *h = addr;
    size_t len = (size_t)(colon - addr);
    if (len > 0 && h[0] == '[') {
        if (h[len - 1] != ']') return GOC_EINVAL;
        h++;
        len -= 2;
    } else if (memchr(h, ':', len)) {
        return GOC_EINVAL; /* a bare v6 address needs brackets */
    }
    if (len >= hn || strlen(colon + 1) >= pn) return GOC_EINVAL;
    const char *p = colon + 1;
    if (strspn(p, "0123456789") == strlen(p) && (strlen(p) > 5 || atoi(p) > 65535))
        return GOC_EINVAL; /* getaddrinfo would wrap it to 16 bits */
    memcpy(host, h, len);
    host[len] = 0;
    strcpy(port, colon + 1);
    return GOC_OK;
}

/* A non-blocking, close-on-exec socket, not yet registered. */
static int raw_socket(int family, int type) {
    if (goc__fault_hit(GOC__FAULT_FD)) return -EMFILE;
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

/* fd registered with the poller, or closed and the error. */
static int registered(int fd) {
    int r = goc__fd_register(fd);
    if (r == GOC_OK) return fd;
    close(fd);
    return r;
}

/* A non-blocking, close-on-exec socket registered with the poller. */
static int new_socket(int family, int type) {
    int fd = raw_socket(family, type);
    return fd < 0 ? fd : registered(fd);
}

static int unix_addr(const char *path, struct sockaddr_un *sa, socklen_t *len) {
    size_t n = path ? strlen(path) : 0;
    if (n == 0 || n >= sizeof sa->sun_path) return GOC_EINVAL;
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, n);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return GOC_OK;
}

/* ---- listen ------------------------------------------------------------- */

static int bind_listen(int family, int type, const struct sockaddr *sa, socklen_t len, bool dual) {
    int fd = new_socket(family, type);
    if (fd < 0) return fd;
    int one = 1, zero = 0;
    if (type == SOCK_STREAM && family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof one);
    int r = GOC_OK;
    if (bind(fd, sa, len) != 0 || (type == SOCK_STREAM && listen(fd, SOMAXCONN) != 0)) r = -errno;
    if (r != GOC_OK) {
        goc_fd_close(fd);
        return r;
    }
    return fd;
}

int goc_listen(const char *network, const char *address) {
    struct netw nw;
    if (parse_network(network, &nw) != GOC_OK) return GOC_EINVAL;
    int r = goc__rt_start();
    if (r != GOC_OK) return r;
    if (nw.family == AF_UNIX) {
        struct sockaddr_un sa;
        socklen_t len;
        if ((r = unix_addr(address, &sa, &len)) != GOC_OK) return r;
        return bind_listen(AF_UNIX, nw.type, (struct sockaddr *)&sa, len, false);
    }
    char host[256], port[32];
    if ((r = split_host_port(address, host, sizeof host, port, sizeof port)) != GOC_OK) return r;
    if (host[0] == 0 && nw.family != AF_INET) { /* every address: dual stack if we can */
        struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
        struct addrinfo hints = {.ai_family = AF_INET6, .ai_socktype = nw.type, .ai_flags = AI_PASSIVE};
        struct addrinfo *res;
        if ((r = goc__resolve(NULL, port, &hints, -1, NULL, &res)) != GOC_OK) return r;
        any6.sin6_port = ((struct sockaddr_in6 *)res->ai_addr)->sin6_port;
        freeaddrinfo(res);
        int fd = bind_listen(AF_INET6, nw.type, (struct sockaddr *)&any6, sizeof any6,
                             nw.family == AF_UNSPEC);
        if (fd >= 0 || nw.family == AF_INET6 || fd != GOC_EAFNOSUPPORT) return fd;
    }
    struct addrinfo hints = {.ai_family = nw.family == AF_UNSPEC && !host[0] ? AF_INET : nw.family,
                             .ai_socktype = nw.type,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    r = goc__resolve(host[0] ? host : NULL, port, &hints, -1, NULL, &res);
    if (r != GOC_OK) return r;
    r = bind_listen(res->ai_family, nw.type, res->ai_addr, res->ai_addrlen, false);
    freeaddrinfo(res);
    return r;
}

/* ---- accept ------------------------------------------------------------- */

static int accept_once(int lfd) {
    if (goc__fault_hit(GOC__FAULT_FD)) return -EMFILE;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int do_accept(goc_ctx *ctx, int lfd, int64_t deadline) {
    int err;
    goc__preempt_point();
    if (ctx && (err = goc_ctx_err(ctx)) != 0) return err;
    goc__pd *pd = goc__pd_open(lfd, &err);
    if (!pd) return err;
    if (goc__pd_enter(pd) != GOC_OK) return GOC_CLOSED;
    int r = goc__pd_watch(pd, lfd);
    if (r == 1) r = GOC_EINVAL; /* a regular file */
    if (r == GOC_OK) r = goc__pd_lock(pd, lfd, GOC__DIR_READ, deadline, ctx);
    if (r != GOC_OK) {
        goc__pd_leave(pd, lfd);
        return r;
    }
    for (;;) {
        if (ctx && (r = goc_ctx_err(ctx)) != 0) break;
        r = accept_once(lfd);
        if (r >= 0) {
            int reg = goc__fd_register(r);
            if (reg == GOC_OK) break;
            close(r);
            r = reg;
            break;
        }
        if (r == -EINTR || r == -ECONNABORTED) continue;
        if (r != -EAGAIN) break;
        if (deadline == 0) break;
        if ((r = goc__pd_wait(pd, lfd, GOC__DIR_READ, deadline, ctx)) != GOC_OK) break;
    }
    goc__pd_unlock(pd, GOC__DIR_READ);
    goc__pd_leave(pd, lfd);
    return r;
}

int goc_accept(int lfd, int64_t timeout) {
    return do_accept(NULL, lfd, timeout == 0 ? 0 : goc__deadline(timeout));
}

int goc_accept_ctx(goc_ctx *ctx, int lfd) {
    if (!ctx) return GOC_EINVAL;
    return do_accept(ctx, lfd, -1);
}

/* ---- dial --------------------------------------------------------------- */

/* Starts a connect to one address: the fd (connected, or connecting:
 * *pending set), or a negated errno. The socket is registered after
 * connect, as Go's is polled only then: its first event says how the
 * connect went, and the dialer parks until the poller has seen it. */
static int connect_start(int family, int type, const struct sockaddr *sa, socklen_t len,
                         bool *pending) {
    int fd = raw_socket(family, type);
    if (fd < 0) return fd;
    int e = connect(fd, sa, len) == 0 ? 0 : errno;
    *pending = e == EINPROGRESS || e == EINTR || e == EAGAIN;
    if (e && !*pending) {
        close(fd);
        return -e;
    }
    return registered(fd);
}

static int so_error(int fd) {
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) return -errno;
    return -e;
}

/* The addresses in RFC 8305 order: families interleaved, the first
 * result's family first. */
static size_t interleave(struct addrinfo *res, struct addrinfo **out) {
    struct addrinfo *a[MAX_ADDRS], *b[MAX_ADDRS];
    size_t na = 0, nb = 0, n = 0;
    int first = res ? res->ai_family : 0;
    for (struct addrinfo *p = res; p; p = p->ai_next) {
        if (p->ai_family == first && na < MAX_ADDRS) a[na++] = p;
        else if (p->ai_family != first && nb < MAX_ADDRS) b[nb++] = p;
    }
    for (size_t i = 0; i < na || i < nb; i++) {
        if (i < na && n < MAX_ADDRS) out[n++] = a[i];
        if (i < nb && n < MAX_ADDRS) out[n++] = b[i];
    }
    return n;
}

struct race {
    struct pollfd fds[MAX_ADDRS];
    size_t live;
    int first_err;
};

static void race_fail(struct race *rc, int err) {
    if (rc->first_err == 0) rc->first_err = err;
}

static void race_close_all(struct race *rc) {
    for (size_t i = 0; i < rc->live; i++) goc_fd_close(rc->fds[i].fd);
    rc->live = 0;
}

/* Looks at the attempts poll marked: the winner's fd, or 0 to go on. */
static int race_collect(struct race *rc) {
    for (size_t i = 0; i < rc->live;) {
        if (!rc->fds[i].revents) {
            i++;
            continue;
        }
        int fd = rc->fds[i].fd, e = so_error(fd);
        rc->fds[i] = rc->fds[--rc->live];
        if (e == 0) return fd;
        race_fail(rc, e);
        goc_fd_close(fd);
    }
    return 0;
}

/* Waits for one pending connect: GOC_OK once connected, or an error. The
 * socket was registered before connect, so its edge is not missed. */
static int connect_wait(int fd, int64_t deadline, goc_ctx *ctx) {
    int err;
    goc__pd *pd = goc__pd_open(fd, &err);
    if (!pd) return err;
    for (;;) {
        int r = goc__pd_wait(pd, fd, GOC__DIR_WRITE, deadline, ctx);
        if (r != GOC_OK) return r;
        int e = so_error(fd);
        if (e != 0) return e;
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) return GOC_OK;
        if (errno != ENOTCONN) return -errno;
    }
}

static int happy_eyeballs(struct addrinfo *res, int type, int64_t deadline, goc_ctx *ctx) {
    struct addrinfo *addrs[MAX_ADDRS];
    size_t n = interleave(res, addrs), next = 0;
    struct race rc = {.live = 0, .first_err = 0};
    int64_t next_start = 0;
    for (;;) {
        if (next < n && (rc.live == 0 || goc__now() >= next_start)) {
            struct addrinfo *a = addrs[next++];
            bool pending;
            int fd = connect_start(a->ai_family, type, a->ai_addr, a->ai_addrlen, &pending);
            if (fd < 0) {
                race_fail(&rc, fd);
                continue;
            }
            if (!pending) {
                race_close_all(&rc);
                return fd;
            }
            rc.fds[rc.live++] = (struct pollfd){.fd = fd, .events = POLLOUT};
            next_start = goc__now() + STAGGER;
        }
        if (rc.live == 0) return rc.first_err ? rc.first_err : GOC_ENOHOST;
        if (rc.live == 1 && next == n) { /* the common case: one attempt left */
            int fd = rc.fds[0].fd, r = connect_wait(fd, deadline, ctx);
            if (r == GOC_OK) return fd;
            goc_fd_close(fd);
            bool waited_out = r == GOC_ETIMEDOUT || (ctx && r == goc_ctx_err(ctx));
            return waited_out || !rc.first_err ? r : rc.first_err;
        }
        int64_t until = deadline;
        if (next < n && (until < 0 || next_start < until)) until = next_start;
        int r = goc__poll(rc.fds, rc.live, until, ctx);
        if (r < 0) {
            race_close_all(&rc);
            return r;
        }
        int fd = r > 0 ? race_collect(&rc) : 0;
        if (fd > 0) {
            race_close_all(&rc);
            return fd;
        }
        if (r == 0 && until == deadline && deadline >= 0 && goc__now() >= deadline) {
            race_close_all(&rc);
            return GOC_ETIMEDOUT;
        }
    }
}

static int dial_unix(const char *path, int type, int64_t deadline, goc_ctx *ctx) {
    struct sockaddr_un sa;
    socklen_t len;
    int r = unix_addr(path, &sa, &len);
    if (r != GOC_OK) return r;
    bool pending;
    int fd = connect_start(AF_UNIX, type, (struct sockaddr *)&sa, len, &pending);
    if (fd < 0 || !pending) return fd;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    r = goc__poll(&p, 1, deadline, ctx);
    if (r == 0) r = GOC_ETIMEDOUT;
    if (r > 0) r = so_error(fd);
    if (r != GOC_OK) {
        goc_fd_close(fd);
        return r;
    }
    return fd;
}

static int do_dial(const char *network, const char *address, int64_t deadline, goc_ctx *ctx) {
    struct netw nw;
    goc__preempt_point();
    if (parse_network(network, &nw) != GOC_OK) return GOC_EINVAL;
    int r = goc__rt_start();
    if (r != GOC_OK) return r;
    if (ctx && (r = goc_ctx_err(ctx)) != 0) return r;
    if (nw.family == AF_UNIX) return dial_unix(address, nw.type, deadline, ctx);
    char host[256], port[32];
    if ((r = split_host_port(address, host, sizeof host, port, sizeof port)) != GOC_OK) return r;
    struct addrinfo hints = {.ai_family = nw.family, .ai_socktype = nw.type,
                             .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res;
    /* An empty host is the local system, as in Go. */
    r = goc__resolve(host[0] ? host : "localhost", port, &hints, deadline, ctx, &res);
    if (r != GOC_OK) return r;
    r = happy_eyeballs(res, nw.type, deadline, ctx);
    freeaddrinfo(res);
    return r;
}

int goc_dial(const char *network, const char *address, int64_t timeout) {
    int64_t deadline = timeout == GOC_FOREVER ? -1 : goc__deadline(timeout);
    if (deadline == 0) deadline = 1; /* 0 means "try" to the waits below */
    return do_dial(network, address, deadline, NULL);
}

int goc_dial_ctx(goc_ctx *ctx, const char *network, const char *address) {
    if (!ctx) return GOC_EINVAL;
    return do_dial(network, address, -1, ctx);
}
