/* SQLite output: one row per fetched URL in table pages(url, status, depth,
 * ms, bytes, error), written by one owner in batched transactions on a
 * WAL-mode database, so readers can watch a crawl as it goes. */
#ifndef CRAWL_DB_H
#define CRAWL_DB_H

#include <stddef.h>

#include "record.h"

typedef struct db db;

/* Opens or creates the database at path and (re)creates its pages table,
 * empty. Rows are committed every batch adds (0: 256). Returns 0 with *out
 * set, or a negative code: the OS's errno when it has one (-ENOENT for a
 * missing directory), -ENOMEM, -EBUSY, -EIO for anything else. */
int db_open(const char *path, size_t batch, db **out);

/* Adds one row (a URL already added is -EEXIST). Returns 0 or a negative
 * code as db_open; a failed commit leaves the batch open for a retry. */
int db_add(db *d, const crawl_record *r);

/* Commits the rows added so far. Returns 0 or a negative code. */
int db_flush(db *d);

/* Flushes and closes; d is freed whatever is returned. */
int db_close(db *d);

/* SQLite's message for the last error, for logs. */
const char *db_errmsg(const db *d);

#endif
