/* asl: the Amazon States Language definition grammar and its validation. Reads a definition
 * once, checks every rule Step Functions applies when a state machine is created, and builds
 * the compiled sl_asl_machine the engine walks (names resolved to indexes, paths, templates and
 * Choice rules compiled). Every problem becomes one {code, message, location} diagnostic, in the
 * wording ValidateStateMachineDefinition uses where it is known. Also owns the Choice rule
 * compiler and evaluator (the one piece of run-time evaluation here) and the ASL timestamp
 * format. Never does I/O.
 *
 * Where AWS's behaviour is not documented, the choices made here: the graph checks (unreachable
 * states, no terminal state) run only on a level whose schema is valid; a Retry IntervalSeconds
 * of 0 and a top-level TimeoutSeconds of 0 are accepted (AWS accepts both); state names are
 * unique across the whole definition, nested machines included. */
#include "states/asl.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "states/intrinsics.h"

#define ASL_MAX_DEFINITION (1024 * 1024)
#define ASL_MAX_NAME       80
#define ASL_MAX_NESTING    32
#define ASL_MAX_SECONDS    99999999LL
#define ASL_MAX_DELAY      31622400LL
#define ASL_INT_MAX        2147483647LL
#define ASL_MAX_RULE_DEPTH 32

#define ASL_SCHEMA                    "SCHEMA_VALIDATION_FAILED"
#define ASL_MISSING_TRANSITION_TARGET "MISSING_TRANSITION_TARGET"
#define ASL_MISSING_END               "MISSING_END_STATE"
#define ASL_INVALID_STATE_NAME        "INVALID_STATE_NAME"
#define ASL_DUPLICATE_STATE_NAME      "DUPLICATE_STATE_NAME"

/* asl_diag's field argument for a diagnostic without a location (AWS omits it). */
static const char ASL_NO_LOCATION_MARK[] = "";
#define ASL_NO_LOCATION ASL_NO_LOCATION_MARK

typedef struct {
    json_t *diags;        /* array of {code, message, location} */
    json_t *names;        /* every state name seen, nested machines included */
    sl_buf where;         /* location of the object being validated ("/States/A") */
    size_t schema_errors; /* diagnostics other than the graph ones */
} asl_vctx;

typedef enum {
    ASL_T_STRING,
    ASL_T_INTEGER,
    ASL_T_NUMBER,
    ASL_T_BOOLEAN,
    ASL_T_OBJECT,
    ASL_T_ARRAY,
} asl_vtype;

typedef enum {
    ASL_PATH_ANY,       /* any JSONPath (InputPath, OutputPath) */
    ASL_PATH_DEFINITE,  /* selects at most one node; `$$` allowed (Variable, SecondsPath) */
    ASL_PATH_REFERENCE, /* a Reference Path: `$`, names and indexes only (ResultPath) */
} asl_path_rule;

static sl_asl_rule *rule_compile(asl_vctx *v, json_t *r, bool top, int depth);
static void rule_free(sl_asl_rule *r);

static const char *const TYPE_NAMES[] = {"Pass",    "Task", "Choice",   "Wait",
                                         "Succeed", "Fail", "Parallel", "Map"};

const char *sl_asl_type_name(sl_asl_type t) {
    if ((unsigned)t >= sizeof TYPE_NAMES / sizeof *TYPE_NAMES) return "Unknown";
    return TYPE_NAMES[t];
}

/* ---------------------------------------------------------------------------------------- */
/* Diagnostics */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    size_t len = s[0] < 0x80                    ? 1
                 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
                 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
                 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                                : 0;
    if (!len || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (len == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F))) return 0;
    if (len == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))) return 0;
    return len;
}

/* Messages quote user text that other libraries may have cut mid-character: keep them valid
 * UTF-8 (JSON needs it) by turning every stray byte into '?'. */
static void utf8_fix(char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k) {
            i += k;
        } else {
            s[i++] = '?';
        }
    }
}

__attribute__((format(printf, 4, 5))) static void
asl_diag(asl_vctx *v, const char *code, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    char *msg = small;
    if (n >= (int)sizeof small) {
        msg = sl_xmalloc((size_t)n + 1);
        vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    va_end(ap);
    utf8_fix(msg);

    json_t *d = json_object();
    json_object_set_new(d, "code", json_string(code));
    json_object_set_new(d, "message", json_string(msg));
    if (field != ASL_NO_LOCATION) {
        sl_buf loc;
        sl_buf_init(&loc);
        if (v->where.len) sl_buf_append(&loc, v->where.data, v->where.len);
        if (field) {
            sl_buf_putc(&loc, '/');
            sl_buf_puts(&loc, field);
        }
        if (!loc.len) sl_buf_putc(&loc, '/');
        utf8_fix(loc.data);
        json_object_set_new(d, "location", json_string(loc.data));
        sl_buf_free(&loc);
    }
    json_array_append_new(v->diags, d);
    if (strcmp(code, ASL_MISSING_TRANSITION_TARGET) != 0 && strcmp(code, ASL_MISSING_END) != 0)
        v->schema_errors++;
    if (msg != small) free(msg);
}

__attribute__((format(printf, 2, 3))) static size_t asl_where_push(asl_vctx *v, const char *fmt,
                                                                   ...) {
    size_t mark = v->where.len;
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small) {
        char *big = sl_xmalloc((size_t)n + 1);
        vsnprintf(big, (size_t)n + 1, fmt, ap2);
        sl_buf_append(&v->where, big, (size_t)n);
        free(big);
    } else if (n > 0) {
        sl_buf_append(&v->where, small, (size_t)n);
    }
    va_end(ap2);
    va_end(ap);
    return mark;
}

static void asl_where_pop(asl_vctx *v, size_t mark) {
    v->where.len = mark;
    if (v->where.data) v->where.data[mark] = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Typed field readers: each reports its own diagnostic and returns false on a wrong value. */

static const char *kind_name(asl_vtype t) {
    switch (t) {
    case ASL_T_STRING: return "String";
    case ASL_T_INTEGER: return "Integer";
    case ASL_T_NUMBER: return "Number";
    case ASL_T_BOOLEAN: return "Boolean";
    case ASL_T_OBJECT: return "Object";
    case ASL_T_ARRAY: return "Array";
    }
    return "?";
}

static bool is_integral(const json_t *val) {
    if (json_is_integer(val)) return true;
    if (!json_is_real(val)) return false;
    double d = json_real_value(val);
    return isfinite(d) && d == floor(d) && fabs(d) < 9.0e15;
}

static long long int_value(const json_t *val) {
    return json_is_integer(val) ? (long long)json_integer_value(val)
                                : (long long)json_real_value(val);
}

static bool asl_expect(asl_vctx *v, const json_t *val, asl_vtype t, const char *field) {
    bool ok = false;
    switch (t) {
    case ASL_T_STRING: ok = json_is_string(val); break;
    case ASL_T_INTEGER: ok = is_integral(val); break;
    case ASL_T_NUMBER: ok = json_is_number(val); break;
    case ASL_T_BOOLEAN: ok = json_is_boolean(val); break;
    case ASL_T_OBJECT: ok = json_is_object(val); break;
    case ASL_T_ARRAY: ok = json_is_array(val); break;
    }
    if (!ok) asl_diag(v, ASL_SCHEMA, field, "Expected value of type %s", kind_name(t));
    return ok;
}

static bool expect_int_range(asl_vctx *v, const json_t *val, const char *field, long long min,
                             long long max, long long *out) {
    if (!asl_expect(v, val, ASL_T_INTEGER, field)) return false;
    long long n = int_value(val);
    if (n < min) {
        asl_diag(v, ASL_SCHEMA, field, "Minimum value is %lld", min);
        return false;
    }
    if (n > max) {
        asl_diag(v, ASL_SCHEMA, field, "Maximum value is %lld", max);
        return false;
    }
    if (out) *out = n;
    return true;
}

static void expect_enum(asl_vctx *v, const json_t *val, const char *field,
                        const char *const *allowed, const char *shown) {
    if (!asl_expect(v, val, ASL_T_STRING, field)) return;
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(json_string_value(val), allowed[i]) == 0) return;
    asl_diag(v, ASL_SCHEMA, field, "Value should be one of the following: [%s]", shown);
}

/* Fields only the JSONata query language has. */
static bool jsonata_only(const char *key) {
    return !strcmp(key, "Output") || !strcmp(key, "Arguments") || !strcmp(key, "Items") ||
           !strcmp(key, "Condition");
}

/* Reports every key of obj that is not in allowed (NULL-terminated) as unsupported. */
static void asl_check_fields(asl_vctx *v, json_t *obj, const char *const *allowed) {
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++) ok = strcmp(key, allowed[i]) == 0;
        if (ok) continue;
        if (jsonata_only(key))
            asl_diag(v, ASL_SCHEMA, NULL,
                     "The QueryLanguage is set to 'JSONPath', but field '%s' is only supported "
                     "for the 'JSONata' QueryLanguage",
                     key);
        else if (!strcmp(key, "Assign"))
            asl_diag(v, ASL_SCHEMA, NULL,
                     "Field 'Assign' is not supported: workflow variables are not implemented");
        else asl_diag(v, ASL_SCHEMA, NULL, "Field '%s' is not supported", key);
    }
}

static void free_value(sl_asl_value *x) {
    json_decref(x->literal);
    sl_payload_free(x->dynamic);
    memset(x, 0, sizeof *x);
}

/* ---------------------------------------------------------------------------------------- */
/* Paths and templates */

