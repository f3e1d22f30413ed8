/* The network calls' internals shared by net.c and resolve.c. */
#ifndef GOC_NET_H
#define GOC_NET_H

#include <netdb.h>

#include "goc.h"

/* getaddrinfo without holding a worker: numeric hosts at once, names on a
 * thread of their own (at most 64 at a time). deadline: goc_now, < 0 none;
 * ctx may be NULL. GOC_OK with *out to freeaddrinfo, or GOC_ENOHOST,
 * GOC_ERESOLVE, GOC_ETIMEDOUT, ctx's error, GOC_ENOMEM, GOC_EAGAIN. */
int goc__resolve(const char *host, const char *port, const struct addrinfo *hints,
                 int64_t deadline, goc_ctx *ctx, struct addrinfo **out);

#endif
