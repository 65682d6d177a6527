/* payload: compiles a payload template into a tree whose dynamic leaves are compiled paths and
 * intrinsic calls, and whose static subtrees are kept as ready-made JSON to be shared on every
 * evaluation. */
#include "states/payload.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "states/intrinsics.h"
#include "states/jsonpath.h"

typedef enum {
    PN_STATIC,
    PN_OBJECT,
    PN_ARRAY,
    PN_PATH,
    PN_INTRINSIC
} pn_kind;

typedef struct pnode pnode;
struct pnode {
    pn_kind kind;
    json_t *lit; /* PN_STATIC */
    char *field; /* PN_PATH / PN_INTRINSIC: the key as written, with its `.$` */
    sl_jsonpath *path;
    sl_intrinsic *fn;
    size_t n;    /* PN_OBJECT / PN_ARRAY children */
    char **keys; /* PN_OBJECT output keys */
    pnode **kids;
};

struct sl_payload {
    pnode *root;
};

static void pnode_free(pnode *p) {
    if (!p) return;
    json_decref(p->lit);
    free(p->field);
    sl_jsonpath_free(p->path);
    sl_intrinsic_free(p->fn);
    for (size_t i = 0; i < p->n; i++) {
        if (p->keys) free(p->keys[i]);
        pnode_free(p->kids[i]);
    }
    free(p->keys);
    free(p->kids);
    free(p);
}

typedef struct {
    char *err;
    size_t errlen;
    sl_buf where; /* JSON pointer of the node being compiled */
} cctx;

static void where_push(cctx *c, const char *seg, size_t *mark) {
    *mark = c->where.len;
    sl_buf_putc(&c->where, '/');
    for (const char *s = seg; *s; s++) {
        if (*s == '~') sl_buf_puts(&c->where, "~0");
        else if (*s == '/') sl_buf_puts(&c->where, "~1");
        else sl_buf_putc(&c->where, *s);
    }
}
static void where_pop(cctx *c, size_t mark) {
    c->where.len = mark;
    if (c->where.data) c->where.data[mark] = 0;
}

static bool has_dollar_suffix(const char *k) {
    size_t n = strlen(k);
    return n >= 2 && k[n - 2] == '.' && k[n - 1] == '$';
}

static pnode *compile_node(cctx *c, json_t *v);

static pnode *compile_dynamic(cctx *c, const char *key, json_t *v) {
    char detail[512];
    if (!json_is_string(v)) {
        snprintf(c->err, c->errlen,
                 "The value for the field '%.200s' must be a valid JSONPath or a valid intrinsic "
                 "function call, not %s (at %s)",
                 key, sl_json_kind(v), c->where.data);
        return NULL;
    }
    const char *s = json_string_value(v);
    pnode *p = sl_xcalloc(1, sizeof *p);
    p->field = sl_xstrdup(key);
    if (s[0] == '$') {
        p->kind = PN_PATH;
        p->path = sl_jsonpath_compile(s, detail, sizeof detail);
    } else if (sl_intrinsic_is_call(s)) {
        p->kind = PN_INTRINSIC;
        p->fn = sl_intrinsic_compile(s, detail, sizeof detail);
    } else {
        snprintf(detail, sizeof detail,
                 "'%.200s' is neither a path (starting with '$') nor an "
                 "intrinsic function (starting with 'States.')",
                 s);
    }
    if (!p->path && !p->fn) {
        snprintf(c->err, c->errlen,
                 "The value for the field '%.200s' must be a valid JSONPath or a valid intrinsic "
                 "function call (at %s): %s",
                 key, c->where.data, detail);
        pnode_free(p);
        return NULL;
    }
    return p;
}

static pnode *compile_object(cctx *c, json_t *v) {
    pnode *p = sl_xcalloc(1, sizeof *p);
    p->kind = PN_OBJECT;
    size_t cap = json_object_size(v);
    p->keys = sl_xcalloc(cap ? cap : 1, sizeof *p->keys);
    p->kids = sl_xcalloc(cap ? cap : 1, sizeof *p->kids);
    bool dynamic = false;
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        size_t mark;
        where_push(c, k, &mark);
        pnode *kid;
        char *out;
        if (has_dollar_suffix(k)) {
            out = sl_xstrndup(k, strlen(k) - 2);
            if (json_object_get(v, out)) {
                snprintf(c->err, c->errlen,
                         "The field '%.200s' is given twice, as '%.200s' and '%.200s' (at %s)", out,
                         out, k, c->where.data);
                free(out);
                pnode_free(p);
                return NULL;
            }
            kid = compile_dynamic(c, k, x);
        } else {
            out = sl_xstrdup(k);
            kid = compile_node(c, x);
        }
        where_pop(c, mark);
        if (!kid) {
            free(out);
            pnode_free(p);
            return NULL;
        }
        if (kid->kind != PN_STATIC) dynamic = true;
        p->keys[p->n] = out;
        p->kids[p->n] = kid;
        p->n++;
    }
    if (!dynamic) { /* nothing to evaluate: keep the object as it is */
        pnode_free(p);
        p = sl_xcalloc(1, sizeof *p);
        p->kind = PN_STATIC;
        p->lit = json_deep_copy(v);
    }
    return p;
}

