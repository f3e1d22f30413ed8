/* HTTP(S) transfers through libcurl's multi-socket interface, driven by
 * goc_poll: curl says which sockets to watch (CURLMOPT_SOCKETFUNCTION) and
 * when it next needs a call (CURLMOPT_TIMERFUNCTION); the fetcher polls
 * those fds with that timeout, parked, and hands readiness back with
 * curl_multi_socket_action. No helper thread, no second event loop.
 *
 * Invariants: a fetcher's handles are used by one coroutine at a time
 * (curl allows a handle to move between threads, never two users at once);
 * f->fds lists exactly the sockets curl asked to watch, with their events;
 * f->deadline is curl's timer (-1: none). Fds are curl's: curl closes them,
 * after telling us to stop watching them.
 * Locking: the share's data (DNS cache, TLS sessions) is locked by curl
 * through callbacks on one goc_mutex per kind of data, so a coroutine that
 * waits for it parks. Connections are not shared between fetchers: curl
 * 7.88's shared connection cache is not safe across threads (its known bug
 * 11.11), so each fetcher's multi handle keeps its own and reuses them. */
#include "fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FDS_MAX 16
#define CANCEL_SLICE_MS 100

struct fetch_share {
    CURLSH *sh;
    goc_mutex locks[CURL_LOCK_DATA_LAST];
};

struct fetcher {
    CURLM *multi;
    CURL *easy;
    struct pollfd fds[FDS_MAX];
    size_t nfds;
    int64_t deadline;      /* goc_now time of curl's timer; -1 none */
    /* The transfer in progress. */
    fetch_result *r;
    size_t max_body;
    int too_big;
};

static goc_once curl_once = GOC_ONCE_INIT;
static int curl_ok;

static void start_curl(void *arg) {
    (void)arg;
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static void lock_share(CURL *e, curl_lock_data data, curl_lock_access a, void *p) {
    (void)e;
    (void)a;
    goc_mutex_lock(&((fetch_share *)p)->locks[data]);
}

static void unlock_share(CURL *e, curl_lock_data data, void *p) {
    (void)e;
    goc_mutex_unlock(&((fetch_share *)p)->locks[data]);
}

fetch_share *fetch_share_new(void) {
    goc_once_do(&curl_once, start_curl, NULL);
    if (!curl_ok) return NULL;
    fetch_share *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->sh = curl_share_init();
    if (!s->sh) {
        free(s);
        return NULL;
    }
    curl_share_setopt(s->sh, CURLSHOPT_LOCKFUNC, lock_share);
    curl_share_setopt(s->sh, CURLSHOPT_UNLOCKFUNC, unlock_share);
    curl_share_setopt(s->sh, CURLSHOPT_USERDATA, s);
    curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return s;
}

void fetch_share_free(fetch_share *s) {
    if (!s) return;
    curl_share_cleanup(s->sh);
    free(s);
}

/* curl: watch (or stop watching) socket fd. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp) {
    (void)e;
    (void)socketp;
    fetcher *f = userp;
    size_t i = 0;
    while (i < f->nfds && f->fds[i].fd != fd) i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < f->nfds) f->fds[i] = f->fds[--f->nfds];
        return 0;
    }
    if (i == f->nfds) {
        if (f->nfds == FDS_MAX) return -1;
        f->nfds++;
    }
    f->fds[i].fd = fd;
    f->fds[i].events = (short)((what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0));
    f->fds[i].revents = 0;
    return 0;
}

/* curl: call back in ms (-1: never). */
static int on_timer(CURLM *m, long ms, void *userp) {
    (void)m;
    fetcher *f = userp;
    f->deadline = ms < 0 ? -1 : goc_now() + ms * GOC_MS;
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *userp) {
    fetcher *f = userp;
    fetch_result *r = f->r;
    size_t k = size * n;
    r->bytes += k;
    if (f->max_body && r->len + k > f->max_body) {
        f->too_big = 1;
        return 0; /* ends the transfer: CURLE_WRITE_ERROR */
    }
    char *b = realloc(r->body, r->len + k + 1);
    if (!b) return 0;
    memcpy(b + r->len, p, k);
    r->body = b;
    r->len += k;
    b[r->len] = '\0';
    return k;
}

fetcher *fetcher_new(fetch_share *sh) {
    fetcher *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->multi = curl_multi_init();
    f->easy = curl_easy_init();
    if (!f->multi || !f->easy) {
        fetcher_free(f);
        return NULL;
    }
    f->deadline = -1;
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
    curl_easy_setopt(f->easy, CURLOPT_SHARE, sh->sh);
    return f;
}

void fetcher_free(fetcher *f) {
    if (!f) return;
    if (f->easy) curl_easy_cleanup(f->easy);
    if (f->multi) curl_multi_cleanup(f->multi);
    free(f);
}

static void setup(fetcher *f, const char *url, const fetch_opts *o) {
    CURL *e = f->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, o->agent ? o->agent : "goc-crawl/1.0");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, o->follow ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms ? (long)o->timeout_ms : 10000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
}

