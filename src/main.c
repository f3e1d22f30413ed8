/* goc_main: a program's main as a coroutine, Go's shape.
 *
 * The caller waits on a WaitGroup that the coroutine's last act marks done;
 * the record lives on the caller's stack, which stays put until then.
 */
#include "goc.h"

struct main_call {
    void (*fn)(void *);
    void *arg;
    goc_wg done;
};

static void main_entry(void *p) {
    struct main_call *m = p;
    m->fn(m->arg);
    goc_wg_done(&m->done);
}

int goc_main(void (*fn)(void *), void *arg) {
    if (!fn) return GOC_EINVAL;
    if (goc_id() != 0) { /* already a coroutine */
        fn(arg);
        return GOC_OK;
    }
    struct main_call m = {.fn = fn, .arg = arg, .done = GOC_WG_INIT};
    goc_wg_add(&m.done, 1);
    int r = goc_go(main_entry, &m);
    if (r != GOC_OK) return r;
    goc_wg_wait(&m.done);
    return GOC_OK;
}
