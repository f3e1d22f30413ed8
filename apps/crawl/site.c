/* The embedded test site's model: its page graph from a seed, the answers a
 * server gives, and the exact crawl that rules allow.
 *
 * Nodes are URLs (pages, redirects, files, 404s); each HTML node keeps the
 * nodes it links to, in body order, and each body is rendered on demand
 * from the node and a hash of (seed, node, link), so a 5,000-page site costs
 * a few hundred KiB. The expected crawl is a 0-1 breadth-first search: a
 * link costs one level of depth, a redirect none. */
#include "site.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robots.h"
#include "url.h"

#define SECTIONS 8
#define LISTS 12          /* list pages per section */
#define PER_LIST 50       /* articles per list page */
#define ARTICLES (LISTS * PER_LIST)
#define PRIVATE 40        /* pages under the robots-disallowed /private/ */
#define HIDDEN 10         /* pages linked only from /private/ */
#define CHAINS 5          /* redirect chains of three hops */
#define MISSING 30        /* 404 pages linked from articles */
#define OTHER 20          /* pages on the other host */
#define FLAKY 12          /* 503 once or twice, then 200 */
#define HANGS 3           /* never answer */
#define SLOW 4            /* answer in 1-2 s */

const uint16_t site_latency_quantiles[17] = {
    3, 8, 11, 14, 17, 19, 21, 23, 25, 28, 31, 35, 41, 50, 68, 110, 400,
};

static const char robots_txt[] =
    "# goc-crawl's test site. Every other crawler is kept out.\n"
    "User-agent: *\n"
    "Disallow: /\n"
    "\n"
    "User-agent: " SITE_AGENT "\n"
    "Disallow: /private/\n"
    "Allow: /private/public.html\n"
    "Disallow: /*.pdf$\n";

enum { K_HTML, K_REDIRECT, K_FILE, K_MISSING };

enum {
    F_CHUNKED = 1,  /* body sent chunked */
    F_HANG = 2,     /* never answers */
    F_429 = 4,      /* the first attempt gets 429 with Retry-After */
    F_BASE = 8,     /* has a <base href> to another directory */
    F_REFRESH = 16, /* its first link is a meta refresh */
    F_TRAPS = 32,   /* carries links in a comment and a script */
    F_BIG = 64,     /* body of SITE_BIG_BYTES */
    F_SCHEMES = 128 /* carries mailto: and javascript: hrefs */
};

typedef struct {
    char *path;
    char *url;            /* normalised absolute URL */
    uint8_t host;         /* 0 main, 1 other */
    uint8_t kind;
    uint8_t flags;
    uint8_t fail_first;   /* 503 for this many first attempts */
    uint16_t status;      /* redirect status */
    uint32_t latency_ms;
    uint32_t target;      /* redirect target */
    uint32_t first, nlinks;
    const char *type;     /* content type of files */
} node;

typedef struct {
    uint32_t from, to;
} edge;

struct site {
    uint64_t seed, rng;
    char auth[2][256];    /* the hosts' normalised authorities */
    char root[300];
    node *v;
    size_t n, cap;
    uint32_t *links;
    size_t nlinks, links_cap;
    edge *extra;          /* links added to articles, before their bodies are built */
    size_t nextra, extra_cap;
    uint32_t *table;      /* open addressing: node index + 1, 0 empty */
    size_t table_size;
    robots *robots;
    uint32_t scale;       /* latency percent (site_scale_latency) */
};

/* Groups of nodes, by the index of their first. */
typedef struct {
    uint32_t root, hub, list, article, priv_hub, priv, pub, hidden, deep, chain, loop, missing,
        gone, files, big, big_only, moved, refresh_target, other_root, other;
} layout;

/* --- small tools ------------------------------------------------------ */

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* splitmix64: the site's one generator. */
static uint64_t next(site *s) {
    return mix(s->rng += 0x9e3779b97f4a7c15ULL);
}

static uint32_t below(site *s, uint32_t n) {
    return (uint32_t)(next(s) % n);
}

/* A hash of (seed, a, b) for choices made while rendering. */
static uint64_t hash3(const site *s, uint64_t a, uint64_t b) {
    return mix(s->seed ^ mix(a * 0x9e3779b97f4a7c15ULL + b));
}

