package main

// Links of an HTML page, as goc-crawl's links.c finds them: the href of
// every <a> and <area> and the target of <meta http-equiv=refresh>, in
// document order, resolved against the first <base href> (else the page's
// URL). The page is parsed whole into a tree, as libxml2 does there.

import (
	"bytes"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if strings.EqualFold(a.Key, name) {
			return a.Val, true
		}
	}
	return "", false
}

// walk calls fn on every element node in document order.
func walk(n *html.Node, fn func(*html.Node)) {
	if n.Type == html.ElementNode {
		fn(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

// refreshURL is the URL part of a refresh content ("5; url='x'"), or "",
// following the HTML standard's steps as links.c does.
func refreshURL(s string) string {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' }
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == ';' || s[i] == ',') {
		i++
	}
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if len(s)-i >= 3 && strings.EqualFold(s[i:i+3], "url") {
		p := i + 3
		for p < len(s) && isSpace(s[p]) {
			p++
		}
		if p < len(s) && s[p] == '=' {
			i = p + 1
			for i < len(s) && isSpace(s[i]) {
				i++
			}
		}
	}
	s = s[i:]
	if s != "" && (s[0] == '\'' || s[0] == '"') {
		q := s[0]
		s = s[1:]
		if k := strings.IndexByte(s, q); k >= 0 {
			s = s[:k]
		}
	}
	return strings.TrimRightFunc(s, func(r rune) bool { return r < 128 && isSpace(byte(r)) })
}

// extractLinks returns the page's links as normalised absolute URLs.
func extractLinks(body []byte, page *url.URL) []string {
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return nil
	}
	base := page
	found := false
	walk(doc, func(n *html.Node) {
		if found || n.Data != "base" {
			return
		}
		if href, ok := attr(n, "href"); ok {
			found = true
			if b, err := resolve(page, href); err == nil {
				base = b
			}
		}
	})
	links := []string{}
	add := func(href string) {
		if u, err := resolve(base, href); err == nil {
			links = append(links, u.String())
		}
	}
	walk(doc, func(n *html.Node) {
		switch n.Data {
		case "a", "area":
			if href, ok := attr(n, "href"); ok {
				add(href)
			}
		case "meta":
			if equiv, _ := attr(n, "http-equiv"); strings.EqualFold(equiv, "refresh") {
				content, _ := attr(n, "content")
				if u := refreshURL(content); u != "" {
					add(u)
				}
			}
		}
	})
	return links
}
