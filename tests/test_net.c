/* Network and fd I/O on the netpoller: loopback echo from coroutines and
 * threads with checksums, waits that hold no worker, timeouts, EOF, close
 * waking every kind of waiter, errors (refused, broken pipe, unknown host),
 * unix and UDP sockets, contexts, fd reuse, fd exhaustion and injected
 * faults. Loopback only; every loop is bounded. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "check.h"
#include "netpoll.h"
#include "sched.h"
#include "sys.h"
#include "testutil.h"

static _Atomic long counter;

/* The port a listening socket got. */
static int port_of(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    CHECK_EQ(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void addr_of(int lfd, char *buf, size_t n) {
    snprintf(buf, n, "127.0.0.1:%d", port_of(lfd));
}

/* Waits until n fd waiters are parked (the poller's own count). */
static void wait_parked(int n) { WAIT_UNTIL(atomic_load(&goc__netpoll_waiters) >= n, 20); }

/* A connected pair over loopback TCP, both ends made by goc. */
static void tcp_pair(int *a, int *b) {
    int l = goc_listen("tcp", "127.0.0.1:0");
    CHECK_OP(l, >=, 0);
    char addr[64];
    addr_of(l, addr, sizeof addr);
    *a = goc_dial("tcp", addr, 5 * GOC_SEC);
    CHECK_OP(*a, >=, 0);
    *b = goc_accept(l, 5 * GOC_SEC);
    CHECK_OP(*b, >=, 0);
    CHECK_OK(goc_fd_close(l));
}

/* ---- echo ---------------------------------------------------------------- */

enum { ECHO_CORO_CLIENTS = 200, ECHO_THREAD_CLIENTS = 4, ECHO_MSGS = 20, ECHO_MAX = 6000 };

static _Atomic long server_conns, server_bytes, accept_end;

static void echo_conn(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[8192];
    for (;;) {
        ssize_t n = goc_read(fd, buf, sizeof buf, 20 * GOC_SEC);
        if (n <= 0) break;
        atomic_fetch_add(&server_bytes, n);
        if (goc_write(fd, buf, (size_t)n, 20 * GOC_SEC) != n) break;
    }
    goc_fd_close(fd);
}

static void accept_loop(void *arg) {
    int l = (int)(intptr_t)arg;
    for (;;) {
        int fd = goc_accept(l, GOC_FOREVER);
        if (fd < 0) {
            atomic_store(&accept_end, fd);
            return;
        }
        atomic_fetch_add(&server_conns, 1);
        CHECK_OK(goc_go(echo_conn, (void *)(intptr_t)fd));
    }
}

struct client {
    char addr[64];
    uint64_t seed;
    long bytes;
    uint64_t sum_out, sum_in;
};

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static void client_run(struct client *c) {
    int fd = goc_dial("tcp", c->addr, 10 * GOC_SEC);
    CHECK_OP(fd, >=, 0);
    unsigned char out[ECHO_MAX], in[ECHO_MAX];
    c->sum_out = c->sum_in = 0xcbf29ce484222325ULL;
    for (int m = 0; m < ECHO_MSGS; m++) {
        size_t len = 1 + splitmix(&c->seed) % ECHO_MAX;
        for (size_t i = 0; i < len; i++) out[i] = (unsigned char)splitmix(&c->seed);
        CHECK_EQ(goc_write(fd, out, len, 10 * GOC_SEC), (ssize_t)len);
        c->sum_out = fnv(c->sum_out, out, len);
        size_t got = 0;
        while (got < len) {
            ssize_t n = goc_read(fd, in + got, len - got, 10 * GOC_SEC);
            CHECK_OP(n, >, 0);
            got += (size_t)n;
        }
        c->sum_in = fnv(c->sum_in, in, len);
        c->bytes += (long)len;
    }
    CHECK_OK(goc_fd_close(fd));
    atomic_fetch_add(&counter, 1);
}

static void client_coro(void *arg) { client_run(arg); }

static void *client_thread(void *arg) {
    client_run(arg);
    return NULL;
}

TEST(echo_coroutines_and_threads) {
    int ncoro = (int)CHECK_SCALE(ECHO_CORO_CLIENTS);
    int l = goc_listen("tcp", "127.0.0.1:0");
    CHECK_OP(l, >=, 0);
    CHECK_OK(goc_go(accept_loop, (void *)(intptr_t)l));
    static struct client cs[ECHO_CORO_CLIENTS + ECHO_THREAD_CLIENTS];
    int total = ncoro + ECHO_THREAD_CLIENTS;
    for (int i = 0; i < total; i++) {
        addr_of(l, cs[i].addr, sizeof cs[i].addr);
        cs[i].seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
    }
    for (int i = 0; i < ncoro; i++) CHECK_OK(goc_go(client_coro, &cs[i]));
    pthread_t th[ECHO_THREAD_CLIENTS];
    for (int i = 0; i < ECHO_THREAD_CLIENTS; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, client_thread, &cs[ncoro + i]), 0);
    for (int i = 0; i < ECHO_THREAD_CLIENTS; i++) pthread_join(th[i], NULL);
    WAIT_UNTIL(atomic_load(&counter) == total, 120);
    long bytes = 0;
    for (int i = 0; i < total; i++) {
        CHECK_EQ(cs[i].sum_in, cs[i].sum_out);
        bytes += cs[i].bytes;
    }
    WAIT_UNTIL(atomic_load(&server_bytes) == bytes, 20);
    CHECK_EQ(atomic_load(&server_conns), total);
    CHECK_OK(goc_fd_close(l)); /* ends the accept loop */
    WAIT_UNTIL(atomic_load(&accept_end) != 0, 20);
    CHECK_ERR(GOC_CLOSED, (int)atomic_load(&accept_end));
}

/* ---- a parked read holds no worker ----------------------------------------- */

static _Atomic long read_result = 1;

static void read_forever(void *arg) {
    char c;
    atomic_store(&read_result, goc_read((int)(intptr_t)arg, &c, 1, GOC_FOREVER));
}

static void pinger(void *arg) {
    goc_chan *ch = arg;
    int v;
    while (goc_recv(ch, &v) == GOC_OK) atomic_fetch_add(&counter, 1);
}

TEST(parked_read_holds_no_worker) {
    int a, b;
    tcp_pair(&a, &b);
    CHECK_OK(goc_go(read_forever, (void *)(intptr_t)a));
    wait_parked(1);
    goc_chan *ch = goc_chan_make(sizeof(int), 0);
    CHECK_OK(goc_go(pinger, ch));
    long n = CHECK_SCALE(100000);
    for (int i = 0; i < n; i++) CHECK_OK(goc_send(ch, &i));
    WAIT_UNTIL(atomic_load(&counter) == n, 60);
    CHECK_EQ(atomic_load(&read_result), 1); /* still waiting */
    goc_close(ch);
    goc_chan_release(ch);
    CHECK_OK(goc_fd_close(a));
    WAIT_UNTIL(atomic_load(&read_result) != 1, 20);
    CHECK_ERR(GOC_CLOSED, (int)atomic_load(&read_result));
    CHECK_OK(goc_fd_close(b));
}

/* ---- timeouts, EOF, errors ---------------------------------------------------- */

TEST(read_timeouts_and_eof) {
    int a, b;
    tcp_pair(&a, &b);
    char buf[16];
    CHECK_ERR(GOC_EAGAIN, (int)goc_read(a, buf, sizeof buf, 0));
    CHECK_ERR(GOC_ETIMEDOUT, (int)goc_read(a, buf, sizeof buf, -5));
    CHECK_ERR(GOC_ETIMEDOUT, (int)goc_read(a, buf, sizeof buf, 2 * GOC_MS));
    CHECK_EQ(goc_write(b, "hi", 2, GOC_FOREVER), 2);
    CHECK_EQ(goc_read(a, buf, sizeof buf, GOC_FOREVER), 2);
    CHECK_EQ(goc_read(a, buf, 0, GOC_FOREVER), 0);
    CHECK_OK(goc_fd_close(b));
    CHECK_EQ(goc_read(a, buf, sizeof buf, GOC_FOREVER), 0); /* EOF */
    CHECK_OK(goc_fd_close(a));
    CHECK_ERR(GOC_EINVAL, (int)goc_read(-1, buf, 1, 0));
    CHECK_ERR(GOC_EINVAL, (int)goc_write(a, NULL, 1, 0));
}

TEST(write_to_closed_peer_is_an_error_not_sigpipe) {
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill this child */
    int a, b;
    tcp_pair(&a, &b);
    CHECK_OK(goc_fd_close(b));
    static char big[1 << 16];
    ssize_t r = 0;
    for (int i = 0; i < 100 && r >= 0; i++) r = goc_write(a, big, sizeof big, 5 * GOC_SEC);
    CHECK(r == GOC_EPIPE || r == GOC_ECONNRESET);
    CHECK_OK(goc_fd_close(a));
    /* And a pipe, which is not a socket. */
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK), 0);
    close(p[0]);
    CHECK_ERR(GOC_EPIPE, (int)goc_write(p[1], "x", 1, GOC_SEC));
    sigset_t pending;
    sigpending(&pending);
    CHECK(!sigismember(&pending, SIGPIPE));
    CHECK_OK(goc_fd_close(p[1]));
}