static uint64_t fnv(const char *p, uint8_t host) {
    uint64_t h = 1469598103934665603ULL ^ host;
    for (; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/* A growable string. */
typedef struct {
    char *p;
    size_t n, cap;
    int err;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...) {
    if (b->err) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->err = -EINVAL;
            return;
        }
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)k;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->err = -ENOMEM;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* --- building the graph --------------------------------------------- */

static int add_node(site *s, uint8_t host, uint8_t kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int add_node(site *s, uint8_t host, uint8_t kind, const char *fmt, ...) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        node *v = realloc(s->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    char path[256], url[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    snprintf(url, sizeof url, "http://%s%s", s->auth[host], path);
    node *n = &s->v[s->n];
    memset(n, 0, sizeof *n);
    n->host = host;
    n->kind = kind;
    n->path = strdup(path);
    n->url = strdup(url);
    if (!n->path || !n->url) {
        free(n->path);
        free(n->url);
        return -ENOMEM;
    }
    s->n++;
    return 0;
}

static int add_link(site *s, uint32_t to) {
    if (s->nlinks == s->links_cap) {
        size_t cap = s->links_cap ? s->links_cap * 2 : 8192;
        uint32_t *v = realloc(s->links, cap * sizeof *v);
        if (!v) return -ENOMEM;
        s->links = v;
        s->links_cap = cap;
    }
    s->links[s->nlinks++] = to;
    return 0;
}

static int add_extra(site *s, uint32_t from, uint32_t to) {
    if (s->nextra == s->extra_cap) {
        size_t cap = s->extra_cap ? s->extra_cap * 2 : 256;
        edge *v = realloc(s->extra, cap * sizeof *v);
        if (!v) return -ENOMEM;
        s->extra = v;
        s->extra_cap = cap;
    }
    s->extra[s->nextra++] = (edge){from, to};
    return 0;
}

/* A latency drawn from the quantile table. */
static uint32_t draw_latency(site *s) {
    uint32_t u = below(s, 1u << 16), i = u >> 12, f = u & 0xfff;
    uint32_t lo = site_latency_quantiles[i], hi = site_latency_quantiles[i + 1];
    return lo + ((hi - lo) * f >> 12);
}

static uint32_t article(const layout *l, uint32_t sec, uint32_t j) {
    return l->article + sec * ARTICLES + j;
}

/* Creates every node, in an order the layout records. */
static int make_nodes(site *s, layout *l) {
    int err = 0;
#define N(host, kind, ...) \
    do { if (!err) err = add_node(s, host, kind, __VA_ARGS__); } while (0)
    l->root = (uint32_t)s->n;
    N(0, K_HTML, "/");
    l->hub = (uint32_t)s->n;
    for (int k = 0; k < SECTIONS; k++) N(0, K_HTML, "/s%d/", k);
    l->list = (uint32_t)s->n;
    for (int k = 0; k < SECTIONS; k++)
        for (int i = 0; i < LISTS; i++) N(0, K_HTML, "/s%d/list-%d.html", k, i);
    l->article = (uint32_t)s->n;
    for (int k = 0; k < SECTIONS; k++)
        for (int j = 0; j < ARTICLES; j++) N(0, K_HTML, "/s%d/p%d.html", k, j);
    l->priv_hub = (uint32_t)s->n;
    N(0, K_HTML, "/private/");
    l->priv = (uint32_t)s->n;
    for (int i = 0; i < PRIVATE; i++) N(0, K_HTML, "/private/p%d.html", i);
    l->pub = (uint32_t)s->n;
    N(0, K_HTML, "/private/public.html");
    l->hidden = (uint32_t)s->n;
    for (int i = 0; i < HIDDEN; i++) N(0, K_HTML, "/hidden/h%d.html", i);
    l->deep = (uint32_t)s->n;
    for (int i = 1; i <= SITE_DEEP_CHAIN; i++) N(0, K_HTML, "/deep/%d.html", i);
    l->chain = (uint32_t)s->n;
    for (int i = 0; i < CHAINS; i++) {
        N(0, K_REDIRECT, "/old/%d.html", i);
        N(0, K_REDIRECT, "/older/%d.html", i);
        N(0, K_REDIRECT, "/oldest/%d.html", i);
    }
    l->loop = (uint32_t)s->n;
    N(0, K_REDIRECT, "/loop/a.html");
    N(0, K_REDIRECT, "/loop/b.html");
    l->missing = (uint32_t)s->n;
    for (int i = 0; i < MISSING; i++) N(0, K_MISSING, "/s%d/missing-%d.html", i % SECTIONS, i);
    l->gone = (uint32_t)s->n;
    N(0, K_MISSING, "/gone.html");
    l->files = (uint32_t)s->n;
    N(0, K_FILE, "/files/report.pdf");
    N(0, K_FILE, "/files/notes.txt");
    N(0, K_FILE, "/img/logo.png");
    N(0, K_FILE, "/files/data.json");
    l->big = (uint32_t)s->n;
    N(0, K_HTML, "/big.html");
    l->big_only = (uint32_t)s->n;
    N(0, K_HTML, "/big-only.html");
    l->moved = (uint32_t)s->n;
    N(0, K_HTML, "/moved.html");
    l->refresh_target = (uint32_t)s->n;
    N(0, K_HTML, "/refresh-target.html");
    l->other_root = (uint32_t)s->n;
    N(1, K_HTML, "/");
    l->other = (uint32_t)s->n;
    for (int i = 0; i < OTHER; i++) N(1, K_HTML, "/e/%d.html", i);
#undef N
    return err;
}

/* Latency, chunking and the odd behaviours, on nodes as the seed picks. */
static void set_behaviour(site *s, const layout *l) {
    static const char *types[] = {"application/pdf", "text/plain", "image/png",
                                  "application/json"};
    for (size_t i = 0; i < s->n; i++) {
        s->v[i].latency_ms = draw_latency(s);
        if (below(s, 3) == 0) s->v[i].flags |= F_CHUNKED;
    }
    for (int i = 0; i < 4; i++) s->v[l->files + i].type = types[i];
    for (int i = 0; i < CHAINS; i++) {
        static const uint16_t codes[3] = {301, 302, 308};
        for (int h = 0; h < 3; h++) s->v[l->chain + 3 * i + h].status = codes[h];
        s->v[l->chain + 3 * i].target = l->chain + 3 * i + 1;
        s->v[l->chain + 3 * i + 1].target = l->chain + 3 * i + 2;
        s->v[l->chain + 3 * i + 2].target = article(l, below(s, SECTIONS), below(s, ARTICLES));
    }
    s->v[l->loop].status = s->v[l->loop + 1].status = 301;
    s->v[l->loop].target = l->loop + 1;
    s->v[l->loop + 1].target = l->loop;
    s->v[l->big].flags |= F_BIG;
    s->v[l->moved].flags |= F_REFRESH;
    s->v[l->root].flags |= F_TRAPS | F_SCHEMES;
    /* Articles with one odd behaviour each, never two. */
    int odd = 0;
    while (odd < FLAKY + 1 + HANGS + SLOW) {
        node *a = &s->v[article(l, below(s, SECTIONS), below(s, ARTICLES))];
        if (a->fail_first || (a->flags & (F_HANG | F_429)) || a->latency_ms >= 1000) continue;
        if (odd < FLAKY) a->fail_first = (uint8_t)(1 + below(s, 2));
        else if (odd == FLAKY) a->flags |= F_429;
        else if (odd < FLAKY + 1 + HANGS) a->flags |= F_HANG;
        else a->latency_ms = 1000 + below(s, 1001);
        odd++;
    }
    for (int k = 0; k < SECTIONS; k++)
        for (int j = 0; j < ARTICLES; j++) {
            node *a = &s->v[article(l, (uint32_t)k, (uint32_t)j)];
            if (j % 13 == 5) a->flags |= F_BASE;
            if (j % 50 == 7) a->flags |= F_TRAPS;
        }
}

/* Links from random articles to the nodes nothing else links to. */
static int add_extras(site *s, const layout *l) {
    int err = 0;
    for (int i = 1; i < CHAINS && !err; i++)
        err = add_extra(s, article(l, below(s, SECTIONS), below(s, ARTICLES)), l->chain + 3 * i);
    for (int i = 0; i < MISSING && !err; i++) {
        int times = 1 + (int)below(s, 2);
        for (int t = 0; t < times && !err; t++)
            err = add_extra(s, article(l, (uint32_t)i % SECTIONS, below(s, ARTICLES)),
                            l->missing + (uint32_t)i);
    }
    for (int i = 0; i < 4 && !err; i++)
        err = add_extra(s, article(l, below(s, SECTIONS), below(s, ARTICLES)), l->files + (uint32_t)i);
    for (int i = 0; i < 6 && !err; i++)
        err = add_extra(s, article(l, below(s, SECTIONS), below(s, ARTICLES)),
                        l->other + below(s, OTHER));
    return err;
}

static int cmp_edge(const void *a, const void *b) {
    const edge *x = a, *y = b;
    if (x->from != y->from) return x->from < y->from ? -1 : 1;
    return x->to < y->to ? -1 : x->to > y->to;
}

/* The links of node i, appended to s->links. */
static int make_links(site *s, const layout *l, uint32_t i, size_t *extra_at) {
    int err = 0;
#define L(to) \
    do { if (!err) err = add_link(s, (uint32_t)(to)); } while (0)
    uint32_t k, j;
    if (i == l->root) {
        for (k = 0; k < SECTIONS; k++) L(l->hub + k);
        L(l->priv_hub);
        L(l->pub);
        L(l->deep);
        L(l->moved);
        L(l->big);
        L(l->loop);
        L(l->chain);
        for (k = 0; k < 4; k++) L(l->files + k);
        L(l->gone);
        L(l->other_root);
        L(l->hub); /* the same hub again, spelled another way */
    } else if (i >= l->hub && i < l->hub + SECTIONS) {
        k = i - l->hub;
        for (j = 0; j < 3; j++) L(l->list + k * LISTS + j);
        L(l->list + k * LISTS + LISTS - 1);
        L(l->root);
        L(l->hub + (k + 1) % SECTIONS);
    } else if (i >= l->list && i < l->article) {
        k = (i - l->list) / LISTS;
        j = (i - l->list) % LISTS;
        L(l->hub + k);
        if (j > 0) L(i - 1);
        if (j + 1 < LISTS) L(i + 1);
        for (uint32_t a = 0; a < PER_LIST; a++) L(article(l, k, j * PER_LIST + a));
    } else if (i >= l->article && i < l->priv_hub) {
        k = (i - l->article) / ARTICLES;
        j = (i - l->article) % ARTICLES;
        L(l->hub + k);
        if (j + 1 < ARTICLES) L(i + 1);
        for (int r = 0; r < 3; r++) L(article(l, k, below(s, ARTICLES)));
        if (below(s, 2)) L(article(l, below(s, SECTIONS), below(s, ARTICLES)));
    } else if (i == l->priv_hub) {
        for (k = 0; k < PRIVATE; k++) L(l->priv + k);
        L(l->pub);
    } else if (i >= l->priv && i < l->pub) {
        k = i - l->priv;
        L(l->priv_hub);
        L(l->hidden + k % HIDDEN);
        L(l->hidden + (k * 3 + 1) % HIDDEN);
        L(article(l, below(s, SECTIONS), below(s, ARTICLES)));
    } else if (i == l->pub || (i >= l->hidden && i < l->deep)) {
        L(l->root);
        L(article(l, below(s, SECTIONS), below(s, ARTICLES)));
    } else if (i >= l->deep && i < l->chain) {
        if (i + 1 < l->deep + SITE_DEEP_CHAIN) L(i + 1);
        L(l->root);
    } else if (i == l->big) {
        L(l->big_only);
    } else if (i == l->moved) {
        L(l->refresh_target);
        L(l->root);
    } else if (i == l->big_only || i == l->refresh_target) {
        L(l->root);
    } else if (i == l->other_root) {
        for (k = 0; k < OTHER; k++) L(l->other + k);
        L(l->root);
    } else if (i >= l->other && i < l->other + OTHER) {
        k = i - l->other;
        L(l->other + (k + 1) % OTHER);
        L(l->other + (k * 7 + 3) % OTHER);
        for (int r = 0; r < 2; r++) L(article(l, below(s, SECTIONS), below(s, ARTICLES)));
    }
    while (*extra_at < s->nextra && s->extra[*extra_at].from == i) L(s->extra[(*extra_at)++].to);
#undef L
    return err;
}

static int make_table(site *s) {
    s->table_size = 1;
    while (s->table_size < s->n * 2) s->table_size <<= 1;
    s->table = calloc(s->table_size, sizeof *s->table);
    if (!s->table) return -ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        size_t h = fnv(s->v[i].path, s->v[i].host) & (s->table_size - 1);
        while (s->table[h]) h = (h + 1) & (s->table_size - 1);
        s->table[h] = (uint32_t)i + 1;
    }
    return 0;
}

/* Normalises "host[:port]" through url.c into auth. */
static int set_authority(char *auth, size_t n, const char *host) {
    char in[300], *url = NULL;
    if (!host || !*host || strpbrk(host, "/?#@ ") || strlen(host) > 250) return -EINVAL;
    snprintf(in, sizeof in, "http://%s/", host);
    int err = url_normalize(in, &url);
    if (err) return err;
    size_t len = strlen(url) - strlen("http://") - 1;
    if (len + 1 > n) err = -EINVAL;
    else snprintf(auth, n, "%.*s", (int)len, url + strlen("http://"));
    free(url);
    return err;
}

static int build(site *s) {
    layout l;
    int err = make_nodes(s, &l);
    if (err) return err;
    set_behaviour(s, &l);
    err = add_extras(s, &l);
    if (err) return err;
    qsort(s->extra, s->nextra, sizeof *s->extra, cmp_edge);
    size_t extra_at = 0;
    for (uint32_t i = 0; i < s->n && !err; i++) {
        s->v[i].first = (uint32_t)s->nlinks;
        err = make_links(s, &l, i, &extra_at);
        s->v[i].nlinks = (uint32_t)(s->nlinks - s->v[i].first);
    }
    if (!err) err = make_table(s);
    if (!err) err = robots_parse(robots_txt, strlen(robots_txt), SITE_AGENT, &s->robots);
    return err;
}

int site_new(uint64_t seed, const char *host, const char *other_host, site **out) {
    *out = NULL;
    site *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->seed = s->rng = seed;
    s->scale = 100;
    int err = set_authority(s->auth[0], sizeof s->auth[0], host);
    if (!err) err = set_authority(s->auth[1], sizeof s->auth[1], other_host);
    if (!err && strcmp(s->auth[0], s->auth[1]) == 0) err = -EINVAL;
    if (!err) {
        snprintf(s->root, sizeof s->root, "http://%s/", s->auth[0]);
        err = build(s);
    }
    if (err) {
        site_free(s);
        return err;
    }
    *out = s;
    return 0;
}

void site_free(site *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].path);
        free(s->v[i].url);
    }
    free(s->v);
    free(s->links);
    free(s->extra);
    free(s->table);
    robots_free(s->robots);
    free(s);
}

