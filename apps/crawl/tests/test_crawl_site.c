/* site.c: the test site is deterministic for a seed, about 5,000 pages, its
 * bodies and redirects spell exactly the links its model holds (checked
 * through links.c and url.c), its answers misbehave as documented, and the
 * expected crawl shrinks and grows with the rules as it should. */
#include <errno.h>
#include <stdlib.h>

#include "crawl_check.h"
#include "links.h"
#include "robots.h"
#include "site.h"
#include "url.h"

#define HOST "site.test"
#define OTHER "other.test:8080"
#define SEED 42

static site *make(uint64_t seed) {
    site *s = NULL;
    CHECK_RC(0, site_new(seed, HOST, OTHER, &s));
    return s;
}

/* Whether url is on the main host. */
static int main_host(const char *url) {
    return strncmp(url, "http://" HOST "/", strlen("http://" HOST "/")) == 0;
}

/* The path of a node's URL on either host. */
static const char *path_of(const char *url) {
    return strchr(url + strlen("http://"), '/');
}

/* The authority of a URL, as a Host header carries it. */
static const char *host_of(const char *url) {
    static char host[256];
    const char *from = url + strlen("http://");
    snprintf(host, sizeof host, "%.*s", (int)(path_of(url) - from), from);
    return host;
}

static site_answer respond(const site *s, size_t i, int attempt) {
    site_answer a;
    const char *url = site_node_url(s, i);
    CHECK_RC(0, site_respond(s, host_of(url), path_of(url), attempt, &a));
    return a;
}

/* The default rules goc-crawl will use. */
static site_rules defaults(void) {
    return (site_rules){.max_depth = 10, .robots = 1, .same_host = 1, .retries = 2,
                        .timeout_ms = 5000, .max_body = (size_t)1 << 20};
}

static site_expect expect(const site *s, site_rules r) {
    site_expect e;
    CHECK_RC(0, site_expect_compute(s, &r, &e));
    return e;
}

static int has(const site_expect *e, const char *path) {
    char url[256];
    snprintf(url, sizeof url, "http://" HOST "%s", path);
    return site_expect_find(e, url) != NULL;
}

TEST(same_seed_same_site_other_seed_other_site) {
    site *a = make(SEED), *b = make(SEED), *c = make(SEED + 1);
    CHECK_EQ(site_nodes(a), site_nodes(b));
    size_t differ = 0;
    for (size_t i = 0; i < site_nodes(a); i++) {
        CHECK_STR(site_node_url(a, i), site_node_url(b, i));
        site_answer x = respond(a, i, 9), y = respond(b, i, 9), z = respond(c, i, 9);
        CHECK_EQ(x.status, y.status);
        CHECK_EQ(x.latency_ms, y.latency_ms);
        CHECK_EQ(x.len, y.len);
        CHECK(memcmp(x.body, y.body, x.len) == 0);
        differ += x.len != z.len || memcmp(x.body, z.body, x.len) != 0;
        site_answer_free(&x);
        site_answer_free(&y);
        site_answer_free(&z);
    }
    CHECK_OP(differ, >, site_nodes(a) / 2);
    site_free(a);
    site_free(b);
    site_free(c);
}

TEST(about_five_thousand_pages) {
    site *s = make(SEED);
    CHECK_OP(site_nodes(s), >=, 4900);
    CHECK_OP(site_nodes(s), <=, 5200);
    CHECK_STR("http://site.test/", site_root(s));
    site_free(s);
}

/* Every body, parsed as the crawler will parse it, links to exactly the
 * model's nodes, in order; every redirect leads to the model's target. */
static void check_spelling(const char *host, const char *other) {
    site *s = NULL;
    CHECK_RC(0, site_new(SEED, host, other, &s));
    size_t spellings = 0;
    for (size_t i = 0; i < site_nodes(s); i++) {
        site_answer a = respond(s, i, 9);
        const uint32_t *to;
        size_t n = site_node_links(s, i, &to);
        if (a.status == 200 && strncmp(a.content_type, "text/html", 9) == 0) {
            link_list l;
            CHECK_RC(0, links_extract(a.body, a.len, site_node_url(s, i), &l));
            if (l.n != n) fprintf(stderr, "page %s\n", site_node_url(s, i));
            CHECK_EQ(n, l.n);
            for (size_t k = 0; k < n; k++) CHECK_STR(site_node_url(s, to[k]), l.url[k]);
            spellings += l.n;
            links_free(&l);
        } else if (a.status >= 300 && a.status < 400) {
            char *url = NULL;
            CHECK_RC(0, url_resolve(site_node_url(s, i), a.location, &url));
            CHECK_EQ(0, n);
            CHECK(strcmp(url, site_node_url(s, i)) != 0);
            free(url);
        }
        site_answer_free(&a);
    }
    CHECK_OP(spellings, >, 20000);
    site_free(s);
}

