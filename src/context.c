/* Contexts: cancellation, deadlines and values carried down a tree of work,
 * with the semantics of Go's context package.
 *
 * Three kinds of node. The background is a static root that is never
 * cancelled. A cancel node (with_cancel, with_timeout, with_deadline) has a
 * lock, an error, a done channel and a list of the cancel nodes below it. A
 * value node (with_value) carries one key and value; its done and err are
 * those of its nearest cancel ancestor (`cancel`), and a cancel node created
 * under it joins that ancestor's list (`up`). Every node holds one reference
 * to its parent; parents know their children only through the list, a weak
 * link: a child leaves the list when it is cancelled or freed.
 *
 * Invariants:
 *   - err goes from 0 to GOC_ECANCELED or GOC_ETIMEDOUT once, and done is
 *     closed exactly then, by whoever wrote err, before it unlocks the node;
 *   - a node in up's list has err == 0, or is being cancelled: its canceller
 *     holds its lock, or has unlocked it and is about to detach it; a node is
 *     in at most one list (its up's), exactly while `linked`;
 *   - a node with a live descendant is not freed (the descendant holds a
 *     reference chain up to it), so a freed node's list is empty;
 *   - when goc_ctx_cancel(c) returns, c and all its descendants have err != 0
 *     and closed done channels; their deadline timers are stopped;
 *   - a node's deadline is its own or its parent's, whichever is earlier; a
 *     node has a timer only when its own deadline is the earlier one.
 *
 * Locking: a node's lock guards its err (written), its list, its nchildren,
 * and the `linked`/`sibling` fields of the nodes in its list. Its rank
 * (lockrank.h) comes before channels, sched.lock and timer heaps, since
 * closing done, readying and arming a deadline happen under it; a node's
 * lock is taken under its parent's only (goc__lock_acquire_child). Cancelling
 * holds the locks of the whole path from the cancelled node down to the node
 * it is working on (as Go holds c.mu while it cancels the children), so a
 * second canceller of any node on the path waits until the subtree is done;
 * every other operation takes one node lock at a time.
 * Deadline callbacks run on a scheduler stack and must not wait for a
 * canceller that may itself be waiting in goc__timer_stop for them: they take
 * their node's lock with trylock, and give up as soon as they see err set.
 * goc__timer_stop is only called by the writer of err (the callback sees err
 * and returns) or by the free path with no lock held.
 *
 * Design: cancelling walks the subtree iteratively, depth first, reusing the
 * lists themselves as the walk state (a child popped from its parent's list
 * becomes the current node; `up` leads back), so it needs no allocation, no
 * recursion (a chain of any length is fine on a small coroutine stack) and no
 * syscall beyond waking the waiters of done, and costs O(nodes). The alternatives: recursion as in Go
 * (unbounded stack depth on fixed-size stacks), or taking a reference on each
 * child and walking without the path locks (then a canceller can drop the
 * last reference of a deadline node inside that node's own timer callback,
 * whose timer it cannot stop from there). The done channel is made with the
 * node, so goc_ctx_done cannot fail; Go makes it lazily.
 */
#include "context.h"

#include <stddef.h>

#include "chan.h"
#include "list.h"
#include "lock.h"
#include "san.h"
#include "sched.h"
#include "sys.h"
#include "timer.h"

enum { KIND_BACKGROUND, KIND_CANCEL, KIND_VALUE };

typedef struct cnode cnode;

/* Fields: (i) immutable after creation, (a) atomic, (l) the node's lock,
 * (u) the lock of the node's `up`. */
struct goc_ctx {
    goc_ctx *parent;      /* (i) one reference held; NULL for the background */
    cnode *cancel;        /* (i) nearest cancel node: itself or an ancestor  */
    int64_t deadline;     /* (i) own or inherited; 0: none                   */
    int kind;             /* (i)                                             */
    _Atomic size_t refs;  /* (a) unused by the background; 32 bytes in, see
                           * goc__ref_release                                */
};

_Static_assert(offsetof(goc_ctx, refs) >= 32, "refs must survive malloc's free lists");