void site_scale_latency(site *s, int percent) {
    s->scale = percent < 0 ? 0 : (uint32_t)percent;
}

/* A node's latency as served: drawn, then scaled. */
static uint32_t latency(const site *s, const node *n) {
    return (uint32_t)((uint64_t)n->latency_ms * s->scale / 100);
}

const char *site_root(const site *s) {
    return s->root;
}

size_t site_nodes(const site *s) {
    return s->n;
}

const char *site_node_url(const site *s, size_t i) {
    return i < s->n ? s->v[i].url : NULL;
}

size_t site_node_links(const site *s, size_t i, const uint32_t **to) {
    *to = i < s->n ? s->links + s->v[i].first : NULL;
    return i < s->n ? s->v[i].nlinks : 0;
}

/* Which host a Host header names: 1 for the other host, else 0. */
static int host_index(const site *s, const char *host) {
    char auth[256];
    if (host && set_authority(auth, sizeof auth, host) == 0 && strcmp(auth, s->auth[1]) == 0)
        return 1;
    return 0;
}

long site_lookup(const site *s, const char *host, const char *target) {
    uint8_t h = (uint8_t)host_index(s, host);
    size_t i = fnv(target, h) & (s->table_size - 1);
    for (; s->table[i]; i = (i + 1) & (s->table_size - 1)) {
        const node *n = &s->v[s->table[i] - 1];
        if (n->host == h && strcmp(n->path, target) == 0) return (long)s->table[i] - 1;
    }
    return -1;
}