TEST(bodies_spell_exactly_the_model_links) {
    check_spelling(HOST, OTHER);
    check_spelling("127.0.0.1:8080", "LocalHost:8080");
    check_spelling("[::1]:9000", "[::1]");
}

/* The raw bodies do spell targets many ways. */
TEST(links_are_spelled_many_ways) {
    site *s = make(SEED);
    const char *forms[] = {"href=\"../", "href=\"./", "href=\"http://site.test/",
                           "href=\"HTTP://SITE.TEST/", "href=\"http://site.test:80/",
                           "href=\"//site.test/", "#part-", "/zz/../", "&#47;", "href=/",
                           "<area href=", "<base href=", "http://other.test:08080/"};
    size_t nf = sizeof forms / sizeof *forms;
    int seen[sizeof forms / sizeof *forms] = {0};
    for (size_t i = 0; i < site_nodes(s); i++) {
        site_answer a = respond(s, i, 9);
        if (a.body && a.len < 100000)
            for (size_t f = 0; f < nf; f++) seen[f] += strstr(a.body, forms[f]) != NULL;
        site_answer_free(&a);
    }
    for (size_t f = 0; f < nf; f++) {
        if (!seen[f]) fprintf(stderr, "never spelled: %s\n", forms[f]);
        CHECK_OP(seen[f], >, 0);
    }
    site_free(s);
}

TEST(answers_misbehave_as_documented) {
    site *s = make(SEED);
    size_t flaky = 0, late = 0, hang = 0, slow = 0, missing = 0, chunked = 0;
    for (size_t i = 0; i < site_nodes(s); i++) {
        site_answer first = respond(s, i, 0), third = respond(s, i, 2);
        flaky += first.status == 503;
        late += first.status == 429 && first.retry_after == 1;
        hang += first.status == 0;
        slow += first.latency_ms >= 1000;
        missing += first.status == 404;
        chunked += first.chunked;
        CHECK(third.status != 503 && third.status != 429);
        if (first.status == 503 || first.status == 429) CHECK_EQ(200, third.status);
        site_answer_free(&first);
        site_answer_free(&third);
    }
    CHECK_EQ(12, flaky);
    CHECK_EQ(1, late);
    CHECK_EQ(3, hang);
    CHECK_EQ(4, slow);
    CHECK_EQ(31, missing);
    CHECK_OP(chunked, >, site_nodes(s) / 5);
    site_free(s);
}

TEST(special_paths) {
    site *s = make(SEED);
    site_answer a;
    CHECK_RC(0, site_respond(s, "SITE.test:80", "/robots.txt", 0, &a));
    CHECK_EQ(200, a.status);
    robots *r = NULL;
    CHECK_RC(0, robots_parse(a.body, a.len, SITE_AGENT "/0.1", &r));
    CHECK_RC(0, robots_allowed(r, "/private/p1.html"));
    CHECK_RC(1, robots_allowed(r, "/private/public.html"));
    CHECK_RC(0, robots_allowed(r, "/files/report.pdf"));
    CHECK_RC(1, robots_allowed(r, "/s1/p1.html"));
    robots_free(r);
    CHECK_RC(0, robots_parse(a.body, a.len, "wget", &r));
    CHECK_RC(0, robots_allowed(r, "/s1/p1.html"));
    robots_free(r);
    site_answer_free(&a);

    CHECK_RC(0, site_respond(s, OTHER, "/robots.txt", 0, &a));
    CHECK_EQ(404, a.status);
    site_answer_free(&a);
    CHECK_RC(0, site_respond(s, HOST, "/no/such/page", 0, &a));
    CHECK_EQ(404, a.status);
    site_answer_free(&a);

    CHECK_RC(0, site_respond(s, HOST, "/big.html", 0, &a));
    CHECK_EQ(200, a.status);
    CHECK_EQ(SITE_BIG_BYTES, a.len);
    CHECK_EQ(a.len, strlen(a.body));
    site_answer_free(&a);

    CHECK_RC(0, site_respond(s, HOST, "/loop/a.html", 0, &a));
    CHECK_EQ(301, a.status);
    char *url = NULL;
    CHECK_RC(0, url_resolve("http://site.test/loop/a.html", a.location, &url));
    CHECK_STR("http://site.test/loop/b.html", url);
    free(url);
    site_answer_free(&a);

    CHECK_RC(0, site_respond(s, HOST, "/files/report.pdf", 0, &a));
    CHECK_STR("application/pdf", a.content_type);
    site_answer_free(&a);
    CHECK(site_lookup(s, "other.TEST:8080", "/e/3.html") >= 0);
    CHECK(site_lookup(s, HOST, "/e/3.html") < 0);
    site_free(s);
}

