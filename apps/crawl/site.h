/* The embedded test site: a model, generated from a seed, of about 5,000
 * pages on one host plus a few on a second host, and of what a server
 * answers for each (status, headers, latency, body). The server that speaks
 * HTTP is elsewhere; this file decides what it says.
 *
 * The site is built to trip crawlers: eight sections of hubs, list pages and
 * articles whose links spell one target many ways (relative, ../, absolute,
 * upper-case host, explicit port, #fragment, scheme-relative, dot segments,
 * entities, unquoted, <area>, under a <base href>); a chain of
 * SITE_DEEP_CHAIN pages; latency with a median near 25 ms, a long tail and a
 * few 1-2 s pages; 503s that succeed on retry; a 429 with Retry-After; pages
 * that never answer; 404s; 301/302/308 chains and a redirect loop; a
 * robots.txt that disallows a section (and *.pdf) for goc-crawl while its '*'
 * group disallows everything; non-HTML files; one page over SITE_BIG_BYTES;
 * links in comments, scripts, 404 and 503 bodies, plain text and truncated
 * bodies that a correct crawler never follows.
 *
 * Because the site knows its own graph, it can say exactly which URLs a
 * correct crawler fetches under given rules (site_expect_compute), and check
 * a crawl against that (site_expect_check). */
#ifndef CRAWL_SITE_H
#define CRAWL_SITE_H

#include <stddef.h>
#include <stdint.h>

#define SITE_AGENT "goc-crawl"            /* the product token robots.txt names */
#define SITE_DEEP_CHAIN 30                /* /deep/1.html .. /deep/30.html     */
#define SITE_BIG_BYTES ((size_t)2 << 20)  /* the one oversized page's body     */

typedef struct site site;

/* Builds the site for seed, served as host (the main host, "site.test" or
 * "127.0.0.1:8080") with a few pages on other_host; both as "host[:port]",
 * written into links and compared with Host headers without case.
 * Returns 0, -EINVAL when a host is not a valid authority or both are the
 * same, or -ENOMEM. The same seed and hosts give the same site. */
int site_new(uint64_t seed, const char *host, const char *other_host, site **out);
void site_free(site *s);

/* Scales every page's latency to percent of the seed's (100: as drawn; 10
 * makes a test crawl ten times faster). The answers and the expected crawl
 * both follow. Call before serving. */
void site_scale_latency(site *s, int percent);

/* The start URL, "http://host/". */
const char *site_root(const site *s);

/* The site's URLs, every one a link can reach (404s included), each as a
 * normalised absolute URL; i < site_nodes(s). */
size_t site_nodes(const site *s);
const char *site_node_url(const site *s, size_t i);

/* The nodes that node i links to, in the order its body spells them (a
 * meta refresh first); *to points into the site. */
size_t site_node_links(const site *s, size_t i, const uint32_t **to);

/* Latency quantiles in ms at p = 0, 1/16, ..., 1 (17 points): the ordinary
 * pages' latencies are drawn from them by linear interpolation. */
extern const uint16_t site_latency_quantiles[17];

/* What the server answers. */
typedef struct {
    int status;               /* 200, 301, 302, 308, 404, 429, 503; 0: never answer */
    int latency_ms;           /* wait this long before answering */
    int chunked;              /* send the body chunked, else with Content-Length */
    int retry_after;          /* seconds for a Retry-After header; 0: none */
    const char *content_type; /* static */
    char location[512];       /* the Location header of a 3xx, else "" */
    char *body;               /* malloc'd, len bytes, NUL-terminated; never NULL */
    size_t len;
} site_answer;

/* Fills out with the answer to attempt (0 for the first request of target,
 * 1 for the next, ...: the server counts them per node) for target (the
 * request line's path and query) on host (the Host header). An unknown
 * target is a 404; an unknown host is treated as the main host.
 * Returns 0 or -ENOMEM. Free with site_answer_free. */
int site_respond(const site *s, const char *host, const char *target, int attempt,
                 site_answer *out);
void site_answer_free(site_answer *a);

/* The node a request is for (its index, for per-node attempt counters), or
 * -1 when the site does not know it. */
long site_lookup(const site *s, const char *host, const char *target);

/* The rules a crawl follows. A redirect is followed as a link of the same
 * depth; links come only from 200 text/html answers received whole. */
typedef struct {
    int max_depth;       /* the start URL is depth 0; deeper URLs are not fetched */
    size_t max_pages;    /* stop after this many fetched URLs; 0: no limit */
    int robots;          /* obey robots.txt */
    int same_host;       /* fetch only the start URL's host */
    int retries;         /* extra attempts after a 503, a 429 or a timeout */
    int timeout_ms;      /* per attempt; 0: none (pages that never answer hang) */
    size_t max_body;     /* larger bodies are an error (no links); 0: no limit */
} site_rules;

/* One URL a correct crawler requests (robots.txt files not included). */
typedef struct {
    char *url;      /* normalised */
    int depth;      /* the fewest links from the start URL */
    int status;     /* the final answer's status; 0 when none came in time */
    int error;      /* 0, -ETIMEDOUT (no answer in time), -EFBIG (body over max_body) */
    int retries;    /* attempts after the first */
} site_visit;

typedef struct {
    site_visit *v;          /* sorted by url */
    size_t n;
    size_t max_pages;       /* the rule: a crawl then fetches min(n, max_pages) of v */
    /* Without a page limit (or one above n) a correct crawl has exactly: */
    size_t ok;              /* 2xx answers received whole */
    size_t redirects;       /* 3xx answers (each also a page) */
    size_t not_found;       /* 404s: broken links */
    size_t failed;          /* a 503 or 429 still after the last retry */
    size_t timeouts;        /* no answer in time on the last attempt */
    size_t too_big;         /* bodies over max_body */
    size_t retries_503, retries_429, retries_timeout;
    size_t robots_blocked;  /* distinct URLs within depth that robots.txt disallows */
    size_t beyond_depth;    /* distinct URLs found just below max_depth */
    size_t offsite;         /* distinct URLs on other hosts, when same_host */
    size_t links_seen;      /* http(s) links on pages received whole, repeats included */
    size_t links_unique;    /* distinct URLs among them */
    size_t links_ignored;   /* hrefs that are not http(s): mailto:, javascript: */
} site_expect;

/* Computes what a correct crawl from site_root under rules fetches.
 * A URL is counted once, in the first of these that applies: offsite, beyond
 * depth, robots-blocked, fetched. Timeouts assume timeout_ms is not within a
 * few ms of a page's latency. Returns 0 or -ENOMEM; free with
 * site_expect_free. */
int site_expect_compute(const site *s, const site_rules *rules, site_expect *out);
void site_expect_free(site_expect *e);

/* The expected visit of url (normalised), or NULL. */
const site_visit *site_expect_find(const site_expect *e, const char *url);

/* Checks the URLs a crawl fetched (normalised, any order): each must be
 * expected and fetched once, and all of e must be there (with a page limit
 * below e->n: exactly max_pages of them). Returns 0 when the crawl matches;
 * else -EDOM, and writes the first differences to why (NUL-terminated). */
int site_expect_check(const site_expect *e, const char *const *urls, size_t n, char *why,
                      size_t whylen);

#endif
