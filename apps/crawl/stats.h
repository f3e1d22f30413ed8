/* A crawl's statistics: counters, latency percentiles and throughput, and
 * the end-of-run summary. One owner (the coroutine that collects results)
 * records; nothing here locks. */
#ifndef CRAWL_STATS_H
#define CRAWL_STATS_H

#include <stdint.h>
#include <stdio.h>

#define STATS_STATUS_MAX 600

enum { STATS_RETRY_503, STATS_RETRY_429, STATS_RETRY_TIMEOUT, STATS_RETRY_CONNECT, STATS_RETRY_N };

typedef struct {
    /* Bumped by stats_page. */
    uint64_t pages;                          /* URLs fetched, each once */
    uint64_t by_status[STATS_STATUS_MAX];    /* final status of answered pages */
    uint64_t timeouts;                       /* no answer in time (-ETIMEDOUT) */
    uint64_t too_big;                        /* body over the limit (-EFBIG) */
    uint64_t other_errors;                   /* any other error */
    uint64_t redirects;                      /* 3xx answers */
    uint64_t broken;                         /* 404 and 410 answers */
    uint64_t bytes;                          /* body bytes */
    /* Bumped by the crawler directly. */
    uint64_t retries[STATS_RETRY_N];         /* by cause */
    uint64_t links_seen, dups, robots_blocked, beyond_depth, offsite;
    /* Internal. */
    int64_t start_ns;
    int64_t *lat;                            /* latency samples, ns */
    size_t nlat, cap;
    uint32_t *per_sec;                       /* pages finished in each second */
    size_t nsec;
} stats;

typedef struct {
    size_t n;
    int64_t p50, p90, p99, max; /* ns; 0 when n is 0 */
} stats_latency;

/* Starts the clock at now_ns (any monotonic clock, as goc_now). */
void stats_init(stats *s, int64_t now_ns);
void stats_free(stats *s);

/* Records one fetched URL finished at now_ns after latency_ns: its final
 * status (0: no answer) and error (0 or a negative code: -ETIMEDOUT,
 * -EFBIG, ...), and its body bytes. Returns 0 or -ENOMEM (counters are
 * still bumped; only the latency sample or the second is lost). */
int stats_page(stats *s, int64_t now_ns, int status, int err, int64_t latency_ns, uint64_t bytes);

/* Latency percentiles by nearest rank (p50 is the sample at rank ceil(n/2)).
 * Reorders the samples. */
stats_latency stats_latencies(stats *s);

/* Pages per second from the start to now_ns, and the most pages finished
 * within one second of the clock. */
double stats_avg_rate(const stats *s, int64_t now_ns);
uint32_t stats_peak_rate(const stats *s);

/* Writes the end-of-run summary to f. */
void stats_print(stats *s, int64_t now_ns, FILE *f);

#endif