struct cnode {
    goc_ctx base;
    goc__lock lock;
    _Atomic int err;      /* (l) written; read (a)                           */
    bool timed;           /* (i) a struct dnode, with a timer                */
    bool linked;          /* (u) in up->children                             */
    goc_chan *done;       /* (i) closed with err                             */
    cnode *up;            /* (i) base.parent->cancel: whose list we join     */
    goc__list children;   /* (l) cancel nodes linked below, newest first     */
    goc__link sibling;    /* (u) in up->children                             */
    size_t nchildren;     /* (l)                                             */
};

struct dnode {
    cnode c;
    goc__timer timer;     /* fires at base.deadline: cancel, GOC_ETIMEDOUT    */
};

struct vnode {
    goc_ctx base;
    const void *key;      /* (i) */
    void *val;            /* (i) */
};

static goc_ctx background = {.kind = KIND_BACKGROUND};

goc_ctx *goc_ctx_background(void) { return &background; }

/* ---- the children lists (with the parent locked) -------------------- */

static cnode *child_of(goc__link *l) { return GOC__LIST_ENTRY(l, cnode, sibling); }

static void link_child(cnode *p, cnode *c) {
    GOC_ASSERT_HELD(&p->lock);
    GOC_ASSERT(!c->linked && c->up == p);
    goc__list_push_front(&p->children, &c->sibling);
    c->linked = true;
    p->nchildren++;
}

static void unlink_child(cnode *p, cnode *c) {
    GOC_ASSERT_HELD(&p->lock);
    GOC_ASSERT(c->linked && c->up == p && p->nchildren > 0);
    goc__list_remove(&p->children, &c->sibling);
    c->linked = false;
    p->nchildren--;
}

/* For the cancel walk: takes p's first child. The prefetches start the
 * misses of the nodes visited next while this one is marked: its done
 * channel, its first child, its next sibling. */
static cnode *pop_child(cnode *p) {
    goc__link *l = p->children.head;
    if (!l) return NULL;
    cnode *c = child_of(l);
    __builtin_prefetch(c->done, 1);
    if (c->children.head) __builtin_prefetch(child_of(c->children.head), 1);
    if (l->next) __builtin_prefetch(child_of(l->next), 1);
    unlink_child(p, c);
    return c;
}

/* Takes c out of its parent's list, if it is still there. */
static void detach(cnode *c) {
    cnode *up = c->up;
    if (!up) return;
    goc__lock_acquire(&up->lock, GOC__RANK_CTX);
    if (c->linked) unlink_child(up, c);
    goc__lock_release(&up->lock);
}

/* ---- cancelling ------------------------------------------------------ */

static goc__timer *timer_of(cnode *n) { return &((struct dnode *)n)->timer; }

/* With n locked and its err 0: records err and closes done (in this order:
 * see goc_ctx_err); stops n's timer unless we run inside its callback. */
static void mark(cnode *n, int err, bool stop_timer) {
    GOC_ASSERT_HELD(&n->lock);
    GOC_ASSERT(err != 0 && atomic_load_explicit(&n->err, memory_order_relaxed) == 0); /* once */
    goc__race_release(n);
    atomic_store_explicit(&n->err, err, memory_order_release);
    goc__chan_close(n->done);
    if (stop_timer && n->timed) goc__timer_stop(timer_of(n));
}

/* With root locked and its err 0: cancels root and every node below it.
 * Depth first, holding the locks of the path from root to the current node;
 * returns with root still locked. A child already cancelled had its own
 * canceller, whose walk is over (it held the child's lock until then). */
static void cancel_tree(cnode *root, int err, bool in_callback) {
    mark(root, err, !in_callback);
    cnode *n = root;
    for (;;) {
        cnode *c = pop_child(n);
        if (c) {
            goc__lock_acquire_child(&c->lock, GOC__RANK_CTX, &n->lock);
            if (atomic_load_explicit(&c->err, memory_order_relaxed)) {
                goc__lock_release(&c->lock);
                continue;
            }
            mark(c, err, true);
            n = c;
            continue;
        }
        if (n == root) return;
        cnode *up = n->up; /* popped from up's list: up is still locked */
        goc__lock_release(&n->lock);
        n = up;
    }
}

