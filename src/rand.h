/* The runtime's cheap random numbers: Marsaglia's xorshift32, for choices
 * that need to be spread, not secret (which worker to steal from first,
 * which ready case of a select to take). Each user keeps its own state, so
 * no two threads share one: a worker's, or select's thread-local word.
 */
#ifndef GOC_RAND_H
#define GOC_RAND_H

#include <stdint.h>

/* Advances *state (never 0: 0 maps to 0 forever) and returns the new value. */
static inline uint32_t goc__rand(uint32_t *state) {
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

#endif
