/* The switches of goc's introspection, read once when the runtime starts:
 * GOC_DEBUG, a comma-separated list ("stats": print goc_stats at exit).
 *
 * Locking: none.
 */
#include <stdlib.h>
#include <string.h>

#include "debug.h"
#include "goc.h"

static void print_stats(void) { goc__stats_print(stderr); }

/* Is word in the comma-separated list s? */
static bool listed(const char *s, const char *word) {
    size_t n = strlen(word);
    while (s && *s) {
        if (strncmp(s, word, n) == 0 && (s[n] == ',' || s[n] == 0)) return true;
        s = strchr(s, ',');
        if (s) s++;
    }
    return false;
}

void goc__debug_start(void) {
    const char *dbg = getenv("GOC_DEBUG");
    if (listed(dbg, "stats")) atexit(print_stats);
}
