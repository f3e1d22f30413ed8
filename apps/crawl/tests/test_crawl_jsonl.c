/* jsonl.c: string escaping (quotes, backslashes, control characters, UTF-8
 * kept, invalid bytes replaced), truncation like snprintf, and whole lines
 * in a file. */
#include <errno.h>
#include <stdlib.h>

#include "crawl_check.h"
#include "jsonl.h"

static void check_quote(const char *in, const char *want) {
    char out[256];
    size_t n = json_quote(out, sizeof out, in);
    CHECK_STR(want, out);
    CHECK_EQ(strlen(want), n);
}

TEST(escapes) {
    check_quote("", "\"\"");
    check_quote("http://site.test/a?b=c&d", "\"http://site.test/a?b=c&d\"");
    check_quote("say \"hi\"", "\"say \\\"hi\\\"\"");
    check_quote("back\\slash", "\"back\\\\slash\"");
    check_quote("a\nb\tc\rd\be\ff", "\"a\\nb\\tc\\rd\\be\\ff\"");
    check_quote("\x01\x1f", "\"\\u0001\\u001f\"");
    check_quote("/ and \x7f stay", "\"/ and \x7f stay\"");
}

TEST(utf8_kept_invalid_bytes_replaced) {
    check_quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    check_quote("bad \xff end", "\"bad \\ufffd end\"");
    check_quote("cut \xc3", "\"cut \\ufffd\"");
    check_quote("overlong \xc0\xaf", "\"overlong \\ufffd\\ufffd\"");
    check_quote("surrogate \xed\xa0\x80", "\"surrogate \\ufffd\\ufffd\\ufffd\"");
}

TEST(truncates_like_snprintf) {
    char out[6];
    CHECK_EQ(9, json_quote(out, sizeof out, "abc\"de"));
    CHECK_STR("\"abc\\", out);
    CHECK_EQ(4, json_quote(NULL, 0, "ab"));
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

TEST(writes_one_object_per_line) {
    char dir[] = "/tmp/crawl-jsonl-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/out.jsonl", dir);
    jsonl j;
    CHECK_RC(0, jsonl_open(&j, path));
    CHECK_RC(0, jsonl_write(&j, &(crawl_record){"http://site.test/", 200, 0, 12.34, 5120, NULL}));
    CHECK_RC(0, jsonl_write(&j, &(crawl_record){"http://site.test/x\"y", 0, 3, 3000, 0, "timeout"}));
    CHECK_RC(0, jsonl_write(&j, &(crawl_record){"http://site.test/e", 404, 2, 0.05, 9, ""}));
    char long_url[2000] = "http://site.test/";
    memset(long_url + 17, 'a', 1500);
    CHECK_RC(0, jsonl_write(&j, &(crawl_record){long_url, 200, 1, 1, 1, NULL}));
    CHECK_RC(0, jsonl_close(&j));
    char *text = slurp(path);
    const char *want =
        "{\"url\":\"http://site.test/\",\"status\":200,\"depth\":0,\"ms\":12.3,\"bytes\":5120,\"error\":null}\n"
        "{\"url\":\"http://site.test/x\\\"y\",\"status\":0,\"depth\":3,\"ms\":3000.0,\"bytes\":0,\"error\":\"timeout\"}\n"
        "{\"url\":\"http://site.test/e\",\"status\":404,\"depth\":2,\"ms\":0.1,\"bytes\":9,\"error\":null}\n";
    const char *last = text + strlen(want);
    char *head = strndup(text, strlen(want));
    CHECK_STR(want, head);
    free(head);
    CHECK_EQ(strlen("{\"url\":\"\",\"status\":200,\"depth\":1,\"ms\":1.0,\"bytes\":1,\"error\":null}\n") +
                 strlen(long_url),
             strlen(last));
    remove(path);
    rmdir(dir);
}

TEST(open_errors_are_negative_errno) {
    jsonl j;
    CHECK_RC(-ENOENT, jsonl_open(&j, "/nonexistent-dir/x.jsonl"));
}

TEST(write_errors_surface) {
    jsonl j;
    CHECK_RC(0, jsonl_open(&j, "/dev/full"));
    for (int i = 0; i < 1000; i++) jsonl_write(&j, &(crawl_record){"http://site.test/", 200, 0, 1, 1, NULL});
    CHECK_RC(-EIO, jsonl_close(&j));
}
