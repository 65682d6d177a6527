/* form: decoding of application/x-www-form-urlencoded request bodies, the input of every
 * Query-protocol call (Action=CreateRole&RoleName=...&Tags.member.1.Key=...). Strict about
 * escapes (a malformed one is the client's error, reported, never guessed at) and about NUL,
 * which no IAM parameter may contain and which would cut a C string short. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "iam/iam_internal.h"

/* No IAM call needs more (50 tags are 101 parameters); the bound keeps duplicate checks cheap. */
#define IAM_FORM_MAX_PARAMS 1000

static char *decode(const char *s, size_t n, const char *what, char *err, size_t errlen) {
    char *out = sl_xmalloc(n + 1);
    long len = sl_uri_decode(s, n, out, true);
    if (len < 0 || memchr(out, 0, (size_t)len)) {
        snprintf(err, errlen, "The form parameter %s '%.*s' is not valid URL-encoded text", what,
                 (int)(n > 64 ? 64 : n), s);
        free(out);
        return NULL;
    }
    return out;
}

int iam_form_parse(iam_form *f, const char *body, size_t n, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    const char *p = body, *end = body + n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            const char *name_end = eq ? eq : stop;
            char *name = decode(p, (size_t)(name_end - p), "name", err, errlen);
            if (!name) goto fail;
            char *value =
                eq ? decode(eq + 1, (size_t)(stop - eq - 1), "value", err, errlen) : sl_xstrdup("");
            if (!value) {
                free(name);
                goto fail;
            }
            if (f->n == IAM_FORM_MAX_PARAMS) {
                snprintf(err, errlen, "The request has more than %d form parameters",
                         IAM_FORM_MAX_PARAMS);
                free(name);
                free(value);
                goto fail;
            }
            if (iam_form_get(f, name)) { /* the first value wins */
                free(name);
                free(value);
            } else {
                if (f->n == f->cap) {
                    f->cap = f->cap ? f->cap * 2 : 16;
                    f->params = sl_xrealloc(f->params, f->cap * sizeof *f->params);
                }
                f->params[f->n++] = (iam_param){name, value};
            }
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
fail:
    iam_form_free(f);
    return -1;
}

const char *iam_form_get(const iam_form *f, const char *name) {
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->params[i].name, name)) return f->params[i].value;
    return NULL;
}

const char *iam_form_getf(const iam_form *f, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof name) return NULL;
    return iam_form_get(f, name);
}

void iam_form_free(iam_form *f) {
    for (size_t i = 0; i < f->n; i++) {
        free(f->params[i].name);
        free(f->params[i].value);
    }
    free(f->params);
    memset(f, 0, sizeof *f);
}