TEST(dial_refused_unknown_and_malformed) {
    int l = goc_listen("tcp", "127.0.0.1:0");
    char addr[64];
    addr_of(l, addr, sizeof addr);
    CHECK_OK(goc_fd_close(l));
    CHECK_ERR(GOC_ECONNREFUSED, goc_dial("tcp", addr, 5 * GOC_SEC));
    int r = goc_dial("tcp", "no-such-host.invalid:80", 5 * GOC_SEC);
    CHECK(r == GOC_ENOHOST || r == GOC_ERESOLVE);
    printf("unknown host: %s (%s)\n", goc_err_name(r), goc_strerror(r));
    CHECK_ERR(GOC_EINVAL, goc_dial("tcp", "127.0.0.1", GOC_SEC));
    CHECK_ERR(GOC_EINVAL, goc_dial("tcp", "::1:80", GOC_SEC));
    CHECK_ERR(GOC_EINVAL, goc_dial("sctp", "127.0.0.1:80", GOC_SEC));
    CHECK_ERR(GOC_EINVAL, goc_listen("tcp", "nonsense"));
    CHECK_ERR(GOC_EINVAL, goc_listen("tcp", "127.0.0.1:65536"));
    CHECK_ERR(GOC_EINVAL, goc_dial("tcp", "127.0.0.1:99999", GOC_SEC));
    CHECK_ERR(GOC_EINVAL, goc_listen(NULL, ":0"));
    CHECK(strcmp(goc_strerror(GOC_ECONNREFUSED), "connection refused") == 0);
}

