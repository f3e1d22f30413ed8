/* goc-crawl: the command line. Parses options, serves the embedded site
 * when no URL is given (or only serves it, --serve), runs the crawl with a
 * live status line, turns SIGINT and SIGTERM into a graceful stop, prints
 * the summary, and checks a crawl of the embedded site against the site's
 * own model. With --bench it also prints the one result line of bench/run
 * (bench/bench.h), for the benchmark against a Go crawler.
 *
 * Coroutines here: the status line (a ticker and snapshot requests to the
 * frontier) and the signal watcher (signals arrive as messages; the first
 * cancels the stop context, a grace later the hard one; a second signal
 * exits at once). main waits on the crawl as a plain thread. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "crawl.h"
#include "goc.h"
#include "server.h"
#include "site.h"
#include "url.h"

#define GRACE (2 * GOC_SEC)

static const char usage[] =
    "usage: goc-crawl [options] [URL]\n"
    "\n"
    "Crawls URL (http or https) and the pages it links to, politely and concurrently.\n"
    "Without URL it serves its embedded test site on 127.0.0.1 and crawls that,\n"
    "then checks that exactly the pages the rules allow were fetched.\n"
    "\n"
    "  -c N              fetcher coroutines: requests in flight at most (default 16)\n"
    "  --per-host N      requests in flight to one host at most (default 8)\n"
    "  --delay MS        least time between two request starts to one host (default 0)\n"
    "  --depth N         follow links up to N deep; the start URL is depth 0 (default 10)\n"
    "  --max-pages N     stop after N fetched URLs; 0: no limit (default 0)\n"
    "  --max-body BYTES  larger bodies are recorded with an error, not parsed (default 1048576)\n"
    "  --timeout MS      per request attempt; 0: none (default 3000)\n"
    "  --retries N       extra attempts after 503, 429, a timeout or a broken\n"
    "                    connection, with exponential backoff and full jitter;\n"
    "                    Retry-After is honoured (default 2)\n"
    "  --robots on|off   obey robots.txt (default on)\n"
    "  --same-host on|off  fetch only the start URL's host (default on)\n"
    "  --out FILE        write one JSON line per fetched URL (\"-\": standard output)\n"
    "  --db FILE         write the fetched URLs to an SQLite table, pages\n"
    "  --serve ADDR      only serve the embedded site on ADDR (host:port) until Ctrl-C\n"
    "  --seed N          the embedded site's seed, and the jitter's (default 1)\n"
    "  --latency PCT     scale the embedded site's latencies to PCT percent (default 100)\n"
    "  --bench NAME      at the end, print bench/run's result line named NAME\n"
    "  -q                no status line\n"
    "  --help            this text\n"
    "\n"
    "Ctrl-C (or SIGTERM) stops the crawl: requests in flight get 2 s to finish,\n"
    "the output is flushed and the summary printed; a second Ctrl-C quits at once.\n"
    "Exit status: 0 done, 1 a failure (no answer, unwritable output, a failed check),\n"
    "2 bad usage, 128+signal when interrupted.\n";

typedef struct {
    crawl_opts c;
    const char *url, *serve, *bench;
    int latency, quiet;
} options;

static int die_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "goc-crawl: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (goc-crawl --help explains the options)\n");
    return 2;
}

/* A whole decimal number in [lo, hi], or -1. */
static long long number(const char *s, long long lo, long long hi) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    return v;
}

static int on_off(const char *s) {
    return strcmp(s, "on") == 0 ? 1 : strcmp(s, "off") == 0 ? 0 : -1;
}

enum { O_PER_HOST = 256, O_DELAY, O_DEPTH, O_MAX_PAGES, O_MAX_BODY, O_TIMEOUT, O_RETRIES,
       O_ROBOTS, O_SAME_HOST, O_OUT, O_DB, O_SERVE, O_SEED, O_LATENCY, O_BENCH, O_HELP };

