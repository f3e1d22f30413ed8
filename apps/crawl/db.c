/* The SQLite writer: WAL, one prepared insert, batched transactions. */
#include "db.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>

struct db {
    sqlite3 *conn;
    sqlite3_stmt *insert;
    size_t batch, pending;   /* rows per commit; rows in the open transaction */
    int in_tx;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "DROP TABLE IF EXISTS pages;"
    "CREATE TABLE pages ("
    " url TEXT PRIMARY KEY,"
    " status INTEGER NOT NULL,"
    " depth INTEGER NOT NULL,"
    " ms REAL NOT NULL,"
    " bytes INTEGER NOT NULL,"
    " error TEXT);";

/* A negative code for an SQLite result. */
static int code(sqlite3 *conn, int rc) {
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW: return 0;
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return -EBUSY;
    case SQLITE_CONSTRAINT: return -EEXIST;
    case SQLITE_FULL: return -ENOSPC;
    case SQLITE_READONLY: return -EROFS;
    }
    int sys = conn ? sqlite3_system_errno(conn) : 0;
    return sys > 0 ? -sys : -EIO;
}

static int exec(db *d, const char *sql) {
    return code(d->conn, sqlite3_exec(d->conn, sql, NULL, NULL, NULL));
}

int db_open(const char *path, size_t batch, db **out) {
    *out = NULL;
    db *d = calloc(1, sizeof *d);
    if (!d) return -ENOMEM;
    d->batch = batch ? batch : 256;
    int rc = sqlite3_open_v2(path, &d->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    int err = code(d->conn, rc);
    if (!err) err = exec(d, schema);
    if (!err)
        err = code(d->conn, sqlite3_prepare_v2(d->conn,
                                               "INSERT INTO pages (url, status, depth, ms, bytes, "
                                               "error) VALUES (?, ?, ?, ?, ?, ?)",
                                               -1, &d->insert, NULL));
    if (err) {
        sqlite3_finalize(d->insert);
        sqlite3_close(d->conn);
        free(d);
        return err;
    }
    *out = d;
    return 0;
}

static int bind(db *d, const crawl_record *r) {
    sqlite3_stmt *s = d->insert;
    int rc = sqlite3_bind_text(s, 1, r->url ? r->url : "", -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(s, 2, r->status);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(s, 3, r->depth);
    if (rc == SQLITE_OK) rc = sqlite3_bind_double(s, 4, r->ms);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 5, (sqlite3_int64)r->bytes);
    if (rc == SQLITE_OK)
        rc = r->error && *r->error ? sqlite3_bind_text(s, 6, r->error, -1, SQLITE_TRANSIENT)
                                   : sqlite3_bind_null(s, 6);
    return code(d->conn, rc);
}

int db_add(db *d, const crawl_record *r) {
    int err = 0;
    if (!d->in_tx) {
        err = exec(d, "BEGIN");
        if (err) return err;
        d->in_tx = 1;
    }
    err = bind(d, r);
    if (!err) err = code(d->conn, sqlite3_step(d->insert));
    sqlite3_reset(d->insert);
    sqlite3_clear_bindings(d->insert);
    if (err) return err;
    if (++d->pending >= d->batch) return db_flush(d);
    return 0;
}

int db_flush(db *d) {
    if (!d->in_tx) return 0;
    int err = exec(d, "COMMIT");
    if (err) return err;
    d->in_tx = 0;
    d->pending = 0;
    return 0;
}

int db_close(db *d) {
    if (!d) return 0;
    int err = db_flush(d);
    if (err && d->in_tx) sqlite3_exec(d->conn, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(d->insert);
    int rc = sqlite3_close(d->conn);
    if (!err) err = code(NULL, rc);
    free(d);
    return err;
}

const char *db_errmsg(const db *d) {
    return sqlite3_errmsg(d->conn);
}
