/* robots.c: group choice (ours, else '*', else none), longest match with
 * Allow winning ties, wildcards and anchors, and the file's rough edges
 * (comments, CRLF, unknown lines, rules before any group). */
#include <errno.h>

#include "crawl_check.h"
#include "robots.h"

static robots *parse(const char *txt, const char *agent) {
    robots *r = NULL;
    CHECK_RC(0, robots_parse(txt, strlen(txt), agent, &r));
    CHECK(r != NULL);
    return r;
}

#define ALLOWED(r, t) CHECK_RC(1, robots_allowed((r), (t)))
#define BLOCKED(r, t) CHECK_RC(0, robots_allowed((r), (t)))

TEST(our_group_wins_over_star) {
    robots *r = parse("User-agent: *\nDisallow: /\n\n"
                      "User-agent: goc-crawl\nDisallow: /private/\n",
                      "goc-crawl/0.1");
    ALLOWED(r, "/");
    ALLOWED(r, "/s1/p2.html");
    BLOCKED(r, "/private/");
    BLOCKED(r, "/private/p1.html");
    ALLOWED(r, "/privateer");
    CHECK_EQ(1, robots_rules(r));
    robots_free(r);
}

TEST(star_group_when_none_names_us) {
    robots *r = parse("User-agent: otherbot\nDisallow: /\n\nUser-agent: *\nDisallow: /tmp\n",
                      "goc-crawl");
    ALLOWED(r, "/x");
    BLOCKED(r, "/tmp");
    BLOCKED(r, "/tmp/a");
    BLOCKED(r, "/tmpfile");
    robots_free(r);
}

TEST(no_group_for_us_allows_everything) {
    robots *r = parse("User-agent: otherbot\nDisallow: /\n", "goc-crawl");
    ALLOWED(r, "/anything");
    CHECK_EQ(0, robots_rules(r));
    robots_free(r);
    ALLOWED(NULL, "/anything");
}

TEST(agent_names_match_without_case_or_version) {
    robots *r = parse("User-agent: GOC-Crawl/2.0\nDisallow: /a\n", "goc-crawl/0.1");
    BLOCKED(r, "/a");
    robots_free(r);
    /* A longer name is another crawler. */
    r = parse("User-agent: goc-crawler\nDisallow: /a\n", "goc-crawl");
    ALLOWED(r, "/a");
    robots_free(r);
}

TEST(longest_match_decides_and_allow_wins_ties) {
    robots *r = parse("User-agent: *\nDisallow: /private/\nAllow: /private/public.html\n"
                      "Allow: /tie\nDisallow: /tie\nDisallow: /a/b\nAllow: /a\n",
                      "goc-crawl");
    BLOCKED(r, "/private/secret.html");
    ALLOWED(r, "/private/public.html");
    ALLOWED(r, "/tie");
    BLOCKED(r, "/a/b/c");
    ALLOWED(r, "/a/c");
    robots_free(r);
}

TEST(wildcards_and_end_anchor) {
    robots *r = parse("User-agent: *\nDisallow: /*.pdf$\nDisallow: /*/secret/*\n"
                      "Disallow: /exact$\nAllow: /files/*ok*.pdf$\n",
                      "goc-crawl");
    BLOCKED(r, "/files/report.pdf");
    ALLOWED(r, "/files/report.pdf?download=1");
    ALLOWED(r, "/files/report.pdfx");
    BLOCKED(r, "/a/secret/b");
    ALLOWED(r, "/secret/b");
    BLOCKED(r, "/exact");
    ALLOWED(r, "/exact/");
    ALLOWED(r, "/files/is-ok-now.pdf");
    robots_free(r);
}

TEST(groups_of_several_agents_and_repeated_groups) {
    robots *r = parse("User-agent: a\nUser-agent: goc-crawl\nUser-agent: b\nDisallow: /one\n"
                      "\nUser-agent: c\nDisallow: /two\n"
                      "\nUser-agent: goc-crawl\nDisallow: /three\n",
                      "goc-crawl");
    BLOCKED(r, "/one");
    ALLOWED(r, "/two");
    BLOCKED(r, "/three");
    robots_free(r);
}

TEST(comments_crlf_unknown_lines_and_stray_rules) {
    robots *r = parse("Disallow: /before-any-group\r\n"
                      "# a comment line\r\n"
                      "User-Agent: * # trailing comment\r\n"
                      "Crawl-delay: 1\r\n"
                      "DISALLOW:   /x   # spaces and case\r\n"
                      "Sitemap: http://site.test/sitemap.xml\r\n"
                      "nonsense without colon\r\n"
                      "Disallow:\r\n"
                      "Allow: /x/open",
                      "goc-crawl");
    ALLOWED(r, "/before-any-group");
    BLOCKED(r, "/x/y");
    ALLOWED(r, "/x/open");
    ALLOWED(r, "/y");
    robots_free(r);
}

TEST(robots_txt_itself_is_always_allowed) {
    robots *r = parse("User-agent: *\nDisallow: /\n", "goc-crawl");
    BLOCKED(r, "/");
    ALLOWED(r, "/robots.txt");
    robots_free(r);
}

TEST(empty_file_and_bad_agent) {
    robots *r = parse("", "goc-crawl");
    ALLOWED(r, "/");
    robots_free(r);
    CHECK_RC(-EINVAL, robots_parse("", 0, "", &r));
    CHECK(r == NULL);
    CHECK_RC(-EINVAL, robots_parse("", 0, NULL, &r));
}
