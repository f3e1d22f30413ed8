package main

// URLs: resolution and normalisation as goc-crawl's url.c does them on
// libcurl's URL API (http and https only, host in lower case, no default
// port, the port in plain decimal, no fragment, "/" for an empty path), and host keys.

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

var errScheme = errors.New("not an http(s) URL")

// resolve resolves ref against base (nil: ref must be absolute) and
// normalises the result.
func resolve(base *url.URL, ref string) (*url.URL, error) {
	ref = strings.TrimSpace(ref)
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		ref = strings.TrimSpace(ref[:i])
	}
	if base == nil && ref == "" {
		return nil, errScheme
	}
	r, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	if base != nil {
		r = base.ResolveReference(r)
	}
	if r.Scheme != "http" && r.Scheme != "https" || r.Host == "" {
		return nil, errScheme
	}
	host, port := strings.ToLower(r.Hostname()), r.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return nil, err
		}
		port = strconv.FormatUint(n, 10)
	}
	if port == "" || port == "80" && r.Scheme == "http" || port == "443" && r.Scheme == "https" {
		r.Host = host
	} else {
		r.Host = host + ":" + port
	}
	if r.Path == "" {
		r.Path = "/"
		r.RawPath = ""
	}
	r.Fragment, r.RawFragment = "", ""
	r.User = nil
	return r, nil
}

// hostKey is "host:port", the port spelled out.
func hostKey(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return u.Hostname() + ":" + port
}

// target is the request target: path and query.
func target(u *url.URL) string {
	if u.RawQuery != "" {
		return u.EscapedPath() + "?" + u.RawQuery
	}
	return u.EscapedPath()
}