static sl_jsonpath *asl_compile_path(asl_vctx *v, const json_t *val, const char *field,
                                     asl_path_rule rule) {
    if (!asl_expect(v, val, ASL_T_STRING, field)) return NULL;
    const char *s = json_string_value(val);
    char err[256];
    if (rule != ASL_PATH_ANY && s[0] != '$') {
        asl_diag(v, ASL_SCHEMA, field,
                 "Value is not a Reference Path: Reference path didn't start with '$'");
        return NULL;
    }
    sl_jsonpath *p = sl_jsonpath_compile(s, err, sizeof err);
    if (!p) {
        if (rule == ASL_PATH_ANY)
            asl_diag(v, ASL_SCHEMA, field, "Value must be a valid JSONPath: %s", err);
        else asl_diag(v, ASL_SCHEMA, field, "Value is not a Reference Path: %s", err);
        return NULL;
    }
    if (rule == ASL_PATH_DEFINITE && !sl_jsonpath_is_definite(p)) {
        asl_diag(v, ASL_SCHEMA, field,
                 "Value is not a Reference Path: '%s' can select more than one node", s);
        sl_jsonpath_free(p);
        return NULL;
    }
    if (rule == ASL_PATH_REFERENCE && !sl_jsonpath_is_reference(p)) {
        asl_diag(v, ASL_SCHEMA, field,
                 "Value is not a Reference Path: '%s' may only use '$', '.name', \"['name']\" "
                 "and '[n]' steps",
                 s);
        sl_jsonpath_free(p);
        return NULL;
    }
    return p;
}

/* InputPath / OutputPath (any path, or null) and ResultPath (a reference path, or null). */
static void parse_opt_path(asl_vctx *v, json_t *obj, const char *field, asl_path_rule rule,
                           sl_asl_path *out) {
    json_t *val = json_object_get(obj, field);
    if (!val) return;
    if (json_is_null(val)) {
        out->is_null = true;
        return;
    }
    out->path = asl_compile_path(v, val, field, rule);
}

static sl_payload *compile_template(asl_vctx *v, json_t *val, const char *field) {
    if (!asl_expect(v, val, ASL_T_OBJECT, field)) return NULL;
    char err[512];
    sl_payload *t = sl_payload_compile(val, err, sizeof err);
    if (!t) asl_diag(v, ASL_SCHEMA, field, "%s", err);
    return t;
}

/* A computed field ({"value.$": expr}): a path obeying rule, or also an intrinsic call. */
static sl_payload *compile_dynamic(asl_vctx *v, json_t *val, const char *field, asl_path_rule rule,
                                   bool intrinsic_ok) {
    if (!asl_expect(v, val, ASL_T_STRING, field)) return NULL;
    const char *s = json_string_value(val);
    char err[512];
    if (intrinsic_ok && sl_intrinsic_is_call(s)) {
        sl_intrinsic *f = sl_intrinsic_compile(s, err, sizeof err);
        if (!f) {
            asl_diag(v, ASL_SCHEMA, field,
                     "The value for the field '%s' must be a valid JSONPath or a valid "
                     "intrinsic function call: %s",
                     field, err);
            return NULL;
        }
        sl_intrinsic_free(f);
    } else if (intrinsic_ok && s[0] != '$') {
        asl_diag(v, ASL_SCHEMA, field,
                 "The value for the field '%s' must be a valid JSONPath or a valid intrinsic "
                 "function call",
                 field);
        return NULL;
    } else {
        sl_jsonpath *p = asl_compile_path(v, val, field, rule);
        if (!p) return NULL;
        sl_jsonpath_free(p);
    }
    json_t *tmpl = json_pack("{s:O}", "value.$", val);
    sl_payload *t = sl_payload_compile(tmpl, err, sizeof err);
    json_decref(tmpl);
    if (!t) asl_diag(v, ASL_SCHEMA, field, "%s", err);
    return t;
}

typedef enum {
    LIT_INTEGER,   /* integer in [min, max] */
    LIT_PERCENT,   /* number in [0, 100] */
    LIT_STRING,    /* any string */
    LIT_TIMESTAMP, /* RFC 3339 string */
} lit_kind;

/* A literal field and its *Path twin (TimeoutSeconds / TimeoutSecondsPath, Error / ErrorPath,
 * ...): at most one of them. */
static void parse_value(asl_vctx *v, json_t *obj, const char *lit_field, const char *path_field,
                        lit_kind kind, long long min, long long max, asl_path_rule rule,
                        bool intrinsic_ok, sl_asl_value *out) {
    json_t *lit = json_object_get(obj, lit_field);
    json_t *path = json_object_get(obj, path_field);
    if (lit && path) {
        asl_diag(v, ASL_SCHEMA, NULL, "There should only be one of the following fields: [%s, %s]",
                 lit_field, path_field);
        return;
    }
    if (lit) {
        bool ok = false;
        switch (kind) {
        case LIT_INTEGER: ok = expect_int_range(v, lit, lit_field, min, max, NULL); break;
        case LIT_PERCENT:
            ok = asl_expect(v, lit, ASL_T_NUMBER, lit_field);
            if (ok && json_number_value(lit) < 0) {
                asl_diag(v, ASL_SCHEMA, lit_field, "Minimum value is 0.0");
                ok = false;
            } else if (ok && json_number_value(lit) > 100) {
                asl_diag(v, ASL_SCHEMA, lit_field, "Maximum value is 100.0");
                ok = false;
            }
            break;
        case LIT_STRING: ok = asl_expect(v, lit, ASL_T_STRING, lit_field); break;
        case LIT_TIMESTAMP:
            ok = asl_expect(v, lit, ASL_T_STRING, lit_field);
            if (ok && !sl_asl_timestamp_parse(json_string_value(lit), NULL, NULL)) {
                asl_diag(v, ASL_SCHEMA, lit_field,
                         "Value must be an RFC 3339 timestamp such as 2016-03-14T01:59:00Z");
                ok = false;
            }
            break;
        }
        if (ok) {
            out->present = true;
            out->literal = json_incref(lit);
        }
    } else if (path) {
        out->dynamic = compile_dynamic(v, path, path_field, rule, intrinsic_ok);
        out->present = out->dynamic != NULL;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Machine levels */

typedef struct {
    json_t *index; /* state name -> integer index at this level */
} level;

/* Resolves a transition target at this level; a missing one is MISSING_TRANSITION_TARGET. */
static int resolve(asl_vctx *v, const level *lvl, const json_t *val, const char *field) {
    if (!asl_expect(v, val, ASL_T_STRING, field)) return -1;
    json_t *i = json_object_get(lvl->index, json_string_value(val));
    if (!i) {
        asl_diag(v, ASL_MISSING_TRANSITION_TARGET, field, "Missing 'Next' target: %s",
                 json_string_value(val));
        return -1;
    }
    return (int)json_integer_value(i);
}

/* A field that must be a non-empty array: the array, or NULL with the diagnostic given. */
static json_t *required_array(asl_vctx *v, json_t *obj, const char *field) {
    json_t *arr = json_object_get(obj, field);
    if (!arr) {
        asl_diag(v, ASL_SCHEMA, NULL, "These fields are required: [%s]", field);
        return NULL;
    }
    if (!asl_expect(v, arr, ASL_T_ARRAY, field)) return NULL;
    if (json_array_size(arr) == 0) {
        asl_diag(v, ASL_SCHEMA, field, "Value cannot be empty");
        return NULL;
    }
    return arr;
}

static char **parse_error_equals(asl_vctx *v, json_t *obj, size_t *n, bool *has_all) {
    *n = 0;
    *has_all = false;
    json_t *arr = required_array(v, obj, "ErrorEquals");
    if (!arr) return NULL;
    char **errs = sl_xcalloc(json_array_size(arr), sizeof *errs);
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        if (!json_is_string(e)) {
            size_t mark = asl_where_push(v, "/ErrorEquals[%zu]", i);
            asl_expect(v, e, ASL_T_STRING, NULL);
            asl_where_pop(v, mark);
            continue;
        }
        if (!strcmp(json_string_value(e), "States.ALL")) *has_all = true;
        errs[(*n)++] = sl_xstrdup(json_string_value(e));
    }
    if (*has_all && json_array_size(arr) > 1)
        asl_diag(v, ASL_SCHEMA, "ErrorEquals",
                 "States.ALL must appear alone in an ErrorEquals array");
    return errs;
}

static void free_errors(char **errs, size_t n) {
    for (size_t i = 0; i < n; i++) free(errs[i]);
    free(errs);
}

static const char *const RETRY_FIELDS[] = {
    "ErrorEquals",     "IntervalSeconds", "MaxAttempts", "BackoffRate",
    "MaxDelaySeconds", "JitterStrategy",  "Comment",     NULL};
static const char *const CATCH_FIELDS[] = {"ErrorEquals", "Next", "ResultPath", "Comment", NULL};

static void parse_retry(asl_vctx *v, json_t *arr, sl_asl_state *st) {
    if (!asl_expect(v, arr, ASL_T_ARRAY, "Retry")) return;
    size_t n = json_array_size(arr);
    st->retriers = sl_xcalloc(n ? n : 1, sizeof *st->retriers);
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r) {
        size_t mark = asl_where_push(v, "/Retry[%zu]", i);
        sl_asl_retrier *rt = &st->retriers[st->nretriers++];
        rt->interval_seconds = 1;
        rt->max_attempts = 3;
        rt->backoff_rate = 2.0;
        if (!asl_expect(v, r, ASL_T_OBJECT, NULL)) goto next;
        asl_check_fields(v, r, RETRY_FIELDS);
        bool has_all;
        rt->errors = parse_error_equals(v, r, &rt->nerrors, &has_all);
        if (has_all && i + 1 < n)
            asl_diag(v, ASL_SCHEMA, "ErrorEquals",
                     "A retrier with States.ALL must be the last one in Retry");
        json_t *f;
        long long x;
        if ((f = json_object_get(r, "IntervalSeconds")) &&
            expect_int_range(v, f, "IntervalSeconds", 0, ASL_MAX_SECONDS, &x))
            rt->interval_seconds = (double)x;
        if ((f = json_object_get(r, "MaxAttempts")) &&
            expect_int_range(v, f, "MaxAttempts", 0, ASL_MAX_SECONDS, &x))
            rt->max_attempts = (int)x;
        if ((f = json_object_get(r, "BackoffRate")) &&
            asl_expect(v, f, ASL_T_NUMBER, "BackoffRate")) {
            if (json_number_value(f) < 1.0)
                asl_diag(v, ASL_SCHEMA, "BackoffRate", "Minimum value is 1.0");
            else rt->backoff_rate = json_number_value(f);
        }
        if ((f = json_object_get(r, "MaxDelaySeconds")) &&
            expect_int_range(v, f, "MaxDelaySeconds", 1, ASL_MAX_DELAY, &x))
            rt->max_delay_seconds = (double)x;
        if ((f = json_object_get(r, "JitterStrategy"))) {
            static const char *const J[] = {"FULL", "NONE", NULL};
            expect_enum(v, f, "JitterStrategy", J, "FULL, NONE");
            rt->jitter_full = json_is_string(f) && !strcmp(json_string_value(f), "FULL");
        }
        if ((f = json_object_get(r, "Comment"))) asl_expect(v, f, ASL_T_STRING, "Comment");
    next:
        asl_where_pop(v, mark);
    }
}

