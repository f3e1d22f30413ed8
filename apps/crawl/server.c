/* The embedded site's HTTP/1.1 server: an accept coroutine and a coroutine
 * per connection, each in blocking style over goc's netpoller.
 *
 * Invariants: every connection coroutine is counted in sv->conns from
 * before it starts until it has closed its fd; an answer is written whole
 * or the connection is closed; a node's attempt counter grows by one per
 * request for it, whatever connection carries the request.
 * Locking: none. The site is read-only; the attempt counters and the
 * request count are atomics bumped by many connection coroutines; stopping
 * is a context cancellation that every blocking call here watches.
 * Requests are parsed only as far as the crawler's tests need (GET/HEAD, a
 * Host header, Connection: close, HTTP/1.0); a request with a body is
 * refused with 400 and the connection closed. */
#include "server.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "goc.h"

#define HEAD_MAX 8192
#define IO_TIMEOUT (10 * GOC_SEC)
#define CHUNK 4096

struct server {
    int lfd;                     /* (i) listening socket */
    const site *site;            /* (i) */
    goc_ctx *ctx;                /* (i) cancelled by server_stop */
    goc_wg conns;                /* the accept loop and every connection */
    atomic_uint *attempts;       /* (a) per node: requests so far */
    atomic_ulong requests;       /* (a) */
    atomic_ulong connections;    /* (a) accepted */
    atomic_long busy, peak;      /* (a) requests being answered now, and the most at once */
};

typedef struct {
    server *sv;
    int fd;
    char buf[HEAD_MAX];
    size_t len;                  /* bytes buffered, a request head first */
} conn;

typedef struct {
    char method[8];
    char target[2048];
    char host[256];
    int close;                   /* the client asked to close after this one */
    int has_body;
} request;

static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* The end of the request head in c->buf, or NULL. */
static char *head_end(conn *c) {
    c->buf[c->len] = '\0';
    return strstr(c->buf, "\r\n\r\n");
}

/* Reads until a whole request head is buffered. 0, or an error (EOF is
 * GOC_CLOSED). */
static int read_head(conn *c) {
    while (!head_end(c)) {
        if (c->len >= HEAD_MAX - 1) return GOC_EINVAL;
        ssize_t n = goc_read_ctx(c->sv->ctx, c->fd, c->buf + c->len, HEAD_MAX - 1 - c->len);
        if (n == 0) return GOC_CLOSED;
        if (n < 0) return (int)n;
        c->len += (size_t)n;
    }
    return 0;
}

static void header_value(char *out, size_t n, const char *v) {
    while (*v == ' ' || *v == '\t') v++;
    size_t k = strcspn(v, "\r\n");
    while (k && (v[k - 1] == ' ' || v[k - 1] == '\t')) k--;
    if (k >= n) k = n - 1;
    memcpy(out, v, k);
    out[k] = '\0';
}

/* Parses the head at c->buf and drops it from the buffer. 0 or GOC_EINVAL. */
static int parse(conn *c, request *r) {
    char *end = head_end(c);
    size_t used = (size_t)(end - c->buf) + 4;
    *end = '\0';
    memset(r, 0, sizeof *r);
    char version[16] = "";
    if (sscanf(c->buf, "%7s %2047s %15s", r->method, r->target, version) != 3) return GOC_EINVAL;
    r->close = strcmp(version, "HTTP/1.0") == 0;
    for (char *line = strstr(c->buf, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        char value[64];
        if (strncasecmp(line, "Host:", 5) == 0) {
            header_value(r->host, sizeof r->host, line + 5);
        } else if (strncasecmp(line, "Connection:", 11) == 0) {
            header_value(value, sizeof value, line + 11);
            r->close = strcasecmp(value, "close") == 0;
        } else if (strncasecmp(line, "Content-Length:", 15) == 0) {
            header_value(value, sizeof value, line + 15);
            r->has_body = atol(value) > 0;
        } else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
            r->has_body = 1;
        }
    }
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
    return 0;
}

/* Sleeps ns unless the server stops first. 0, or GOC_ECANCELED. */
static int wait(server *sv, int64_t ns) {
    goc_case cs[] = {GOC_RECV(goc_ctx_done(sv->ctx), NULL)};
    return goc_select(cs, 1, ns) == 0 ? GOC_ECANCELED : 0;
}

/* Holds the connection without answering until the client or the server
 * gives up: the never-answering page. Always ends the connection. */
static int hold(conn *c) {
    char sink[512];
    while (goc_read_ctx(c->sv->ctx, c->fd, sink, sizeof sink) > 0) {}
    return GOC_CLOSED;
}

static int put(conn *c, const void *p, size_t n) {
    ssize_t w = goc_write(c->fd, p, n, IO_TIMEOUT);
    return w < 0 ? (int)w : 0;
}

/* Writes the body in chunks of CHUNK bytes, then the last chunk. */
static int put_chunked(conn *c, const char *body, size_t len) {
    char size[32];
    for (size_t at = 0; at < len; at += CHUNK) {
        size_t k = len - at < CHUNK ? len - at : CHUNK;
        int n = snprintf(size, sizeof size, "%zx\r\n", k);
        int err = put(c, size, (size_t)n);
        if (!err) err = put(c, body + at, k);
        if (!err) err = put(c, "\r\n", 2);
        if (err) return err;
    }
    return put(c, "0\r\n\r\n", 5);
}

