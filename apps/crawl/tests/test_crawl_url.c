/* url.c: RFC 3986 §5.4 reference resolution (normal and abnormal examples,
 * fragments dropped as the crawler's normal form drops them), case, port and
 * fragment normalisation, schemes the crawler refuses, and host keys. */
#include <errno.h>
#include <stdlib.h>

#include "crawl_check.h"
#include "url.h"

#define BASE "http://a/b/c/d;p?q"

/* Resolves ref against base and checks the result. */
#define CHECK_RESOLVES(base, ref, want)                   \
    do {                                                  \
        char *got_ = NULL;                                \
        CHECK_RC(0, url_resolve((base), (ref), &got_));   \
        CHECK_STR((want), got_);                          \
        free(got_);                                       \
    } while (0)

#define CHECK_REFUSES(base, ref, err)                     \
    do {                                                  \
        char *got_ = (char *)"unset";                     \
        CHECK_RC((err), url_resolve((base), (ref), &got_)); \
        CHECK(got_ == NULL);                              \
    } while (0)

/* RFC 3986 §5.4.1. "g:h" is a valid reference whose scheme the crawler does
 * not fetch; "#s" and "" name the base itself (fragment dropped). */
TEST(rfc3986_normal_examples) {
    CHECK_REFUSES(BASE, "g:h", -EPROTONOSUPPORT);
    CHECK_RESOLVES(BASE, "g", "http://a/b/c/g");
    CHECK_RESOLVES(BASE, "./g", "http://a/b/c/g");
    CHECK_RESOLVES(BASE, "g/", "http://a/b/c/g/");
    CHECK_RESOLVES(BASE, "/g", "http://a/g");
    CHECK_RESOLVES(BASE, "//g", "http://g/");
    CHECK_RESOLVES(BASE, "?y", "http://a/b/c/d;p?y");
    CHECK_RESOLVES(BASE, "g?y", "http://a/b/c/g?y");
    CHECK_RESOLVES(BASE, "#s", "http://a/b/c/d;p?q");
    CHECK_RESOLVES(BASE, "g#s", "http://a/b/c/g");
    CHECK_RESOLVES(BASE, "g?y#s", "http://a/b/c/g?y");
    CHECK_RESOLVES(BASE, ";x", "http://a/b/c/;x");
    CHECK_RESOLVES(BASE, "g;x", "http://a/b/c/g;x");
    CHECK_RESOLVES(BASE, "g;x?y#s", "http://a/b/c/g;x?y");
    CHECK_RESOLVES(BASE, "", "http://a/b/c/d;p?q");
    CHECK_RESOLVES(BASE, ".", "http://a/b/c/");
    CHECK_RESOLVES(BASE, "./", "http://a/b/c/");
    CHECK_RESOLVES(BASE, "..", "http://a/b/");
    CHECK_RESOLVES(BASE, "../", "http://a/b/");
    CHECK_RESOLVES(BASE, "../g", "http://a/b/g");
    CHECK_RESOLVES(BASE, "../..", "http://a/");
    CHECK_RESOLVES(BASE, "../../", "http://a/");
    CHECK_RESOLVES(BASE, "../../g", "http://a/g");
}

/* RFC 3986 §5.4.2. "http:g" is refused: the strict reading gives "http:g",
 * which is no fetchable URL either. */
TEST(rfc3986_abnormal_examples) {
    CHECK_RESOLVES(BASE, "../../../g", "http://a/g");
    CHECK_RESOLVES(BASE, "../../../../g", "http://a/g");
    CHECK_RESOLVES(BASE, "/./g", "http://a/g");
    CHECK_RESOLVES(BASE, "/../g", "http://a/g");
    CHECK_RESOLVES(BASE, "g.", "http://a/b/c/g.");
    CHECK_RESOLVES(BASE, ".g", "http://a/b/c/.g");
    CHECK_RESOLVES(BASE, "g..", "http://a/b/c/g..");
    CHECK_RESOLVES(BASE, "..g", "http://a/b/c/..g");
    CHECK_RESOLVES(BASE, "./../g", "http://a/b/g");
    CHECK_RESOLVES(BASE, "./g/.", "http://a/b/c/g/");
    CHECK_RESOLVES(BASE, "g/./h", "http://a/b/c/g/h");
    CHECK_RESOLVES(BASE, "g/../h", "http://a/b/c/h");
    CHECK_RESOLVES(BASE, "g;x=1/./y", "http://a/b/c/g;x=1/y");
    CHECK_RESOLVES(BASE, "g;x=1/../y", "http://a/b/c/y");
    CHECK_RESOLVES(BASE, "g?y/./x", "http://a/b/c/g?y/./x");
    CHECK_RESOLVES(BASE, "g?y/../x", "http://a/b/c/g?y/../x");
    CHECK_RESOLVES(BASE, "g#s/./x", "http://a/b/c/g");
    CHECK_RESOLVES(BASE, "g#s/../x", "http://a/b/c/g");
    CHECK_REFUSES(BASE, "http:g", -EINVAL);
}