TEST(latency_has_a_25ms_median_and_a_long_tail) {
    site *s = make(SEED);
    size_t n = site_nodes(s), at_most_25 = 0, over_100 = 0;
    int max = 0;
    for (size_t i = 0; i < n; i++) {
        site_answer a = respond(s, i, 9);
        at_most_25 += a.latency_ms <= 25;
        over_100 += a.latency_ms > 100;
        if (a.latency_ms > max) max = a.latency_ms;
        site_answer_free(&a);
    }
    CHECK_OP(at_most_25 * 100, >=, n * 45);
    CHECK_OP(at_most_25 * 100, <=, n * 55);
    CHECK_OP(over_100, >, n / 50);
    CHECK_OP(max, >=, 1000);
    CHECK_OP(max, <=, 2000);
    site_free(s);
}

/* The counts hold for every seed, not one lucky one. */
static void check_default_crawl(uint64_t seed) {
    site *s = make(seed);
    site_expect e = expect(s, defaults());
    CHECK_OP(e.n, >, 4800);
    const site_visit *root = site_expect_find(&e, "http://site.test/");
    CHECK(root != NULL);
    CHECK_EQ(0, root->depth);
    CHECK(has(&e, "/deep/10.html"));
    CHECK(!has(&e, "/deep/11.html"));
    CHECK_EQ(1, e.beyond_depth);
    for (size_t i = 0; i < e.n; i++) {
        CHECK(main_host(e.v[i].url));
        const char *path = path_of(e.v[i].url);
        CHECK(strncmp(path, "/private/", 9) != 0 || strcmp(path, "/private/public.html") == 0);
        CHECK(strncmp(path, "/hidden/", 8) != 0);
        CHECK_OP(e.v[i].depth, <=, 10);
    }
    CHECK(has(&e, "/private/public.html"));
    CHECK(!has(&e, "/files/report.pdf"));
    CHECK(has(&e, "/files/notes.txt"));
    CHECK_EQ(-EFBIG, site_expect_find(&e, "http://site.test/big.html")->error);
    CHECK(!has(&e, "/big-only.html"));
    CHECK(has(&e, "/refresh-target.html"));
    CHECK_EQ(2, e.robots_blocked); /* /private/ and the pdf; the rest lies behind them */
    CHECK_OP(e.offsite, >, 0);
    CHECK_EQ(0, e.failed);
    CHECK_EQ(3, e.timeouts);
    CHECK_EQ(6, e.retries_timeout);
    CHECK_EQ(1, e.retries_429);
    CHECK_OP(e.retries_503, >=, 12);
    CHECK_EQ(3 * 5 + 2, e.redirects);
    CHECK_EQ(31, e.not_found);
    CHECK_EQ(1, e.too_big);
    CHECK_EQ(e.n, e.ok + e.redirects + e.not_found + e.failed + e.timeouts + e.too_big);
    CHECK_EQ(2, e.links_ignored);
    CHECK_OP(e.links_seen, >, 4 * e.links_unique);
    site_expect_free(&e);
    site_free(s);
}

TEST(expected_crawl_under_default_rules) {
    const uint64_t seeds[] = {SEED, 1, 7, 2024, 0xdeadbeef};
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) check_default_crawl(seeds[i]);
}

