/* The frontier: one coroutine that owns the crawl's state (every URL seen,
 * with its depth and fate; every host, with its queue, robots rules, the
 * requests in flight there and when the next may start), hands jobs to the
 * fetchers over an unbuffered channel and takes their outcomes back.
 *
 * Invariants: a URL is requested at most once; a URL is requested only
 * when its depth is within the limit, it is on the start host (same-host),
 * and its host's robots.txt has been read and allows it; a host never has
 * more than per_host requests in flight, nor two request starts closer than
 * delay_ms; the crawl ends when nothing is queued and nothing is in flight
 * (or, once stopped or at the page limit, when nothing is in flight).
 * Depth is the shortest distance from the start URL: when a shorter path to
 * a URL turns up after it was fetched, its links are relaxed again (a
 * redirect keeps its depth), so the set fetched does not depend on the
 * order answers arrive in.
 * Locking: none. Only the frontier touches this state; fetchers see a job
 * (its URL string is immutable until the outcome returns) and send back an
 * outcome they no longer touch. The select over the job channel's send,
 * the outcome channel, snapshot requests and the stop context is the whole
 * scheduling; a NULL job channel disables the send case when nothing is
 * ready (the course crawler's trick). */
#include "crawl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "output.h"
#include "robots.h"
#include "url.h"

#define REDIRECTS_MAX 10
#define HOST_KEY 300

enum { U_QUEUED, U_FLIGHT, U_DONE, U_BEYOND, U_OFFSITE, U_BLOCKED };

typedef struct {
    char *url;
    uint32_t host;
    int depth;
    uint8_t state;
    uint8_t hops;          /* redirects that led here */
    uint8_t redirect;      /* done, and to[0] is its Location */
    uint32_t *to;          /* links (a 3xx: its target), kept for relaxing */
    uint32_t nto;
    int32_t from;          /* the page that first linked here, or -1 */
} unode;

typedef struct {
    int depth;
    uint32_t seq, node;
} qitem;

enum { R_NEED, R_FETCHING, R_READY };

typedef struct {
    char key[HOST_KEY];
    int active;            /* requests in flight */
    int64_t next_ok;       /* goc_now time the next request may start */
    int rstate;
    robots *rules;
    qitem *q;              /* a min-heap on (depth, seq); stale entries skipped */
    size_t nq, capq;
} host;

typedef struct {
    goc_chan *reply;       /* crawl_snapshot, capacity 1 */
} snap_req;

struct crawl {
    crawl_opts o;
    char *start;
    goc_ctx *stop, *hard;
    /* (f) the frontier's own */
    unode *u;
    size_t nu, capu;
    uint32_t *table;       /* open addressing: node + 1, 0 empty */
    size_t table_size;
    host *h;
    size_t nh, caph, rr;
    uint32_t seq;
    size_t dispatched, in_flight, queued;
    uint64_t retries, errors;
    int limit_hit;
    stats st;
    uint32_t *fetched;     /* nodes, in the order they finished */
    size_t nfetched;
    uint32_t *broken;
    size_t nbroken;
    int why;
    char first_error[300];  /* the first page error, with its URL */
    /* channels and coroutines */
    goc_chan *jobs, *outcomes, *snaps;
    crawl_fetchers cf;
    fetch_share *share;
    goc_wg fetchers, frontier;
    output *out;
    int out_err;
    const char **urls;     /* crawl_fetched's answer */
};

/* --- the visited set -------------------------------------------------- */

