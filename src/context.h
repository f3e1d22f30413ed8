/* Contexts' internal interface: test hooks only (tests link the static
 * library). The design is in context.c. */
#ifndef GOC_CONTEXT_H
#define GOC_CONTEXT_H

#include <stddef.h>

#include "goc.h"

/* Children linked to c now: the cancel contexts that c would cancel. 0 for
 * the background, value contexts and NULL. */
size_t goc__ctx_children(goc_ctx *c);

/* Runtime timers pending in all workers' heaps (deadline timers among them).
 * Here, not in the test, because goc__w's layout depends on build options. */
size_t goc__ctx_timers_pending(void);

#endif
