/* The floor of bench/echo.c: the same CONNS connections and 512-byte round
 * trips, as two epoll loops (server and clients) on two threads. */
#include "floor.h"

#ifndef CONNS
#define CONNS 64
#endif
#ifndef NAME
#define NAME "echo"
#endif
#define MSG 512

static int lfd, port;
static long per_conn;

static void *server(void *arg) {
    (void)arg;
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    int open = 0, done = 0;
    char buf[MSG * 4];
    while (!done || open > 0) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                for (int c; (c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0; open++) {
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                    if (open + 1 == CONNS) done = 1;
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) {
                close(fd);
                open--;
                continue;
            }
            for (ssize_t w = 0; w < r;) {
                ssize_t k = write(fd, buf + w, (size_t)(r - w));
                if (k > 0) w += k;
            }
        }
    }
    close(ep);
    return NULL;
}

struct conn {
    int fd;
    long left;
    size_t got;
};

int main(int argc, char **argv) {
    long n = floor_arg(argc, argv, 200000);
    per_conn = n / CONNS > 0 ? n / CONNS : 1;
    lfd = floor_listen(&port);
    pthread_t th;
    pthread_create(&th, NULL, server, NULL);
    static struct conn cs[CONNS];
    int ep = epoll_create1(0);
    char out[MSG], in[MSG];
    memset(out, 'e', sizeof out);
    int64_t w0 = floor_now(), c0 = floor_cpu();
    for (int i = 0; i < CONNS; i++) {
        cs[i] = (struct conn){floor_dial(port), per_conn, 0};
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
        if (write(cs[i].fd, out, MSG) != MSG) floor_fail(NAME, "write");
    }
    long live = CONNS, total = 0;
    struct epoll_event evs[256];
    while (live > 0) {
        int k = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, in + c->got, MSG - c->got);
            if (r <= 0) floor_fail(NAME, "read");
            if ((c->got += (size_t)r) < MSG) continue;
            c->got = 0;
            total++;
            if (--c->left == 0) {
                close(c->fd);
                live--;
            } else if (write(c->fd, out, MSG) != MSG) {
                floor_fail(NAME, "write");
            }
        }
    }
    int64_t wall = floor_now() - w0, cpu = floor_cpu() - c0;
    pthread_join(th, NULL);
    char extra[32];
    snprintf(extra, sizeof extra, "conns=%d", CONNS);
    floor_print(NAME, n, (double)total, wall, cpu, extra);
    return 0;
}
