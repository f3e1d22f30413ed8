/* What the floors share: the clock, the result line (impl=floor) and a
 * loopback listener. A floor is the same work as a goc workload written as
 * plain C, an epoll loop on one thread per side, with no runtime: what the
 * kernel costs, the least any runtime can take. */
#ifndef GOC_BENCH_FLOOR_H
#define GOC_BENCH_FLOOR_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline int64_t floor_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t floor_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

__attribute__((noreturn)) static inline void floor_fail(const char *name, const char *what) {
    fprintf(stderr, "FAIL %s: %s (%s)\n", name, what, strerror(errno));
    exit(1);
}

static inline long floor_arg(int argc, char **argv, long def) {
    return argc > 1 ? strtol(argv[1], NULL, 10) : def;
}

static inline void floor_print(const char *name, long n, double ops, int64_t wall, int64_t cpu,
                               const char *extra) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("BENCH name=%s impl=floor procs=2 n=%ld ops=%.0f ns_per_op=%.3f wall_s=%.6f cpu_s=%.6f "
           "rss_kb=%ld%s%s\n",
           name, n, ops, wall / ops, wall / 1e9, cpu / 1e9, ru.ru_maxrss, extra ? " " : "",
           extra ? extra : "");
}

/* A non-blocking loopback listener; its port in *port. */
static inline int floor_listen(int *port) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) || listen(l, 4096) ||
        getsockname(l, (struct sockaddr *)&sa, &len))
        floor_fail("listen", "socket");
    *port = ntohs(sa.sin_port);
    return l;
}

/* A blocking connect, then non-blocking. */
static inline int floor_dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) floor_fail("dial", "connect");
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

#endif
