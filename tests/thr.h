/* A plain thread running fn(arg), for tests that mix threads and
 * coroutines. */
#ifndef THR_H
#define THR_H

#include <pthread.h>

#include "check.h"

/* A plain thread running fn(arg), for tests that mix threads and coroutines. */
typedef struct {
    void (*fn)(void *);
    void *arg;
    pthread_t t;
} thr;

static void *thr_main(void *p) {
    thr *t = p;
    t->fn(t->arg);
    return NULL;
}

__attribute__((unused)) static void thr_start(thr *t, void (*fn)(void *), void *arg) {
    t->fn = fn;
    t->arg = arg;
    CHECK_EQ(pthread_create(&t->t, NULL, thr_main, t), 0);
}

__attribute__((unused)) static void thr_join(thr *t) { CHECK_EQ(pthread_join(t->t, NULL), 0); }

#endif