static const struct option longs[] = {
    {"per-host", required_argument, 0, O_PER_HOST}, {"delay", required_argument, 0, O_DELAY},
    {"depth", required_argument, 0, O_DEPTH}, {"max-pages", required_argument, 0, O_MAX_PAGES},
    {"max-body", required_argument, 0, O_MAX_BODY}, {"timeout", required_argument, 0, O_TIMEOUT},
    {"retries", required_argument, 0, O_RETRIES}, {"robots", required_argument, 0, O_ROBOTS},
    {"same-host", required_argument, 0, O_SAME_HOST}, {"out", required_argument, 0, O_OUT},
    {"db", required_argument, 0, O_DB}, {"serve", required_argument, 0, O_SERVE},
    {"seed", required_argument, 0, O_SEED}, {"latency", required_argument, 0, O_LATENCY},
    {"bench", required_argument, 0, O_BENCH}, {"help", no_argument, 0, O_HELP},
    {0, 0, 0, 0},
};

static const char *name_of(int ch) {
    static char buf[32];
    for (const struct option *p = longs; p->name; p++)
        if (p->val == ch) {
            snprintf(buf, sizeof buf, "--%s", p->name);
            return buf;
        }
    snprintf(buf, sizeof buf, "-%c", ch);
    return buf;
}

/* Parses argv into o. -1 when --help was shown, 0, or an exit status. */
static int parse(int argc, char **argv, options *o) {
    *o = (options){.c = {.fetchers = 16, .per_host = 8, .max_depth = 10,
                         .max_body = 1 << 20, .timeout_ms = 3000, .retries = 2,
                         .robots = 1, .same_host = 1, .seed = 1},
                   .latency = 100};
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":c:q", longs, NULL)) != -1) {
        long long v = 0;
        const char *arg = optarg;
        switch (ch) {
        case 'c': v = number(arg, 1, 10000); if (v < 0) goto bad; o->c.fetchers = (int)v; break;
        case O_PER_HOST: v = number(arg, 1, 10000); if (v < 0) goto bad; o->c.per_host = (int)v; break;
        case O_DELAY: v = number(arg, 0, 3600000); if (v < 0) goto bad; o->c.delay_ms = (int)v; break;
        case O_DEPTH: v = number(arg, 0, 1000); if (v < 0) goto bad; o->c.max_depth = (int)v; break;
        case O_MAX_PAGES: v = number(arg, 0, 1LL << 40); if (v < 0) goto bad; o->c.max_pages = (size_t)v; break;
        case O_MAX_BODY: v = number(arg, 0, 1LL << 40); if (v < 0) goto bad; o->c.max_body = (size_t)v; break;
        case O_TIMEOUT: v = number(arg, 0, 3600000); if (v < 0) goto bad; o->c.timeout_ms = (int)v; break;
        case O_RETRIES: v = number(arg, 0, 100); if (v < 0) goto bad; o->c.retries = (int)v; break;
        case O_ROBOTS: if ((o->c.robots = on_off(arg)) < 0) goto bad; break;
        case O_SAME_HOST: if ((o->c.same_host = on_off(arg)) < 0) goto bad; break;
        case O_OUT: o->c.jsonl = arg; break;
        case O_DB: o->c.db = arg; break;
        case O_SERVE: o->serve = arg; break;
        case O_SEED: v = number(arg, 0, INT64_MAX); if (v < 0) goto bad; o->c.seed = (uint64_t)v; break;
        case O_LATENCY: v = number(arg, 0, 10000); if (v < 0) goto bad; o->latency = (int)v; break;
        case O_BENCH: o->bench = arg; break;
        case 'q': o->quiet = 1; break;
        case O_HELP: fputs(usage, stdout); return -1;
        case ':': return die_usage("option %s needs a value", argv[optind - 1]);
        default: return die_usage("unknown option %s", argv[optind - 1]);
        }
        continue;
    bad:
        fprintf(stderr, "goc-crawl: bad value for %s: '%s' (goc-crawl --help explains the options)\n",
                name_of(ch), arg);
        return 2;
    }
    if (optind < argc) o->url = argv[optind++];
    if (optind < argc) return die_usage("one URL at most: '%s' is extra", argv[optind]);
    if (o->url && o->serve) return die_usage("--serve takes no URL: '%s'", o->url);
    return 0;
}

