/* links.c: which hrefs count as links in tricky HTML (base, comments,
 * script and style, entities, unquoted attributes, broken markup, meta
 * refresh), in document order, resolved and normalised. */
#include <errno.h>
#include <stdlib.h>

#include "crawl_check.h"
#include "links.h"

#define PAGE "http://site.test/dir/page.html"

/* Extracts the links of html and checks them against the NULL-terminated
 * list want, in order, and the ignored count. */
static void check_links(const char *html, const char *const *want, size_t ignored) {
    link_list l;
    CHECK_RC(0, links_extract(html, strlen(html), PAGE, &l));
    size_t n = 0;
    while (want[n]) n++;
    for (size_t i = 0; i < l.n && i < n; i++) CHECK_STR(want[i], l.url[i]);
    CHECK_EQ(n, l.n);
    CHECK_EQ(ignored, l.ignored);
    links_free(&l);
}

#define LINKS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_LINKS ((const char *const[]){NULL})

TEST(anchors_and_areas_in_order) {
    check_links("<html><body><a href=\"a.html\">a</a><map><area href=\"/b.html\"></map>"
                "<a href='../c.html#x'>c</a><a name=\"no-href\">n</a></body></html>",
                LINKS("http://site.test/dir/a.html", "http://site.test/b.html",
                      "http://site.test/c.html"),
                0);
}

TEST(base_href_changes_the_base_for_every_link) {
    /* The first <base href> wins, also for links before it; a second is ignored. */
    check_links("<a href=\"early.html\">e</a><head><base href=\"/other/deeper/\">"
                "<base href=\"/ignored/\"></head><a href=\"../x.html\">x</a>"
                "<a href=\"/abs.html\">abs</a>",
                LINKS("http://site.test/other/deeper/early.html", "http://site.test/other/x.html",
                      "http://site.test/abs.html"),
                0);
}

TEST(base_href_relative_to_the_page) {
    check_links("<base href=\"sub/\"><a href=\"p.html\">p</a>",
                LINKS("http://site.test/dir/sub/p.html"), 0);
}

TEST(base_without_href_is_ignored) {
    check_links("<base target=\"_blank\"><a href=\"p.html\">p</a>",
                LINKS("http://site.test/dir/p.html"), 0);
}

TEST(nothing_from_comments_script_or_style) {
    check_links("<!-- <a href=\"/trap/comment\">no</a> -->"
                "<script>document.write('<a href=\"/trap/script\">no</a>');</script>"
                "<style>a[href=\"/trap/style\"] { color: red }</style>"
                "<script type=\"text/template\"><a href=\"/trap/template\"></a></script>"
                "<a href=\"/real\">yes</a>",
                LINKS("http://site.test/real"), 0);
}

TEST(entities_in_hrefs_are_decoded) {
    check_links("<a href=\"/q?a=1&amp;b=2\">q</a><a href=\"/p&#51;.html\">3</a>"
                "<a href=\"/x&#x2F;y\">hex</a>",
                LINKS("http://site.test/q?a=1&b=2", "http://site.test/p3.html",
                      "http://site.test/x/y"),
                0);
}

TEST(unquoted_and_upper_case_attributes) {
    check_links("<A HREF=/up.html>u</A><a href=rel.html class=x>r</a>",
                LINKS("http://site.test/up.html", "http://site.test/dir/rel.html"), 0);
}

TEST(broken_markup_is_repaired) {
    check_links("<html><body><p><a href=\"one.html\">unclosed <b><a href=\"two.html\">"
                "<div></p></span><a href=\"three.html\"<a href=\"four.html\">x",
                LINKS("http://site.test/dir/one.html", "http://site.test/dir/two.html",
                      "http://site.test/dir/three.html"),
                0);
}

TEST(meta_refresh_forms) {
    check_links("<head><meta http-equiv=\"refresh\" content=\"0; url=/moved.html\">"
                "<meta http-equiv=\"Refresh\" content=\"5;URL='quoted.html'\">"
                "<meta http-equiv=refresh content=\"3\">"
                "<meta name=\"refresh\" content=\"0; url=/not-http-equiv\">"
                "<meta http-equiv=\"refresh\" content=\"1, url = spaced.html \"></head>",
                LINKS("http://site.test/moved.html", "http://site.test/dir/quoted.html",
                      "http://site.test/dir/spaced.html"),
                0);
}

TEST(other_schemes_are_ignored_and_counted) {
    check_links("<a href=\"mailto:a@site.test\">m</a><a href=\"javascript:void(0)\">j</a>"
                "<a href=\"http://bad host/\">b</a><a href=\"#top\">self</a>"
                "<a href=\"HTTP://OTHER.TEST:80/x\">o</a>",
                LINKS("http://site.test/dir/page.html", "http://other.test/x"), 3);
}

TEST(empty_and_text_bodies) {
    link_list l;
    CHECK_RC(0, links_extract("", 0, PAGE, &l));
    CHECK_EQ(0, l.n);
    links_free(&l);
    const char *text = "just text, href=\"/nope\" <not a tag";
    CHECK_RC(0, links_extract(text, strlen(text), PAGE, &l));
    CHECK_EQ(0, l.n);
    links_free(&l);
}

TEST(page_url_must_be_absolute_http) {
    link_list l;
    CHECK_RC(-EINVAL, links_extract("<a href=x>", 10, "/relative", &l));
    CHECK_EQ(0, l.n);
    links_free(&l);
    CHECK_RC(-EINVAL, links_extract("<a href=x>", 10, "ftp://site.test/", &l));
    links_free(&l);
}

TEST(many_links_grow_the_list) {
    size_t n = 5000, cap = n * 32 + 1;
    char *html = malloc(cap), *p = html;
    for (size_t i = 0; i < n; i++) p += sprintf(p, "<a href=\"/p%zu\">%zu</a>", i, i);
    link_list l;
    CHECK_RC(0, links_extract(html, (size_t)(p - html), PAGE, &l));
    CHECK_EQ(n, l.n);
    CHECK_STR("http://site.test/p0", l.url[0]);
    CHECK_STR("http://site.test/p4999", l.url[n - 1]);
    links_free(&l);
    free(html);
}