/* --- spelling links ------------------------------------------------- */

/* The link from dir (a directory, ending in '/') to path, relative. */
static void relative(char *out, size_t n, const char *dir, const char *path) {
    size_t common = 0;
    for (size_t i = 0; dir[i] && dir[i] == path[i]; i++)
        if (dir[i] == '/') common = i + 1;
    size_t ups = 0;
    for (const char *p = dir + common; *p; p++) ups += *p == '/';
    size_t w = 0;
    out[0] = 0;
    for (size_t i = 0; i < ups && w + 4 < n; i++) w += (size_t)snprintf(out + w, n - w, "../");
    snprintf(out + w, n - w, "%s", path + common);
    if (!out[0]) snprintf(out, n, "./");
}

/* The directory of a path, with its final '/'. */
static void dirname_of(char *out, size_t n, const char *path) {
    const char *slash = strrchr(path, '/');
    snprintf(out, n, "%.*s", (int)(slash - path + 1), path);
}

/* The directory a page's relative links are written against. */
static void link_dir(char *out, size_t n, const node *from) {
    dirname_of(out, n, from->path);
    if (from->flags & F_BASE) strncat(out, "archive/", n - strlen(out) - 1);
}

enum { V_ENTITY = 9, V_UNQUOTED = 10, V_HTML = 11, V_URL = 9 };