TEST(localhost_and_ipv6) {
    int l = goc_listen("tcp", ":0"); /* every address */
    CHECK_OP(l, >=, 0);
    char addr[64];
    snprintf(addr, sizeof addr, "localhost:%d", port_of(l));
    int c = goc_dial("tcp", addr, 5 * GOC_SEC);
    CHECK_OP(c, >=, 0);
    int s = goc_accept(l, 5 * GOC_SEC);
    CHECK_OP(s, >=, 0);
    CHECK_EQ(goc_write(c, "ok", 2, GOC_SEC), 2);
    char buf[4];
    CHECK_EQ(goc_read(s, buf, sizeof buf, GOC_SEC), 2);
    goc_fd_close(c);
    goc_fd_close(s);
    goc_fd_close(l);
    int l6 = goc_listen("tcp6", "[::1]:0");
    if (l6 < 0) {
        printf("no IPv6 loopback here (%s): skipped the v6 half\n", goc_err_name(l6));
        return;
    }
    snprintf(addr, sizeof addr, "[::1]:%d", port_of(l6));
    c = goc_dial("tcp", addr, 5 * GOC_SEC);
    CHECK_OP(c, >=, 0);
    goc_fd_close(c);
    goc_fd_close(l6);
}

TEST(unix_and_udp) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/goc-test-%d.sock", (int)getpid());
    unlink(path);
    int l = goc_listen("unix", path);
    CHECK_OP(l, >=, 0);
    int c = goc_dial("unix", path, 5 * GOC_SEC);
    CHECK_OP(c, >=, 0);
    int s = goc_accept(l, 5 * GOC_SEC);
    CHECK_OP(s, >=, 0);
    CHECK_EQ(goc_write(c, "unix", 4, GOC_SEC), 4);
    char buf[16];
    CHECK_EQ(goc_read(s, buf, sizeof buf, GOC_SEC), 4);
    CHECK(memcmp(buf, "unix", 4) == 0);
    goc_fd_close(c);
    goc_fd_close(s);
    goc_fd_close(l);
    unlink(path);

    int u = goc_listen("udp4", "127.0.0.1:0");
    CHECK_OP(u, >=, 0);
    char addr[64];
    addr_of(u, addr, sizeof addr);
    int d = goc_dial("udp", addr, GOC_SEC);
    CHECK_OP(d, >=, 0);
    CHECK_EQ(goc_write(d, "datagram", 8, GOC_SEC), 8);
    CHECK_EQ(goc_read(u, buf, sizeof buf, 5 * GOC_SEC), 8);
    CHECK(memcmp(buf, "datagram", 8) == 0);
    goc_fd_close(d);
    goc_fd_close(u);
}