static pnode *compile_array(cctx *c, json_t *v) {
    pnode *p = sl_xcalloc(1, sizeof *p);
    p->kind = PN_ARRAY;
    size_t n = json_array_size(v);
    p->kids = sl_xcalloc(n ? n : 1, sizeof *p->kids);
    bool dynamic = false;
    for (size_t i = 0; i < n; i++) {
        char idx[24];
        snprintf(idx, sizeof idx, "%zu", i);
        size_t mark;
        where_push(c, idx, &mark);
        pnode *kid = compile_node(c, json_array_get(v, i));
        where_pop(c, mark);
        if (!kid) {
            pnode_free(p);
            return NULL;
        }
        if (kid->kind != PN_STATIC) dynamic = true;
        p->kids[p->n++] = kid;
    }
    if (!dynamic) {
        pnode_free(p);
        p = sl_xcalloc(1, sizeof *p);
        p->kind = PN_STATIC;
        p->lit = json_deep_copy(v);
    }
    return p;
}

static pnode *compile_node(cctx *c, json_t *v) {
    if (json_is_object(v)) return compile_object(c, v);
    if (json_is_array(v)) return compile_array(c, v);
    pnode *p = sl_xcalloc(1, sizeof *p);
    p->kind = PN_STATIC;
    p->lit = json_incref(v); /* scalars are never mutated */
    return p;
}

sl_payload *sl_payload_compile(json_t *tmpl, char *err, size_t errlen) {
    char scratch[8];
    cctx c = {.err = err && errlen ? err : scratch,
              .errlen = err && errlen ? errlen : sizeof scratch};
    c.err[0] = 0;
    if (!tmpl) {
        snprintf(c.err, c.errlen, "no payload template given");
        return NULL;
    }
    sl_buf_init(&c.where);
    sl_buf_puts(&c.where, "");
    pnode *root = compile_node(&c, tmpl);
    sl_buf_free(&c.where);
    if (!root) return NULL;
    sl_payload *t = sl_xcalloc(1, sizeof *t);
    t->root = root;
    return t;
}

void sl_payload_free(sl_payload *t) {
    if (!t) return;
    pnode_free(t->root);
    free(t);
}

bool sl_payload_is_static(const sl_payload *t) { return t->root->kind == PN_STATIC; }

typedef struct {
    json_t *input, *context;
    const char *error;
    char *cause;
    size_t causelen;
} ectx;

static json_t *eval_node(ectx *e, const pnode *p) {
    switch (p->kind) {
    case PN_STATIC: return json_incref(p->lit);
    case PN_OBJECT: {
        json_t *o = json_object();
        for (size_t i = 0; i < p->n; i++) {
            json_t *v = eval_node(e, p->kids[i]);
            if (!v) {
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, p->keys[i], v);
        }
        return o;
    }
    case PN_ARRAY: {
        json_t *a = json_array();
        for (size_t i = 0; i < p->n; i++) {
            json_t *v = eval_node(e, p->kids[i]);
            if (!v) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, v);
        }
        return a;
    }
    case PN_PATH: {
        char why[320];
        json_t *v = sl_jsonpath_eval(p->path, e->input, e->context, why, sizeof why);
        if (!v) {
            e->error = SL_STATES_RUNTIME;
            bool ctx = sl_jsonpath_is_context(p->path);
            char *doc = sl_intrinsic_json_text(ctx ? e->context : e->input);
            if (strstr(why, "could not be found"))
                snprintf(e->cause, e->causelen,
                         "The JSONPath '%s' specified for the field '%s' could not be found in "
                         "the %s '%s'",
                         sl_jsonpath_text(p->path), p->field, ctx ? "context object" : "input",
                         doc);
            else snprintf(e->cause, e->causelen, "%s (field '%s')", why, p->field);
            free(doc);
        }
        return v;
    }
    case PN_INTRINSIC: {
        const char *name = NULL;
        char why[768];
        json_t *v = sl_intrinsic_eval(p->fn, e->input, e->context, &name, why, sizeof why);
        if (!v) {
            e->error = name;
            snprintf(e->cause, e->causelen, "%s (field '%s')", why, p->field);
        }
        return v;
    }
    }
    return NULL;
}

json_t *sl_payload_eval(const sl_payload *t, json_t *input, json_t *context,
                        const char **error_name, char *cause, size_t causelen) {
    char scratch[8];
    ectx e = {.input = input,
              .context = context,
              .cause = cause && causelen ? cause : scratch,
              .causelen = cause && causelen ? causelen : sizeof scratch};
    e.cause[0] = 0;
    json_t *r = eval_node(&e, t->root);
    if (!r && error_name) *error_name = e.error ? e.error : SL_STATES_RUNTIME;
    return r;
}