/* Spells a link from `from` to `to` in variant v (< V_HTML; < V_URL outside
 * HTML). A link to another host is always an absolute URL. */
static void spell(const site *s, char *out, size_t n, const node *from, const node *to,
                  unsigned v) {
    static const unsigned offhost[4] = {3, 4, 5, 7};
    const char *auth = s->auth[to->host], *path = to->path;
    char dir[300], tmp[300];
    if (from->host != to->host) v = offhost[v % 4];
    switch (v) {
    case 1:
    case 2:
        link_dir(dir, sizeof dir, from);
        relative(tmp, sizeof tmp, dir, path);
        snprintf(out, n, "%s%s", v == 2 && tmp[0] != '.' ? "./" : "", tmp);
        break;
    case 3: snprintf(out, n, "http://%s%s", auth, path); break;
    case 4: {
        size_t i = 0;
        for (; auth[i] && i + 1 < sizeof tmp; i++) tmp[i] = (char)toupper((unsigned char)auth[i]);
        tmp[i] = 0;
        snprintf(out, n, "HTTP://%s%s", tmp, path);
        break;
    }
    case 5: {
        const char *colon = strrchr(auth, ':');
        if (colon && !strchr(colon, ']'))
            snprintf(out, n, "http://%.*s:0%s%s", (int)(colon - auth), auth, colon + 1, path);
        else
            snprintf(out, n, "http://%s:80%s", auth, path);
        break;
    }
    case 6: snprintf(out, n, "%s#part-%u", path, (unsigned)(hash3(s, v, to->latency_ms) % 9)); break;
    case 7: snprintf(out, n, "//%s%s", auth, path); break;
    case 8: snprintf(out, n, "%s%s", to->latency_ms & 1 ? "/." : "/zz/..", path); break;
    case V_ENTITY: snprintf(out, n, "&#47;%s", path + 1); break;
    default: snprintf(out, n, "%s", path); break;
    }
}