/* ---- close wakes every kind of waiter -------------------------------------- */

static _Atomic long woke_closed;

static void close_reader(void *arg) {
    char c;
    if (goc_read((int)(intptr_t)arg, &c, 1, GOC_FOREVER) == GOC_CLOSED) atomic_fetch_add(&woke_closed, 1);
}

static void close_writer(void *arg) {
    static char big[1 << 16];
    ssize_t r;
    do r = goc_write((int)(intptr_t)arg, big, sizeof big, GOC_FOREVER);
    while (r > 0);
    if (r == GOC_CLOSED) atomic_fetch_add(&woke_closed, 1);
}

static void close_accepter(void *arg) {
    if (goc_accept((int)(intptr_t)arg, GOC_FOREVER) == GOC_CLOSED) atomic_fetch_add(&woke_closed, 1);
}

static void close_fd_waiter(void *arg) {
    if (goc_fd_wait((int)(intptr_t)arg, GOC_READ, GOC_FOREVER) == GOC_CLOSED)
        atomic_fetch_add(&woke_closed, 1);
}

static void *close_thread_reader(void *arg) {
    close_reader(arg);
    return NULL;
}

TEST(close_wakes_readers_writers_accepters_and_waiters) {
    int a, b, w1, w2;
    tcp_pair(&a, &b);
    tcp_pair(&w1, &w2);
    int l = goc_listen("tcp", "127.0.0.1:0");
    CHECK_OK(goc_go(close_reader, (void *)(intptr_t)a));
    CHECK_OK(goc_go(close_fd_waiter, (void *)(intptr_t)a));
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, close_thread_reader, (void *)(intptr_t)a), 0);
    CHECK_OK(goc_go(close_writer, (void *)(intptr_t)w1)); /* fills the buffers, then waits */
    CHECK_OK(goc_go(close_accepter, (void *)(intptr_t)l));
    /* The reader, the fd waiter, the thread (a second reader queues behind
     * the first: 3 nodes on a), the writer, the accepter. */
    wait_parked(5);
    CHECK_OK(goc_fd_close(a));
    CHECK_OK(goc_fd_close(w1));
    CHECK_OK(goc_fd_close(l));
    pthread_join(th, NULL);
    WAIT_UNTIL(atomic_load(&woke_closed) == 5, 20);
    goc_fd_close(b);
    goc_fd_close(w2);
    CHECK_EQ(atomic_load(&goc__netpoll_waiters), 0);
}

/* ---- contexts -------------------------------------------------------------- */

static void cancel_after_parked(void *arg) {
    wait_parked(1);
    goc_ctx_cancel(arg);
}

static void *cancel_thread(void *arg) {
    cancel_after_parked(arg);
    return NULL;
}

