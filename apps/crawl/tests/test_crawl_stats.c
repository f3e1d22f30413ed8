/* stats.c: counters by status and error, nearest-rank percentiles on known
 * samples, average and peak throughput, and the summary's lines. */
#include <errno.h>

#include "crawl_check.h"
#include "stats.h"

#define MS 1000000LL
#define SEC 1000000000LL

TEST(percentiles_by_nearest_rank) {
    stats s;
    stats_init(&s, 0);
    /* 1..100 ms, recorded out of order. */
    for (int i = 0; i < 100; i++) CHECK_RC(0, stats_page(&s, 0, 200, 0, (int64_t)((i * 37) % 100 + 1) * MS, 0));
    stats_latency l = stats_latencies(&s);
    CHECK_EQ(100, l.n);
    CHECK_EQ(50 * MS, l.p50);
    CHECK_EQ(90 * MS, l.p90);
    CHECK_EQ(99 * MS, l.p99);
    CHECK_EQ(100 * MS, l.max);
    stats_free(&s);
}

TEST(percentiles_of_few_samples) {
    stats s;
    stats_init(&s, 0);
    stats_latency l = stats_latencies(&s);
    CHECK_EQ(0, l.n);
    CHECK_EQ(0, l.max);
    stats_page(&s, 0, 200, 0, 7 * MS, 0);
    l = stats_latencies(&s);
    CHECK_EQ(7 * MS, l.p50);
    CHECK_EQ(7 * MS, l.p99);
    stats_page(&s, 0, 200, 0, 3 * MS, 0);
    l = stats_latencies(&s);
    CHECK_EQ(3 * MS, l.p50);
    CHECK_EQ(7 * MS, l.p90);
    CHECK_EQ(7 * MS, l.max);
    stats_free(&s);
}

TEST(counters_by_status_and_error) {
    stats s;
    stats_init(&s, 0);
    stats_page(&s, 0, 200, 0, MS, 1000);
    stats_page(&s, 0, 200, 0, MS, 500);
    stats_page(&s, 0, 301, 0, MS, 0);
    stats_page(&s, 0, 308, 0, MS, 0);
    stats_page(&s, 0, 404, 0, MS, 20);
    stats_page(&s, 0, 503, 0, MS, 0);
    stats_page(&s, 0, 0, -ETIMEDOUT, MS, 0);
    stats_page(&s, 0, 200, -EFBIG, MS, 4096);
    stats_page(&s, 0, 0, -ECONNREFUSED, MS, 0);
    CHECK_EQ(9, s.pages);
    CHECK_EQ(3, s.by_status[200]);
    CHECK_EQ(1, s.by_status[301]);
    CHECK_EQ(1, s.by_status[503]);
    CHECK_EQ(2, s.redirects);
    CHECK_EQ(1, s.broken);
    CHECK_EQ(1, s.timeouts);
    CHECK_EQ(1, s.too_big);
    CHECK_EQ(1, s.other_errors);
    CHECK_EQ(1000 + 500 + 20 + 4096, s.bytes);
    stats_free(&s);
}

TEST(average_and_peak_throughput) {
    stats s;
    int64_t t0 = 5 * SEC;
    stats_init(&s, t0);
    for (int i = 0; i < 10; i++) stats_page(&s, t0 + i * 100 * MS, 200, 0, MS, 0); /* second 0 */
    for (int i = 0; i < 3; i++) stats_page(&s, t0 + 2 * SEC + i * MS, 200, 0, MS, 0); /* second 2 */
    stats_page(&s, t0 + 9 * SEC, 200, 0, MS, 0); /* second 9: the array grows */
    CHECK_EQ(10, stats_peak_rate(&s));
    double avg = stats_avg_rate(&s, t0 + 10 * SEC);
    CHECK(avg > 1.399 && avg < 1.401);
    CHECK_OP(stats_avg_rate(&s, t0), ==, 0);
    stats_free(&s);
}

TEST(summary_names_every_figure) {
    stats s;
    stats_init(&s, 0);
    stats_page(&s, SEC / 2, 200, 0, 25 * MS, 100);
    stats_page(&s, SEC / 2, 404, 0, 5 * MS, 10);
    s.retries[STATS_RETRY_503] = 3;
    s.retries[STATS_RETRY_429] = 1;
    s.links_seen = 40;
    s.dups = 30;
    s.robots_blocked = 2;
    s.beyond_depth = 1;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    stats_print(&s, SEC, f);
    fclose(f);
    const char *want[] = {"pages      2 in 1.0 s, 2.0 pages/s average, 2 peak",
                          " 200:1 404:1", "broken links 1", "3 after 503, 1 after 429",
                          "40 seen, 30 duplicates dropped, 2 robots-blocked, 1 beyond depth",
                          "p50 5.0 ms", "max 25.0 ms", "bytes      110"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(text, want[i])) check_fail(__FILE__, __LINE__, "no \"%s\" in:\n%s", want[i], text);
    free(text);
    stats_free(&s);
}
