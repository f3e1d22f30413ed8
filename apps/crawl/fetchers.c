/* The fetcher coroutines: each takes a job from the frontier's channel,
 * fetches it in blocking style with its own fetcher (fetch.c), retrying
 * with exponential backoff and full jitter (Retry-After honoured on 429
 * and 503), extracts links or robots rules, and sends the outcome back.
 *
 * Invariants: every job received is answered with exactly one outcome;
 * a fetcher never reads crawl state other than its job and the options.
 * Locking: none; each fetcher owns its curl handles and its random state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crawl.h"
#include "fetch.h"
#include "links.h"
#include "robots.h"
#include "site.h"
#include "url.h"

#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 5000
#define AGENT SITE_AGENT "/1.0"

typedef struct {
    crawl_fetchers *cf;
    fetcher *f;
    uint64_t rng;
} fetch_worker;

static uint64_t next_random(fetch_worker *w) {
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Which retry cause an attempt's result is, or -1 for a final one. */
static int retry_cause(const fetch_result *r) {
    if (r->err == -ETIMEDOUT) return STATS_RETRY_TIMEOUT;
    if (r->err == -ECONNREFUSED || r->err == -ECONNRESET) return STATS_RETRY_CONNECT;
    if (r->err) return -1;
    if (r->status == 503) return STATS_RETRY_503;
    if (r->status == 429) return STATS_RETRY_429;
    return -1;
}

/* Full jitter: uniform in [0, min(cap, base * 2^attempt)], but never less
 * than the host's delay, nor than Retry-After. */
static int64_t backoff(fetch_worker *w, int attempt, const fetch_result *r) {
    int64_t ceil = BACKOFF_BASE_MS << (attempt < 10 ? attempt : 10);
    if (ceil > BACKOFF_CAP_MS) ceil = BACKOFF_CAP_MS;
    int64_t ms = (int64_t)(next_random(w) % (uint64_t)(ceil + 1));
    if (ms < w->cf->o->delay_ms) ms = w->cf->o->delay_ms;
    if (r->retry_after > 0 && ms < r->retry_after * 1000) ms = r->retry_after * 1000;
    return ms * GOC_MS;
}

/* Sleeps ns unless the crawl is stopped first: then false. */
static int pause_for(fetch_worker *w, int64_t ns) {
    goc_case cs[] = {GOC_RECV(goc_ctx_done(w->cf->stop), NULL)};
    return goc_select(cs, 1, ns) != 0;
}

static void take_links(crawl_outcome *out, const fetch_result *r, const char *url) {
    link_list l;
    if (links_extract(r->body, r->len, url, &l) == 0) {
        out->links = l.url;
        out->nlinks = l.n;
        l.url = NULL;
        l.n = 0;
    }
    links_free(&l);
}

static void fetch_job(fetch_worker *w, const crawl_job *job, crawl_outcome *out) {
    const crawl_opts *o = w->cf->o;
    fetch_opts fo = {.timeout_ms = o->timeout_ms, .max_body = o->max_body, .agent = AGENT};
    char *url = NULL;
    if (job->kind == JOB_ROBOTS) {
        fo.follow = 1;
        fo.max_body = 512 * 1024;
        url_resolve(job->url, "/robots.txt", &url);
    }
    fetch_result r = {0};
    int64_t t0 = goc_now();
    for (int attempt = 0;; attempt++) {
        fetch_get(w->f, w->cf->hard, url ? url : job->url, &fo, &r);
        int cause = retry_cause(&r);
        if (cause < 0 || attempt >= o->retries || job->kind == JOB_ROBOTS) break;
        if (!pause_for(w, backoff(w, attempt, &r))) break;
        out->retries[cause]++;
        fetch_result_free(&r);
    }
    out->ns = goc_now() - t0;
    out->status = r.status;
    out->err = r.err;
    out->bytes = r.bytes;
    snprintf(out->error, sizeof out->error, "%s", r.errmsg);
    if (r.location) url_normalize(r.location, &out->location);
    if (job->kind == JOB_ROBOTS) {
        if (!r.err && r.status >= 200 && r.status < 300)
            robots_parse(r.body ? r.body : "", r.len, AGENT, &out->rules);
    } else if (!r.err && r.status == 200 && r.html && r.body) {
        take_links(out, &r, job->url);
    }
    fetch_result_free(&r);
    free(url);
}

static void fetcher_loop(void *arg) {
    fetch_worker *w = arg;
    crawl_job job;
    while (goc_recv(w->cf->jobs, &job) == GOC_OK) {
        crawl_outcome *out = calloc(1, sizeof *out);
        if (!out) abort(); /* the frontier waits for it: nothing sane to do */
        out->job = job;
        fetch_job(w, &job, out);
        goc_send(w->cf->outcomes, &out);
    }
    fetcher_free(w->f);
    goc_wg_done(w->cf->done);
    free(w);
}

int crawl_fetchers_start(crawl_fetchers *cf) {
    int n = 0;
    for (int i = 0; i < cf->o->fetchers; i++) {
        fetch_worker *w = calloc(1, sizeof *w);
        if (w) w->f = fetcher_new(cf->share);
        if (!w || !w->f) {
            free(w);
            break;
        }
        w->cf = cf;
        w->rng = cf->seed * 1000003u + (uint64_t)i;
        goc_wg_add(cf->done, 1);
        if (goc_go_with(&(goc_opts){.name = "fetcher"}, fetcher_loop, w) != 0) {
            goc_wg_done(cf->done);
            fetcher_free(w->f);
            free(w);
            break;
        }
        n++;
    }
    return n;
}

void crawl_outcome_free(crawl_outcome *o) {
    if (!o) return;
    free(o->location);
    for (size_t i = 0; i < o->nlinks; i++) free(o->links[i]);
    free(o->links);
    robots_free(o->rules);
    free(o);
}
