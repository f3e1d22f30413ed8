/* Name resolution off the workers: getaddrinfo on a thread of its own per
 * lookup, at most MAX_LOOKUPS at once, the caller parked on a channel.
 *
 * Invariants: a lookup holds one token of `tokens` from before its thread
 * starts until the thread is done, so no more than MAX_LOOKUPS threads
 * resolve at once; a job is freed by the last of its two holders (the
 * caller, who may give up at its deadline, and the thread).
 *
 * Locking: none of its own; channels and atomics.
 *
 * Design: a thread per lookup with its own cap, as Go's cgo resolver (one
 * thread per lookup, 500 at most), so a resolver that hangs can neither
 * starve goc_blocking's helpers nor hold a worker. A caller whose deadline
 * or context ends first returns at once; its thread finishes on its own.
 * Numeric addresses are parsed in the caller, with no thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "net.h"
#include "sys.h"

#define MAX_LOOKUPS 64

struct job {
    _Atomic int refs;
    char *host, *port;
    struct addrinfo hints;
    struct addrinfo *res; /* the thread's result, until taken            */
    int rc;               /* getaddrinfo's code                           */
    int sys_errno;        /* errno for EAI_SYSTEM                         */
    goc_chan *done;       /* closed by the thread when rc and res are set */
};

static goc_chan *tokens;
static goc_once tokens_once = GOC_ONCE_INIT;

static void tokens_make(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_make(0, MAX_LOOKUPS);
    if (!c) return;
    for (int i = 0; i < MAX_LOOKUPS; i++) goc_try_send(c, NULL);
    tokens = c;
}

static void job_release(struct job *j) {
    if (atomic_fetch_sub(&j->refs, 1) != 1) return;
    if (j->res) freeaddrinfo(j->res);
    goc_chan_release(j->done);
    goc__free(j->host);
    goc__free(j->port);
    goc__free(j);
}

static void *lookup_main(void *arg) {
    struct job *j = arg;
    j->rc = getaddrinfo(j->host, j->port, &j->hints, &j->res);
    j->sys_errno = errno;
    goc_try_send(tokens, NULL);
    goc_close(j->done);
    job_release(j);
    return NULL;
}

static int eai_error(int rc, int sys_errno) {
    switch (rc) {
    case 0: return GOC_OK;
    case EAI_AGAIN: return GOC_ERESOLVE;
    case EAI_MEMORY: return GOC_ENOMEM;
    case EAI_SYSTEM: return sys_errno ? -sys_errno : GOC_ERESOLVE;
    case EAI_FAMILY: return GOC_EAFNOSUPPORT;
    case EAI_SERVICE: return GOC_EINVAL;
    default: return GOC_ENOHOST; /* EAI_NONAME, EAI_NODATA, EAI_FAIL, … */
    }
}

/* Receives from ch until deadline (goc_now; < 0 none) or ctx is done:
 * GOC_OK (a value or a close), GOC_ETIMEDOUT or ctx's error. */
static int recv_until(goc_chan *ch, int64_t deadline, goc_ctx *ctx) {
    goc_case cs[2] = {GOC_RECV(ch, NULL), GOC_RECV(ctx ? goc_ctx_done(ctx) : NULL, NULL)};
    int64_t timeout = deadline < 0 ? GOC_FOREVER : deadline - goc_now();
    if (deadline >= 0 && timeout <= 0) timeout = -1; /* passed: ETIMEDOUT at once */
    int r = goc_select(cs, 2, timeout);
    if (r == 1) return goc_ctx_err(ctx) ? goc_ctx_err(ctx) : GOC_ECANCELED;
    return r == 0 ? GOC_OK : r;
}

static int numeric(const char *host, const char *port, const struct addrinfo *hints,
                   struct addrinfo **out) {
    struct addrinfo h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    h.ai_flags &= ~AI_ADDRCONFIG; /* it asks the kernel over netlink: not for a literal */
    return eai_error(getaddrinfo(host, port, &h, out), errno);
}

static char *dup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = goc__malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static bool is_numeric(const char *host) {
    unsigned char buf[sizeof(struct in6_addr)];
    return !host || inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int goc__resolve(const char *host, const char *port, const struct addrinfo *hints,
                 int64_t deadline, goc_ctx *ctx, struct addrinfo **out) {
    *out = NULL;
    if (is_numeric(host)) return numeric(host, port, hints, out);
    if (ctx && goc_ctx_err(ctx)) return goc_ctx_err(ctx);
    goc_once_do(&tokens_once, tokens_make, NULL);
    if (!tokens) return GOC_ENOMEM;
    struct job *j = goc__calloc(1, sizeof *j);
    if (!j) return GOC_ENOMEM;
    j->host = dup(host);
    j->port = port ? dup(port) : NULL;
    j->hints = *hints;
    j->done = goc_chan_make(0, 0);
    if (!j->host || (port && !j->port) || !j->done) {
        atomic_store(&j->refs, 1);
        job_release(j);
        return GOC_ENOMEM;
    }
    int r = recv_until(tokens, deadline, ctx);
    if (r != GOC_OK) {
        atomic_store(&j->refs, 1);
        job_release(j);
        return r;
    }
    atomic_store(&j->refs, 2);
    if (goc__thread_start(lookup_main, j, 0) != 0) {
        goc_try_send(tokens, NULL);
        atomic_store(&j->refs, 1);
        job_release(j);
        return GOC_EAGAIN;
    }
    r = recv_until(j->done, deadline, ctx);
    if (r == GOC_OK) {
        r = eai_error(j->rc, j->sys_errno);
        *out = j->res;
        j->res = NULL;
    }
    job_release(j);
    return r;
}