TEST(case_port_and_fragment_normalise) {
    CHECK_RESOLVES(NULL, "HTTP://Site.TEST/A/b", "http://site.test/A/b");
    CHECK_RESOLVES(NULL, "http://site.test:80/x", "http://site.test/x");
    CHECK_RESOLVES(NULL, "http://site.test:0080/x", "http://site.test/x");
    CHECK_RESOLVES(NULL, "https://site.test:443/x", "https://site.test/x");
    CHECK_RESOLVES(NULL, "http://site.test:443/x", "http://site.test:443/x");
    CHECK_RESOLVES(NULL, "http://site.test:8080/x#top", "http://site.test:8080/x");
    CHECK_RESOLVES(NULL, "http://site.test", "http://site.test/");
    CHECK_RESOLVES(NULL, "http://site.test/a/./b/../c", "http://site.test/a/c");
    CHECK_RESOLVES("http://site.test/a/b.html", "HTTP://SITE.TEST:80/a/../c.html#x",
                   "http://site.test/c.html");
    CHECK_RESOLVES("http://site.test/a/b.html", "//OTHER.test/x", "http://other.test/x");
    CHECK_RESOLVES("https://site.test/a/b.html", "//site.test/x", "https://site.test/x");
}

TEST(whitespace_spaces_and_fragments_with_spaces) {
    CHECK_RESOLVES("http://site.test/a/", "  p.html \n", "http://site.test/a/p.html");
    CHECK_RESOLVES("http://site.test/a/", "b c.html", "http://site.test/a/b%20c.html");
    CHECK_RESOLVES("http://site.test/a/", "p.html#not a valid fragment",
                   "http://site.test/a/p.html");
    CHECK_RESOLVES("http://site.test/a/b#frag", "#other", "http://site.test/a/b");
}

TEST(refuses_other_schemes_and_garbage) {
    CHECK_REFUSES("http://site.test/", "mailto:someone@site.test", -EPROTONOSUPPORT);
    CHECK_REFUSES("http://site.test/", "javascript:void(0)", -EPROTONOSUPPORT);
    CHECK_REFUSES("http://site.test/", "ftp://site.test/file", -EPROTONOSUPPORT);
    CHECK_REFUSES("http://site.test/", "http://bad host/", -EINVAL);
    CHECK_REFUSES(NULL, "relative/only", -EINVAL);
    CHECK_REFUSES(NULL, "", -EINVAL);
    CHECK_REFUSES("not a url", "x", -EINVAL);
}

TEST(host_keys) {
    char key[64];
    CHECK_RC(12, url_host_key("http://Site.Test/x", key, sizeof key));
    CHECK_STR("site.test:80", key);
    CHECK_RC(13, url_host_key("https://site.test/x", key, sizeof key));
    CHECK_STR("site.test:443", key);
    CHECK_RC(14, url_host_key("http://127.0.0.1:8080/", key, sizeof key));
    CHECK_STR("127.0.0.1:8080", key);
    CHECK_RC(8, url_host_key("http://[::1]:81/", key, sizeof key));
    CHECK_STR("[::1]:81", key);
    CHECK_RC(-ERANGE, url_host_key("http://site.test/", key, 5));
    CHECK_RC(-EPROTONOSUPPORT, url_host_key("mailto:x@y", key, sizeof key));
}

TEST(same_host) {
    CHECK_RC(1, url_same_host("http://site.test/a", "HTTP://SITE.TEST:80/b"));
    CHECK_RC(0, url_same_host("http://site.test/a", "http://site.test:8080/a"));
    CHECK_RC(0, url_same_host("http://site.test/a", "https://site.test/a"));
    CHECK_RC(0, url_same_host("http://site.test/a", "http://other.test/a"));
    CHECK_RC(-EINVAL, url_same_host("http://site.test/a", "nothing"));
}

TEST(request_targets) {
    char *t = NULL;
    CHECK_RC(0, url_target("http://site.test/a/b?x=1&y=2#f", &t));
    CHECK_STR("/a/b?x=1&y=2", t);
    free(t);
    CHECK_RC(0, url_target("http://site.test", &t));
    CHECK_STR("/", t);
    free(t);
    CHECK_RC(-EINVAL, url_target("/relative", &t));
    CHECK(t == NULL);
}
