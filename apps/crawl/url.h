/* URLs for the crawler: resolve a link against the page it is on, put every
 * spelling of one address into one normal form, and name a URL's host for
 * per-host state. All parsing is libcurl's URL API (CURLU); this file only
 * chooses its flags and cuts off fragments.
 *
 * The normal form: lower-case scheme and host, no default port, no dot
 * segments, no fragment, spaces and non-ASCII bytes percent-encoded, an
 * empty path as "/". Only http and https URLs are accepted. */
#ifndef CRAWL_URL_H
#define CRAWL_URL_H

#include <stddef.h>

/* Resolves ref against base (an absolute URL) and normalises the result
 * into *out (malloc'd; free it). base may be NULL when ref is absolute.
 * Leading and trailing whitespace of ref is ignored, as browsers do; an empty
 * ref or a bare "#fragment" names base itself. Returns 0, -EINVAL when ref
 * (or base) is not a URL, -EPROTONOSUPPORT for a scheme other than http and
 * https (mailto:, javascript:, ftp:), or -ENOMEM. *out is NULL on error. */
int url_resolve(const char *base, const char *ref, char **out);

/* url_resolve(NULL, url, out). */
int url_normalize(const char *url, char **out);

/* Writes "host:port" of url to key (port always present: 80 for http, 443
 * for https; host lower-case, IPv6 in brackets), the key for per-host state.
 * Returns its length, -EINVAL, -EPROTONOSUPPORT, -ENOMEM, or -ERANGE when it
 * does not fit in n bytes (with the NUL). */
int url_host_key(const char *url, char *key, size_t n);

/* 1 when a and b have the same host key, 0 when not, or a negative code when
 * either is not an http(s) URL. */
int url_same_host(const char *a, const char *b);

/* Writes the request target of url (path and "?query", as sent on the
 * request line and as robots.txt rules match it) into *out (malloc'd).
 * Returns 0, -EINVAL, -EPROTONOSUPPORT or -ENOMEM. */
int url_target(const char *url, char **out);

#endif
