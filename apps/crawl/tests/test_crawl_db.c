/* db.c: rows land as written (NULL errors, awkward text), WAL is on,
 * batches commit every N rows and on flush (seen from a second connection),
 * reopening starts empty, and errors are negative codes. */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>

#include "crawl_check.h"
#include "db.h"

static char dir[] = "/tmp/crawl-db-XXXXXX";
static char path[64];

static void setup(void) {
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/crawl.db", dir);
}

/* One integer from a query on a fresh read-only connection. */
static long long query(const char *sql) {
    sqlite3 *c;
    sqlite3_stmt *s;
    CHECK_EQ(SQLITE_OK, sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL));
    CHECK_EQ(SQLITE_OK, sqlite3_prepare_v2(c, sql, -1, &s, NULL));
    CHECK_EQ(SQLITE_ROW, sqlite3_step(s));
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(c);
    return v;
}

/* Removes the database, its WAL files and the directory. */
static void teardown(void) {
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[80];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        remove(p);
    }
    rmdir(dir);
}

static crawl_record rec(int i) {
    static char url[64];
    snprintf(url, sizeof url, "http://site.test/p%d.html", i);
    return (crawl_record){url, i % 7 ? 200 : 404, i % 5, i * 0.5, (uint64_t)i * 100, NULL};
}

TEST(rows_round_trip) {
    setup();
    db *d;
    CHECK_RC(0, db_open(path, 0, &d));
    CHECK_RC(0, db_add(d, &(crawl_record){"http://site.test/", 200, 0, 12.5, 5120, NULL}));
    CHECK_RC(0, db_add(d, &(crawl_record){"http://site.test/it's \"odd\"", 0, 3, 3000, 0, "timeout"}));
    CHECK_RC(0, db_add(d, &(crawl_record){"http://site.test/e", 404, 2, 1, 9, ""}));
    CHECK_RC(0, db_close(d));
    CHECK_EQ(3, query("SELECT count(*) FROM pages"));
    CHECK_EQ(5120, query("SELECT bytes FROM pages WHERE url = 'http://site.test/' AND status = 200 "
                         "AND depth = 0 AND ms = 12.5 AND error IS NULL"));
    CHECK_EQ(3, query("SELECT depth FROM pages WHERE url = 'http://site.test/it''s \"odd\"' "
                      "AND error = 'timeout'"));
    CHECK_EQ(1, query("SELECT count(*) FROM pages WHERE error IS NULL AND status = 404"));
    teardown();
}

TEST(wal_and_batches) {
    setup();
    db *d;
    CHECK_RC(0, db_open(path, 100, &d));
    CHECK_EQ(1, query("SELECT journal_mode = 'wal' FROM pragma_journal_mode"));
    for (int i = 0; i < 150; i++) {
        crawl_record r = rec(i);
        CHECK_RC(0, db_add(d, &r));
    }
    CHECK_EQ(100, query("SELECT count(*) FROM pages")); /* the first batch only */
    CHECK_RC(0, db_flush(d));
    CHECK_EQ(150, query("SELECT count(*) FROM pages"));
    CHECK_RC(0, db_flush(d)); /* nothing pending */
    for (int i = 150; i < 1000; i++) {
        crawl_record r = rec(i);
        CHECK_RC(0, db_add(d, &r));
    }
    CHECK_RC(0, db_close(d));
    CHECK_EQ(1000, query("SELECT count(*) FROM pages"));
    CHECK_EQ(143, query("SELECT count(*) FROM pages WHERE status = 404"));
    teardown();
}

TEST(duplicate_url_is_eexist_and_the_batch_goes_on) {
    setup();
    db *d;
    CHECK_RC(0, db_open(path, 0, &d));
    crawl_record r = rec(1);
    CHECK_RC(0, db_add(d, &r));
    CHECK_RC(-EEXIST, db_add(d, &r));
    r = rec(2);
    CHECK_RC(0, db_add(d, &r));
    CHECK_RC(0, db_close(d));
    CHECK_EQ(2, query("SELECT count(*) FROM pages"));
    teardown();
}

TEST(reopening_starts_empty) {
    setup();
    db *d;
    CHECK_RC(0, db_open(path, 0, &d));
    crawl_record r = rec(1);
    CHECK_RC(0, db_add(d, &r));
    CHECK_RC(0, db_close(d));
    CHECK_RC(0, db_open(path, 0, &d));
    CHECK_RC(0, db_close(d));
    CHECK_EQ(0, query("SELECT count(*) FROM pages"));
    teardown();
}

TEST(open_errors_are_negative) {
    db *d = (db *)1;
    CHECK_RC(-ENOENT, db_open("/nonexistent-dir/crawl.db", 0, &d));
    CHECK(d == NULL);
    CHECK_RC(0, db_close(NULL));
}