/* --- the embedded site ------------------------------------------------ */

typedef struct {
    server *sv;
    site *s;
    char root[300];
} embedded;

/* Serves the embedded site on address; its main host is the address it
 * got, its second host "localhost" on the same port. 0 or a goc error. */
static int embed(const char *address, const options *o, embedded *e) {
    memset(e, 0, sizeof *e);
    int port;
    int err = server_listen(address, &port, &e->sv);
    if (err) return err;
    char host[300], other[300];
    const char *colon = strrchr(address, ':');
    size_t hl = colon ? (size_t)(colon - address) : 0;
    if (hl == 0 || (hl == 7 && memcmp(address, "0.0.0.0", 7) == 0))
        snprintf(host, sizeof host, "127.0.0.1:%d", port);
    else
        snprintf(host, sizeof host, "%.*s:%d", (int)hl, address, port);
    snprintf(other, sizeof other, "localhost:%d", port);
    err = site_new(o->c.seed, host, other, &e->s);
    if (!err) {
        site_scale_latency(e->s, o->latency);
        snprintf(e->root, sizeof e->root, "%s", site_root(e->s));
        err = server_start(e->sv, e->s);
    }
    if (err) {
        server_stop(e->sv);
        site_free(e->s);
    }
    return err;
}

static void unembed(embedded *e) {
    server_stop(e->sv);
    site_free(e->s);
}

static int serve_only(const options *o) {
    embedded e;
    int err = embed(o->serve, o, &e);
    if (err) {
        fprintf(stderr, "goc-crawl: cannot serve on %s: %s\n", o->serve, goc_strerror(err));
        return 1;
    }
    goc_chan *sigs = goc_chan_make(sizeof(int), 1);
    goc_signal_notify(sigs, (const int[]){SIGINT, SIGTERM}, 2);
    printf("serving the embedded site (seed %" PRIu64 ") at %s; Ctrl-C stops\n", o->c.seed, e.root);
    fflush(stdout);
    int sig;
    goc_recv(sigs, &sig);
    server_counts k = server_count(e.sv);
    printf("%lu requests served over %lu connections\n", k.requests, k.connections);
    goc_signal_stop(sigs);
    goc_chan_release(sigs);
    unembed(&e);
    return 0;
}

/* --- the status line and the signals ---------------------------------- */

typedef struct {
    crawl *c;
    goc_chan *done;       /* closed when the crawl has ended */
    goc_chan *sigs;
    goc_ctx *stop, *hard;
    int tty, quiet;
    int signal;           /* the first signal, 0 if none; read after watchers */
    goc_wg watchers;
} session;

static void status_line(session *s, const crawl_snapshot *v) {
    fprintf(stderr,
            "%s%" PRIu64 " fetched, %" PRIu64 " in flight, %" PRIu64 " queued, %.0f pages/s, "
            "p50 %.0f ms, p99 %.0f ms, %" PRIu64 " retries, %" PRIu64 " errors, %.1f s%s",
            s->tty ? "\r\033[K" : "", v->fetched, v->in_flight, v->queued, v->rate,
            (double)v->p50 / 1e6, (double)v->p99 / 1e6, v->retries, v->errors,
            (double)v->elapsed / 1e9, s->tty ? "" : "\n");
    fflush(stderr);
}

static void show_status(void *arg) {
    session *s = arg;
    goc_ticker *t = goc_ticker_new(s->tty ? 100 * GOC_MS : GOC_SEC);
    for (;;) {
        goc_case cs[] = {GOC_RECV(goc_ticker_chan(t), NULL), GOC_RECV(s->done, NULL)};
        if (goc_select(cs, 2, GOC_FOREVER) != 0) break;
        crawl_snapshot v;
        crawl_snapshot_get(s->c, &v);
        status_line(s, &v);
    }
    if (s->tty) fputs("\r\033[K", stderr);
    goc_ticker_free(t);
    goc_wg_done(&s->watchers);
}

