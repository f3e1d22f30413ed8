/* JSON Lines output: one object per fetched URL,
 * {"url":…,"status":…,"depth":…,"ms":…,"bytes":…,"error":…|null}. */
#ifndef CRAWL_JSONL_H
#define CRAWL_JSONL_H

#include <stddef.h>
#include <stdio.h>

#include "record.h"

typedef struct {
    FILE *f;
    int own;   /* opened here: closed by jsonl_close */
} jsonl;

/* Opens (truncates) path for writing; "-" is standard output. Returns 0 or
 * the negated errno of fopen. */
int jsonl_open(jsonl *j, const char *path);

/* Writes r as one line. Returns 0, -ENOMEM or -EIO. */
int jsonl_write(jsonl *j, const crawl_record *r);

/* Flushes and closes. Returns 0, or -EIO when some write failed. */
int jsonl_close(jsonl *j);

/* Writes s as a JSON string literal, quotes included, into out (n bytes,
 * always NUL-terminated when n > 0): '"', '\\' and control characters
 * escaped, valid UTF-8 kept, each invalid byte as \ufffd. Returns the
 * length the whole literal needs, as snprintf does. */
size_t json_quote(char *out, size_t n, const char *s);

#endif