static void parse_catch(asl_vctx *v, const level *lvl, json_t *arr, sl_asl_state *st) {
    if (!asl_expect(v, arr, ASL_T_ARRAY, "Catch")) return;
    size_t n = json_array_size(arr);
    st->catchers = sl_xcalloc(n ? n : 1, sizeof *st->catchers);
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c) {
        size_t mark = asl_where_push(v, "/Catch[%zu]", i);
        sl_asl_catcher *ct = &st->catchers[st->ncatchers++];
        ct->next = -1;
        if (!asl_expect(v, c, ASL_T_OBJECT, NULL)) goto next;
        asl_check_fields(v, c, CATCH_FIELDS);
        bool has_all;
        ct->errors = parse_error_equals(v, c, &ct->nerrors, &has_all);
        if (has_all && i + 1 < n)
            asl_diag(v, ASL_SCHEMA, "ErrorEquals",
                     "A catcher with States.ALL must be the last one in Catch");
        json_t *f = json_object_get(c, "Next");
        if (!f) asl_diag(v, ASL_SCHEMA, NULL, "These fields are required: [Next]");
        else ct->next = resolve(v, lvl, f, "Next");
        parse_opt_path(v, c, "ResultPath", ASL_PATH_REFERENCE, &ct->result_path);
        if ((f = json_object_get(c, "Comment"))) asl_expect(v, f, ASL_T_STRING, "Comment");
    next:
        asl_where_pop(v, mark);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* States */

static const char *const PASS_FIELDS[] = {
    "Type",       "Comment",    "QueryLanguage", "InputPath", "OutputPath", "Result",
    "ResultPath", "Parameters", "Next",          "End",       NULL};
static const char *const TASK_FIELDS[] = {"Type",
                                          "Comment",
                                          "QueryLanguage",
                                          "InputPath",
                                          "OutputPath",
                                          "ResultPath",
                                          "Parameters",
                                          "ResultSelector",
                                          "Resource",
                                          "Credentials",
                                          "Retry",
                                          "Catch",
                                          "TimeoutSeconds",
                                          "TimeoutSecondsPath",
                                          "HeartbeatSeconds",
                                          "HeartbeatSecondsPath",
                                          "Next",
                                          "End",
                                          NULL};
static const char *const CHOICE_FIELDS[] = {"Type",       "Comment", "QueryLanguage", "InputPath",
                                            "OutputPath", "Choices", "Default",       NULL};
static const char *const WAIT_FIELDS[] = {
    "Type",      "Comment",     "QueryLanguage", "InputPath", "OutputPath", "Seconds",
    "Timestamp", "SecondsPath", "TimestampPath", "Next",      "End",        NULL};
static const char *const SUCCEED_FIELDS[] = {"Type",      "Comment",    "QueryLanguage",
                                             "InputPath", "OutputPath", NULL};
static const char *const FAIL_FIELDS[] = {"Type",  "Comment",   "QueryLanguage", "Error",
                                          "Cause", "ErrorPath", "CausePath",     NULL};
static const char *const PARALLEL_FIELDS[] = {
    "Type",       "Comment",    "QueryLanguage", "InputPath",
    "OutputPath", "ResultPath", "Parameters",    "ResultSelector",
    "Retry",      "Catch",      "Branches",      "Next",
    "End",        NULL};
static const char *const MAP_FIELDS[] = {"Type",
                                         "Comment",
                                         "QueryLanguage",
                                         "InputPath",
                                         "OutputPath",
                                         "ResultPath",
                                         "Parameters",
                                         "ResultSelector",
                                         "Retry",
                                         "Catch",
                                         "ItemProcessor",
                                         "Iterator",
                                         "ItemsPath",
                                         "ItemSelector",
                                         "ItemReader",
                                         "ItemBatcher",
                                         "ResultWriter",
                                         "MaxConcurrency",
                                         "MaxConcurrencyPath",
                                         "ToleratedFailurePercentage",
                                         "ToleratedFailurePercentagePath",
                                         "ToleratedFailureCount",
                                         "ToleratedFailureCountPath",
                                         "Label",
                                         "Next",
                                         "End",
                                         NULL};

static const char *const *const TYPE_FIELDS[] = {PASS_FIELDS,     TASK_FIELDS,    CHOICE_FIELDS,
                                                 WAIT_FIELDS,     SUCCEED_FIELDS, FAIL_FIELDS,
                                                 PARALLEL_FIELDS, MAP_FIELDS};

typedef enum {
    LEVEL_TOP,
    LEVEL_BRANCH,
    LEVEL_PROCESSOR,
} level_kind;

static sl_asl_machine *parse_machine(asl_vctx *v, json_t *obj, level_kind kind, int depth);
static void free_machine(sl_asl_machine *m);

static void check_query_language(asl_vctx *v, json_t *obj) {
    json_t *q = json_object_get(obj, "QueryLanguage");
    if (!q || !asl_expect(v, q, ASL_T_STRING, "QueryLanguage")) return;
    const char *s = json_string_value(q);
    if (!strcmp(s, "JSONPath")) return;
    if (!strcmp(s, "JSONata"))
        asl_diag(v, ASL_SCHEMA, "QueryLanguage",
                 "The JSONata query language is not supported: only JSONPath state machines "
                 "can be created here");
    else
        asl_diag(v, ASL_SCHEMA, "QueryLanguage",
                 "Value should be one of the following: [JSONata, JSONPath]");
}

/* Next / End of a state that transitions (Pass, Task, Wait, Parallel, Map). */
static void parse_transition(asl_vctx *v, const level *lvl, json_t *obj, sl_asl_state *st) {
    json_t *next = json_object_get(obj, "Next");
    json_t *end = json_object_get(obj, "End");
    if (end && !asl_expect(v, end, ASL_T_BOOLEAN, "End")) return;
    bool end_true = json_is_true(end);
    if (next && end_true) {
        asl_diag(v, ASL_SCHEMA, NULL,
                 "There should only be one of the following fields: [Next, End]");
        return;
    }
    if (!next && !end_true) {
        asl_diag(v, ASL_SCHEMA, NULL,
                 "This object should have only one of the following fields: [Next, End]");
        return;
    }
    if (end_true) st->end = true;
    else st->next = resolve(v, lvl, next, "Next");
}

static void parse_task(asl_vctx *v, json_t *obj, sl_asl_state *st) {
    json_t *res = json_object_get(obj, "Resource");
    if (!res) asl_diag(v, ASL_SCHEMA, NULL, "These fields are required: [Resource]");
    else if (asl_expect(v, res, ASL_T_STRING, "Resource"))
        st->resource = sl_xstrdup(json_string_value(res));
    json_t *cred = json_object_get(obj, "Credentials");
    if (cred) asl_expect(v, cred, ASL_T_OBJECT, "Credentials"); /* accepted, not used */
    parse_value(v, obj, "TimeoutSeconds", "TimeoutSecondsPath", LIT_INTEGER, 1, ASL_MAX_SECONDS,
                ASL_PATH_DEFINITE, false, &st->timeout_seconds);
    parse_value(v, obj, "HeartbeatSeconds", "HeartbeatSecondsPath", LIT_INTEGER, 1, ASL_MAX_SECONDS,
                ASL_PATH_DEFINITE, false, &st->heartbeat_seconds);
    if (st->timeout_seconds.literal && st->heartbeat_seconds.literal &&
        int_value(st->heartbeat_seconds.literal) >= int_value(st->timeout_seconds.literal))
        asl_diag(v, ASL_SCHEMA, "HeartbeatSeconds",
                 "HeartbeatSeconds must be smaller than TimeoutSeconds");
}

static void parse_wait(asl_vctx *v, json_t *obj, sl_asl_state *st) {
    static const char *const F[] = {"Seconds", "Timestamp", "SecondsPath", "TimestampPath"};
    int count = 0;
    for (size_t i = 0; i < 4; i++) count += json_object_get(obj, F[i]) != NULL;
    if (count == 0) {
        asl_diag(v, ASL_SCHEMA, NULL,
                 "This object should have only one of the following fields: [Seconds, "
                 "Timestamp, SecondsPath, TimestampPath]");
        return;
    }
    if (count > 1) {
        asl_diag(v, ASL_SCHEMA, NULL,
                 "There should only be one of the following fields: [Seconds, Timestamp, "
                 "SecondsPath, TimestampPath]");
        return;
    }
    parse_value(v, obj, "Seconds", "SecondsPath", LIT_INTEGER, 0, ASL_MAX_SECONDS,
                ASL_PATH_DEFINITE, false, &st->wait_seconds);
    parse_value(v, obj, "Timestamp", "TimestampPath", LIT_TIMESTAMP, 0, 0, ASL_PATH_DEFINITE, false,
                &st->wait_timestamp);
}

static void parse_fail(asl_vctx *v, json_t *obj, sl_asl_state *st) {
    parse_value(v, obj, "Error", "ErrorPath", LIT_STRING, 0, 0, ASL_PATH_ANY, true, &st->error);
    parse_value(v, obj, "Cause", "CausePath", LIT_STRING, 0, 0, ASL_PATH_ANY, true, &st->cause);
}

static void parse_parallel(asl_vctx *v, json_t *obj, sl_asl_state *st, int depth) {
    json_t *br = required_array(v, obj, "Branches");
    if (!br) return;
    if (depth >= ASL_MAX_NESTING) {
        asl_diag(v, ASL_SCHEMA, "Branches",
                 "Parallel and Map states may be nested at most %d levels deep", ASL_MAX_NESTING);
        return;
    }
    st->branches = sl_xcalloc(json_array_size(br), sizeof *st->branches);
    size_t i;
    json_t *b;
    json_array_foreach(br, i, b) {
        size_t mark = asl_where_push(v, "/Branches[%zu]", i);
        st->branches[st->nbranches++] = parse_machine(v, b, LEVEL_BRANCH, depth + 1);
        asl_where_pop(v, mark);
    }
}

static const char *const READER_FIELDS[] = {"Resource", "ReaderConfig", "Parameters", NULL};
static const char *const BATCHER_FIELDS[] = {
    "MaxItemsPerBatch",          "MaxItemsPerBatchPath", "MaxInputBytesPerBatch",
    "MaxInputBytesPerBatchPath", "BatchInput",           NULL};
static const char *const WRITER_FIELDS[] = {"Resource", "Parameters", "WriterConfig", NULL};

/* ItemReader / ItemBatcher / ResultWriter: kept as written, their templates compiled. */
static void parse_map_distributed(asl_vctx *v, json_t *obj, sl_asl_state *st) {
    json_t *f;
    if ((f = json_object_get(obj, "ItemReader")) && asl_expect(v, f, ASL_T_OBJECT, "ItemReader")) {
        size_t mark = asl_where_push(v, "/ItemReader");
        asl_check_fields(v, f, READER_FIELDS);
        json_t *r = json_object_get(f, "Resource");
        if (!r) asl_diag(v, ASL_SCHEMA, NULL, "These fields are required: [Resource]");
        else asl_expect(v, r, ASL_T_STRING, "Resource");
        json_t *rc = json_object_get(f, "ReaderConfig");
        if (rc && asl_expect(v, rc, ASL_T_OBJECT, "ReaderConfig")) {
            size_t m2 = asl_where_push(v, "/ReaderConfig");
            sl_asl_value tmp = {0};
            parse_value(v, rc, "MaxItems", "MaxItemsPath", LIT_INTEGER, 0, 100000000,
                        ASL_PATH_REFERENCE, false, &tmp);
            free_value(&tmp);
            asl_where_pop(v, m2);
        }
        json_t *p = json_object_get(f, "Parameters");
        if (p) st->item_reader_parameters = compile_template(v, p, "Parameters");
        st->item_reader = json_incref(f);
        asl_where_pop(v, mark);
    }
    if ((f = json_object_get(obj, "ItemBatcher")) &&
        asl_expect(v, f, ASL_T_OBJECT, "ItemBatcher")) {
        size_t mark = asl_where_push(v, "/ItemBatcher");
        asl_check_fields(v, f, BATCHER_FIELDS);
        sl_asl_value tmp = {0};
        parse_value(v, f, "MaxItemsPerBatch", "MaxItemsPerBatchPath", LIT_INTEGER, 0, ASL_INT_MAX,
                    ASL_PATH_REFERENCE, false, &tmp);
        free_value(&tmp);
        parse_value(v, f, "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath", LIT_INTEGER, 0,
                    ASL_INT_MAX, ASL_PATH_REFERENCE, false, &tmp);
        free_value(&tmp);
        json_t *bi = json_object_get(f, "BatchInput");
        if (bi) st->item_batcher_input = compile_template(v, bi, "BatchInput");
        st->item_batcher = json_incref(f);
        asl_where_pop(v, mark);
    }
    if ((f = json_object_get(obj, "ResultWriter")) &&
        asl_expect(v, f, ASL_T_OBJECT, "ResultWriter")) {
        size_t mark = asl_where_push(v, "/ResultWriter");
        asl_check_fields(v, f, WRITER_FIELDS);
        json_t *r = json_object_get(f, "Resource");
        if (r) asl_expect(v, r, ASL_T_STRING, "Resource");
        json_t *wc = json_object_get(f, "WriterConfig");
        if (wc) asl_expect(v, wc, ASL_T_OBJECT, "WriterConfig");
        json_t *p = json_object_get(f, "Parameters");
        if (p) st->result_writer_parameters = compile_template(v, p, "Parameters");
        st->result_writer = json_incref(f);
        asl_where_pop(v, mark);
    }
    parse_value(v, obj, "ToleratedFailureCount", "ToleratedFailureCountPath", LIT_INTEGER, 0,
                ASL_INT_MAX, ASL_PATH_REFERENCE, false, &st->tolerated_failure_count);
    parse_value(v, obj, "ToleratedFailurePercentage", "ToleratedFailurePercentagePath", LIT_PERCENT,
                0, 0, ASL_PATH_REFERENCE, false, &st->tolerated_failure_percentage);
}

static const char *const DISTRIBUTED_ONLY[] = {"ItemReader",
                                               "ItemBatcher",
                                               "ResultWriter",
                                               "ToleratedFailureCount",
                                               "ToleratedFailureCountPath",
                                               "ToleratedFailurePercentage",
                                               "ToleratedFailurePercentagePath",
                                               NULL};

static void parse_map(asl_vctx *v, json_t *obj, sl_asl_state *st, int depth) {
    json_t *proc = json_object_get(obj, "ItemProcessor");
    json_t *iter = json_object_get(obj, "Iterator");
    const char *pname = proc ? "ItemProcessor" : "Iterator";
    if (proc && iter) {
        asl_diag(v, ASL_SCHEMA, NULL,
                 "There should only be one of the following fields: [ItemProcessor, Iterator]");
        return;
    }
    if (!proc && !iter) {
        asl_diag(v, ASL_SCHEMA, NULL,
                 "This object should have only one of the following fields: [ItemProcessor, "
                 "Iterator]");
        return;
    }
    if (!proc) proc = iter;

    json_t *sel = json_object_get(obj, "ItemSelector");
    json_t *params = json_object_get(obj, "Parameters");
    if (sel && params)
        asl_diag(v, ASL_SCHEMA, NULL,
                 "There should only be one of the following fields: [ItemSelector, Parameters]");
    else if (sel || params)
        st->parameters =
            compile_template(v, sel ? sel : params, sel ? "ItemSelector" : "Parameters");

    json_t *items = json_object_get(obj, "ItemsPath");
    if (items) st->items_path.path = asl_compile_path(v, items, "ItemsPath", ASL_PATH_DEFINITE);
    parse_value(v, obj, "MaxConcurrency", "MaxConcurrencyPath", LIT_INTEGER, 0, ASL_INT_MAX,
                ASL_PATH_REFERENCE, false, &st->max_concurrency);
    json_t *label = json_object_get(obj, "Label");
    if (label && asl_expect(v, label, ASL_T_STRING, "Label"))
        st->label = sl_xstrdup(json_string_value(label));

    if (!asl_expect(v, proc, ASL_T_OBJECT, pname)) return;
    size_t mark = asl_where_push(v, "/%s", pname);
    json_t *cfg = json_object_get(proc, "ProcessorConfig");
    if (cfg && asl_expect(v, cfg, ASL_T_OBJECT, "ProcessorConfig")) {
        size_t m2 = asl_where_push(v, "/ProcessorConfig");
        static const char *const CFG_FIELDS[] = {"Mode", "ExecutionType", NULL};
        asl_check_fields(v, cfg, CFG_FIELDS);
        json_t *mode = json_object_get(cfg, "Mode");
        if (mode) {
            static const char *const M[] = {"INLINE", "DISTRIBUTED", NULL};
            expect_enum(v, mode, "Mode", M, "INLINE, DISTRIBUTED");
            st->distributed =
                json_is_string(mode) && !strcmp(json_string_value(mode), "DISTRIBUTED");
        }
        json_t *et = json_object_get(cfg, "ExecutionType");
        if (st->distributed && !et) {
            asl_diag(v, ASL_SCHEMA, NULL, "These fields are required: [ExecutionType]");
        } else if (!st->distributed && et) {
            asl_diag(v, ASL_SCHEMA, NULL, "Field 'ExecutionType' is not supported");
        } else if (et) {
            static const char *const E[] = {"STANDARD", "EXPRESS", NULL};
            expect_enum(v, et, "ExecutionType", E, "STANDARD, EXPRESS");
            if (json_is_string(et)) st->execution_type = sl_xstrdup(json_string_value(et));
        }
        asl_where_pop(v, m2);
    }
    if (depth >= ASL_MAX_NESTING)
        asl_diag(v, ASL_SCHEMA, NULL,
                 "Parallel and Map states may be nested at most %d levels deep", ASL_MAX_NESTING);
    else st->iterator = parse_machine(v, proc, LEVEL_PROCESSOR, depth + 1);
    asl_where_pop(v, mark);

    if (st->distributed) {
        parse_map_distributed(v, obj, st);
    } else {
        for (size_t i = 0; DISTRIBUTED_ONLY[i]; i++)
            if (json_object_get(obj, DISTRIBUTED_ONLY[i]))
                asl_diag(v, ASL_SCHEMA, NULL,
                         "Field '%s' is only supported by a Map state whose "
                         "ItemProcessor.ProcessorConfig.Mode is DISTRIBUTED",
                         DISTRIBUTED_ONLY[i]);
    }
}

static void parse_choice(asl_vctx *v, const level *lvl, json_t *obj, sl_asl_state *st) {
    json_t *def = json_object_get(obj, "Default");
    if (def) st->default_next = resolve(v, lvl, def, "Default");
    json_t *choices = required_array(v, obj, "Choices");
    if (!choices) return;
    st->choices = sl_xcalloc(json_array_size(choices), sizeof *st->choices);
    size_t i;
    json_t *c;
    json_array_foreach(choices, i, c) {
        size_t mark = asl_where_push(v, "/Choices[%zu]", i);
        sl_asl_choice *ch = &st->choices[st->nchoices++];
        ch->next = -1;
        ch->rule = rule_compile(v, c, true, 0);
        if (json_is_object(c)) {
            json_t *next = json_object_get(c, "Next");
            if (!next) asl_diag(v, ASL_SCHEMA, NULL, "These fields are required: [Next]");
            else ch->next = resolve(v, lvl, next, "Next");
        }
        asl_where_pop(v, mark);
    }
}

/* True when some string in v (object keys included) contains "$$": the value may read the
 * context object. Decoded strings are searched, so a "\u0024\u0024" escape counts too. */
static bool mentions_context(json_t *v) {
    switch (json_typeof(v)) {
    case JSON_STRING: return memmem(json_string_value(v), json_string_length(v), "$$", 2) != NULL;
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (mentions_context(x)) return true;
        return false;
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            if (strstr(k, "$$") || mentions_context(x)) return true;
        }
        return false;
    }
    default: return false;
    }
}