/* Runs the transfer already added to f->multi until curl is done with it or
 * ctx is cancelled. 0, -ECANCELED, or a goc error from goc_poll. */
static int drive(fetcher *f, goc_ctx *ctx) {
    int running = 1;
    curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    while (running) {
        if (ctx && goc_ctx_err(ctx)) return -ECANCELED;
        int64_t now = goc_now(), wait = CANCEL_SLICE_MS * GOC_MS;
        if (f->deadline >= 0 && f->deadline - now < wait) wait = f->deadline - now;
        if (wait < 0) wait = 0;
        struct pollfd ready[FDS_MAX];
        size_t n = f->nfds;
        memcpy(ready, f->fds, n * sizeof *ready);
        int k = n ? goc_poll(ready, n, wait) : (goc_sleep(wait), 0);
        if (k < 0) return k;
        /* curl's callbacks change f->fds: act on the copy. */
        for (size_t i = 0; i < n && k > 0; i++) {
            if (!ready[i].revents) continue;
            int ev = (ready[i].revents & (POLLIN | POLLHUP) ? CURL_CSELECT_IN : 0) |
                     (ready[i].revents & POLLOUT ? CURL_CSELECT_OUT : 0) |
                     (ready[i].revents & (POLLERR | POLLNVAL) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(f->multi, ready[i].fd, ev, &running);
        }
        if (f->deadline >= 0 && goc_now() >= f->deadline) {
            f->deadline = -1;
            curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
    }
    return 0;
}

/* Maps curl's result to the codes fetch.h names. */
static int code_of(fetcher *f, CURLcode c) {
    switch (c) {
    case CURLE_OK: return 0;
    case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
    case CURLE_WRITE_ERROR: return f->too_big ? -EFBIG : -EIO;
    case CURLE_FILESIZE_EXCEEDED: return -EFBIG;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return -ECONNREFUSED;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: return -ECONNRESET;
    default: return -EIO;
    }
}

static void fill_answer(fetcher *f, fetch_result *r) {
    long status = 0;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    r->status = (int)status;
    char *type = NULL;
    curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &type);
    r->html = type && (strncasecmp(type, "text/html", 9) == 0 ||
                       strncasecmp(type, "application/xhtml+xml", 21) == 0);
    char *loc = NULL;
    if (status >= 300 && status < 400 &&
        curl_easy_getinfo(f->easy, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
        r->location = strdup(loc);
    curl_off_t after = 0;
    if (curl_easy_getinfo(f->easy, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
        r->retry_after = (long)after;
}

int fetch_get(fetcher *f, goc_ctx *ctx, const char *url, const fetch_opts *o, fetch_result *r) {
    memset(r, 0, sizeof *r);
    char errbuf[CURL_ERROR_SIZE] = "";
    f->r = r;
    f->max_body = o->max_body;
    f->too_big = 0;
    setup(f, url, o);
    curl_easy_setopt(f->easy, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode done = CURLE_OK;
    int err = curl_multi_add_handle(f->multi, f->easy) == CURLM_OK ? 0 : -EIO;
    if (!err) err = drive(f, ctx);
    if (!err) {
        int left;
        CURLMsg *m;
        while ((m = curl_multi_info_read(f->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == f->easy) done = m->data.result;
        err = code_of(f, done);
    }
    fill_answer(f, r);
    curl_multi_remove_handle(f->multi, f->easy);
    curl_easy_setopt(f->easy, CURLOPT_ERRORBUFFER, NULL);
    r->err = err;
    if (err == -EFBIG)
        snprintf(r->errmsg, sizeof r->errmsg, "body too large");
    else if (err == -ECANCELED)
        snprintf(r->errmsg, sizeof r->errmsg, "canceled");
    else if (err == -ETIMEDOUT)
        snprintf(r->errmsg, sizeof r->errmsg, "timeout");
    else if (err)
        snprintf(r->errmsg, sizeof r->errmsg, "%s", errbuf[0] ? errbuf : curl_easy_strerror(done));
    f->r = NULL;
    return err;
}

void fetch_result_free(fetch_result *r) {
    free(r->body);
    free(r->location);
    r->body = r->location = NULL;
}
