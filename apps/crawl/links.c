/* Link extraction from HTML with libxml2's HTML parser. */
#include "links.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "url.h"

#define PARSE_OPTS (HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET)

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_parser(void) {
    xmlInitParser();
}

/* The next node of a depth-first walk that stays below the document. */
static xmlNode *walk_next(xmlNode *n) {
    if (n->type == XML_ELEMENT_NODE && n->children) return n->children;
    while (n && !n->next) n = n->parent;
    return n ? n->next : NULL;
}

static int is_element(const xmlNode *n, const char *name) {
    return n->type == XML_ELEMENT_NODE && xmlStrcasecmp(n->name, (const xmlChar *)name) == 0;
}

/* The value of attribute name (any case), entities decoded; xmlFree it. */
static char *attr(const xmlNode *n, const char *name) {
    for (const xmlAttr *a = n->properties; a; a = a->next)
        if (xmlStrcasecmp(a->name, (const xmlChar *)name) == 0)
            return (char *)xmlNodeListGetString(n->doc, a->children, 1);
    return NULL;
}

/* Appends url to the list; takes ownership. */
static int push(link_list *l, char *url, size_t *cap) {
    if (l->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **v = realloc(l->url, ncap * sizeof *v);
        if (!v) {
            free(url);
            return -ENOMEM;
        }
        l->url = v;
        *cap = ncap;
    }
    l->url[l->n++] = url;
    return 0;
}

/* Resolves href and appends it, or counts it as ignored. */
static int add(link_list *l, size_t *cap, const char *base, const char *href) {
    char *url = NULL;
    int err = url_resolve(base, href, &url);
    if (err == -ENOMEM) return err;
    if (err) {
        l->ignored++;
        return 0;
    }
    return push(l, url, cap);
}

/* The URL part of a refresh content ("5; url='x'"), or NULL: a pointer into
 * s, with its length in *len. Follows the HTML standard's parsing steps. */
static const char *refresh_url(const char *s, size_t *len) {
    while (isspace((unsigned char)*s)) s++;
    while (isdigit((unsigned char)*s) || *s == '.') s++;
    while (isspace((unsigned char)*s)) s++;
    if (*s == ';' || *s == ',') s++;
    while (isspace((unsigned char)*s)) s++;
    if (strncasecmp(s, "url", 3) == 0) {
        const char *p = s + 3;
        while (isspace((unsigned char)*p)) p++;
        if (*p == '=') {
            s = p + 1;
            while (isspace((unsigned char)*s)) s++;
        }
    }
    char quote = (*s == '\'' || *s == '"') ? *s++ : 0;
    size_t n = quote ? strcspn(s, quote == '"' ? "\"" : "'") : strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    *len = n;
    return n ? s : NULL;
}

/* Adds the target of <meta http-equiv=refresh>, if any. */
static int add_refresh(link_list *l, size_t *cap, const char *base, const xmlNode *n) {
    char *equiv = attr(n, "http-equiv"), *content = NULL;
    int err = 0;
    if (equiv && strcasecmp(equiv, "refresh") == 0) content = attr(n, "content");
    size_t len;
    const char *u = content ? refresh_url(content, &len) : NULL;
    if (u) {
        char *href = strndup(u, len);
        err = href ? add(l, cap, base, href) : -ENOMEM;
        free(href);
    }
    xmlFree(equiv);
    xmlFree(content);
    return err;
}

/* The document's base: the first <base href>, resolved against page_url. */
static char *doc_base(xmlDoc *doc, const char *page_url) {
    for (xmlNode *n = doc->children; n; n = walk_next(n)) {
        if (!is_element(n, "base")) continue;
        char *href = attr(n, "href");
        if (!href) continue;
        char *base = NULL;
        url_resolve(page_url, href, &base);
        xmlFree(href);
        if (base) return base;
        break;
    }
    return strdup(page_url);
}

/* Collects the links of every element, in document order. */
static int collect(xmlDoc *doc, const char *base, link_list *l) {
    size_t cap = 0;
    int err = 0;
    for (xmlNode *n = doc->children; n && !err; n = walk_next(n)) {
        if (is_element(n, "a") || is_element(n, "area")) {
            char *href = attr(n, "href");
            if (href) err = add(l, &cap, base, href);
            xmlFree(href);
        } else if (is_element(n, "meta")) {
            err = add_refresh(l, &cap, base, n);
        }
    }
    return err;
}

int links_extract(const char *html, size_t len, const char *page_url, link_list *out) {
    memset(out, 0, sizeof *out);
    char *check = NULL;
    int err = url_normalize(page_url, &check);
    free(check);
    if (err == -ENOMEM) return err;
    if (err || len > INT_MAX) return -EINVAL;
    pthread_once(&init_once, init_parser);
    if (len == 0) return 0;
    xmlDoc *doc = htmlReadMemory(html, (int)len, page_url, NULL, PARSE_OPTS);
    if (!doc) return 0; /* nothing the parser could read: no links */
    char *base = doc_base(doc, page_url);
    err = base ? collect(doc, base, out) : -ENOMEM;
    free(base);
    xmlFreeDoc(doc);
    if (err) links_free(out);
    return err;
}

void links_free(link_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->url[i]);
    free(l->url);
    memset(l, 0, sizeof *l);
}