static void parse_state(asl_vctx *v, const level *lvl, json_t *obj, sl_asl_state *st, int depth) {
    if (!asl_expect(v, obj, ASL_T_OBJECT, NULL)) return;
    st->uses_context = mentions_context(obj);
    json_t *type = json_object_get(obj, "Type");
    if (!type) {
        asl_diag(v, ASL_SCHEMA, NULL, "These fields are required: [Type]");
        return;
    }
    if (!asl_expect(v, type, ASL_T_STRING, "Type")) return;
    size_t t = 0;
    while (t < sizeof TYPE_NAMES / sizeof *TYPE_NAMES &&
           strcmp(TYPE_NAMES[t], json_string_value(type)) != 0)
        t++;
    if (t == sizeof TYPE_NAMES / sizeof *TYPE_NAMES) {
        asl_diag(v, ASL_SCHEMA, "Type",
                 "Value should be one of the following: [Pass, Task, Choice, Wait, Succeed, "
                 "Fail, Parallel, Map]");
        return;
    }
    st->type = (sl_asl_type)t;
    asl_check_fields(v, obj, TYPE_FIELDS[t]);
    json_t *f;
    if ((f = json_object_get(obj, "Comment"))) asl_expect(v, f, ASL_T_STRING, "Comment");
    check_query_language(v, obj);

    /* the fields several types share (unsupported ones were reported above) */
    if (st->type != SL_ASL_FAIL) {
        parse_opt_path(v, obj, "InputPath", ASL_PATH_ANY, &st->input_path);
        parse_opt_path(v, obj, "OutputPath", ASL_PATH_ANY, &st->output_path);
    }
    if (st->type == SL_ASL_PASS || st->type == SL_ASL_TASK || st->type == SL_ASL_PARALLEL ||
        st->type == SL_ASL_MAP) {
        parse_opt_path(v, obj, "ResultPath", ASL_PATH_REFERENCE, &st->result_path);
        if (st->type != SL_ASL_MAP && (f = json_object_get(obj, "Parameters")))
            st->parameters = compile_template(v, f, "Parameters");
        if (st->type != SL_ASL_PASS && (f = json_object_get(obj, "ResultSelector")))
            st->result_selector = compile_template(v, f, "ResultSelector");
        parse_transition(v, lvl, obj, st);
    } else if (st->type == SL_ASL_WAIT) {
        parse_transition(v, lvl, obj, st);
    }
    if (st->type == SL_ASL_TASK || st->type == SL_ASL_PARALLEL || st->type == SL_ASL_MAP) {
        if ((f = json_object_get(obj, "Retry"))) parse_retry(v, f, st);
        if ((f = json_object_get(obj, "Catch"))) parse_catch(v, lvl, f, st);
    }

    switch (st->type) {
    case SL_ASL_PASS:
        if ((f = json_object_get(obj, "Result"))) st->result = json_incref(f);
        break;
    case SL_ASL_TASK: parse_task(v, obj, st); break;
    case SL_ASL_CHOICE: parse_choice(v, lvl, obj, st); break;
    case SL_ASL_WAIT: parse_wait(v, obj, st); break;
    case SL_ASL_SUCCEED: st->end = true; break;
    case SL_ASL_FAIL:
        st->end = true;
        parse_fail(v, obj, st);
        break;
    case SL_ASL_PARALLEL: parse_parallel(v, obj, st, depth); break;
    case SL_ASL_MAP: parse_map(v, obj, st, depth); break;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Names and the transition graph */

static void check_name(asl_vctx *v, const char *name) {
    size_t cps = 0;
    bool control = false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p & 0xC0) != 0x80) cps++;
        if (*p < 0x20 || *p == 0x7F) control = true;
        /* U+0080..U+009F: C2 80..C2 9F */
        if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) control = true;
    }
    if (cps == 0) asl_diag(v, ASL_INVALID_STATE_NAME, NULL, "State name cannot be empty");
    else if (cps > ASL_MAX_NAME)
        asl_diag(v, ASL_INVALID_STATE_NAME, NULL, "State name is longer than %d characters",
                 ASL_MAX_NAME);
    else if (control)
        asl_diag(v, ASL_INVALID_STATE_NAME, NULL, "State name contains a control character");
    if (json_object_get(v->names, name))
        asl_diag(v, ASL_DUPLICATE_STATE_NAME, NULL, "Duplicate State name: %s", name);
    else json_object_set_new(v->names, name, json_true());
}

