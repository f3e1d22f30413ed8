/* The crawl: one frontier coroutine that owns the queue, the per-host state
 * and the visited set; N fetcher coroutines that take jobs over a channel
 * and send outcomes back; one writer coroutine that owns the output files.
 * No lock guards crawl state: whatever moves between them moves over
 * channels. */
#ifndef CRAWL_CRAWL_H
#define CRAWL_CRAWL_H

#include <stddef.h>
#include <stdint.h>

#include "goc.h"
#include "stats.h"

typedef struct {
    const char *start;      /* the start URL, normalised */
    int fetchers;           /* -c */
    int per_host;           /* requests in flight per host */
    int delay_ms;           /* between request starts to one host */
    int max_depth;
    size_t max_pages;       /* 0: no limit */
    size_t max_body;        /* 0: no cap */
    int timeout_ms;         /* per attempt; 0: none */
    int retries;            /* extra attempts after 503, 429, a timeout, a broken connection */
    int robots;
    int same_host;
    uint64_t seed;          /* backoff jitter */
    const char *jsonl;      /* --out, or NULL */
    const char *db;         /* --db, or NULL */
} crawl_opts;

/* A moment of a crawl, for the status line. */
typedef struct {
    uint64_t fetched, in_flight, queued, retries, errors;
    double rate;            /* pages/s over the last second or so */
    int64_t p50, p99;       /* ns */
    int64_t elapsed;        /* ns */
} crawl_snapshot;

typedef struct crawl crawl;

/* Why a crawl stopped. */
enum { CRAWL_DONE, CRAWL_PAGE_LIMIT, CRAWL_CANCELED };

/* Opens the outputs and starts the crawl's coroutines; returns at once.
 * stop: cancelling it stops new requests, and the crawl ends once those in
 * flight finish; hard: cancelling it abandons those too. Both must outlive
 * the crawl. Returns 0 with *out set, or a negative code: an output could
 * not be opened (-ENOENT, -EACCES, ...; *what says which: "--out" or
 * "--db"), -ENOMEM. */
int crawl_start(const crawl_opts *o, goc_ctx *stop, goc_ctx *hard, crawl **out, const char **what);

/* Asks the frontier for a snapshot; blocks briefly. Safe from any
 * coroutine or thread while the crawl runs (before crawl_wait returns). */
void crawl_snapshot_get(crawl *c, crawl_snapshot *s);

/* Waits for the end: every coroutine returned, outputs flushed and closed.
 * Returns CRAWL_DONE, CRAWL_PAGE_LIMIT or CRAWL_CANCELED. */
int crawl_wait(crawl *c);

/* After crawl_wait: the statistics (owned by c), the URLs fetched (each
 * once, in the order they finished), and the first output error (0, or a
 * negative code from jsonl/db). */
stats *crawl_stats(crawl *c);
const char *const *crawl_fetched(crawl *c, size_t *n);
int crawl_output_error(crawl *c);
/* The first failed fetch, "URL: what went wrong", or "". */
const char *crawl_first_error(crawl *c);
/* Broken links: URLs answered 404 or 410, and the page that first linked
 * each (NULL for none). */
size_t crawl_broken(crawl *c, size_t i, const char **url, const char **from);

void crawl_free(crawl *c);

/* --- between the frontier and the fetchers ---------------------------- */

enum { JOB_PAGE, JOB_ROBOTS };

typedef struct {
    int kind;
    uint32_t node;          /* the URL's index in the frontier's table */
    uint32_t host;          /* the host's index */
    const char *url;        /* owned by the frontier, immutable while in flight */
} crawl_job;

typedef struct robots robots;

typedef struct {
    crawl_job job;
    int status, err;        /* the last attempt's */
    char error[256];        /* what went wrong, or "" */
    int64_t ns;             /* from the first request to the final answer */
    uint64_t bytes;
    int retries[STATS_RETRY_N];
    char *location;         /* a 3xx's target, normalised, or NULL */
    char **links;           /* from a 200 HTML page received whole: normalised */
    size_t nlinks;
    robots *rules;          /* JOB_ROBOTS: the parsed file, or NULL (allow all) */
} crawl_outcome;

/* The fetcher coroutines' settings. */
typedef struct {
    goc_chan *jobs;         /* crawl_job, closed by the frontier at the end */
    goc_chan *outcomes;     /* crawl_outcome *, to the frontier */
    goc_ctx *stop, *hard;
    const crawl_opts *o;
    struct fetch_share *share;
    goc_wg *done;
    uint64_t seed;
} crawl_fetchers;

/* Starts o->fetchers fetcher coroutines (fetchers.c). Returns how many
 * started (each calls goc_wg_done(done) when it returns). */
int crawl_fetchers_start(crawl_fetchers *f);
void crawl_outcome_free(crawl_outcome *o);

#endif
