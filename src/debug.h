/* Seeing inside a running program, the internal half: the switches read
 * when the runtime starts (debug.c) and the statistics report (stats.c).
 */
#ifndef GOC_DEBUG_H
#define GOC_DEBUG_H

#include <stdio.h>

#include "sched.h"

/* Reads GOC_DEBUG; installs the exit-time report. Called once when the
 * runtime starts. */
void goc__debug_start(void);

/* goc_stats in words (GOC_DEBUG=stats at exit). */
void goc__stats_print(FILE *f);

#endif
