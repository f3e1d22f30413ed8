/* Bounded parallelism: digest every file under a directory with a fixed
 * number of workers, and stop everything at the first error.
 *
 * Mirrors bounded.go from the Go blog's "Go Concurrency Patterns:
 * Pipelines and cancellation" (MD5All with a fixed number of digesters):
 *
 *     walkFiles  ──paths──▶  digester ×20  ──results──▶  MD5All
 *         │                                                │
 *         └──────────────────── errc ──────────────────────┘
 *
 * One coroutine walks the tree and sends each file's path; twenty digesters
 * receive paths and send back results; MD5All collects them. However many
 * files there are, at most twenty are open at once: the parallelism is
 * bounded by the number of workers, not by the input.
 *
 * Errors travel with the data: a digester puts its error in the result, the
 * walker sends its own on errc (buffered, so it never blocks). The first
 * error ends the run: closing done makes every blocked send in the walker
 * and the digesters give up (each send selects on done).
 *
 * The digest is FNV-1a (64 bit) rather than MD5, to stay within a page.
 * File-system calls block their thread, so the walk and every read run
 * through goc_blocking: on a helper thread while the coroutine waits. (That
 * also keeps errno meaningful: it belongs to a thread, and a coroutine that
 * parks may wake up on another.)
 *
 *     bounded_parallelism [dir]     (default .)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "goc.h"

#define DIGESTERS 20

/* A file's digest, or why there is none. */
typedef struct {
    char *path; /* malloc'd: owned by whoever holds the result */
    uint64_t sum;
    int err; /* 0 or a negative errno */
} result;

/* ---- walkFiles ---------------------------------------------------------------- */

/* Sends the path of every regular file at or under path on paths (handing
 * over the malloc'd string). Returns 0, a negative errno with *where set to
 * the path that failed, or GOC_ECANCELED when done was closed. */
static int walk(char *path, goc_chan *paths, goc_chan *done, char **where) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        int err = -errno;
        *where = strdup(path);
        return err;
    }
    if (S_ISREG(st.st_mode)) {
        char *p = strdup(path);
        goc_case cases[] = {GOC_SEND(paths, &p), GOC_RECV(done, NULL)};
        if (goc_select(cases, 2, GOC_FOREVER) == 0) return 0;
        free(p);
        return GOC_ECANCELED;
    }
    if (!S_ISDIR(st.st_mode)) return 0; /* links, devices, … */

    DIR *d = opendir(path);
    if (!d) {
        int err = -errno;
        *where = strdup(path);
        return err;
    }
    int err = 0;
    for (struct dirent *e; !err && (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        char *child = malloc(len);
        snprintf(child, len, "%s/%s", path, e->d_name);
        err = walk(child, paths, done, where);
        free(child);
    }
    closedir(d);
    return err;
}

struct walker_args {
    char *root;
    goc_chan *done, *paths, *errc;
    result r;
};

static void walk_root(void *p) {
    struct walker_args *a = p;
    a->r.err = walk(a->root, a->paths, a->done, &a->r.path);
}

static void walker(void *p) {
    struct walker_args a = *(struct walker_args *)p;
    free(p);
    /* lstat and readdir block, and errno belongs to the thread: walk on a
     * helper thread. goc_select works there too; it blocks that thread. */
    goc_blocking(walk_root, &a);
    goc_close(a.paths);     /* defer close(paths) */
    goc_send(a.errc, &a.r); /* buffered: never blocks */
    free(a.root);
    goc_chan_release(a.done);
    goc_chan_release(a.paths);
    goc_chan_release(a.errc);
}

/* ---- digester ------------------------------------------------------------------ */

/* FNV-1a, 64 bit, of the file's contents. Runs on a helper thread. */
struct digest_job {
    const char *path;
    uint64_t sum;
    int err;
};

