/* tests/check.h plus what the crawler's tests compare: strings and the
 * crawler's negative errno-style codes, each printed with both values. */
#ifndef CRAWL_CHECK_H
#define CRAWL_CHECK_H

#include <string.h>

#include "check.h"

/* Compares two strings (either may be NULL) and prints both. */
#define CHECK_STR(want, got)                                                              \
    do {                                                                                  \
        const char *w_ = (want), *g_ = (got);                                             \
        if (!(w_ == g_ || (w_ && g_ && strcmp(w_, g_) == 0)))                             \
            check_fail(__FILE__, __LINE__, "%s: expected \"%s\", got \"%s\"", #got,       \
                       w_ ? w_ : "(null)", g_ ? g_ : "(null)");                           \
    } while (0)

/* Compares return codes (0, counts, or -errno) and prints them with strerror. */
#define CHECK_RC(want, got)                                                               \
    do {                                                                                  \
        long long w_ = (want), g_ = (got);                                                \
        if (w_ != g_)                                                                     \
            check_fail(__FILE__, __LINE__, "%s: expected %lld (%s), got %lld (%s)", #got, \
                       w_, w_ < 0 ? strerror((int)-w_) : "ok", g_,                        \
                       g_ < 0 ? strerror((int)-g_) : "ok");                               \
    } while (0)

#endif
