/* One fetched URL as the crawler reports it, to JSON Lines (jsonl.h) and to
 * SQLite (db.h). */
#ifndef CRAWL_RECORD_H
#define CRAWL_RECORD_H

#include <stdint.h>

typedef struct {
    const char *url;    /* normalised */
    int status;         /* the final HTTP status; 0 when no answer came */
    int depth;          /* links from the start URL */
    double ms;          /* time to the final answer, retries included */
    uint64_t bytes;     /* body bytes received */
    const char *error;  /* what went wrong ("timeout", "body too large"), or NULL */
} crawl_record;

#endif
