/* Crawl statistics: counters, nearest-rank latency percentiles, throughput. */
#include "stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_SEC 1000000000LL

void stats_init(stats *s, int64_t now_ns) {
    memset(s, 0, sizeof *s);
    s->start_ns = now_ns;
}

void stats_free(stats *s) {
    free(s->lat);
    free(s->per_sec);
    s->lat = NULL;
    s->per_sec = NULL;
    s->nlat = s->cap = s->nsec = 0;
}

static int add_sample(stats *s, int64_t ns) {
    if (s->nlat == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        int64_t *v = realloc(s->lat, cap * sizeof *v);
        if (!v) return -ENOMEM;
        s->lat = v;
        s->cap = cap;
    }
    s->lat[s->nlat++] = ns;
    return 0;
}

/* Counts a page in the second it finished. */
static int add_to_second(stats *s, int64_t now_ns) {
    int64_t sec = (now_ns - s->start_ns) / NS_PER_SEC;
    if (sec < 0) sec = 0;
    if ((size_t)sec >= s->nsec) {
        size_t n = (size_t)sec + 1 > s->nsec * 2 ? (size_t)sec + 1 : s->nsec * 2;
        uint32_t *v = realloc(s->per_sec, n * sizeof *v);
        if (!v) return -ENOMEM;
        memset(v + s->nsec, 0, (n - s->nsec) * sizeof *v);
        s->per_sec = v;
        s->nsec = n;
    }
    s->per_sec[sec]++;
    return 0;
}

int stats_page(stats *s, int64_t now_ns, int status, int err, int64_t latency_ns, uint64_t bytes) {
    s->pages++;
    s->bytes += bytes;
    if (err == -ETIMEDOUT) s->timeouts++;
    else if (err == -EFBIG) s->too_big++;
    else if (err || status <= 0 || status >= STATS_STATUS_MAX) s->other_errors++;
    if (status > 0 && status < STATS_STATUS_MAX) {
        s->by_status[status]++;
        s->redirects += status >= 300 && status < 400;
        s->broken += status == 404 || status == 410;
    }
    int e1 = add_sample(s, latency_ns), e2 = add_to_second(s, now_ns);
    return e1 ? e1 : e2;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The sample at nearest rank ceil(p/100 * n) of sorted samples. */
static int64_t rank(const stats *s, int p) {
    size_t r = ((size_t)p * s->nlat + 99) / 100;
    return s->lat[r ? r - 1 : 0];
}

stats_latency stats_latencies(stats *s) {
    stats_latency l = {.n = s->nlat};
    if (!s->nlat) return l;
    qsort(s->lat, s->nlat, sizeof *s->lat, cmp_i64);
    l.p50 = rank(s, 50);
    l.p90 = rank(s, 90);
    l.p99 = rank(s, 99);
    l.max = s->lat[s->nlat - 1];
    return l;
}

double stats_avg_rate(const stats *s, int64_t now_ns) {
    int64_t ns = now_ns - s->start_ns;
    return ns > 0 ? (double)s->pages * NS_PER_SEC / (double)ns : 0.0;
}

uint32_t stats_peak_rate(const stats *s) {
    uint32_t peak = 0;
    for (size_t i = 0; i < s->nsec; i++)
        if (s->per_sec[i] > peak) peak = s->per_sec[i];
    return peak;
}

static double ms(int64_t ns) {
    return (double)ns / 1e6;
}

void stats_print(stats *s, int64_t now_ns, FILE *f) {
    stats_latency l = stats_latencies(s);
    fprintf(f, "pages      %" PRIu64 " in %.1f s, %.1f pages/s average, %" PRIu32 " peak\n",
            s->pages, ms(now_ns - s->start_ns) / 1e3, stats_avg_rate(s, now_ns), stats_peak_rate(s));
    fprintf(f, "by status ");
    for (int st = 1; st < STATS_STATUS_MAX; st++)
        if (s->by_status[st]) fprintf(f, " %d:%" PRIu64, st, s->by_status[st]);
    fprintf(f, "\nerrors     %" PRIu64 " timeouts, %" PRIu64 " too large, %" PRIu64 " other\n",
            s->timeouts, s->too_big, s->other_errors);
    fprintf(f, "redirects  %" PRIu64 "   broken links %" PRIu64 "\n", s->redirects, s->broken);
    fprintf(f, "retries    %" PRIu64 " after 503, %" PRIu64 " after 429, %" PRIu64
               " after timeouts, %" PRIu64 " after connection errors\n",
            s->retries[STATS_RETRY_503], s->retries[STATS_RETRY_429],
            s->retries[STATS_RETRY_TIMEOUT], s->retries[STATS_RETRY_CONNECT]);
    fprintf(f, "links      %" PRIu64 " seen, %" PRIu64 " duplicates dropped, %" PRIu64
               " robots-blocked, %" PRIu64 " beyond depth, %" PRIu64 " off-site\n",
            s->links_seen, s->dups, s->robots_blocked, s->beyond_depth, s->offsite);
    fprintf(f, "latency    p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", ms(l.p50),
            ms(l.p90), ms(l.p99), ms(l.max));
    fprintf(f, "bytes      %" PRIu64 "\n", s->bytes);
}