/* Waits for a signal or the end. The first signal stops the crawl, GRACE
 * later the requests in flight are abandoned; a second one exits now. */
static void watch_signals(void *arg) {
    session *s = arg;
    int sig, second;
    goc_case cs[] = {GOC_RECV(s->sigs, &sig), GOC_RECV(s->done, NULL)};
    if (goc_select(cs, 2, GOC_FOREVER) == 0) {
        s->signal = sig;
        fprintf(stderr, "%sgoc-crawl: %s: stopping; requests in flight get %d s "
                        "(press Ctrl-C again to quit now)\n",
                s->tty ? "\r\033[K" : "", sig == SIGINT ? "SIGINT" : "SIGTERM",
                (int)(GRACE / GOC_SEC));
        goc_ctx_cancel(s->stop);
        goc_case more[] = {GOC_RECV(s->sigs, &second), GOC_RECV(s->done, NULL)};
        int k = goc_select(more, 2, GRACE);
        if (k == GOC_ETIMEDOUT) {
            goc_ctx_cancel(s->hard);
            k = goc_select(more, 2, GOC_FOREVER);
        }
        if (k == 0) {
            fprintf(stderr, "goc-crawl: %s again: quitting now\n",
                    second == SIGINT ? "SIGINT" : "SIGTERM");
            _exit(128 + second);
        }
    }
    goc_wg_done(&s->watchers);
}

/* --- the summary and the check ---------------------------------------- */

static const char *reason(int why, int signal) {
    if (why == CRAWL_PAGE_LIMIT) return "the page limit was reached";
    if (why == CRAWL_CANCELED) return signal == SIGTERM ? "interrupted by SIGTERM" : "interrupted by SIGINT";
    return "nothing left to fetch";
}

static void summary(crawl *c, int why, int signal, int64_t wall) {
    stats *st = crawl_stats(c);
    int64_t sum = 0;
    for (size_t i = 0; i < st->nlat; i++) sum += st->lat[i];
    printf("\n");
    stats_print(st, st->start_ns + wall, stdout);
    const char *url, *from;
    size_t n = crawl_broken(c, 0, &url, &from);
    for (size_t i = 0; i < n && i < 10; i++) {
        crawl_broken(c, i, &url, &from);
        if (from) printf("  broken   %s  (linked from %s)\n", url, from);
        else printf("  broken   %s\n", url);
    }
    if (n > 10) printf("  ... and %zu more broken links\n", n - 10);
    printf("speed-up   %.1fx over fetching the same pages one at a time "
           "(sum of latencies %.1f s / wall %.1f s)\n",
           wall > 0 ? (double)sum / (double)wall : 0.0, (double)sum / 1e9, (double)wall / 1e9);
    printf("stopped    %s\n", reason(why, signal));
}

/* Compares a count with the site's prediction; 1 when they differ. */
static int differs(const char *what, uint64_t got, size_t want) {
    if (got == want) return 0;
    printf("check:     %s: %" PRIu64 ", the site predicts %zu\n", what, got, want);
    return 1;
}

/* Checks a finished crawl of the embedded site against its model: the URLs
 * fetched, and (without a page limit) every count. 0 when all match. */