TEST(expected_crawl_follows_each_rule) {
    site *s = make(SEED);
    site_expect base = expect(s, defaults());
    site_rules r = defaults();

    r.robots = 0;
    site_expect e = expect(s, r);
    CHECK_EQ(base.n + 40 + 1 + 10 + 1, e.n);
    CHECK(has(&e, "/private/p7.html") && has(&e, "/hidden/h3.html") && has(&e, "/files/report.pdf"));
    CHECK_EQ(0, e.robots_blocked);
    site_expect_free(&e);

    r = defaults();
    r.max_depth = 2;
    e = expect(s, r);
    CHECK_OP(e.n, <, base.n / 4);
    for (size_t i = 0; i < e.n; i++) CHECK_OP(e.v[i].depth, <=, 2);
    CHECK(has(&e, "/s3/list-0.html") && !has(&e, "/deep/3.html"));
    CHECK_OP(e.beyond_depth, >, 0);
    site_expect_free(&e);

    r = defaults();
    r.max_depth = 0;
    e = expect(s, r);
    CHECK_EQ(1, e.n);
    site_expect_free(&e);

    r = defaults();
    r.same_host = 0;
    e = expect(s, r);
    CHECK_EQ(base.n + 1 + 20, e.n);
    CHECK(site_expect_find(&e, "http://other.test:8080/e/19.html") != NULL);
    CHECK_EQ(0, e.offsite);
    site_expect_free(&e);

    r = defaults();
    r.retries = 0;
    e = expect(s, r);
    CHECK_EQ(12 + 1, e.failed);
    CHECK_EQ(0, e.retries_503 + e.retries_429 + e.retries_timeout);
    site_expect_free(&e);

    r = defaults();
    r.timeout_ms = 500;
    e = expect(s, r);
    CHECK_EQ(3 + 4, e.timeouts);
    site_expect_free(&e);

    r = defaults();
    r.max_body = 0;
    e = expect(s, r);
    CHECK(has(&e, "/big-only.html"));
    CHECK_EQ(0, e.too_big);
    site_expect_free(&e);

    r = defaults();
    r.max_depth = 100;
    e = expect(s, r);
    CHECK(has(&e, "/deep/30.html"));
    CHECK_EQ(0, e.beyond_depth);
    site_expect_free(&e);
    site_expect_free(&base);
    site_free(s);
}

TEST(check_accepts_exactly_the_expected_crawl) {
    site *s = make(SEED);
    site_rules r = defaults();
    r.max_depth = 3;
    site_expect e = expect(s, r);
    const char **urls = malloc((e.n + 1) * sizeof *urls);
    for (size_t i = 0; i < e.n; i++) urls[e.n - 1 - i] = e.v[i].url; /* any order */
    char why[512];
    CHECK_RC(0, site_expect_check(&e, urls, e.n, why, sizeof why));
    CHECK_STR("", why);

    CHECK_RC(-EDOM, site_expect_check(&e, urls + 1, e.n - 1, why, sizeof why));
    CHECK(strstr(why, "missing: ") != NULL);

    urls[e.n] = "http://site.test/trap/comment.html";
    CHECK_RC(-EDOM, site_expect_check(&e, urls, e.n + 1, why, sizeof why));
    CHECK_STR("unexpected: http://site.test/trap/comment.html", why);

    urls[e.n] = urls[3];
    CHECK_RC(-EDOM, site_expect_check(&e, urls, e.n + 1, why, sizeof why));
    CHECK(strstr(why, "fetched twice: ") != NULL);
    site_expect_free(&e);

    r.max_pages = 100;
    e = expect(s, r);
    CHECK_OP(e.n, >, 100);
    for (size_t i = 0; i < 100; i++) urls[i] = e.v[e.n - 1 - i].url;
    CHECK_RC(0, site_expect_check(&e, urls, 100, why, sizeof why));
    CHECK_RC(-EDOM, site_expect_check(&e, urls, 99, why, sizeof why));
    CHECK(strstr(why, "exactly 100") != NULL);
    free(urls);
    site_expect_free(&e);
    site_free(s);
}

TEST(bad_hosts_are_refused) {
    site *s = (site *)1;
    CHECK_RC(-EINVAL, site_new(1, "site.test", "SITE.TEST:80", &s));
    CHECK(s == NULL);
    CHECK_RC(-EINVAL, site_new(1, "bad host", OTHER, &s));
    CHECK_RC(-EINVAL, site_new(1, "site.test/path", OTHER, &s));
    CHECK_RC(-EINVAL, site_new(1, "", OTHER, &s));
}
