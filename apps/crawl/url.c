/* Resolution, normalisation and host keys of URLs on libcurl's URL API. */
#include "url.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Maps a CURLU error to a negative errno-style code. */
static int curlu_err(CURLUcode rc) {
    switch (rc) {
    case CURLUE_OK: return 0;
    case CURLUE_OUT_OF_MEMORY: return -ENOMEM;
    case CURLUE_UNSUPPORTED_SCHEME: return -EPROTONOSUPPORT;
    default: return -EINVAL;
    }
}

/* Copies ref without surrounding whitespace and without its fragment. */
static char *trim_ref(const char *ref) {
    while (*ref && isspace((unsigned char)*ref)) ref++;
    size_t n = strcspn(ref, "#");
    while (n > 0 && isspace((unsigned char)ref[n - 1])) n--;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, ref, n);
    s[n] = 0;
    return s;
}

/* Sets the handle's URL: absolute, or relative to what it holds already. */
static int set_url(CURLU *h, const char *url) {
    char *r = trim_ref(url);
    if (!r) return -ENOMEM;
    int err = 0;
    if (*r) err = curlu_err(curl_url_set(h, CURLUPART_URL, r, CURLU_URLENCODE));
    free(r);
    return err;
}

/* Checks the scheme is http or https. */
static int check_scheme(CURLU *h) {
    char *scheme = NULL;
    int err = curlu_err(curl_url_get(h, CURLUPART_SCHEME, &scheme, 0));
    if (err) return err;
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) err = -EPROTONOSUPPORT;
    curl_free(scheme);
    return err;
}

/* Lower-cases the host; curl keeps the case it was given. */
static int lower_host(CURLU *h) {
    char *host = NULL;
    int err = curlu_err(curl_url_get(h, CURLUPART_HOST, &host, 0));
    if (err) return err;
    for (char *p = host; *p; p++) *p = (char)tolower((unsigned char)*p);
    err = curlu_err(curl_url_set(h, CURLUPART_HOST, host, 0));
    curl_free(host);
    return err;
}

/* Parses base then ref into a new handle, checked and normalised. */
static int parse(const char *base, const char *ref, CURLU **out) {
    *out = NULL;
    if (!ref || (!base && !*ref)) return -EINVAL;
    CURLU *h = curl_url();
    if (!h) return -ENOMEM;
    int err = base ? set_url(h, base) : 0;
    if (!err) err = set_url(h, ref);
    if (!err) err = check_scheme(h);
    if (!err) err = lower_host(h);
    if (!err) err = curlu_err(curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0));
    if (err) {
        curl_url_cleanup(h);
        return err;
    }
    *out = h;
    return 0;
}

/* Copies a curl-allocated string into malloc'd memory. */
static int take(char *s, char **out) {
    *out = strdup(s);
    curl_free(s);
    return *out ? 0 : -ENOMEM;
}

int url_resolve(const char *base, const char *ref, char **out) {
    CURLU *h;
    *out = NULL;
    int err = parse(base, ref, &h);
    if (err) return err;
    char *s = NULL;
    err = curlu_err(curl_url_get(h, CURLUPART_URL, &s, CURLU_NO_DEFAULT_PORT));
    if (!err) err = take(s, out);
    curl_url_cleanup(h);
    return err;
}

int url_normalize(const char *url, char **out) {
    return url_resolve(NULL, url, out);
}

int url_host_key(const char *url, char *key, size_t n) {
    CURLU *h;
    int err = parse(NULL, url, &h);
    if (err) return err;
    char *host = NULL, *port = NULL;
    err = curlu_err(curl_url_get(h, CURLUPART_HOST, &host, 0));
    if (!err) err = curlu_err(curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT));
    if (!err) {
        size_t len = strlen(host) + 1 + strlen(port);
        if (len + 1 > n) {
            err = -ERANGE;
        } else {
            strcpy(key, host);
            strcat(key, ":");
            strcat(key, port);
            err = (int)len;
        }
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(h);
    return err;
}

int url_same_host(const char *a, const char *b) {
    char ka[512], kb[512];
    int err = url_host_key(a, ka, sizeof ka);
    if (err < 0) return err;
    err = url_host_key(b, kb, sizeof kb);
    if (err < 0) return err;
    return strcmp(ka, kb) == 0;
}

int url_target(const char *url, char **out) {
    CURLU *h;
    *out = NULL;
    int err = parse(NULL, url, &h);
    if (err) return err;
    char *path = NULL, *query = NULL;
    err = curlu_err(curl_url_get(h, CURLUPART_PATH, &path, 0));
    if (!err) {
        CURLUcode qrc = curl_url_get(h, CURLUPART_QUERY, &query, 0);
        if (qrc != CURLUE_OK && qrc != CURLUE_NO_QUERY) err = curlu_err(qrc);
    }
    if (!err) {
        size_t n = strlen(path) + (query ? 1 + strlen(query) : 0);
        *out = malloc(n + 1);
        if (!*out) err = -ENOMEM;
        else if (query) sprintf(*out, "%s?%s", path, query);
        else strcpy(*out, path);
    }
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(h);
    return err;
}