TEST(context_cancels_reads_from_coroutine_and_thread) {
    int a, b;
    tcp_pair(&a, &b);
    char buf[8];
    goc_ctx *ctx = goc_ctx_with_cancel(goc_ctx_background());
    CHECK_OK(goc_go(cancel_after_parked, ctx));
    CHECK_ERR(GOC_ECANCELED, (int)goc_read_ctx(ctx, a, buf, sizeof buf));
    goc_ctx_release(ctx);
    ctx = goc_ctx_with_cancel(goc_ctx_background());
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, cancel_thread, ctx), 0);
    CHECK_ERR(GOC_ECANCELED, goc_fd_wait_ctx(ctx, a, GOC_READ));
    pthread_join(th, NULL);
    /* Already done: fails even with data ready. */
    CHECK_EQ(goc_write(b, "x", 1, GOC_SEC), 1);
    CHECK_ERR(GOC_ECANCELED, (int)goc_read_ctx(ctx, a, buf, sizeof buf));
    goc_ctx_release(ctx);
    /* Long enough that the deadline cannot pass before the first read, on a
     * loaded machine or under qemu-user (2 ms did there: GOC_ETIMEDOUT). */
    ctx = goc_ctx_with_timeout(goc_ctx_background(), 200 * GOC_MS);
    CHECK_EQ(goc_read_ctx(ctx, a, buf, sizeof buf), 1); /* the byte was there */
    CHECK_ERR(GOC_ETIMEDOUT, (int)goc_read_ctx(ctx, a, buf, sizeof buf));
    CHECK_ERR(GOC_ETIMEDOUT, goc_accept_ctx(ctx, a));
    goc_ctx_release(ctx);
    goc_fd_close(a);
    goc_fd_close(b);
}

/* ---- fd_wait, poll, foreign fds -------------------------------------------- */

TEST(fd_wait_and_poll_on_a_pipe) {
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK), 0);
    CHECK_ERR(GOC_EAGAIN, goc_fd_wait(p[0], GOC_READ, 0));
    CHECK_EQ(goc_fd_wait(p[1], GOC_WRITE, GOC_SEC), GOC_WRITE);
    CHECK_ERR(GOC_ETIMEDOUT, goc_fd_wait(p[0], GOC_READ, GOC_MS));
    CHECK_ERR(GOC_EINVAL, goc_fd_wait(p[0], 0, GOC_MS));
    struct pollfd fds[2] = {{.fd = p[0], .events = POLLIN}, {.fd = -1}};
    CHECK_EQ(goc_poll(fds, 2, GOC_MS), 0);
    CHECK_EQ(write(p[1], "z", 1), 1);
    CHECK_EQ(goc_poll(fds, 2, GOC_SEC), 1);
    CHECK(fds[0].revents & POLLIN);
    CHECK_EQ(goc_fd_wait(p[0], GOC_READ | GOC_WRITE, GOC_SEC), GOC_READ);
    CHECK_ERR(GOC_EINVAL, goc_poll(NULL, 1, 0));
    CHECK_EQ(goc_poll(NULL, 0, 0), 0);
    close(p[0]);
    close(p[1]);
}

static void slow_pipe_writer(void *arg) {
    int fd = (int)(intptr_t)arg;
    wait_parked(1);
    CHECK_EQ(write(fd, "abc", 3), 3);
}

TEST(foreign_blocking_pipe_and_regular_file) {
    int p[2];
    CHECK_EQ(pipe(p), 0); /* blocking: read on a helper once ready */
    CHECK_OK(goc_go(slow_pipe_writer, (void *)(intptr_t)p[1]));
    char buf[8];
    CHECK_EQ(goc_read(p[0], buf, sizeof buf, 5 * GOC_SEC), 3);
    CHECK_ERR(GOC_ETIMEDOUT, (int)goc_read(p[0], buf, sizeof buf, GOC_MS));
    close(p[0]);
    close(p[1]);
    char path[64];
    snprintf(path, sizeof path, "/tmp/goc-test-file-%d", (int)getpid());
    int f = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
    CHECK_OP(f, >=, 0);
    CHECK_EQ(goc_write(f, "file data", 9, GOC_SEC), 9);
    CHECK_EQ(lseek(f, 0, SEEK_SET), 0);
    CHECK_EQ(goc_read(f, buf, sizeof buf, GOC_SEC), 8);
    CHECK_EQ(goc_fd_wait(f, GOC_READ, 0), GOC_READ);
    CHECK_OK(goc_fd_close(f));
    unlink(path);
}

/* Two goc_writes on one fd never interleave their bytes. */
enum { WR_WRITERS = 4, WR_CHUNK = 200000 };
static void big_writer(void *arg) {
    intptr_t *a = arg;
    static char bufs[WR_WRITERS][WR_CHUNK];
    char *b = bufs[a[1]];
    memset(b, 'A' + (int)a[1], WR_CHUNK);
    CHECK_EQ(goc_write((int)a[0], b, WR_CHUNK, 20 * GOC_SEC), WR_CHUNK);
    atomic_fetch_add(&counter, 1);
}