static void cancel(cnode *n, int err) {
    goc__lock_acquire(&n->lock, GOC__RANK_CTX);
    if (atomic_load_explicit(&n->err, memory_order_relaxed)) {
        goc__lock_release(&n->lock);
        return;
    }
    cancel_tree(n, err, false);
    goc__lock_release(&n->lock);
    detach(n);
}

/* The deadline timer's callback, on a scheduler stack. Whoever holds n's lock
 * for longer than a moment is cancelling n (and may be waiting for this
 * callback in goc__timer_stop): so spin only while err is 0. */
static void on_deadline(goc__timer *t, int64_t now) {
    (void)now;
    cnode *n = t->arg;
    for (;;) {
        if (atomic_load_explicit(&n->err, memory_order_relaxed)) return;
        if (goc__lock_try(&n->lock, GOC__RANK_CTX)) break;
        goc__cpu_relax();
    }
    if (atomic_load_explicit(&n->err, memory_order_relaxed)) {
        goc__lock_release(&n->lock);
        return;
    }
    cancel_tree(n, GOC_ETIMEDOUT, true);
    goc__lock_release(&n->lock);
    detach(n);
}

void goc_ctx_cancel(goc_ctx *c) {
    if (c && c->kind == KIND_CANCEL) cancel((cnode *)c, GOC_ECANCELED);
}

/* ---- creating -------------------------------------------------------- */

static void init_base(goc_ctx *c, goc_ctx *parent, int kind) {
    atomic_init(&c->refs, 1);
    c->parent = goc_ctx_retain(parent);
    c->kind = kind;
    c->deadline = parent->deadline;
    c->cancel = parent->cancel;
}

/* Joins n to its up's list, or, if up is cancelled already, makes n born
 * cancelled with up's error. n is not yet visible to anyone else. */
static void propagate(cnode *n) {
    cnode *up = n->up;
    if (!up) return;
    goc__lock_acquire(&up->lock, GOC__RANK_CTX);
    int err = atomic_load_explicit(&up->err, memory_order_relaxed);
    if (err) {
        goc__race_acquire(up);
        goc__lock_acquire_child(&n->lock, GOC__RANK_CTX, &up->lock);
        mark(n, err, false); /* its timer is not armed yet */
        goc__lock_release(&n->lock);
    } else {
        link_child(up, n);
    }
    goc__lock_release(&up->lock);
}

/* Arms n's own deadline, or cancels n at once if it has passed. Returns
 * GOC_OK, or an error from the timer (n then needs freeing). n is in its
 * up's list already, so an ancestor's canceller may be marking it: the timer
 * starts under n's lock, and only while err is 0, so that canceller either
 * came first (no timer) or finds it armed and stops it. */
static int arm(cnode *n) {
    if (n->base.deadline <= goc__now()) {
        cancel(n, GOC_ETIMEDOUT);
        return GOC_OK;
    }
    int r = goc__rt_start(); /* not under the lock: it may start threads */
    if (r != GOC_OK) return r;
    goc__lock_acquire(&n->lock, GOC__RANK_CTX);
    if (!atomic_load_explicit(&n->err, memory_order_relaxed))
        r = goc__timer_start(timer_of(n), n->base.deadline, 0);
    goc__lock_release(&n->lock);
    return r;
}

/* A cancel node under parent; deadline > 0 is its own deadline, used when
 * earlier than the parent's. */
static goc_ctx *new_cancel(goc_ctx *parent, int64_t deadline) {
    if (!parent) parent = &background;
    bool timed = deadline > 0 && (parent->deadline == 0 || deadline < parent->deadline);
    cnode *n = goc__malloc(timed ? sizeof(struct dnode) : sizeof(cnode));
    if (!n) return NULL;
    n->done = goc_chan_make(0, 0);
    if (!n->done) {
        goc__free(n);
        return NULL;
    }
    n->done->owned_close = true;
    init_base(&n->base, parent, KIND_CANCEL);
    n->base.cancel = n;
    if (timed) n->base.deadline = deadline;
    n->lock = (goc__lock){0};
    atomic_init(&n->err, 0);
    n->timed = timed;
    n->linked = false;
    n->up = parent->cancel;
    n->children = (goc__list){0};
    n->nchildren = 0;
    if (timed) goc__timer_init(timer_of(n), on_deadline, n);
    propagate(n);
    if (timed && arm(n) != GOC_OK) {
        goc_ctx_release(&n->base);
        return NULL;
    }
    return &n->base;
}