static void add_edge(int to, int *stack, size_t *sp, unsigned char *seen) {
    if (to >= 0 && !seen[to]) {
        seen[to] = 1;
        stack[(*sp)++] = to;
    }
}

/* No terminal state at all is MISSING_END_STATE (and then nothing else is said about this
 * level, as in AWS); otherwise every state the start cannot reach is reported. */
static void check_graph(asl_vctx *v, const sl_asl_machine *m) {
    bool terminal = false;
    for (size_t i = 0; i < m->nstates; i++) terminal |= m->states[i].end;
    if (!terminal) {
        asl_diag(v, ASL_MISSING_END, ASL_NO_LOCATION, "Workflow has no terminal state");
        return;
    }
    unsigned char *seen = sl_xcalloc(m->nstates, 1);
    int *stack = sl_xcalloc(m->nstates, sizeof *stack);
    size_t sp = 0;
    add_edge(m->start, stack, &sp, seen);
    while (sp) {
        const sl_asl_state *st = &m->states[stack[--sp]];
        add_edge(st->next, stack, &sp, seen);
        add_edge(st->default_next, stack, &sp, seen);
        for (size_t c = 0; c < st->nchoices; c++) add_edge(st->choices[c].next, stack, &sp, seen);
        for (size_t c = 0; c < st->ncatchers; c++) add_edge(st->catchers[c].next, stack, &sp, seen);
    }
    for (size_t i = 0; i < m->nstates; i++) {
        if (seen[i]) continue;
        size_t mark = asl_where_push(v, "/States/%s", m->states[i].name);
        asl_diag(v, ASL_MISSING_TRANSITION_TARGET, NULL, "State \"%s\" is not reachable.",
                 m->states[i].name);
        asl_where_pop(v, mark);
    }
    free(seen);
    free(stack);
}

static const char *const TOP_FIELDS[] = {"Comment", "StartAt",       "States", "TimeoutSeconds",
                                         "Version", "QueryLanguage", NULL};
static const char *const BRANCH_FIELDS[] = {"Comment", "StartAt", "States", NULL};
static const char *const PROCESSOR_FIELDS[] = {"Comment", "StartAt", "States", "ProcessorConfig",
                                               NULL};

