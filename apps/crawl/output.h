/* The crawl's outputs, JSON Lines (jsonl.h) and SQLite (db.h), owned by one
 * writer coroutine that takes records over a channel and does the disk work
 * through goc_blocking, so no worker thread waits for the disk. */
#ifndef CRAWL_OUTPUT_H
#define CRAWL_OUTPUT_H

#include "record.h"

typedef struct output output;

/* Opens the files (either path may be NULL) and starts the writer. Returns
 * 0 with *out set, or a negative code with *what naming the option that
 * failed ("--out", "--db"). */
int output_open(const char *jsonl_path, const char *db_path, output **out, const char **what);

/* Hands a copy of r to the writer; blocks while its queue is full. */
void output_add(output *o, const crawl_record *r);

/* Lets the writer finish, flushes and closes everything, frees o. Returns
 * the first error any write met (0 if none). */
int output_close(output *o);

#endif