static int answer(conn *c, const request *r, const site_answer *a) {
    char head[1024];
    int head_only = strcmp(r->method, "HEAD") == 0;
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nServer: goc-crawl\r\nContent-Type: %s\r\n",
                     a->status, reason(a->status), a->content_type ? a->content_type : "text/plain");
    if (a->location[0]) n += snprintf(head + n, sizeof head - (size_t)n, "Location: %s\r\n", a->location);
    if (a->retry_after) n += snprintf(head + n, sizeof head - (size_t)n, "Retry-After: %d\r\n", a->retry_after);
    if (a->chunked) n += snprintf(head + n, sizeof head - (size_t)n, "Transfer-Encoding: chunked\r\n");
    else n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", a->len);
    n += snprintf(head + n, sizeof head - (size_t)n, "Connection: %s\r\n\r\n",
                  r->close ? "close" : "keep-alive");
    int err = put(c, head, (size_t)n);
    if (err || head_only) return err;
    return a->chunked ? put_chunked(c, a->body, a->len) : put(c, a->body, a->len);
}

/* Serves one request. 0 to go on with the connection, else an error. */
static int serve_one(conn *c) {
    request r;
    int err = read_head(c);
    if (!err) err = parse(c, &r);
    if (err == GOC_EINVAL || (!err && r.has_body)) {
        static const char bad[] =
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        put(c, bad, sizeof bad - 1);
        return GOC_EINVAL;
    }
    if (err) return err;
    server *sv = c->sv;
    long node = site_lookup(sv->site, r.host, r.target);
    int attempt = node >= 0 ? (int)atomic_fetch_add(&sv->attempts[node], 1) : 0;
    atomic_fetch_add(&sv->requests, 1);
    site_answer a;
    err = site_respond(sv->site, r.host, r.target, attempt, &a);
    if (err) return err;
    long busy = atomic_fetch_add(&sv->busy, 1) + 1, peak = atomic_load(&sv->peak);
    while (busy > peak && !atomic_compare_exchange_weak(&sv->peak, &peak, busy)) {}
    err = wait(sv, a.latency_ms * GOC_MS);
    if (!err) err = a.status == 0 ? hold(c) : answer(c, &r, &a);
    atomic_fetch_sub(&sv->busy, 1);
    site_answer_free(&a);
    return err ? err : r.close ? GOC_CLOSED : 0;
}

static void serve_conn(void *arg) {
    conn *c = arg;
    while (serve_one(c) == 0) {}
    goc_fd_close(c->fd);
    goc_wg_done(&c->sv->conns);
    free(c);
}

static void accept_loop(void *arg) {
    server *sv = arg;
    for (;;) {
        int fd = goc_accept_ctx(sv->ctx, sv->lfd);
        if (fd < 0) {
            if (goc_ctx_err(sv->ctx)) break;
            wait(sv, 10 * GOC_MS); /* out of fds: let connections end */
            continue;
        }
        conn *c = malloc(sizeof *c);
        if (!c) {
            goc_fd_close(fd);
            continue;
        }
        c->sv = sv;
        c->fd = fd;
        c->len = 0;
        atomic_fetch_add(&sv->connections, 1);
        /* Answers are written in pieces: no Nagle wait behind a delayed ACK. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
        goc_wg_add(&sv->conns, 1);
        if (goc_go_with(&(goc_opts){.name = "site conn"}, serve_conn, c) != 0) {
            free(c);
            goc_fd_close(fd);
            goc_wg_done(&sv->conns);
        }
    }
    goc_fd_close(sv->lfd);
    goc_wg_done(&sv->conns);
}

int server_listen(const char *address, int *port, server **out) {
    *out = NULL;
    server *sv = calloc(1, sizeof *sv);
    if (!sv) return GOC_ENOMEM;
    sv->lfd = goc_listen("tcp", address);
    if (sv->lfd < 0) {
        int err = sv->lfd;
        free(sv);
        return err;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(sv->lfd, (struct sockaddr *)&ss, &len);
    *port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *out = sv;
    return 0;
}

int server_start(server *sv, const site *s) {
    sv->site = s;
    sv->attempts = calloc(site_nodes(s), sizeof *sv->attempts);
    sv->ctx = goc_ctx_with_cancel(goc_ctx_background());
    if (!sv->attempts || !sv->ctx) return GOC_ENOMEM;
    goc_wg_add(&sv->conns, 1);
    int err = goc_go_with(&(goc_opts){.name = "site accept"}, accept_loop, sv);
    if (err) {
        goc_wg_done(&sv->conns);
        goc_ctx_release(sv->ctx);
        sv->ctx = NULL; /* server_stop closes the listener itself */
    }
    return err;
}

server_counts server_count(const server *sv) {
    server *m = (server *)sv;
    return (server_counts){atomic_load(&m->requests), atomic_load(&m->connections),
                           (unsigned long)atomic_load(&m->peak)};
}

void server_stop(server *sv) {
    if (!sv) return;
    if (sv->ctx) {
        goc_ctx_cancel(sv->ctx);
        goc_wg_wait(&sv->conns);
        goc_ctx_release(sv->ctx);
    } else {
        goc_fd_close(sv->lfd);
    }
    free(sv->attempts);
    free(sv);
}