static sl_asl_machine *parse_machine(asl_vctx *v, json_t *obj, level_kind kind, int depth) {
    sl_asl_machine *m = sl_xcalloc(1, sizeof *m);
    m->start = -1;
    if (!asl_expect(v, obj, ASL_T_OBJECT, NULL)) return m;
    size_t errors_before = v->schema_errors;
    asl_check_fields(v, obj,
                     kind == LEVEL_TOP      ? TOP_FIELDS
                     : kind == LEVEL_BRANCH ? BRANCH_FIELDS
                                            : PROCESSOR_FIELDS);
    json_t *f;
    if ((f = json_object_get(obj, "Comment")) && asl_expect(v, f, ASL_T_STRING, "Comment"))
        m->comment = sl_xstrdup(json_string_value(f));
    if (kind == LEVEL_TOP) {
        if ((f = json_object_get(obj, "Version"))) {
            static const char *const V[] = {"1.0", NULL};
            expect_enum(v, f, "Version", V, "1.0");
        }
        long long t;
        if ((f = json_object_get(obj, "TimeoutSeconds")) &&
            expect_int_range(v, f, "TimeoutSeconds", 0, ASL_INT_MAX, &t))
            m->timeout_seconds = (double)t;
        check_query_language(v, obj);
    }

    json_t *start = json_object_get(obj, "StartAt");
    json_t *states = json_object_get(obj, "States");
    if (!start || !states) {
        asl_diag(v, ASL_SCHEMA, NULL, "These fields are required: [%s]",
                 !start && !states ? "StartAt, States"
                 : !start          ? "StartAt"
                                   : "States");
    }
    if (start) asl_expect(v, start, ASL_T_STRING, "StartAt");
    if (!states || !asl_expect(v, states, ASL_T_OBJECT, "States")) return m;
    if (json_object_size(states) == 0) {
        asl_diag(v, ASL_SCHEMA, "States", "Value cannot be empty");
        return m;
    }

    level lvl = {json_object()};
    m->states = sl_xcalloc(json_object_size(states), sizeof *m->states);
    const char *name;
    json_t *sobj;
    json_object_foreach(states, name, sobj) {
        sl_asl_state *st = &m->states[m->nstates];
        st->name = sl_xstrdup(name);
        st->next = -1;
        st->default_next = -1;
        json_object_set_new(lvl.index, name, json_integer((json_int_t)m->nstates));
        m->nstates++;
        size_t mark = asl_where_push(v, "/States/%s", name);
        check_name(v, name);
        asl_where_pop(v, mark);
    }
    if (json_is_string(start)) m->start = resolve(v, &lvl, start, "StartAt");

    size_t i = 0;
    json_object_foreach(states, name, sobj) {
        size_t mark = asl_where_push(v, "/States/%s", name);
        parse_state(v, &lvl, sobj, &m->states[i++], depth);
        asl_where_pop(v, mark);
    }
    json_decref(lvl.index);
    if (v->schema_errors == errors_before) check_graph(v, m);
    return m;
}

/* ---------------------------------------------------------------------------------------- */
/* Freeing */

static void free_state(sl_asl_state *st) {
    free(st->name);
    sl_jsonpath_free(st->input_path.path);
    sl_jsonpath_free(st->output_path.path);
    sl_jsonpath_free(st->result_path.path);
    sl_payload_free(st->parameters);
    sl_payload_free(st->result_selector);
    json_decref(st->result);
    free(st->resource);
    free_value(&st->timeout_seconds);
    free_value(&st->heartbeat_seconds);
    for (size_t i = 0; i < st->nretriers; i++)
        free_errors(st->retriers[i].errors, st->retriers[i].nerrors);
    free(st->retriers);
    for (size_t i = 0; i < st->ncatchers; i++) {
        free_errors(st->catchers[i].errors, st->catchers[i].nerrors);
        sl_jsonpath_free(st->catchers[i].result_path.path);
    }
    free(st->catchers);
    for (size_t i = 0; i < st->nchoices; i++) rule_free(st->choices[i].rule);
    free(st->choices);
    free_value(&st->wait_seconds);
    free_value(&st->wait_timestamp);
    free_value(&st->error);
    free_value(&st->cause);
    for (size_t i = 0; i < st->nbranches; i++) free_machine(st->branches[i]);
    free(st->branches);
    free_machine(st->iterator);
    sl_jsonpath_free(st->items_path.path);
    free_value(&st->max_concurrency);
    free(st->execution_type);
    json_decref(st->item_reader);
    sl_payload_free(st->item_reader_parameters);
    json_decref(st->item_batcher);
    sl_payload_free(st->item_batcher_input);
    json_decref(st->result_writer);
    sl_payload_free(st->result_writer_parameters);
    free_value(&st->tolerated_failure_count);
    free_value(&st->tolerated_failure_percentage);
    free(st->label);
}

static void free_machine(sl_asl_machine *m) {
    if (!m) return;
    for (size_t i = 0; i < m->nstates; i++) free_state(&m->states[i]);
    free(m->states);
    free(m->comment);
    free(m);
}

void sl_asl_free(sl_asl_machine *m) { free_machine(m); }

/* ---------------------------------------------------------------------------------------- */
/* Entry points */

/* Validates and builds; the machine only when there is no diagnostic. */
static sl_asl_machine *build(const char *definition, json_t **diags_out) {
    asl_vctx v = {.diags = json_array(), .names = json_object()};
    sl_buf_init(&v.where);
    sl_buf_puts(&v.where, "");
    sl_asl_machine *m = NULL;
    size_t len = definition ? strlen(definition) : 0;
    size_t ws = strspn(definition ? definition : "", " \t\r\n");
    if (!definition || ws == len) {
        asl_diag(&v, "MISSING_DESCRIPTION", ASL_NO_LOCATION,
                 "Received a null or empty workflow input");
    } else if (len > ASL_MAX_DEFINITION) {
        asl_diag(&v, ASL_SCHEMA, ASL_NO_LOCATION,
                 "The definition is %zu bytes long; the maximum is %d bytes", len,
                 ASL_MAX_DEFINITION);
    } else {
        json_error_t e;
        json_t *root = json_loads(definition, JSON_REJECT_DUPLICATES, &e);
        if (!root) {
            asl_diag(&v, "INVALID_JSON_DESCRIPTION", ASL_NO_LOCATION,
                     "Invalid JSON: %s at line %d, column %d", e.text, e.line, e.column);
        } else {
            m = parse_machine(&v, root, LEVEL_TOP, 0);
            json_decref(root);
        }
    }
    if (json_array_size(v.diags)) {
        free_machine(m);
        m = NULL;
    }
    json_decref(v.names);
    sl_buf_free(&v.where);
    *diags_out = v.diags;
    return m;
}

sl_asl_machine *sl_asl_compile(const char *definition, char *err, size_t errlen) {
    json_t *diags;
    sl_asl_machine *m = build(definition, &diags);
    if (!m && err && errlen) {
        sl_buf b;
        sl_buf_init(&b);
        sl_buf_puts(&b, "Invalid State Machine Definition: '");
        size_t i;
        json_t *d;
        json_array_foreach(diags, i, d) {
            json_t *loc = json_object_get(d, "location");
            sl_buf_printf(&b, "%s%s: %s at %s", i ? ", " : "",
                          json_string_value(json_object_get(d, "code")),
                          json_string_value(json_object_get(d, "message")),
                          loc ? json_string_value(loc) : "null");
        }
        sl_buf_putc(&b, '\'');
        /* truncate on a character boundary */
        size_t n = 0;
        while (n < b.len) {
            size_t k = utf8_seq((const unsigned char *)b.data + n, b.len - n);
            if (!k || n + k >= errlen) break;
            n += k;
        }
        memcpy(err, b.data, n);
        err[n] = 0;
        sl_buf_free(&b);
    } else if (err && errlen) {
        err[0] = 0;
    }
    json_decref(diags);
    return m;
}

json_t *sl_asl_diagnose(const char *definition) {
    json_t *diags;
    sl_asl_machine *m = build(definition, &diags);
    free_machine(m);
    return diags;
}

int sl_asl_find(const sl_asl_machine *m, const char *name) {
    if (!m || !name) return -1;
    for (size_t i = 0; i < m->nstates; i++)
        if (!strcmp(m->states[i].name, name)) return (int)i;
    return -1;
}

int sl_asl_each_task(const sl_asl_machine *m, int (*fn)(const sl_asl_state *st, void *ctx),
                     void *ctx) {
    if (!m) return 0;
    for (size_t i = 0; i < m->nstates; i++) {
        const sl_asl_state *st = &m->states[i];
        int rc = 0;
        if (st->type == SL_ASL_TASK) rc = fn(st, ctx);
        for (size_t b = 0; !rc && b < st->nbranches; b++)
            rc = sl_asl_each_task(st->branches[b], fn, ctx);
        if (!rc && st->iterator) rc = sl_asl_each_task(st->iterator, fn, ctx);
        if (rc) return rc;
    }
    return 0;
}

