/* An echo server: a coroutine per connection, written in blocking style,
 * and a graceful shutdown on SIGINT through a context.
 *
 * Go's shape of a TCP server:
 *
 *     ln, _ := net.Listen("tcp", addr)
 *     for {
 *         conn, err := ln.Accept()
 *         if err != nil { break }           // the listener was closed
 *         go func() { io.Copy(conn, conn); conn.Close() }()
 *     }
 *
 * Each connection costs a coroutine, not a thread: while it waits for
 * bytes, its worker runs the others. SIGINT arrives as a message, cancels
 * the context (every read made with it returns) and closes the listener
 * (the accept loop ends); main waits for the connections to finish.
 *
 *     echo_server            serve on 127.0.0.1:7007 until Ctrl-C
 *     echo_server n          serve on a free port, run n clients against
 *                            it, then send ourselves SIGINT, as if Ctrl-C
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "goc.h"

static goc_ctx *ctx;       /* cancelled on SIGINT: every connection ends */
static goc_wg conns = GOC_WG_INIT;
static goc_wg clients = GOC_WG_INIT;
static char addr[64] = "127.0.0.1:7007";

/* io.Copy(conn, conn) until EOF, an error or the shutdown. */
static void serve(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    while ((n = goc_read_ctx(ctx, fd, buf, sizeof buf)) > 0)
        if (goc_write_ctx(ctx, fd, buf, (size_t)n) != n) break;
    goc_fd_close(fd);
    goc_wg_done(&conns);
}

static goc_chan *sig; /* SIGINT and SIGTERM, as messages */

/* Waits for SIGINT or SIGTERM, then stops the server. */
static void on_signal(void *arg) {
    int lfd = (int)(intptr_t)arg;
    int s;
    goc_recv(sig, &s);
    printf("got %s: shutting down\n", s == SIGINT ? "SIGINT" : "SIGTERM");
    goc_ctx_cancel(ctx);
    goc_fd_close(lfd); /* the accept loop gets GOC_CLOSED */
    goc_signal_stop(sig);
    goc_chan_release(sig);
}

/* One client: says hello, checks the echo. */
static void client(void *arg) {
    int id = (int)(intptr_t)arg;
    int fd = goc_dial("tcp", addr, 5 * GOC_SEC);
    char msg[32], got[32] = {0};
    int len = snprintf(msg, sizeof msg, "hello from client %d", id);
    if (fd >= 0 && goc_write(fd, msg, (size_t)len, 5 * GOC_SEC) == len) {
        for (int have = 0; have < len;) {
            ssize_t n = goc_read(fd, got + have, (size_t)(len - have), 5 * GOC_SEC);
            if (n <= 0) break;
            have += (int)n;
        }
    }
    if (strcmp(got, msg) != 0) printf("client %d: wrong echo\n", id);
    if (fd >= 0) goc_fd_close(fd);
    goc_wg_done(&clients);
}

/* The self-test: n clients, then SIGINT. */
static void drive(void *arg) {
    int n = (int)(intptr_t)arg;
    goc_wg_add(&clients, n);
    for (int i = 0; i < n; i++) goc_go(client, (void *)(intptr_t)i);
    goc_wg_wait(&clients);
    printf("%d clients got their echo\n", n);
    raise(SIGINT);
}

int main(int argc, char **argv) {
    int selftest = argc > 1 ? atoi(argv[1]) : 0;
    int lfd = goc_listen("tcp", selftest ? "127.0.0.1:0" : addr);
    if (lfd < 0) {
        fprintf(stderr, "listen %s: %s\n", addr, goc_strerror(lfd));
        return 1;
    }
    if (selftest) { /* a free port: read it back */
        struct sockaddr_in sa;
        socklen_t len = sizeof sa;
        getsockname(lfd, (struct sockaddr *)&sa, &len);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
        printf("echo server up; %d clients connect\n", selftest);
    } else {
        printf("echo server on %s; Ctrl-C stops it\n", addr);
    }
    fflush(stdout);
    sig = goc_chan_make(sizeof(int), 1);
    goc_signal_notify(sig, (int[]){SIGINT, SIGTERM}, 2);
    ctx = goc_ctx_with_cancel(goc_ctx_background());
    goc_go(on_signal, (void *)(intptr_t)lfd);
    if (selftest) goc_go(drive, (void *)(intptr_t)selftest);
    long served = 0;
    for (int fd; (fd = goc_accept(lfd, GOC_FOREVER)) >= 0; served++) {
        goc_wg_add(&conns, 1);
        goc_go(serve, (void *)(intptr_t)fd);
    }
    goc_wg_wait(&conns);
    printf("served %ld connections; bye\n", served);
    goc_ctx_release(ctx);
    return 0;
}
