/* The embedded site over HTTP/1.1: a small server, written with goc, that
 * answers what site.h decides. One coroutine accepts, one coroutine serves
 * each connection (keep-alive, Content-Length or chunked bodies, the page's
 * latency slept with goc, a never-answering page holding its connection). */
#ifndef CRAWL_SERVER_H
#define CRAWL_SERVER_H

#include "site.h"

typedef struct server server;

/* Listens on address ("127.0.0.1:0", ":8080": goc_listen's form) and writes
 * the port it got to *port. Returns 0 with *out set, or a negative goc code
 * (-EADDRINUSE, GOC_EINVAL, GOC_ENOMEM, ...). Nothing is served yet. */
int server_listen(const char *address, int *port, server **out);

/* Serves s (which must outlive the server) from coroutines; returns at once.
 * Returns 0 or a negative goc code. */
int server_start(server *sv, const site *s);

/* What the server has seen so far (from any coroutine or thread). */
typedef struct {
    unsigned long requests;     /* requests read */
    unsigned long connections;  /* connections accepted */
    unsigned long peak;         /* the most requests being answered at once */
} server_counts;

server_counts server_count(const server *sv);

/* Stops accepting, ends every connection, waits for their coroutines, and
 * frees sv. */
void server_stop(server *sv);

#endif
