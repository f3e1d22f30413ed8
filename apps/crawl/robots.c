/* A small robots.txt parser and matcher. */
#include "robots.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char *pattern;
    int allow;
} rule;

typedef struct {
    rule *v;
    size_t n, cap;
} rule_list;

struct robots {
    rule_list rules; /* the rules of the groups that apply */
};

/* The parse's state: the two candidate rule sets, and the current group. */
typedef struct {
    char token[64];      /* the agent's product token */
    rule_list ours, star;
    int ours_seen;       /* some group named our token */
    int group_ours, group_star;
    int in_agents;       /* the previous record was a User-agent line */
} parser;

static void list_free(rule_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i].pattern);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int list_add(rule_list *l, const char *pattern, int allow) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        rule *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    char *p = strdup(pattern);
    if (!p) return -ENOMEM;
    l->v[l->n++] = (rule){p, allow};
    return 0;
}

/* Copies the product token of s (up to '/', space or the end). */
static void product_token(const char *s, char *out, size_t n) {
    size_t i = 0;
    while (s[i] && s[i] != '/' && !isspace((unsigned char)s[i]) && i + 1 < n) {
        out[i] = s[i];
        i++;
    }
    out[i] = 0;
}

/* A User-agent line: opens a new group unless it continues a list of them. */
static void on_agent(parser *p, const char *value) {
    if (!p->in_agents) p->group_ours = p->group_star = 0;
    p->in_agents = 1;
    char tok[64];
    product_token(value, tok, sizeof tok);
    if (strcmp(tok, "*") == 0) {
        p->group_star = 1;
    } else if (*tok && strcasecmp(tok, p->token) == 0) {
        p->group_ours = 1;
        p->ours_seen = 1;
    }
}

/* An Allow or Disallow line: belongs to the current group. */
static int on_rule(parser *p, const char *value, int allow) {
    p->in_agents = 0;
    if (!*value) return 0; /* "Disallow:" with no path disallows nothing */
    int err = 0;
    if (p->group_ours) err = list_add(&p->ours, value, allow);
    if (!err && p->group_star) err = list_add(&p->star, value, allow);
    return err;
}

/* Trims spaces from both ends of s in place. */
static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

/* One line, its comment already cut: "key: value". */
static int on_line(parser *p, char *line) {
    char *colon = strchr(line, ':');
    if (!colon) return 0;
    *colon = 0;
    char *key = trim(line), *value = trim(colon + 1);
    if (strcasecmp(key, "user-agent") == 0) {
        on_agent(p, value);
        return 0;
    }
    if (strcasecmp(key, "allow") == 0) return on_rule(p, value, 1);
    if (strcasecmp(key, "disallow") == 0) return on_rule(p, value, 0);
    p->in_agents = 0; /* Crawl-delay, Sitemap, …: end a User-agent list */
    return 0;
}

int robots_parse(const char *txt, size_t len, const char *agent, robots **out) {
    *out = NULL;
    parser p = {0};
    product_token(agent ? agent : "", p.token, sizeof p.token);
    if (!*p.token) return -EINVAL;
    char *buf = malloc(len + 1);
    if (!buf) return -ENOMEM;
    memcpy(buf, txt, len);
    buf[len] = 0;
    int err = 0;
    for (char *line = buf; line && !err;) {
        size_t n = strcspn(line, "\r\n");
        char *next = line[n] ? line + n + 1 : NULL;
        line[n] = 0;
        line[strcspn(line, "#")] = 0;
        err = on_line(&p, line);
        line = next;
    }
    free(buf);
    robots *r = err ? NULL : malloc(sizeof *r);
    if (!r) {
        list_free(&p.ours);
        list_free(&p.star);
        return err ? err : -ENOMEM;
    }
    r->rules = p.ours_seen ? p.ours : p.star;
    list_free(p.ours_seen ? &p.star : &p.ours);
    *out = r;
    return 0;
}

/* Does pattern (with '*' and a final '$') match a prefix of s, or all of s
 * when anchored? Backtracks over the last '*' only, which suffices. */
static int match(const char *pat, const char *s) {
    const char *star = NULL, *resume = NULL;
    for (;;) {
        if (*pat == '*') {
            while (*pat == '*') pat++;
            star = pat;
            resume = s;
            continue;
        }
        if (*pat == '$' && pat[1] == 0) {
            if (*s == 0) return 1;
        } else if (*pat == 0) {
            return 1;
        } else if (*s && *pat == *s) {
            pat++;
            s++;
            continue;
        }
        if (!star || !*resume) return 0;
        pat = star;
        s = ++resume;
    }
}

int robots_allowed(const robots *r, const char *target) {
    if (!r || strcmp(target, "/robots.txt") == 0) return 1;
    size_t best = 0;
    int allowed = 1;
    for (size_t i = 0; i < r->rules.n; i++) {
        const rule *ru = &r->rules.v[i];
        size_t len = strlen(ru->pattern);
        if (!match(ru->pattern, target)) continue;
        if (len > best || (len == best && ru->allow)) {
            best = len;
            allowed = ru->allow;
        }
    }
    return allowed;
}

size_t robots_rules(const robots *r) {
    return r ? r->rules.n : 0;
}

void robots_free(robots *r) {
    if (!r) return;
    list_free(&r->rules);
    free(r);
}
