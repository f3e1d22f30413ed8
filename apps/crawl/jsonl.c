/* A JSON Lines writer with correct string escaping. */
#include "jsonl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p, or 0 when it is not one
 * (overlong forms, surrogates and values above U+10FFFF are not). */
static size_t utf8_len(const unsigned char *p) {
    unsigned c = p[0];
    size_t n;
    unsigned min, cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) n = 2, min = 0x80, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) n = 3, min = 0x800, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, min = 0x10000, cp = c & 0x07;
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

/* The escape of a control character: \n and friends, else \u00XX. */
static void control(char esc[8], unsigned char c) {
    switch (c) {
    case '\b': strcpy(esc, "\\b"); break;
    case '\f': strcpy(esc, "\\f"); break;
    case '\n': strcpy(esc, "\\n"); break;
    case '\r': strcpy(esc, "\\r"); break;
    case '\t': strcpy(esc, "\\t"); break;
    default: snprintf(esc, 8, "\\u%04x", c); break;
    }
}

/* Appends text to out, counting what would be written. */
static void emit(char *out, size_t n, size_t *at, const char *text, size_t len) {
    for (size_t i = 0; i < len; i++, (*at)++)
        if (*at + 1 < n) out[*at] = text[i];
}

size_t json_quote(char *out, size_t n, const char *s) {
    size_t at = 0;
    emit(out, n, &at, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        char esc[8];
        size_t len = utf8_len(p);
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\', esc[1] = (char)*p;
            emit(out, n, &at, esc, 2);
        } else if (*p < 0x20) {
            control(esc, *p);
            emit(out, n, &at, esc, strlen(esc));
        } else if (len == 0) {
            emit(out, n, &at, "\\ufffd", 6);
            len = 1;
        } else {
            emit(out, n, &at, (const char *)p, len);
        }
        p += len ? len : 1;
    }
    emit(out, n, &at, "\"", 1);
    if (n) out[at < n ? at : n - 1] = 0;
    return at;
}

int jsonl_open(jsonl *j, const char *path) {
    j->own = strcmp(path, "-") != 0;
    j->f = j->own ? fopen(path, "w") : stdout;
    return j->f ? 0 : -errno;
}

/* Quotes s into small, or into a malloc'd buffer when it does not fit;
 * "null" for NULL. Returns the text or NULL when out of memory. */
static char *quoted(const char *s, char *small, size_t n) {
    if (!s) return strcpy(small, "null");
    size_t need = json_quote(small, n, s);
    if (need < n) return small;
    char *big = malloc(need + 1);
    if (big) json_quote(big, need + 1, s);
    return big;
}

int jsonl_write(jsonl *j, const crawl_record *r) {
    char ubuf[512], ebuf[256];
    char *url = quoted(r->url ? r->url : "", ubuf, sizeof ubuf);
    char *err = quoted(r->error && *r->error ? r->error : NULL, ebuf, sizeof ebuf);
    int rc = url && err ? 0 : -ENOMEM;
    if (!rc)
        fprintf(j->f, "{\"url\":%s,\"status\":%d,\"depth\":%d,\"ms\":%.1f,\"bytes\":%" PRIu64
                      ",\"error\":%s}\n",
                url, r->status, r->depth, r->ms, r->bytes, err);
    if (url != ubuf) free(url);
    if (err != ebuf) free(err);
    return rc ? rc : ferror(j->f) ? -EIO : 0;
}

int jsonl_close(jsonl *j) {
    if (!j->f) return 0;
    int err = fflush(j->f) != 0 || ferror(j->f) ? -EIO : 0;
    if (j->own && fclose(j->f) != 0) err = -EIO;
    j->f = NULL;
    return err;
}