goc_ctx *goc_ctx_with_cancel(goc_ctx *parent) { return new_cancel(parent, 0); }

goc_ctx *goc_ctx_with_deadline(goc_ctx *parent, int64_t t) {
    return new_cancel(parent, t > 0 ? t : 1);
}

goc_ctx *goc_ctx_with_timeout(goc_ctx *parent, int64_t ns) {
    if (ns == GOC_FOREVER) return new_cancel(parent, 0); /* no deadline of its own */
    return new_cancel(parent, goc__now_plus(ns));
}

goc_ctx *goc_ctx_with_value(goc_ctx *parent, const void *key, void *val) {
    if (!parent) parent = &background;
    struct vnode *v = goc__malloc(sizeof *v);
    if (!v) return NULL;
    init_base(&v->base, parent, KIND_VALUE);
    v->key = key;
    v->val = val;
    return &v->base;
}

/* ---- reading --------------------------------------------------------- */

goc_chan *goc_ctx_done(goc_ctx *c) { return c && c->cancel ? c->cancel->done : NULL; }

/* err is written before done is closed, both under the node's lock. So a
 * reader that saw done closed sees err != 0; a reader that sees err != 0
 * takes the lock once, so that it also finds done closed, as in Go. */
int goc_ctx_err(goc_ctx *c) {
    cnode *n = c ? c->cancel : NULL;
    if (!n) return 0;
    int err = atomic_load_explicit(&n->err, memory_order_acquire);
    if (err) {
        goc__lock_acquire(&n->lock, GOC__RANK_CTX);
        goc__lock_release(&n->lock);
        goc__race_acquire(n);
    }
    return err;
}

void *goc_ctx_value(goc_ctx *c, const void *key) {
    for (; c; c = c->parent) {
        if (c->kind == KIND_VALUE && ((struct vnode *)c)->key == key)
            return ((struct vnode *)c)->val;
    }
    return NULL;
}

int64_t goc_ctx_deadline(goc_ctx *c) { return c ? c->deadline : 0; }

/* ---- lifetime -------------------------------------------------------- */

goc_ctx *goc_ctx_retain(goc_ctx *c) {
    if (c && c != &background) atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

/* The last reference to c is gone: nobody can cancel or read it any more, and
 * no child lives (each would hold a reference). A canceller working on c
 * holds c's up locked, so detach waits for it to move on. */
static void destroy(goc_ctx *c) {
    if (c->kind == KIND_CANCEL) {
        cnode *n = (cnode *)c;
        if (n->timed) goc__timer_stop(timer_of(n)); /* no lock held: see Locking */
        detach(n);
        if (!goc__list_empty(&n->children))
            goc__throw("context %p freed with children linked", (void *)n);
        GOC_ASSERT(n->nchildren == 0 && !n->linked);
        goc_chan_release(n->done);
    }
    goc__free(c);
}

/* Iterative: freeing a node drops its reference to its parent, which may be
 * the last one too (a long chain must not recurse). */
void goc_ctx_release(goc_ctx *c) {
    while (c && c != &background) {
        if (!goc__ref_release(&c->refs, "goc_ctx_release", c)) return;
        goc_ctx *parent = c->parent;
        destroy(c);
        c = parent;
    }
}

/* ---- test hook ------------------------------------------------------- */

size_t goc__ctx_children(goc_ctx *c) {
    if (!c || c->kind != KIND_CANCEL) return 0;
    cnode *n = (cnode *)c;
    goc__lock_acquire(&n->lock, GOC__RANK_CTX);
    size_t k = n->nchildren;
    goc__lock_release(&n->lock);
    return k;
}

size_t goc__ctx_timers_pending(void) {
    size_t n = 0;
    for (int i = 0; i < goc__nworkers(); i++) {
        goc__timers *h = &goc__worker(i)->timers;
        goc__lock_acquire(&h->lock, GOC__RANK_TIMERS);
        n += h->n;
        goc__lock_release(&h->lock);
    }
    return n;
}