TEST(writes_never_interleave) {
    int a, b;
    tcp_pair(&a, &b);
    static intptr_t args[WR_WRITERS][2];
    for (int i = 0; i < WR_WRITERS; i++) {
        args[i][0] = a;
        args[i][1] = i;
        CHECK_OK(goc_go(big_writer, args[i]));
    }
    static char got[WR_WRITERS * WR_CHUNK];
    size_t n = 0;
    while (n < sizeof got) {
        ssize_t r = goc_read(b, got + n, sizeof got - n, 20 * GOC_SEC);
        CHECK_OP(r, >, 0);
        n += (size_t)r;
    }
    for (size_t i = 0; i < sizeof got; i += WR_CHUNK)
        for (size_t j = 1; j < WR_CHUNK; j++)
            if (got[i + j] != got[i]) check_fail(__FILE__, __LINE__, "bytes interleaved at %zu", i + j);
    WAIT_UNTIL(atomic_load(&counter) == WR_WRITERS, 20);
    goc_fd_close(a);
    goc_fd_close(b);
}

/* ---- fd reuse ---------------------------------------------------------------- */

/* Threads and coroutines open, wait on and close fds as fast as they can, so
 * numbers are reused all the time; a waiter woken must find its own pipe
 * readable (an event meant for the number's previous owner would wake it
 * with nothing to read). */
enum { REUSE_ROUNDS = 2000 };
static _Atomic long reuse_wakes, reuse_wrong;

static void reuse_round(void) {
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(write(p[1], "r", 1), 1);
    int r = goc_fd_wait(p[0], GOC_READ, 5 * GOC_SEC);
    atomic_fetch_add(&reuse_wakes, 1);
    char c;
    if (r != GOC_READ || read(p[0], &c, 1) != 1) atomic_fetch_add(&reuse_wrong, 1);
    /* Not readable now: a wait must time out, not be woken by a stale edge. */
    if (goc_fd_wait(p[0], GOC_READ, 0) != GOC_EAGAIN) atomic_fetch_add(&reuse_wrong, 1);
    CHECK_OK(goc_fd_close(p[0]));
    CHECK_OK(goc_fd_close(p[1]));
}

static void reuse_coro(void *arg) {
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++) reuse_round();
    atomic_fetch_add(&counter, 1);
}

static void *reuse_thread(void *arg) {
    reuse_coro(arg);
    return NULL;
}