static int check(crawl *c, const embedded *e, const crawl_opts *o) {
    site_rules rules = {.max_depth = o->max_depth, .max_pages = o->max_pages,
                        .robots = o->robots, .same_host = o->same_host,
                        .retries = o->retries, .timeout_ms = o->timeout_ms,
                        .max_body = o->max_body};
    site_expect ex;
    if (site_expect_compute(e->s, &rules, &ex) != 0) {
        printf("check:     out of memory\n");
        return 1;
    }
    size_t n;
    const char *const *urls = crawl_fetched(c, &n);
    char why[2048];
    int bad = site_expect_check(&ex, urls, n, why, sizeof why) != 0;
    if (bad) printf("check:     the URLs fetched differ from the site's model:\n%s\n", why);
    stats *st = crawl_stats(c);
    if (!o->max_pages || o->max_pages >= ex.n) {
        bad |= differs("redirects", st->redirects, ex.redirects);
        bad |= differs("broken links", st->broken, ex.not_found);
        bad |= differs("timeouts", st->timeouts, ex.timeouts);
        bad |= differs("bodies too large", st->too_big, ex.too_big);
        bad |= differs("retries after 503", st->retries[STATS_RETRY_503], ex.retries_503);
        bad |= differs("retries after 429", st->retries[STATS_RETRY_429], ex.retries_429);
        bad |= differs("retries after timeouts", st->retries[STATS_RETRY_TIMEOUT], ex.retries_timeout);
        bad |= differs("robots-blocked", st->robots_blocked, ex.robots_blocked);
        bad |= differs("beyond depth", st->beyond_depth, ex.beyond_depth);
        bad |= differs("off-site", st->offsite, ex.offsite);
        bad |= differs("links seen", st->links_seen, ex.links_seen);
    }
    if (!bad && o->max_pages && o->max_pages < ex.n)
        printf("check:     as the site predicts: %zu URLs fetched, each one the rules allow\n", n);
    else if (!bad)
        printf("check:     as the site predicts: %zu URLs fetched, %zu redirects, %zu broken, "
               "retries %zu/%zu/%zu after 503/429/timeouts, %zu robots-blocked, %zu beyond depth\n",
               n, ex.redirects, ex.not_found, ex.retries_503, ex.retries_429, ex.retries_timeout,
               ex.robots_blocked, ex.beyond_depth);
    site_expect_free(&ex);
    return bad;
}

/* --- the benchmark's line --------------------------------------------- */

/* User and user+system CPU time of the process so far, in ns. */
static void cpu_now(int64_t *user, int64_t *total) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (int64_t)ru.ru_utime.tv_sec * GOC_SEC + (int64_t)ru.ru_utime.tv_usec * GOC_US;
    *total = *user + (int64_t)ru.ru_stime.tv_sec * GOC_SEC + (int64_t)ru.ru_stime.tv_usec * GOC_US;
}

/* Prints bench/bench.h's result line for a crawl of pages that took wall
 * ns and, since user0/cpu0, its CPU time (also per page: cpu_ns_per_op);
 * ops are the pages fetched. */
static void bench_line(const char *name, uint64_t pages, int64_t wall, int64_t user0, int64_t cpu0) {
    int64_t user, cpu;
    cpu_now(&user, &cpu);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double ops = (double)(pages ? pages : 1);
    printf("BENCH name=%s impl=goc procs=%d n=%" PRIu64 " ops=%" PRIu64 " ns_per_op=%.3f "
           "wall_s=%.6f cpu_s=%.6f rss_kb=%ld user_s=%.6f cpu_ns_per_op=%.0f\n",
           name, goc_procs(), pages, pages, (double)wall / ops, (double)wall / 1e9,
           (double)(cpu - cpu0) / 1e9, ru.ru_maxrss, (double)(user - user0) / 1e9,
           (double)(cpu - cpu0) / ops);
}

/* --- main -------------------------------------------------------------- */