/* --- bodies ----------------------------------------------------------- */

static void render_link(const site *s, buf *b, const node *from, uint32_t i, uint32_t k) {
    const node *to = &s->v[s->links[from->first + k]];
    unsigned v = (unsigned)(hash3(s, i, k) % V_HTML);
    char href[700];
    spell(s, href, sizeof href, from, to, v);
    if (v == V_UNQUOTED)
        put(b, "<li><a href=%s>%s</a></li>\n", href, to->path);
    else if (k % 17 == 3)
        put(b, "<li><map name=\"m%u\"><area href=\"%s\" alt=\"%s\"></map></li>\n", k, href,
            to->path);
    else
        put(b, "<li><a href=\"%s\" title=\"%s\">%s</a></li>\n", href, v == 6 ? "fragment" : "",
            to->path);
}

static void render_head(const site *s, buf *b, const node *n, uint32_t i) {
    put(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
           "<title>goc-crawl test site: %s</title>\n", n->path);
    if (n->flags & F_BASE) {
        char dir[300];
        link_dir(dir, sizeof dir, n);
        put(b, "<base href=\"%s\">\n", dir);
    }
    if ((n->flags & F_REFRESH) && n->nlinks) {
        char href[700];
        spell(s, href, sizeof href, n, &s->v[s->links[n->first]], (unsigned)(hash3(s, i, 0) % V_URL));
        put(b, "<meta http-equiv=\"refresh\" content=\"0; url=%s\">\n", href);
    }
    put(b, "</head>\n<body><h1>%s</h1>\n", n->path);
    if (n->flags & F_TRAPS)
        put(b, "<!-- old menu: <a href=\"/trap/comment.html\">gone</a> -->\n"
               "<script>var t = '<a href=\"/trap/script.html\">';</script>\n"
               "<style>a[href=\"/trap/style.html\"] { color: red }</style>\n");
    if (n->flags & F_SCHEMES)
        put(b, "<p><a href=\"mailto:webmaster@site.test\">mail</a> "
               "<a href=\"javascript:void(0)\">menu</a></p>\n");
}

static void render_html(const site *s, buf *b, uint32_t i) {
    const node *n = &s->v[i];
    render_head(s, b, n, i);
    put(b, "<ul>\n");
    for (uint32_t k = (n->flags & F_REFRESH) ? 1 : 0; k < n->nlinks; k++) render_link(s, b, n, i, k);
    put(b, "</ul>\n");
    if (n->flags & F_BIG) {
        static const char tail[] = " -->\n</body></html>\n";
        put(b, "<!-- ");
        while (!b->err && b->n + sizeof tail - 1 < SITE_BIG_BYTES) put(b, "%s", "padding ");
        if (!b->err) b->n = SITE_BIG_BYTES - (sizeof tail - 1);
        put(b, "%s", tail);
        return;
    }
    put(b, "<p>Page %u of the site generated from seed %llu.</p>\n</body></html>\n", i,
        (unsigned long long)s->seed);
}

static void render_file(buf *b, const node *n) {
    if (strstr(n->type, "pdf"))
        put(b, "%%PDF-1.4\n%% <a href=\"/trap/pdf.html\">\n1 0 obj << >> endobj\n%%%%EOF\n");
    else if (strstr(n->type, "text"))
        put(b, "Notes, in plain text. See <a href=\"/trap/text.html\">this</a>.\n");
    else if (strstr(n->type, "png"))
        put(b, "\x89PNG\r\n\x1a\n<a href=\"/trap/png.html\">");
    else
        put(b, "{\"href\": \"/trap/json.html\", \"html\": \"<a href='/trap/json2.html'>\"}\n");
}

/* A body for an answer that is not a page; its link must not be followed. */
static void render_status(buf *b, int status) {
    put(b, "<html><body><h1>%d</h1><a href=\"/trap/%d.html\">home</a></body></html>\n", status,
        status);
}

/* --- answers ---------------------------------------------------------- */