TEST(fd_reuse_never_wakes_the_wrong_owner) {
    long n = CHECK_SCALE(REUSE_ROUNDS);
    for (int i = 0; i < 4; i++) CHECK_OK(goc_go(reuse_coro, (void *)(intptr_t)n));
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK_EQ(pthread_create(&th[i], NULL, reuse_thread, (void *)(intptr_t)n), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    WAIT_UNTIL(atomic_load(&counter) == 6, 120);
    CHECK_EQ(atomic_load(&reuse_wakes), 6 * n);
    CHECK_EQ(atomic_load(&reuse_wrong), 0);
}

/* ---- fairness ----------------------------------------------------------------- */

/* Dialers whose loopback connects never have to wait must still leave the
 * accept loop its turns: the connections waiting to be accepted stay below
 * the listen backlog (4096), whose overflow stalls a connect for a second;
 * a starved acceptor lets all 8,000 pile up against it. */
enum { FAIR_DIALERS = 4, FAIR_CONNS = 2000 };
static _Atomic long fair_dialed, fair_accepted, fair_max_pending;

static void fair_acceptor(void *arg) {
    for (int fd; (fd = goc_accept((int)(intptr_t)arg, GOC_FOREVER)) >= 0;) {
        atomic_fetch_add(&fair_accepted, 1);
        goc_fd_close(fd);
    }
}

static void fair_dialer(void *arg) {
    struct client *c = arg;
    long n = CHECK_SCALE(FAIR_CONNS);
    for (long i = 0; i < n; i++) {
        int fd = goc_dial("tcp", c->addr, 30 * GOC_SEC);
        CHECK_OP(fd, >=, 0);
        long pending = atomic_fetch_add(&fair_dialed, 1) + 1 - atomic_load(&fair_accepted);
        long m = atomic_load(&fair_max_pending);
        while (pending > m && !atomic_compare_exchange_weak(&fair_max_pending, &m, pending)) {
        }
        goc_fd_close(fd);
    }
    atomic_fetch_add(&counter, 1);
}

TEST(io_loop_does_not_starve_its_peers) {
    int l = goc_listen("tcp", "127.0.0.1:0");
    CHECK_OP(l, >=, 0);
    CHECK_OK(goc_go(fair_acceptor, (void *)(intptr_t)l));
    static struct client cs[FAIR_DIALERS];
    for (int i = 0; i < FAIR_DIALERS; i++) {
        addr_of(l, cs[i].addr, sizeof cs[i].addr);
        CHECK_OK(goc_go(fair_dialer, &cs[i]));
    }
    WAIT_UNTIL(atomic_load(&counter) == FAIR_DIALERS, 120);
    long total = FAIR_DIALERS * CHECK_SCALE(FAIR_CONNS);
    WAIT_UNTIL(atomic_load(&fair_accepted) == total, 60);
    long pending = atomic_load(&fair_max_pending);
    printf("at most %ld connections waited to be accepted\n", pending);
    /* The dialers yield to the acceptor on timed marks (POLL_BUSY, the
     * monitor's 1 ms slow mark), so how far below the backlog it stays
     * depends on what a dial and an accept cost: here, tens alone and a few
     * hundred beside two other loaded test processes; under qemu-user it
     * has passed the backlog. */
    if (pending >= 4096)
        CHECK_SKIP_EMULATED("the bound is timed, and emulated dials and accepts on a loaded "
                            "machine reach it");
    CHECK_OP(pending, <, 4096);
    goc_fd_close(l);
}

/* ---- the poller's wake-ups -------------------------------------------------- */

/* While an fd waiter keeps the poller in use, idle workers sleep in
 * epoll_wait; work from threads must wake them every time (each round here
 * would hang on a lost wake-up). Two threads spawn at once, so breaks race
 * with the poller consuming the previous one. */
enum { WAKE_ROUNDS = 3000 };
static _Atomic long wake_ran;

static void wake_mark(void *arg) {
    (void)arg;
    atomic_fetch_add(&wake_ran, 1);
}

static void *wake_spawner(void *arg) {
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    long n = CHECK_SCALE(WAKE_ROUNDS);
    for (long i = 0; i < n; i++) {
        usleep((useconds_t)(splitmix(&seed) % 300)); /* the workers go idle */
        long before = atomic_load(&wake_ran);
        CHECK_OK(goc_go(wake_mark, NULL));
        WAIT_UNTIL(atomic_load(&wake_ran) > before, 10);
    }
    return NULL;
}

TEST(work_from_threads_wakes_a_worker_asleep_in_epoll) {
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK), 0);
    CHECK_OK(goc_go(read_forever, (void *)(intptr_t)p[0])); /* the poller stays in use */
    wait_parked(1);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK_EQ(pthread_create(&th[i], NULL, wake_spawner, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&wake_ran), 2 * CHECK_SCALE(WAKE_ROUNDS));
    CHECK_OK(goc_fd_close(p[0]));
    WAIT_UNTIL(atomic_load(&read_result) == GOC_CLOSED, 10);
    close(p[1]);
}

/* ---- fd exhaustion and faults ----------------------------------------------- */

static _Atomic long emfile_seen, flood_ok;

/* The server holds every connection until its accept first fails with
 * EMFILE (it must: 100 connections do not fit in 64 fds), then serves them
 * and backs off while out of fds, as net/http does. */
static goc_chan *flood_gate;

static void flood_conn(void *arg) {
    goc_recv(flood_gate, NULL); /* GOC_CLOSED once the gate opens */
    echo_conn(arg);
}

static void limited_server(void *arg) {
    int l = (int)(intptr_t)arg;
    for (;;) {
        int fd = goc_accept(l, GOC_FOREVER);
        if (fd == GOC_CLOSED) return;
        if (fd == GOC_EMFILE || fd == GOC_ENFILE) {
            if (atomic_fetch_add(&emfile_seen, 1) == 0) goc_close(flood_gate);
            goc_sleep(GOC_MS);
            continue;
        }
        CHECK_OP(fd, >=, 0);
        CHECK_OK(goc_go(flood_conn, (void *)(intptr_t)fd));
    }
}

