/* The writer coroutine: records arrive over a buffered channel and are
 * written in batches, each batch in one goc_blocking call (stdio and
 * SQLite block on the disk).
 *
 * Invariants: every record output_add accepted is written before
 * output_close returns; only the writer touches the files after open.
 * Locking: none; the channel hands each record over, and the writer's
 * return happens-before output_close reads its error (a WaitGroup). */
#include "output.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "goc.h"
#include "jsonl.h"

#define QUEUE 256
#define BATCH 64

struct output {
    goc_chan *records;  /* crawl_record with strings malloc'd here */
    jsonl j;
    int has_jsonl;
    db *d;
    int err;            /* (writer) the first error */
    goc_wg done;
};

typedef struct {
    output *o;
    crawl_record *r;
    size_t n;
} batch;

static void write_batch(void *arg) {
    batch *b = arg;
    output *o = b->o;
    for (size_t i = 0; i < b->n; i++) {
        int err = 0;
        if (o->has_jsonl) err = jsonl_write(&o->j, &b->r[i]);
        if (!err && o->d) err = db_add(o->d, &b->r[i]);
        if (err && !o->err) o->err = err;
    }
}

static void release(crawl_record *r) {
    free((char *)r->url);
    free((char *)r->error);
}

static void writer(void *arg) {
    output *o = arg;
    crawl_record r[BATCH];
    for (;;) {
        size_t n = 0;
        if (goc_recv(o->records, &r[n]) != GOC_OK) break;
        for (n = 1; n < BATCH && goc_try_recv(o->records, &r[n]) == GOC_OK; n++) {}
        batch b = {o, r, n};
        goc_blocking(write_batch, &b);
        for (size_t i = 0; i < n; i++) release(&r[i]);
    }
    goc_wg_done(&o->done);
}

int output_open(const char *jsonl_path, const char *db_path, output **out, const char **what) {
    *out = NULL;
    output *o = calloc(1, sizeof *o);
    if (!o) return GOC_ENOMEM;
    int err = 0;
    if (jsonl_path) {
        *what = "--out";
        err = jsonl_open(&o->j, jsonl_path);
        o->has_jsonl = !err;
    }
    if (!err && db_path) {
        *what = "--db";
        err = db_open(db_path, 0, &o->d);
    }
    o->records = err ? NULL : goc_chan_make(sizeof(crawl_record), QUEUE);
    if (!err && !o->records) err = GOC_ENOMEM;
    if (!err) {
        goc_wg_add(&o->done, 1);
        err = goc_go_with(&(goc_opts){.name = "writer"}, writer, o);
        if (err) goc_wg_done(&o->done);
    }
    if (err) {
        if (o->has_jsonl) jsonl_close(&o->j);
        if (o->d) db_close(o->d);
        if (o->records) goc_chan_release(o->records);
        free(o);
        return err;
    }
    *out = o;
    return 0;
}

void output_add(output *o, const crawl_record *r) {
    crawl_record c = *r;
    c.url = strdup(r->url);
    c.error = r->error ? strdup(r->error) : NULL;
    if (!c.url || goc_send(o->records, &c) != GOC_OK) release(&c);
}

typedef struct {
    output *o;
    int err;
} closing;

static void close_files(void *arg) {
    closing *c = arg;
    if (c->o->has_jsonl) c->err = jsonl_close(&c->o->j);
    if (c->o->d) {
        int err = db_close(c->o->d);
        if (!c->err) c->err = err;
    }
}

int output_close(output *o) {
    if (!o) return 0;
    goc_close(o->records);
    goc_wg_wait(&o->done);
    closing c = {o, 0};
    goc_blocking(close_files, &c);
    int err = o->err ? o->err : c.err;
    goc_chan_release(o->records);
    free(o);
    return err;
}