static void answer_node(const site *s, uint32_t i, int attempt, site_answer *a, buf *b) {
    const node *n = &s->v[i];
    a->latency_ms = (int)latency(s, n);
    a->chunked = (n->flags & F_CHUNKED) != 0;
    a->content_type = "text/html; charset=utf-8";
    switch (n->kind) {
    case K_MISSING:
        a->status = 404;
        render_status(b, 404);
        return;
    case K_REDIRECT:
        a->status = n->status;
        spell(s, a->location, sizeof a->location, n, &s->v[n->target],
              (unsigned)(hash3(s, i, 1000) % V_URL));
        render_status(b, n->status);
        return;
    case K_FILE:
        a->status = 200;
        a->content_type = n->type;
        render_file(b, n);
        return;
    }
    if (n->flags & F_HANG) {
        a->status = 0;
    } else if (attempt < n->fail_first) {
        a->status = 503;
        render_status(b, 503);
    } else if ((n->flags & F_429) && attempt == 0) {
        a->status = 429;
        a->retry_after = 1;
        render_status(b, 429);
    } else {
        a->status = 200;
        render_html(s, b, i);
    }
}

int site_respond(const site *s, const char *host, const char *target, int attempt,
                 site_answer *out) {
    memset(out, 0, sizeof *out);
    buf b = {0};
    put(&b, "%s", ""); /* a body, if an empty one, for every answer */
    long i = site_lookup(s, host, target);
    if (strcmp(target, "/robots.txt") == 0 && host_index(s, host) == 0) {
        out->status = 200;
        out->latency_ms = 1;
        out->content_type = "text/plain";
        put(&b, "%s", robots_txt);
    } else if (i < 0) {
        out->status = 404;
        out->latency_ms = 2;
        out->content_type = "text/html; charset=utf-8";
        render_status(&b, 404);
    } else {
        answer_node(s, (uint32_t)i, attempt, out, &b);
    }
    if (b.err) {
        free(b.p);
        memset(out, 0, sizeof *out);
        return b.err;
    }
    out->body = b.p;
    out->len = b.n;
    return 0;
}

void site_answer_free(site_answer *a) {
    free(a->body);
    a->body = NULL;
    a->len = 0;
}

/* --- the expected crawl ---------------------------------------------- */

/* How one fetched node ends under the rules: fills v, counts it in e, and
 * says whether its links count and where a redirect leads (-1: nowhere). */
static void outcome(const site *s, const node *n, const site_rules *r, site_visit *v,
                    site_expect *e, int *links, long *follow) {
    *links = 0;
    *follow = -1;
    if ((n->flags & F_HANG) || (r->timeout_ms > 0 && (int)latency(s, n) >= r->timeout_ms)) {
        v->error = -ETIMEDOUT;
        v->retries = r->retries;
        e->retries_timeout += (size_t)r->retries;
        e->timeouts++;
        return;
    }
    if (n->kind == K_MISSING) {
        v->status = 404;
        e->not_found++;
        return;
    }
    if (n->kind == K_REDIRECT) {
        v->status = n->status;
        e->redirects++;
        *follow = n->target;
        return;
    }
    if (n->fail_first) {
        int tries = n->fail_first <= r->retries ? n->fail_first : r->retries;
        v->retries = tries;
        e->retries_503 += (size_t)tries;
        if (n->fail_first > r->retries) {
            v->status = 503;
            e->failed++;
            return;
        }
    }
    if (n->flags & F_429) {
        if (r->retries < 1) {
            v->status = 429;
            e->failed++;
            return;
        }
        v->retries = 1;
        e->retries_429++;
    }
    v->status = 200;
    if ((n->flags & F_BIG) && r->max_body && SITE_BIG_BYTES > r->max_body) {
        v->error = -EFBIG;
        e->too_big++;
        return;
    }
    e->ok++;
    *links = n->kind == K_HTML;
    (void)s;
}

/* A double-ended queue of node indices for the 0-1 search. */
typedef struct {
    uint32_t *v;
    size_t cap, head, len;
} deque;

static void push_front(deque *q, uint32_t x) {
    q->head = (q->head + q->cap - 1) % q->cap;
    q->v[q->head] = x;
    q->len++;
}

static void push_back(deque *q, uint32_t x) {
    q->v[(q->head + q->len++) % q->cap] = x;
}

static uint32_t pop_front(deque *q) {
    uint32_t x = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return x;
}

/* Why a reached node is not fetched: 0 when it is. */
enum { FETCH, OFFSITE, TOO_DEEP, BLOCKED };

static int classify(const site *s, const node *n, int dist, const site_rules *r) {
    if (r->same_host && n->host != 0) return OFFSITE;
    if (dist > r->max_depth) return TOO_DEEP;
    if (r->robots && n->host == 0 && !robots_allowed(s->robots, n->path)) return BLOCKED;
    return FETCH;
}

static int cmp_visit(const void *a, const void *b) {
    return strcmp(((const site_visit *)a)->url, ((const site_visit *)b)->url);
}

/* Counts the links of a page received whole. */
static void count_links(const site *s, const node *n, uint8_t *linked, site_expect *e) {
    e->links_seen += n->nlinks;
    if (n->flags & F_SCHEMES) e->links_ignored += 2;
    for (uint32_t k = 0; k < n->nlinks; k++) {
        uint32_t t = s->links[n->first + k];
        if (!linked[t]) e->links_unique++;
        linked[t] = 1;
    }
}

