/* robots.txt (RFC 9309): groups opened by User-agent lines, Allow and
 * Disallow rules with `*` wildcards and a `$` end anchor, the longest
 * matching rule deciding (Allow on a tie). A crawler obeys the groups that
 * name its product token; when none does, the `*` groups; when there are
 * none of those either, nothing is disallowed. */
#ifndef CRAWL_ROBOTS_H
#define CRAWL_ROBOTS_H

#include <stddef.h>

typedef struct robots robots;

/* Parses len bytes of robots.txt for the crawler named agent ("goc-crawl" or
 * "goc-crawl/1.0": the product token before '/' is what groups match,
 * ignoring case). Lines it does not understand are skipped. Returns 0 with
 * *out set, -EINVAL for an empty agent, or -ENOMEM. */
int robots_parse(const char *txt, size_t len, const char *agent, robots **out);

/* 1 when target (a request target: path and query, "/a/b?x") may be
 * fetched, 0 when not. A NULL r (no robots.txt) allows everything, and
 * "/robots.txt" itself is always allowed. */
int robots_allowed(const robots *r, const char *target);

/* How many rules apply to the agent (for tests and the summary). */
size_t robots_rules(const robots *r);

void robots_free(robots *r);

#endif
