/* Error codes: names and messages, generated from the GOC_ERRORS table. */
#include <string.h>

#include "goc.h"

const char *goc_strerror(int err) {
    switch (err) {
#define GOC__ERR_TEXT(name, value, text) \
    case value:                          \
        return text;
        GOC_ERRORS(GOC__ERR_TEXT)
#undef GOC__ERR_TEXT
    }
    if (err < 0 && err > -4096) {
        const char *t = strerrordesc_np(-err); /* static text: thread-safe */
        if (t) return t;
    }
    return "unknown error";
}

const char *goc_err_name(int err) {
    switch (err) {
#define GOC__ERR_NAME(name, value, text) \
    case value:                          \
        return "GOC_" #name;
        GOC_ERRORS(GOC__ERR_NAME)
#undef GOC__ERR_NAME
    }
    return "GOC_?";
}
