package main

// robots.txt as goc-crawl's robots.c reads it (RFC 9309): groups opened by
// User-agent lines, Allow and Disallow rules with '*' and a final '$', the
// longest matching rule deciding (Allow on a tie). The groups naming our
// product token apply; when none does, the '*' groups.

import "strings"

type rule struct {
	pattern string
	allow   bool
}

type robots struct{ rules []rule }

func parseRobots(txt, agent string) *robots {
	token := productToken(agent)
	var ours, star []rule
	oursSeen, groupOurs, groupStar, inAgents := false, false, false, false
	for _, line := range strings.FieldsFunc(txt, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		colon := strings.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		key, value := strings.TrimSpace(line[:colon]), strings.TrimSpace(line[colon+1:])
		switch strings.ToLower(key) {
		case "user-agent":
			if !inAgents {
				groupOurs, groupStar = false, false
			}
			inAgents = true
			tok := productToken(value)
			if tok == "*" {
				groupStar = true
			} else if tok != "" && strings.EqualFold(tok, token) {
				groupOurs, oursSeen = true, true
			}
		case "allow", "disallow":
			inAgents = false
			if value == "" {
				continue
			}
			r := rule{value, strings.EqualFold(key, "allow")}
			if groupOurs {
				ours = append(ours, r)
			}
			if groupStar {
				star = append(star, r)
			}
		default:
			inAgents = false
		}
	}
	if oursSeen {
		return &robots{ours}
	}
	return &robots{star}
}

// productToken is s up to '/', a space or the end.
func productToken(s string) string {
	if i := strings.IndexAny(s, "/ \t"); i >= 0 {
		return s[:i]
	}
	return s
}

// match: does pattern match a prefix of s (all of s when anchored)?
// Backtracks over the last '*' only, as robots.c does.
func match(pat, s string) bool {
	star, resume := -1, 0
	p, i := 0, 0
	for {
		if p < len(pat) && pat[p] == '*' {
			for p < len(pat) && pat[p] == '*' {
				p++
			}
			star, resume = p, i
			continue
		}
		if p == len(pat)-1 && pat[p] == '$' {
			if i == len(s) {
				return true
			}
		} else if p == len(pat) {
			return true
		} else if i < len(s) && pat[p] == s[i] {
			p++
			i++
			continue
		}
		if star < 0 || resume >= len(s) {
			return false
		}
		resume++
		p, i = star, resume
	}
}

func (r *robots) allowed(target string) bool {
	if r == nil || target == "/robots.txt" {
		return true
	}
	best, allowed := 0, true
	for _, ru := range r.rules {
		if !match(ru.pattern, target) {
			continue
		}
		if n := len(ru.pattern); n > best || n == best && ru.allow {
			best, allowed = n, ru.allow
		}
	}
	return allowed
}
