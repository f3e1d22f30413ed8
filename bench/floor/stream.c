/* The floor of bench/stream.c: 4 connections, 64 KiB writes on one thread's
 * epoll loop, reads on the other's. */
#include "floor.h"

#define CONNS 4
#define CHUNK (64 * 1024)

static int lfd, port;
static long total_bytes;

static void *server(void *arg) {
    (void)arg;
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[16];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    int accepted = 0, open = 0;
    char *buf = malloc(CHUNK);
    while (accepted < CONNS || open > 0) {
        int n = epoll_wait(ep, evs, 16, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                for (int c; (c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0; accepted++, open++) {
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            ssize_t r;
            while ((r = read(fd, buf, CHUNK)) > 0) total_bytes += r;
            if (r == 0) {
                close(fd);
                open--;
            }
        }
    }
    free(buf);
    return NULL;
}

struct conn {
    int fd;
    long left;
    size_t off;
};

int main(int argc, char **argv) {
    long n = floor_arg(argc, argv, 40000);
    long per_conn = n / CONNS > 0 ? n / CONNS : 1;
    lfd = floor_listen(&port);
    pthread_t th;
    int64_t w0 = floor_now(), c0 = floor_cpu();
    pthread_create(&th, NULL, server, NULL);
    char *out = malloc(CHUNK);
    memset(out, 's', CHUNK);
    int ep = epoll_create1(0);
    static struct conn cs[CONNS];
    for (int i = 0; i < CONNS; i++) {
        cs[i] = (struct conn){floor_dial(port), per_conn, 0};
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    int live = CONNS;
    struct epoll_event evs[16];
    while (live > 0) {
        int k = epoll_wait(ep, evs, 16, -1);
        for (int i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            while (c->left > 0) {
                ssize_t w = write(c->fd, out + c->off, CHUNK - c->off);
                if (w < 0) break; /* EAGAIN: wait */
                if ((c->off += (size_t)w) == CHUNK) {
                    c->off = 0;
                    c->left--;
                }
            }
            if (c->left == 0 && c->fd >= 0) {
                close(c->fd);
                c->fd = -1;
                live--;
            }
        }
    }
    pthread_join(th, NULL);
    int64_t wall = floor_now() - w0, cpu = floor_cpu() - c0;
    long total = per_conn * CONNS;
    if (total_bytes != total * CHUNK) floor_fail("stream", "bytes lost");
    char extra[64];
    snprintf(extra, sizeof extra, "mb_per_s=%.0f", (double)total * CHUNK / 1e6 / (wall / 1e9));
    floor_print("stream", n, (double)total, wall, cpu, extra);
    return 0;
}
