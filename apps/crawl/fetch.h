/* One HTTP(S) transfer at a time per fetcher, in blocking style: libcurl's
 * multi-socket interface driven by goc_poll, so a fetcher coroutine that
 * waits for the network parks and holds no worker thread. */
#ifndef CRAWL_FETCH_H
#define CRAWL_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "goc.h"

/* What fetchers share: libcurl's DNS cache and TLS sessions, behind
 * goc_mutex lock callbacks. */
typedef struct fetch_share fetch_share;

/* A fetcher: a curl multi handle with one easy handle, used by one
 * coroutine at a time (it may move between threads). Its connections stay
 * open between transfers and are reused. */
typedef struct fetcher fetcher;

typedef struct {
    int64_t timeout_ms;    /* the whole transfer; 0: none */
    size_t max_body;       /* larger bodies end the transfer with -EFBIG; 0: no cap */
    int follow;            /* let libcurl follow redirects (robots.txt only) */
    const char *agent;     /* User-Agent */
} fetch_opts;

typedef struct {
    int status;            /* HTTP status; 0 when no answer came */
    int err;               /* 0, -ETIMEDOUT, -EFBIG, -ECONNREFUSED (could not
                              connect or resolve), -ECONNRESET (the connection
                              broke), -ECANCELED, -EIO (anything else) */
    char errmsg[256];      /* libcurl's words for err, or "" */
    char *body;            /* malloc'd, len bytes, NUL-terminated; NULL when empty */
    size_t len;
    uint64_t bytes;        /* body bytes received (also past a cap) */
    int html;              /* Content-Type is text/html or XHTML */
    char *location;        /* a 3xx's Location, absolute (malloc'd), or NULL */
    long retry_after;      /* seconds from Retry-After, or 0 */
} fetch_result;

/* Starts libcurl (once per process) and makes the share. NULL: no memory,
 * or libcurl could not start. */
fetch_share *fetch_share_new(void);
void fetch_share_free(fetch_share *sh);

/* NULL: no memory. */
fetcher *fetcher_new(fetch_share *sh);
void fetcher_free(fetcher *f);

/* GETs url, waiting without holding a worker. ctx (may be NULL) abandons
 * the transfer within about 100 ms of its cancellation (err -ECANCELED).
 * Fills r (free it with fetch_result_free); returns r->err. */
int fetch_get(fetcher *f, goc_ctx *ctx, const char *url, const fetch_opts *o, fetch_result *r);
void fetch_result_free(fetch_result *r);

#endif