static int run(const options *o) {
    embedded e = {0};
    char *start = NULL;
    crawl_opts co = o->c;
    if (!o->url) {
        int err = embed("127.0.0.1:0", o, &e);
        if (err) {
            fprintf(stderr, "goc-crawl: cannot serve the embedded site: %s\n", goc_strerror(err));
            return 1;
        }
        start = strdup(e.root);
    } else if (url_normalize(o->url, &start) != 0) {
        fprintf(stderr, "goc-crawl: not an http(s) URL: '%s'\n", o->url);
        return 2;
    }
    co.start = start;
    session s = {.tty = isatty(STDERR_FILENO), .quiet = o->quiet};
    s.sigs = goc_chan_make(sizeof(int), 2);
    s.done = goc_chan_make(0, 0);
    s.stop = goc_ctx_with_cancel(goc_ctx_background());
    s.hard = goc_ctx_with_cancel(goc_ctx_background());
    goc_signal_notify(s.sigs, (const int[]){SIGINT, SIGTERM}, 2);
    const char *what = "crawl";
    int64_t user0, cpu0;
    cpu_now(&user0, &cpu0);
    int64_t t0 = goc_now();
    int err = crawl_start(&co, s.stop, s.hard, &s.c, &what);
    int status = 0;
    if (err) {
        const char *file = strcmp(what, "--db") == 0 ? co.db : co.jsonl;
        if (strcmp(what, "crawl") == 0)
            fprintf(stderr, "goc-crawl: cannot start: %s\n", goc_strerror(err));
        else
            fprintf(stderr, "goc-crawl: cannot write %s %s: %s\n", what, file, goc_strerror(err));
        status = 1;
    } else {
        if (!o->url && !o->quiet) printf("crawling the embedded site at %s\n", start);
        fflush(stdout);
        goc_wg_add(&s.watchers, 1);
        goc_go_with(&(goc_opts){.name = "signals"}, watch_signals, &s);
        if (!o->quiet) {
            goc_wg_add(&s.watchers, 1);
            goc_go_with(&(goc_opts){.name = "status"}, show_status, &s);
        }
        int why = crawl_wait(s.c);
        int64_t wall = goc_now() - t0;
        if (o->bench) bench_line(o->bench, crawl_stats(s.c)->pages, wall, user0, cpu0);
        goc_close(s.done);
        goc_wg_wait(&s.watchers);
        summary(s.c, why, s.signal, wall);
        stats *st = crawl_stats(s.c);
        uint64_t answered = 0;
        for (int i = 1; i < STATS_STATUS_MAX; i++) answered += st->by_status[i];
        if (crawl_output_error(s.c)) {
            fprintf(stderr, "goc-crawl: writing the output failed: %s\n",
                    goc_strerror(crawl_output_error(s.c)));
            status = 1;
        } else if (why == CRAWL_CANCELED) {
            status = 128 + (s.signal ? s.signal : SIGINT);
        } else if (!answered) {
            fprintf(stderr, "goc-crawl: no answer from %s\n", crawl_first_error(s.c));
            status = 1;
        } else if (!o->url && check(s.c, &e, &co)) {
            status = 1;
        }
        if (!o->url) {
            server_counts k = server_count(e.sv);
            printf("server     %lu requests over %lu connections, at most %lu at once\n",
                   k.requests, k.connections, k.peak);
        }
        crawl_free(s.c);
    }
    goc_signal_stop(s.sigs);
    goc_chan_release(s.sigs);
    goc_chan_release(s.done);
    goc_ctx_cancel(s.stop);
    goc_ctx_cancel(s.hard);
    goc_ctx_release(s.stop);
    goc_ctx_release(s.hard);
    if (!o->url) unembed(&e);
    free(start);
    return status;
}

/* Every coroutine must have returned by now (a few may still be between
 * their last goc call and their return): one left over is a bug. */
static int leaked(void) {
    for (int i = 0; i < 100 && goc_count() > 0; i++) goc_sleep(10 * GOC_MS);
    if (goc_count() == 0) return 0;
    fprintf(stderr, "goc-crawl: %zu coroutines still running at exit\n", goc_count());
    return 1;
}

int main(int argc, char **argv) {
    options o;
    int status = parse(argc, argv, &o);
    if (status) return status < 0 ? 0 : status;
    status = o.serve ? serve_only(&o) : run(&o);
    fflush(stdout);
    if (leaked() && status == 0) status = 1;
    return status;
}