static void fnv1a_file(void *p) {
    struct digest_job *j = p;
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        j->err = -errno;
        return;
    }
    uint64_t h = 0xcbf29ce484222325u;
    unsigned char buf[8192];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++) h = (h ^ buf[i]) * 0x100000001b3u;
    j->err = n < 0 ? -errno : 0;
    j->sum = h;
    close(fd);
}

struct digesters {
    goc_wg wg;
    goc_chan *done, *paths, *results;
};

static void digester(void *p) {
    struct digesters *d = p;
    char *path;
    while (goc_recv(d->paths, &path) == GOC_OK) {
        struct digest_job j = {path, 0, 0};
        goc_blocking(fnv1a_file, &j); /* the read blocks a helper, not a worker */
        result r = {path, j.sum, j.err};
        goc_case cases[] = {GOC_SEND(d->results, &r), GOC_RECV(d->done, NULL)};
        if (goc_select(cases, 2, GOC_FOREVER) == 1) {
            free(path);
            break;
        }
    }
    goc_wg_done(&d->wg);
}

/* go func() { wg.Wait(); close(c) }() */
static void close_results(void *p) {
    struct digesters *d = p;
    goc_wg_wait(&d->wg);
    goc_close(d->results);
    goc_chan_release(d->done);
    goc_chan_release(d->paths);
    goc_chan_release(d->results);
    free(d);
}

/* ---- MD5All --------------------------------------------------------------------- */

static int by_path(const void *a, const void *b) {
    return strcmp(((const result *)a)->path, ((const result *)b)->path);
}

/* Digests every file under root into *out (n results, sorted by path).
 * Returns 0, or the first error with *where set to its path. */
static int digest_all(const char *root, result **out, size_t *n, char **where) {
    goc_chan *done = goc_chan_make(0, 0);
    goc_chan *paths = goc_chan_make(sizeof(char *), 0);
    goc_chan *errc = goc_chan_make(sizeof(result), 1);
    goc_chan *results = goc_chan_make(sizeof(result), 0);

    struct walker_args *w = malloc(sizeof *w);
    *w = (struct walker_args){strdup(root), goc_chan_retain(done), goc_chan_retain(paths),
                              goc_chan_retain(errc), {NULL, 0, 0}};
    goc_go(walker, w);

    struct digesters *d = malloc(sizeof *d);
    *d = (struct digesters){GOC_WG_INIT, goc_chan_retain(done), goc_chan_retain(paths),
                            goc_chan_retain(results)};
    goc_wg_add(&d->wg, DIGESTERS);
    for (int i = 0; i < DIGESTERS; i++) goc_go(digester, d);
    goc_go(close_results, d);

    int err = 0;
    size_t len = 0, cap = 0;
    result *v = NULL, r;
    while (goc_recv(results, &r) == GOC_OK) {
        if (err) { /* stopping: Go drops these to the garbage collector */
            free(r.path);
        } else if (r.err) {
            err = r.err; /* the first error ends the run … */
            *where = r.path;
            goc_close(done); /* … for everyone (Go: return, and defer close(done)) */
        } else {
            if (len == cap) v = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof *v);
            v[len++] = r;
        }
    }
    goc_recv(errc, &r); /* the walk's own error, if any */
    if (!err && r.err) {
        err = r.err;
        *where = r.path;
    } else {
        free(r.path);
    }
    goc_close(done);
    goc_chan_release(done);
    goc_chan_release(paths);
    goc_chan_release(errc);
    goc_chan_release(results);

    if (err) {
        for (size_t i = 0; i < len; i++) free(v[i].path);
        free(v);
        return err;
    }
    qsort(v, len, sizeof *v, by_path);
    *out = v;
    *n = len;
    return 0;
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : ".";
    result *v;
    size_t n;
    char *where = NULL;
    int err = digest_all(root, &v, &n, &where);
    if (err) {
        fprintf(stderr, "bounded_parallelism: %s: %s\n", where, strerror(-err));
        free(where);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        printf("%016" PRIx64 "  %s\n", v[i].sum, v[i].path);
        free(v[i].path);
    }
    free(v);
    return 0;
}