bool sl_asl_error_matches(char *const *errors, size_t nerrors, const char *error_name) {
    if (!error_name || !strcmp(error_name, SL_STATES_RUNTIME)) return false;
    bool terminal = !strcmp(error_name, "States.DataLimitExceeded");
    for (size_t i = 0; i < nerrors; i++) {
        if (!errors[i]) continue;
        if (!strcmp(errors[i], error_name)) return true;
        if (terminal) continue;
        if (!strcmp(errors[i], "States.ALL")) return true;
        if (!strcmp(errors[i], "States.TaskFailed") && strcmp(error_name, "States.Timeout") != 0)
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------------------------------- */
/* Timestamps: the RFC 3339 profile ASL uses (uppercase T and Z, or a numeric offset; optional
 * fraction of up to 9 digits), turned into an instant so offsets compare correctly. */

static bool digits(const char *s, int n, int *out) {
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        x = x * 10 + (s[i] - '0');
    }
    *out = x;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static long long days_from_civil(long long y, int m, int d) {
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool sl_asl_timestamp_parse(const char *s, long long *epoch_seconds, long *nanos) {
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 20) return false;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
        !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap)) return false;
    if (h > 23 || mi > 59 || sec > 59) return false;
    const char *p = s + 19;
    long ns = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (p[n] >= '0' && p[n] <= '9') n++;
        if (n == 0 || n > 9) return false;
        for (int i = 0; i < 9; i++) ns = ns * 10 + (i < n ? p[i] - '0' : 0);
        p += n;
    }
    long long offset = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset = (oh * 3600LL + om * 60LL) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p) return false;
    if (epoch_seconds)
        *epoch_seconds = days_from_civil(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + sec - offset;
    if (nanos) *nanos = ns;
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Choice rules: compiled once, evaluated per Choice state entry. */

typedef enum {
    F_STRING,
    F_NUMERIC,
    F_BOOLEAN,
    F_TIMESTAMP,
    F_MATCHES,
    F_IS_NULL,
    F_IS_PRESENT,
    F_IS_NUMERIC,
    F_IS_STRING,
    F_IS_BOOLEAN,
    F_IS_TIMESTAMP,
} op_family;

typedef enum {
    REL_EQ,
    REL_LT,
    REL_GT,
    REL_LE,
    REL_GE,
} op_rel;

typedef struct {
    const char *name;
    op_family fam;
    op_rel rel;
    bool path; /* the *Path form: the operand is another path */
} op_def;

static const op_def OPS[] = {
    {"StringEquals", F_STRING, REL_EQ, false},
    {"StringEqualsPath", F_STRING, REL_EQ, true},
    {"StringLessThan", F_STRING, REL_LT, false},
    {"StringLessThanPath", F_STRING, REL_LT, true},
    {"StringGreaterThan", F_STRING, REL_GT, false},
    {"StringGreaterThanPath", F_STRING, REL_GT, true},
    {"StringLessThanEquals", F_STRING, REL_LE, false},
    {"StringLessThanEqualsPath", F_STRING, REL_LE, true},
    {"StringGreaterThanEquals", F_STRING, REL_GE, false},
    {"StringGreaterThanEqualsPath", F_STRING, REL_GE, true},
    {"StringMatches", F_MATCHES, REL_EQ, false},
    {"NumericEquals", F_NUMERIC, REL_EQ, false},
    {"NumericEqualsPath", F_NUMERIC, REL_EQ, true},
    {"NumericLessThan", F_NUMERIC, REL_LT, false},
    {"NumericLessThanPath", F_NUMERIC, REL_LT, true},
    {"NumericGreaterThan", F_NUMERIC, REL_GT, false},
    {"NumericGreaterThanPath", F_NUMERIC, REL_GT, true},
    {"NumericLessThanEquals", F_NUMERIC, REL_LE, false},
    {"NumericLessThanEqualsPath", F_NUMERIC, REL_LE, true},
    {"NumericGreaterThanEquals", F_NUMERIC, REL_GE, false},
    {"NumericGreaterThanEqualsPath", F_NUMERIC, REL_GE, true},
    {"BooleanEquals", F_BOOLEAN, REL_EQ, false},
    {"BooleanEqualsPath", F_BOOLEAN, REL_EQ, true},
    {"TimestampEquals", F_TIMESTAMP, REL_EQ, false},
    {"TimestampEqualsPath", F_TIMESTAMP, REL_EQ, true},
    {"TimestampLessThan", F_TIMESTAMP, REL_LT, false},
    {"TimestampLessThanPath", F_TIMESTAMP, REL_LT, true},
    {"TimestampGreaterThan", F_TIMESTAMP, REL_GT, false},
    {"TimestampGreaterThanPath", F_TIMESTAMP, REL_GT, true},
    {"TimestampLessThanEquals", F_TIMESTAMP, REL_LE, false},
    {"TimestampLessThanEqualsPath", F_TIMESTAMP, REL_LE, true},
    {"TimestampGreaterThanEquals", F_TIMESTAMP, REL_GE, false},
    {"TimestampGreaterThanEqualsPath", F_TIMESTAMP, REL_GE, true},
    {"IsNull", F_IS_NULL, REL_EQ, false},
    {"IsPresent", F_IS_PRESENT, REL_EQ, false},
    {"IsNumeric", F_IS_NUMERIC, REL_EQ, false},
    {"IsString", F_IS_STRING, REL_EQ, false},
    {"IsBoolean", F_IS_BOOLEAN, REL_EQ, false},
    {"IsTimestamp", F_IS_TIMESTAMP, REL_EQ, false},
};
#define NOPS (sizeof OPS / sizeof *OPS)

typedef enum {
    RK_AND,
    RK_OR,
    RK_NOT,
    RK_CMP,
} rule_kind;

struct sl_asl_rule {
    rule_kind kind;
    const op_def *op;
    sl_jsonpath *var;   /* Variable */
    sl_jsonpath *other; /* *Path operand */
    json_t *lit;        /* literal operand */
    long long ts_sec;   /* Timestamp* literal as an instant */
    long ts_nsec;
    int *pattern; /* StringMatches: bytes, or -1 for an unescaped '*' */
    size_t npattern;
    sl_asl_rule **kids; /* And / Or / Not */
    size_t nkids;
};

static void rule_free(sl_asl_rule *r) {
    if (!r) return;
    sl_jsonpath_free(r->var);
    sl_jsonpath_free(r->other);
    json_decref(r->lit);
    free(r->pattern);
    for (size_t i = 0; i < r->nkids; i++) rule_free(r->kids[i]);
    free(r->kids);
    free(r);
}

/* `*` is a wildcard; `\*` a literal star and `\\` a backslash. Any other backslash is kept as
 * written (AWS documents only those two escapes). */
static void compile_pattern(sl_asl_rule *r, const char *s, size_t n) {
    r->pattern = sl_xcalloc(n ? n : 1, sizeof *r->pattern);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' && i + 1 < n && (s[i + 1] == '*' || s[i + 1] == '\\'))
            r->pattern[r->npattern++] = (unsigned char)s[++i];
        else if (c == '*') r->pattern[r->npattern++] = -1;
        else r->pattern[r->npattern++] = c;
    }
}

static bool rule_literal(asl_vctx *v, sl_asl_rule *r, json_t *lit) {
    const char *name = r->op->name;
    if (r->op->path) {
        r->other = asl_compile_path(v, lit, name, ASL_PATH_DEFINITE);
        return r->other != NULL;
    }
    switch (r->op->fam) {
    case F_STRING:
    case F_MATCHES:
        if (!asl_expect(v, lit, ASL_T_STRING, name)) return false;
        if (r->op->fam == F_MATCHES)
            compile_pattern(r, json_string_value(lit), json_string_length(lit));
        break;
    case F_NUMERIC:
        if (!asl_expect(v, lit, ASL_T_NUMBER, name)) return false;
        break;
    case F_TIMESTAMP:
        if (!asl_expect(v, lit, ASL_T_STRING, name)) return false;
        if (!sl_asl_timestamp_parse(json_string_value(lit), &r->ts_sec, &r->ts_nsec)) {
            asl_diag(v, ASL_SCHEMA, name,
                     "Value must be an RFC 3339 timestamp such as 2016-03-14T01:59:00Z");
            return false;
        }
        break;
    default: /* BooleanEquals and the Is* tests take a boolean */
        if (!asl_expect(v, lit, ASL_T_BOOLEAN, name)) return false;
        break;
    }
    r->lit = json_incref(lit);
    return true;
}

