/* Links of an HTML page, found with libxml2's forgiving HTML parser:
 * <a href>, <area href> and <meta http-equiv=refresh content="N; url=...">,
 * resolved against the page's URL or its first <base href>. Text inside
 * comments, <script> and <style> is not markup, so it yields no links.
 * Safe to call from many threads and coroutines at once. */
#ifndef CRAWL_LINKS_H
#define CRAWL_LINKS_H

#include <stddef.h>

typedef struct {
    char **url;      /* absolute, normalised (url.h); document order, repeats kept */
    size_t n;
    size_t ignored;  /* hrefs that are not http(s) URLs: mailto:, javascript:, junk */
} link_list;

/* Parses len bytes of html, the body of page_url (absolute), and fills out.
 * Broken markup is repaired, never refused. Returns 0, -EINVAL when
 * page_url is not an http(s) URL or len exceeds INT_MAX, or -ENOMEM; on error
 * out is empty. Free out with links_free, also after an error. */
int links_extract(const char *html, size_t len, const char *page_url, link_list *out);

void links_free(link_list *l);

#endif
