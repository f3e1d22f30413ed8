/* Intrusive doubly linked lists: the waiter queues of channels, sync
 * primitives, fds and groups, a context's children, the dump's blocked
 * threads, and the wake-up lists their wakers collect under a lock.
 *
 * The listed struct embeds a goc__link; GOC__LIST_ENTRY turns a link back
 * into its struct. A goc__list holds its head and tail, and the ends of the
 * chain are NULL rather than a sentinel, so a zeroed goc__list is an empty
 * list: lists sit in structs that users initialise statically (GOC_MUTEX_INIT
 * is zeros) and in calloc'ed tables. No member points back at the list, so
 * copying a goc__list moves the whole list (then forget the old copy).
 *
 * Invariants: head and tail are both NULL or both set; head->prev and
 * tail->next are NULL; a link is in at most one list at a time. A link
 * does not say whether it is listed (a lone member has NULL neighbours too):
 * callers that need to know keep a flag of their own.
 *
 * Locking: none here; the lock that guards a list also guards the links of
 * its members. Every operation is O(1) and none allocates.
 *
 * Design: libuv's queue.h is the model (one link type for every list, the
 * struct found from its link). Its circular list with a sentinel head would
 * need each head initialised to point at itself, which static initialisers
 * of zeros cannot do.
 */
#ifndef GOC_LIST_H
#define GOC_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct goc__link {
    struct goc__link *prev, *next;
} goc__link;

typedef struct goc__list {
    goc__link *head, *tail;
} goc__list;

/* The struct of type `type` whose member `field` is the link l (not NULL). */
#define GOC__LIST_ENTRY(l, type, field) ((type *)(void *)((char *)(l) - offsetof(type, field)))

static inline bool goc__list_empty(const goc__list *l) { return l->head == NULL; }

static inline void goc__list_push_back(goc__list *l, goc__link *n) {
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

static inline void goc__list_push_front(goc__list *l, goc__link *n) {
    n->prev = NULL;
    n->next = l->head;
    if (l->head)
        l->head->prev = n;
    else
        l->tail = n;
    l->head = n;
}

/* Unlinks n from l, wherever it stands; n's own links are left as they were. */
static inline void goc__list_remove(goc__list *l, goc__link *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
}

/* Unlinks and returns l's head, or NULL when l is empty. Writes only l and
 * the new head, so a wake-up loop may pop a node and then wake it: the node
 * is not touched after it is handed back. */
static inline goc__link *goc__list_pop_front(goc__list *l) {
    goc__link *n = l->head;
    if (!n) return NULL;
    l->head = n->next;
    if (n->next)
        n->next->prev = NULL;
    else
        l->tail = NULL;
    return n;
}

#endif