static sl_asl_rule *rule_compile(asl_vctx *v, json_t *obj, bool top, int depth) {
    if (!asl_expect(v, obj, ASL_T_OBJECT, NULL)) return NULL;
    if (depth >= ASL_MAX_RULE_DEPTH) {
        asl_diag(v, ASL_SCHEMA, NULL, "Choice rules may be nested at most %d levels deep",
                 ASL_MAX_RULE_DEPTH);
        return NULL;
    }
    static const char *const SEL[] = {"And", "Or", "Not", "Variable"};
    const char *sel = NULL;
    int nsel = 0;
    const op_def *op = NULL;
    int nops = 0;
    bool bad = false;
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        bool known = false;
        for (size_t i = 0; i < 4; i++)
            if (!strcmp(key, SEL[i])) sel = SEL[i], nsel++, known = true;
        for (size_t i = 0; i < NOPS && !known; i++)
            if (!strcmp(key, OPS[i].name)) op = &OPS[i], nops++, known = true;
        if (known || !strcmp(key, "Comment")) continue;
        if (!strcmp(key, "Next") && top) continue;
        bad = true;
        if (jsonata_only(key))
            asl_diag(v, ASL_SCHEMA, NULL,
                     "The QueryLanguage is set to 'JSONPath', but field '%s' is only supported "
                     "for the 'JSONata' QueryLanguage",
                     key);
        else asl_diag(v, ASL_SCHEMA, NULL, "Field '%s' is not supported", key);
    }
    json_t *comment = json_object_get(obj, "Comment");
    if (comment) asl_expect(v, comment, ASL_T_STRING, "Comment");
    if (bad) return NULL; /* an unknown field says more than a count of what is left */
    if (nsel != 1) {
        asl_diag(v, ASL_SCHEMA, NULL,
                 "The object must have only one of the following fields, [And, Or, Not, "
                 "Variable]");
        return NULL;
    }
    sl_asl_rule *r = sl_xcalloc(1, sizeof *r);
    json_t *x = json_object_get(obj, sel);
    if (!strcmp(sel, "Variable")) {
        r->kind = RK_CMP;
        r->var = asl_compile_path(v, x, "Variable", ASL_PATH_DEFINITE);
        if (nops == 0) {
            asl_diag(v, ASL_SCHEMA, NULL,
                     "A choice rule with a Variable needs one comparison operator, such as "
                     "StringEquals, NumericLessThan or IsPresent");
            bad = true;
        } else if (nops > 1) {
            asl_diag(v, ASL_SCHEMA, NULL,
                     "There should only be one comparison operator in a choice rule");
            bad = true;
        } else {
            r->op = op;
            bad |= !rule_literal(v, r, json_object_get(obj, op->name));
        }
        bad |= r->var == NULL;
    } else {
        for (size_t i = 0; i < NOPS; i++)
            if (json_object_get(obj, OPS[i].name)) {
                asl_diag(v, ASL_SCHEMA, NULL, "Field '%s' is not supported", OPS[i].name);
                bad = true;
            }
        if (!strcmp(sel, "Not")) {
            r->kind = RK_NOT;
            r->kids = sl_xcalloc(1, sizeof *r->kids);
            size_t mark = asl_where_push(v, "/Not");
            r->kids[0] = rule_compile(v, x, false, depth + 1);
            asl_where_pop(v, mark);
            r->nkids = 1;
            bad |= r->kids[0] == NULL;
        } else {
            r->kind = !strcmp(sel, "And") ? RK_AND : RK_OR;
            if (!asl_expect(v, x, ASL_T_ARRAY, sel)) {
                bad = true;
            } else if (json_array_size(x) == 0) {
                asl_diag(v, ASL_SCHEMA, sel, "Value cannot be empty");
                bad = true;
            } else {
                r->kids = sl_xcalloc(json_array_size(x), sizeof *r->kids);
                size_t i;
                json_t *k;
                json_array_foreach(x, i, k) {
                    size_t mark = asl_where_push(v, "/%s[%zu]", sel, i);
                    r->kids[r->nkids] = rule_compile(v, k, false, depth + 1);
                    bad |= r->kids[r->nkids++] == NULL;
                    asl_where_pop(v, mark);
                }
            }
        }
    }
    if (bad) {
        rule_free(r);
        return NULL;
    }
    return r;
}

/* Java's String.compareTo: UTF-16 code unit order (a supplementary character sorts before
 * U+E000..U+FFFF, unlike plain code point order). Inputs are valid UTF-8 (jansson checks). */
typedef struct {
    const unsigned char *p, *end;
    unsigned low; /* pending low surrogate, or 0 */
} u16iter;

static long u16_next(u16iter *it) {
    if (it->low) {
        unsigned u = it->low;
        it->low = 0;
        return u;
    }
    if (it->p >= it->end) return -1;
    unsigned c = *it->p++;
    unsigned cp;
    int more = 0;
    if (c < 0x80) cp = c;
    else if (c < 0xE0) cp = c & 0x1F, more = 1;
    else if (c < 0xF0) cp = c & 0x0F, more = 2;
    else cp = c & 0x07, more = 3;
    while (more-- && it->p < it->end) cp = (cp << 6) | (*it->p++ & 0x3F);
    if (cp >= 0x10000) {
        cp -= 0x10000;
        it->low = 0xDC00 + (cp & 0x3FF);
        return 0xD800 + (cp >> 10);
    }
    return cp;
}

static int string_cmp(const json_t *a, const json_t *b) {
    u16iter x = {(const unsigned char *)json_string_value(a), NULL, 0};
    u16iter y = {(const unsigned char *)json_string_value(b), NULL, 0};
    x.end = x.p + json_string_length(a);
    y.end = y.p + json_string_length(b);
    for (;;) {
        long u = u16_next(&x), w = u16_next(&y);
        if (u != w) return u < w ? -1 : 1;
        if (u < 0) return 0;
    }
}

static int number_cmp(const json_t *a, const json_t *b) {
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    double x = json_number_value(a), y = json_number_value(b);
    return x < y ? -1 : x > y;
}

static bool rel_holds(op_rel rel, int c) {
    switch (rel) {
    case REL_EQ: return c == 0;
    case REL_LT: return c < 0;
    case REL_GT: return c > 0;
    case REL_LE: return c <= 0;
    case REL_GE: return c >= 0;
    }
    return false;
}

/* Glob match over bytes with backtracking to the last star: linear in practice. */
static bool pattern_match(const int *pat, size_t np, const char *s, size_t ns) {
    size_t p = 0, i = 0, star = (size_t)-1, mark = 0;
    while (i < ns) {
        if (p < np && pat[p] >= 0 && pat[p] == (unsigned char)s[i]) {
            p++, i++;
        } else if (p < np && pat[p] < 0) {
            star = p++;
            mark = i;
        } else if (star != (size_t)-1) {
            p = star + 1;
            i = ++mark;
        } else {
            return false;
        }
    }
    while (p < np && pat[p] < 0) p++;
    return p == np;
}

static bool is_timestamp(const json_t *v, long long *sec, long *nsec) {
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) &&
           sl_asl_timestamp_parse(json_string_value(v), sec, nsec);
}

static int invalid_path(const sl_jsonpath *p, const char **error_name, char *cause,
                        size_t causelen) {
    if (error_name) *error_name = SL_STATES_RUNTIME;
    if (cause && causelen)
        snprintf(cause, causelen,
                 "Invalid path '%s': The choice state's condition path references an invalid "
                 "value.",
                 sl_jsonpath_text(p));
    return -1;
}

/* 1 true, 0 false, -1 error (error_name and cause set). */
static int rule_eval(const sl_asl_rule *r, json_t *input, json_t *context, const char **error_name,
                     char *cause, size_t causelen) {
    if (r->kind != RK_CMP) {
        for (size_t i = 0; i < r->nkids; i++) {
            int k = rule_eval(r->kids[i], input, context, error_name, cause, causelen);
            if (k < 0) return k;
            if (r->kind == RK_NOT) return !k;
            if (r->kind == RK_AND && !k) return 0;
            if (r->kind == RK_OR && k) return 1;
        }
        return r->kind == RK_AND;
    }
    const op_family fam = r->op->fam;
    json_t *val = sl_jsonpath_eval(r->var, input, context, NULL, 0);
    if (!val) {
        /* a missing variable: every Is* test is false (so IsPresent: false holds) */
        if (fam >= F_IS_NULL) return !json_is_true(r->lit);
        return invalid_path(r->var, error_name, cause, causelen);
    }
    int res = 0;
    json_t *rhs = r->lit;
    json_t *owned = NULL;
    if (r->op->path) {
        owned = rhs = sl_jsonpath_eval(r->other, input, context, NULL, 0);
        if (!rhs) {
            json_decref(val);
            return invalid_path(r->other, error_name, cause, causelen);
        }
    }
    long long s1, s2;
    long n1, n2;
    switch (fam) {
    case F_STRING:
        if (json_is_string(val) && json_is_string(rhs))
            res = rel_holds(r->op->rel, string_cmp(val, rhs));
        break;
    case F_NUMERIC:
        if (json_is_number(val) && json_is_number(rhs))
            res = rel_holds(r->op->rel, number_cmp(val, rhs));
        break;
    case F_BOOLEAN:
        res =
            json_is_boolean(val) && json_is_boolean(rhs) && json_is_true(val) == json_is_true(rhs);
        break;
    case F_TIMESTAMP:
        if (!is_timestamp(val, &s1, &n1)) break;
        if (r->op->path) {
            if (!is_timestamp(rhs, &s2, &n2)) break;
        } else {
            s2 = r->ts_sec, n2 = r->ts_nsec;
        }
        res = rel_holds(r->op->rel, s1 != s2 ? (s1 < s2 ? -1 : 1) : (n1 > n2) - (n1 < n2));
        break;
    case F_MATCHES:
        res = json_is_string(val) && pattern_match(r->pattern, r->npattern, json_string_value(val),
                                                   json_string_length(val));
        break;
    case F_IS_NULL: res = json_is_null(val) == json_is_true(rhs); break;
    case F_IS_PRESENT: res = json_is_true(rhs); break;
    case F_IS_NUMERIC: res = json_is_number(val) == json_is_true(rhs); break;
    case F_IS_STRING: res = json_is_string(val) == json_is_true(rhs); break;
    case F_IS_BOOLEAN: res = json_is_boolean(val) == json_is_true(rhs); break;
    case F_IS_TIMESTAMP: res = is_timestamp(val, NULL, NULL) == json_is_true(rhs); break;
    }
    json_decref(val);
    json_decref(owned);
    return res;
}

int sl_asl_choose(const sl_asl_state *choice, json_t *input, json_t *context,
                  const char **error_name, char *cause, size_t causelen) {
    if (cause && causelen) cause[0] = 0;
    for (size_t i = 0; i < choice->nchoices; i++) {
        int k = rule_eval(choice->choices[i].rule, input, context, error_name, cause, causelen);
        if (k < 0) return -1;
        if (k) return choice->choices[i].next;
    }
    if (choice->default_next >= 0) return choice->default_next;
    if (error_name) *error_name = "States.NoChoiceMatched";
    if (cause && causelen)
        snprintf(cause, causelen,
                 "No Choice Rule matched the input in the state '%s' and it has no Default",
                 choice->name ? choice->name : "");
    return -1;
}