static void flood_client(void *arg) {
    struct client *c = arg;
    int fd = goc_dial("tcp", c->addr, 30 * GOC_SEC);
    CHECK_OP(fd, >=, 0);
    char buf[4];
    CHECK_EQ(goc_write(fd, "ping", 4, 30 * GOC_SEC), 4);
    CHECK_EQ(goc_read(fd, buf, 4, 30 * GOC_SEC), 4);
    goc_fd_close(fd);
    atomic_fetch_add(&flood_ok, 1);
}

/* 100 clients (in a process of their own, with fds to spare) connect at
 * once to a server limited to 64 fds: its accept fails with EMFILE, never
 * spinning, and once it serves what it holds, every client gets its answer. */
TEST(fd_limit_64_connect_flood_recovers) {
    enum { FLOOD = 100 };
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    CHECK_EQ(listen(l, 1024), 0);
    static struct client cs[FLOOD];
    for (int i = 0; i < FLOOD; i++) addr_of(l, cs[i].addr, sizeof cs[i].addr);
    pid_t pid = fork(); /* before either side starts goc */
    CHECK_OP(pid, >=, 0);
    if (pid == 0) {
        close(l);
        for (int i = 0; i < FLOOD; i++) CHECK_OK(goc_go(flood_client, &cs[i]));
        WAIT_UNTIL(atomic_load(&flood_ok) == FLOOD, 60);
        _exit(0);
    }
    struct rlimit rl = {64, 64};
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    flood_gate = goc_chan_make(0, 0);
    CHECK_OK(goc_go(limited_server, (void *)(intptr_t)l)); /* a foreign listener */
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("%d clients served by a server with 64 fds; its accept saw EMFILE %ld times\n", FLOOD,
           atomic_load(&emfile_seen));
    CHECK_OP(atomic_load(&emfile_seen), >, 0);
    CHECK_OK(goc_fd_close(l));
}

TEST(injected_fd_faults_fail_cleanly) {
    int l = goc_listen("tcp", "127.0.0.1:0");
    CHECK_OP(l, >=, 0);
    char addr[64];
    addr_of(l, addr, sizeof addr);
    goc__fault_arm(GOC__FAULT_FD, 1); /* socket() */
    CHECK_ERR(GOC_EMFILE, goc_dial("tcp", addr, GOC_SEC));
    int l2 = goc_listen("tcp", "127.0.0.1:0"); /* its backlog gets the connection */
    char addr2[64];
    addr_of(l2, addr2, sizeof addr2);
    goc__fault_arm(GOC__FAULT_FD, 2); /* the new socket's epoll_ctl */
    CHECK_ERR(GOC_ENOMEM, goc_dial("tcp", addr2, GOC_SEC));
    goc_fd_close(l2);
    int c = goc_dial("tcp", addr, GOC_SEC);
    CHECK_OP(c, >=, 0);
    goc__fault_arm(GOC__FAULT_FD, 1); /* accept4() */
    CHECK_ERR(GOC_EMFILE, goc_accept(l, GOC_SEC));
    int s = goc_accept(l, GOC_SEC); /* the connection is still there */
    CHECK_OP(s, >=, 0);
    CHECK_EQ(goc_write(c, "ok", 2, GOC_SEC), 2);
    char buf[2];
    CHECK_EQ(goc_read(s, buf, 2, GOC_SEC), 2);
    goc_fd_close(c);
    goc_fd_close(s);
    goc_fd_close(l);
}

/* The poller's own eventfd cannot be made: I/O fails with a code, the rest
 * of goc works, and the next I/O call tries again. */
TEST(injected_eventfd_fault) {
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK), 0);
    goc__fault_arm(GOC__FAULT_FD, 1);
    CHECK_ERR(GOC_EMFILE, goc_fd_wait(p[0], GOC_READ, 0));
    goc_chan *ch = goc_chan_make(sizeof(int), 1);
    int v = 7;
    CHECK_OK(goc_send(ch, &v));
    CHECK_OK(goc_recv(ch, &v));
    goc_chan_release(ch);
    CHECK_ERR(GOC_EAGAIN, goc_fd_wait(p[0], GOC_READ, 0));
    close(p[0]);
    close(p[1]);
}