/* The search itself: dist, done and the visits in e. */
static int search(const site *s, const site_rules *r, int *dist, uint8_t *linked, deque *q,
                  site_expect *e) {
    uint8_t *done = calloc(s->n, 1);
    if (!done) return -ENOMEM;
    dist[0] = 0;
    push_back(q, 0);
    while (q->len) {
        uint32_t u = pop_front(q);
        if (done[u]) continue;
        done[u] = 1;
        const node *n = &s->v[u];
        int why = classify(s, n, dist[u], r);
        e->offsite += why == OFFSITE;
        e->beyond_depth += why == TOO_DEEP;
        e->robots_blocked += why == BLOCKED;
        if (why != FETCH) continue;
        site_visit *v = &e->v[e->n++];
        memset(v, 0, sizeof *v);
        v->url = strdup(n->url);
        if (!v->url) {
            free(done);
            return -ENOMEM;
        }
        v->depth = dist[u];
        int links;
        long follow;
        outcome(s, n, r, v, e, &links, &follow);
        if (follow >= 0 && dist[u] < dist[follow]) {
            dist[follow] = dist[u];
            push_front(q, (uint32_t)follow);
        }
        if (!links) continue;
        count_links(s, n, linked, e);
        for (uint32_t k = 0; k < n->nlinks; k++) {
            uint32_t t = s->links[n->first + k];
            if (dist[u] + 1 < dist[t]) {
                dist[t] = dist[u] + 1;
                push_back(q, t);
            }
        }
    }
    free(done);
    return 0;
}

int site_expect_compute(const site *s, const site_rules *r, site_expect *out) {
    memset(out, 0, sizeof *out);
    out->max_pages = r->max_pages;
    int *dist = malloc(s->n * sizeof *dist);
    uint8_t *linked = calloc(s->n, 1);
    deque q = {.cap = s->nlinks + s->n + 2};
    q.v = malloc(q.cap * sizeof *q.v);
    out->v = calloc(s->n, sizeof *out->v);
    int err = dist && linked && q.v && out->v ? 0 : -ENOMEM;
    if (!err) {
        for (size_t i = 0; i < s->n; i++) dist[i] = INT_MAX;
        err = search(s, r, dist, linked, &q, out);
    }
    free(dist);
    free(linked);
    free(q.v);
    if (err) {
        site_expect_free(out);
        return err;
    }
    qsort(out->v, out->n, sizeof *out->v, cmp_visit);
    return 0;
}

void site_expect_free(site_expect *e) {
    for (size_t i = 0; i < e->n; i++) free(e->v[i].url);
    free(e->v);
    memset(e, 0, sizeof *e);
}

const site_visit *site_expect_find(const site_expect *e, const char *url) {
    site_visit key = {.url = (char *)url};
    return bsearch(&key, e->v, e->n, sizeof *e->v, cmp_visit);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends one difference to why, up to a few. */
static void note(char *why, size_t len, int *notes, const char *what, const char *url) {
    if (++*notes > 8 || !len) return;
    size_t used = strlen(why);
    snprintf(why + used, len - used, "%s%s %s", used ? "; " : "", what, url);
}

int site_expect_check(const site_expect *e, const char *const *urls, size_t n, char *why,
                      size_t whylen) {
    if (whylen) why[0] = 0;
    const char **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return -ENOMEM;
    memcpy(v, urls, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_str);
    size_t i = 0, j = 0, missing = 0, extra = 0, dups = 0;
    int notes = 0;
    while (i < e->n || j < n) {
        int c = i == e->n ? 1 : j == n ? -1 : strcmp(e->v[i].url, v[j]);
        if (j > 0 && j < n && c >= 0 && strcmp(v[j], v[j - 1]) == 0) {
            dups++;
            note(why, whylen, &notes, "fetched twice:", v[j++]);
        } else if (c < 0) {
            missing++;
            if (!e->max_pages || e->max_pages >= e->n) note(why, whylen, &notes, "missing:", e->v[i].url);
            i++;
        } else if (c > 0) {
            extra++;
            note(why, whylen, &notes, "unexpected:", v[j++]);
        } else {
            i++;
            j++;
        }
    }
    free(v);
    int limited = e->max_pages && e->max_pages < e->n;
    int ok = !extra && !dups && (limited ? n == e->max_pages : !missing);
    if (!ok && limited && n != e->max_pages && whylen) {
        size_t used = strlen(why);
        snprintf(why + used, whylen - used, "%sfetched %zu pages, the limit allows exactly %zu",
                 used ? "; " : "", n, e->max_pages);
    }
    return ok ? 0 : -EDOM;
}