static uint64_t hash_str(const char *p) {
    uint64_t h = 1469598103934665603ULL;
    for (; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static int grow_table(crawl *c) {
    size_t size = c->table_size ? c->table_size * 2 : 4096;
    uint32_t *t = calloc(size, sizeof *t);
    if (!t) return -ENOMEM;
    for (size_t i = 0; i < c->nu; i++) {
        size_t k = hash_str(c->u[i].url) & (size - 1);
        while (t[k]) k = (k + 1) & (size - 1);
        t[k] = (uint32_t)i + 1;
    }
    free(c->table);
    c->table = t;
    c->table_size = size;
    return 0;
}

/* The node for url, or -1. */
static long find(const crawl *c, const char *url) {
    if (!c->table_size) return -1;
    for (size_t k = hash_str(url) & (c->table_size - 1); c->table[k];
         k = (k + 1) & (c->table_size - 1))
        if (strcmp(c->u[c->table[k] - 1].url, url) == 0) return c->table[k] - 1;
    return -1;
}

/* --- hosts ------------------------------------------------------------ */

static long host_of(crawl *c, const char *url) {
    char key[HOST_KEY];
    if (url_host_key(url, key, sizeof key) < 0) return -1;
    for (size_t i = 0; i < c->nh; i++)
        if (strcmp(c->h[i].key, key) == 0) return (long)i;
    if (c->nh == c->caph) {
        size_t cap = c->caph ? c->caph * 2 : 8;
        host *h = realloc(c->h, cap * sizeof *h);
        if (!h) return -1;
        c->h = h;
        c->caph = cap;
    }
    host *h = &c->h[c->nh];
    memset(h, 0, sizeof *h);
    memcpy(h->key, key, sizeof key);
    h->rstate = c->o.robots ? R_NEED : R_READY;
    return (long)c->nh++;
}

static int before(const qitem *a, const qitem *b) {
    return a->depth != b->depth ? a->depth < b->depth : a->seq < b->seq;
}

static int push(crawl *c, uint32_t node) {
    host *h = &c->h[c->u[node].host];
    if (h->nq == h->capq) {
        size_t cap = h->capq ? h->capq * 2 : 64;
        qitem *q = realloc(h->q, cap * sizeof *q);
        if (!q) return -ENOMEM;
        h->q = q;
        h->capq = cap;
    }
    size_t i = h->nq++;
    h->q[i] = (qitem){c->u[node].depth, c->seq++, node};
    while (i && before(&h->q[i], &h->q[(i - 1) / 2])) {
        qitem t = h->q[i];
        h->q[i] = h->q[(i - 1) / 2];
        h->q[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    return 0;
}

static void pop(host *h) {
    h->q[0] = h->q[--h->nq];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->nq && before(&h->q[l], &h->q[m])) m = l;
        if (r < h->nq && before(&h->q[r], &h->q[m])) m = r;
        if (m == i) break;
        qitem t = h->q[i];
        h->q[i] = h->q[m];
        h->q[m] = t;
        i = m;
    }
}

/* The queued node first in h's queue, dropping stale entries; -1 if none. */
static long head(crawl *c, host *h) {
    while (h->nq) {
        qitem *q = &h->q[0];
        unode *u = &c->u[q->node];
        if (u->state == U_QUEUED && u->depth == q->depth) return q->node;
        pop(h);
    }
    return -1;
}

/* --- discovering URLs ------------------------------------------------- */

static void relax(crawl *c, uint32_t node, int depth);

/* Makes the node for a URL seen for the first time at depth. */
static long add(crawl *c, const char *url, int depth, int hops, long from) {
    if ((c->nu + 1) * 2 > c->table_size && grow_table(c)) return -1;
    if (c->nu == c->capu) {
        size_t cap = c->capu ? c->capu * 2 : 1024;
        unode *u = realloc(c->u, cap * sizeof *u);
        if (!u) return -1;
        c->u = u;
        c->capu = cap;
    }
    long h = host_of(c, url);
    char *copy = strdup(url);
    if (h < 0 || !copy) {
        free(copy);
        return -1;
    }
    uint32_t i = (uint32_t)c->nu++;
    c->u[i] = (unode){.url = copy, .host = (uint32_t)h, .depth = depth, .hops = (uint8_t)hops,
                      .from = (int32_t)from};
    size_t k = hash_str(url) & (c->table_size - 1);
    while (c->table[k]) k = (k + 1) & (c->table_size - 1);
    c->table[k] = i + 1;
    if (c->o.same_host && url_same_host(url, c->start) != 1) {
        c->u[i].state = U_OFFSITE;
        c->st.offsite++;
    } else if (depth > c->o.max_depth) {
        c->u[i].state = U_BEYOND;
        c->st.beyond_depth++;
    } else {
        c->u[i].state = U_QUEUED;
        c->queued++;
        push(c, i);
    }
    return i;
}

/* A URL reached at depth: new, a duplicate, or a shorter path. Returns its
 * node, or -1 (no memory). */
static long reach(crawl *c, const char *url, int depth, int hops, long from, int link) {
    long i = find(c, url);
    if (i < 0) return add(c, url, depth, hops, from);
    if (link) c->st.dups++;
    if (depth < c->u[i].depth) relax(c, (uint32_t)i, depth);
    return i;
}

/* Node reached by a shorter path: moves it up, and what it leads to after
 * it (links one level down, a redirect's target at its own level). */
static void relax(crawl *c, uint32_t node, int depth) {
    unode *u = &c->u[node];
    u->depth = depth;
    switch (u->state) {
    case U_BEYOND:
        if (depth > c->o.max_depth) return;
        c->st.beyond_depth--;
        u->state = U_QUEUED;
        c->queued++;
        push(c, node);
        return;
    case U_QUEUED:
        push(c, node); /* the old entry goes stale */
        return;
    case U_DONE:
        for (uint32_t k = 0; k < u->nto; k++) {
            int d = u->redirect ? depth : depth + 1;
            if (d < c->u[u->to[k]].depth) relax(c, u->to[k], d);
        }
        return;
    default:
        return; /* in flight: its outcome uses the new depth */
    }
}

/* --- handing out jobs ------------------------------------------------- */

/* h's first queued node that robots.txt allows; disallowed ones are
 * dropped and counted. -1 if none. */
static long head_allowed(crawl *c, host *h) {
    long node;
    while ((node = head(c, h)) >= 0) {
        char *target = NULL;
        int ok = !h->rules || (url_target(c->u[node].url, &target) == 0 &&
                               robots_allowed(h->rules, target));
        free(target);
        if (ok) return node;
        c->u[node].state = U_BLOCKED;
        c->queued--;
        c->st.robots_blocked++;
        pop(h);
    }
    return -1;
}

/* The next job to hand out: 1 with *job set, or 0 with *wait the time
 * until a host's delay has passed (-1: nothing is waiting for one). */
static int next_job(crawl *c, crawl_job *job, int64_t *wait) {
    *wait = -1;
    if (c->why != CRAWL_DONE) return 0;
    int64_t now = goc_now();
    for (size_t n = 0; n < c->nh; n++) {
        uint32_t i = (uint32_t)((c->rr + n) % c->nh);
        host *h = &c->h[i];
        if (h->rstate == R_FETCHING) continue;
        long node = h->rstate == R_READY ? head_allowed(c, h) : head(c, h);
        if (node < 0 || h->active >= c->o.per_host) continue;
        if (now < h->next_ok) {
            if (*wait < 0 || h->next_ok - now < *wait) *wait = h->next_ok - now;
            continue;
        }
        if (h->rstate == R_READY && c->o.max_pages && c->dispatched >= c->o.max_pages) {
            c->why = CRAWL_PAGE_LIMIT;
            *wait = -1;
            return 0;
        }
        *job = (crawl_job){h->rstate == R_NEED ? JOB_ROBOTS : JOB_PAGE, (uint32_t)node, i,
                           c->u[node].url};
        return 1;
    }
    return 0;
}

static void handed_out(crawl *c, const crawl_job *job) {
    host *h = &c->h[job->host];
    if (job->kind == JOB_ROBOTS) {
        h->rstate = R_FETCHING;
    } else {
        c->u[job->node].state = U_FLIGHT;
        c->queued--;
        c->dispatched++;
        pop(h);
    }
    h->active++;
    h->next_ok = goc_now() + c->o.delay_ms * GOC_MS;
    c->in_flight++;
    c->rr = job->host + 1;
}

/* --- taking outcomes back --------------------------------------------- */

static int append(uint32_t **v, size_t *n, uint32_t x) {
    if (*n == 0 || (*n >= 16 && (*n & (*n - 1)) == 0)) {
        uint32_t *p = realloc(*v, (*n ? *n * 2 : 16) * sizeof *p);
        if (!p) return -ENOMEM;
        *v = p;
    }
    (*v)[(*n)++] = x;
    return 0;
}

/* Follows a 3xx: its target is queued at the same depth. */
static const char *follow(crawl *c, uint32_t node, const char *location) {
    if (c->u[node].hops >= REDIRECTS_MAX) return "too many redirects";
    long t = reach(c, location, c->u[node].depth, c->u[node].hops + 1, node, 0);
    if (t < 0) return "out of memory";
    unode *u = &c->u[node];
    u->to = malloc(sizeof *u->to);
    if (u->to) {
        u->to[0] = (uint32_t)t;
        u->nto = 1;
        u->redirect = 1;
    }
    return NULL;
}

/* Queues a page's links one level down. */
static void take_links(crawl *c, uint32_t node, crawl_outcome *out) {
    c->st.links_seen += out->nlinks;
    uint32_t *to = malloc(out->nlinks * sizeof *to + 1);
    uint32_t n = 0;
    for (size_t k = 0; k < out->nlinks; k++) {
        long t = reach(c, out->links[k], c->u[node].depth + 1, 0, node, 1);
        if (t >= 0 && to) to[n++] = (uint32_t)t;
    }
    c->u[node].to = to;
    c->u[node].nto = to ? n : 0;
}

static void took(crawl *c, crawl_outcome *out) {
    host *h = &c->h[out->job.host];
    h->active--;
    c->in_flight--;
    if (out->job.kind == JOB_ROBOTS) {
        h->rules = out->rules; /* NULL: no usable robots.txt, all allowed */
        out->rules = NULL;
        h->rstate = R_READY;
        return;
    }
    uint32_t node = out->job.node;
    c->u[node].state = U_DONE;
    const char *error = out->error[0] ? out->error : NULL;
    if (out->location && !out->err) error = follow(c, node, out->location);
    if (out->links) take_links(c, node, out);
    int64_t now = goc_now();
    stats_page(&c->st, now, out->status, out->err, out->ns, out->bytes);
    for (int k = 0; k < STATS_RETRY_N; k++) {
        c->st.retries[k] += (uint64_t)out->retries[k];
        c->retries += (uint64_t)out->retries[k];
    }
    c->errors += out->err != 0 || out->status >= 400 || out->status == 0;
    if (out->err && !c->first_error[0])
        snprintf(c->first_error, sizeof c->first_error, "%s: %s", c->u[node].url, out->error);
    append(&c->fetched, &c->nfetched, node);
    if (out->status == 404 || out->status == 410) append(&c->broken, &c->nbroken, node);
    if (c->out) {
        crawl_record r = {c->u[node].url, out->status, c->u[node].depth,
                          (double)out->ns / 1e6, out->bytes, error};
        output_add(c->out, &r);
    }
}

/* --- the frontier coroutine ------------------------------------------- */

static void snapshot(crawl *c, crawl_snapshot *s) {
    int64_t now = goc_now();
    stats_latency l = stats_latencies(&c->st);
    size_t sec = (size_t)((now - c->st.start_ns) / GOC_SEC);
    *s = (crawl_snapshot){.fetched = c->st.pages, .in_flight = c->in_flight,
                          .queued = c->queued, .retries = c->retries, .errors = c->errors,
                          .p50 = l.p50, .p99 = l.p99, .elapsed = now - c->st.start_ns};
    s->rate = sec >= 1 && sec - 1 < c->st.nsec ? c->st.per_sec[sec - 1]
                                               : stats_avg_rate(&c->st, now);
}

static void frontier(void *arg) {
    crawl *c = arg;
    reach(c, c->start, 0, 0, -1, 0);
    int stopped = 0;
    for (;;) {
        crawl_job job;
        int64_t wait;
        int ready = next_job(c, &job, &wait);
        if (!ready && c->in_flight == 0 && wait < 0) break;
        crawl_outcome *out = NULL;
        goc_chan *reply = NULL;
        goc_case cs[] = {GOC_SEND(ready ? c->jobs : NULL, &job), GOC_RECV(c->outcomes, &out),
                         GOC_RECV(c->snaps, &reply),
                         GOC_RECV(stopped ? NULL : goc_ctx_done(c->stop), NULL)};
        switch (goc_select(cs, 4, wait >= 0 ? wait : GOC_FOREVER)) {
        case 0:
            handed_out(c, &job);
            break;
        case 1:
            took(c, out);
            crawl_outcome_free(out);
            break;
        case 2: {
            crawl_snapshot s;
            snapshot(c, &s);
            goc_send(reply, &s);
            break;
        }
        case 3:
            stopped = 1;
            c->why = CRAWL_CANCELED;
            break;
        }
    }
    goc_close(c->jobs);
    goc_close(c->snaps);
    goc_wg_wait(&c->fetchers);
    c->out_err = output_close(c->out);
    c->out = NULL;
    goc_wg_done(&c->frontier);
}

/* --- the crawl's life ------------------------------------------------- */

int crawl_start(const crawl_opts *o, goc_ctx *stop, goc_ctx *hard, crawl **out, const char **what) {
    *out = NULL;
    *what = "crawl";
    crawl *c = calloc(1, sizeof *c);
    if (!c) return GOC_ENOMEM;
    c->o = *o;
    c->stop = stop;
    c->hard = hard;
    c->start = strdup(o->start);
    stats_init(&c->st, goc_now());
    int err = c->start ? output_open(o->jsonl, o->db, &c->out, what) : GOC_ENOMEM;
    if (!err) {
        *what = "crawl";
        c->share = fetch_share_new();
        c->jobs = goc_chan_make(sizeof(crawl_job), 0);
        c->outcomes = goc_chan_make(sizeof(crawl_outcome *), (size_t)o->fetchers);
        c->snaps = goc_chan_make(sizeof(goc_chan *), 0);
        if (!c->share || !c->jobs || !c->outcomes || !c->snaps) err = GOC_ENOMEM;
    }
    if (!err) {
        c->cf = (crawl_fetchers){c->jobs, c->outcomes, stop, hard, &c->o, c->share,
                                 &c->fetchers, o->seed};
        if (crawl_fetchers_start(&c->cf) == 0) err = GOC_ENOMEM;
    }
    if (!err) {
        goc_wg_add(&c->frontier, 1);
        err = goc_go_with(&(goc_opts){.name = "frontier"}, frontier, c);
        if (err) goc_wg_done(&c->frontier);
    }
    if (err) {
        if (c->jobs) goc_close(c->jobs);
        goc_wg_wait(&c->fetchers);
        output_close(c->out);
        c->out = NULL;
        crawl_free(c);
        return err;
    }
    *out = c;
    return 0;
}

void crawl_snapshot_get(crawl *c, crawl_snapshot *s) {
    memset(s, 0, sizeof *s);
    goc_chan *reply = goc_chan_make(sizeof *s, 1);
    if (reply && goc_send(c->snaps, &reply) == GOC_OK) goc_recv(reply, s);
    if (reply) goc_chan_release(reply);
}

int crawl_wait(crawl *c) {
    goc_wg_wait(&c->frontier);
    return c->why;
}

stats *crawl_stats(crawl *c) {
    return &c->st;
}

const char *const *crawl_fetched(crawl *c, size_t *n) {
    free(c->urls);
    c->urls = malloc((c->nfetched + 1) * sizeof *c->urls);
    *n = c->urls ? c->nfetched : 0;
    for (size_t i = 0; i < *n; i++) c->urls[i] = c->u[c->fetched[i]].url;
    return c->urls;
}

const char *crawl_first_error(crawl *c) {
    return c->first_error;
}

int crawl_output_error(crawl *c) {
    return c->out_err;
}

size_t crawl_broken(crawl *c, size_t i, const char **url, const char **from) {
    if (i < c->nbroken) {
        const unode *u = &c->u[c->broken[i]];
        *url = u->url;
        *from = u->from >= 0 ? c->u[u->from].url : NULL;
    }
    return c->nbroken;
}

void crawl_free(crawl *c) {
    if (!c) return;
    for (size_t i = 0; i < c->nu; i++) {
        free(c->u[i].url);
        free(c->u[i].to);
    }
    for (size_t i = 0; i < c->nh; i++) {
        robots_free(c->h[i].rules);
        free(c->h[i].q);
    }
    free(c->u);
    free(c->h);
    free(c->table);
    free(c->fetched);
    free(c->broken);
    free(c->urls);
    free(c->start);
    stats_free(&c->st);
    if (c->jobs) goc_chan_release(c->jobs);
    if (c->outcomes) goc_chan_release(c->outcomes);
    if (c->snaps) goc_chan_release(c->snaps);
    fetch_share_free(c->share);
    free(c);
}
