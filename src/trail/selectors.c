/* selectors: validation and matching of CloudTrail event selectors. Rules follow the
 * CloudTrail API reference (AdvancedFieldSelector, PutEventSelectors):
 *   - basic: at most 5 selectors, ReadWriteType ReadOnly|WriteOnly|All, at most 250
 *     DataResources values in all, AWS::S3::Object values are ARN prefixes;
 *   - advanced: eventCategory is required (Equals Management|Data|NetworkActivity); data
 *     selectors need exactly one resources.type (Equals); readOnly, eventCategory and
 *     resources.type take Equals only; a field at most once per selector; management
 *     selectors may use eventCategory, readOnly and eventSource only; resources.ARN values of
 *     Equals, NotEquals, StartsWith and NotStartsWith are ARNs; 500 values at most in all. */
#include "trail/selectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define MAX_BASIC_SELECTORS    5
#define MAX_DATA_RESOURCES     250
#define MAX_ADVANCED_VALUES    500
#define MAX_OPERATOR_VALUE_LEN 2048
#define MAX_FIELD_LEN          1000
#define MAX_SELECTOR_NAME_LEN  1000

typedef enum {
    OP_EQUALS,
    OP_STARTS,
    OP_ENDS,
    OP_NOT_EQUALS,
    OP_NOT_STARTS,
    OP_NOT_ENDS,
    OP_N
} op;

static const char *const op_names[OP_N] = {"Equals",    "StartsWith",    "EndsWith",
                                           "NotEquals", "NotStartsWith", "NotEndsWith"};

#define OPS_ALL      0x3Fu
#define OPS_EQ       (1u << OP_EQUALS)
#define OPS_EQ_OR_NE ((1u << OP_EQUALS) | (1u << OP_NOT_EQUALS))

typedef enum {
    F_EVENT_CATEGORY,
    F_READ_ONLY,
    F_EVENT_SOURCE,
    F_EVENT_NAME,
    F_EVENT_TYPE,
    F_RESOURCES_TYPE,
    F_RESOURCES_ARN,
    F_ERROR_CODE,
    F_USER_ARN,
    F_SESSION_FROM_CONSOLE,
    F_VPC_ENDPOINT,
} field;

static const struct {
    const char *name;
    field f;
    unsigned ops;    /* operators the field takes */
    bool management; /* allowed in a Management selector */
} fields[] = {
    {"eventCategory", F_EVENT_CATEGORY, OPS_EQ, true},
    {"readOnly", F_READ_ONLY, OPS_EQ, true},
    {"eventSource", F_EVENT_SOURCE, OPS_ALL, true},
    {"eventName", F_EVENT_NAME, OPS_ALL, false},
    {"eventType", F_EVENT_TYPE, OPS_ALL, false},
    {"resources.type", F_RESOURCES_TYPE, OPS_EQ, false},
    {"resources.ARN", F_RESOURCES_ARN, OPS_ALL, false},
    {"errorCode", F_ERROR_CODE, OPS_ALL, false},
    {"userIdentity.arn", F_USER_ARN, OPS_ALL, false},
    {"sessionCredentialFromConsole", F_SESSION_FROM_CONSOLE, OPS_EQ_OR_NE, false},
    {"vpcEndpointId", F_VPC_ENDPOINT, OPS_ALL, false},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

typedef struct {
    field f;
    char **values[OP_N];
    size_t nvalues[OP_N];
} condition;

typedef struct {
    condition *conds;
    size_t nconds;
} advanced_selector;

typedef struct {
    bool reads, writes;
    char **prefixes; /* AWS::S3::Object ARN prefixes */
    size_t nprefixes;
} basic_selector;

struct sl_trail_selectors {
    basic_selector *basic;
    size_t nbasic;
    advanced_selector *adv;
    size_t nadv;
};

void sl_trail_selectors_free(sl_trail_selectors *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nbasic; i++) {
        for (size_t j = 0; j < s->basic[i].nprefixes; j++) free(s->basic[i].prefixes[j]);
        free(s->basic[i].prefixes);
    }
    free(s->basic);
    for (size_t i = 0; i < s->nadv; i++) {
        for (size_t c = 0; c < s->adv[i].nconds; c++)
            for (int o = 0; o < OP_N; o++) {
                for (size_t v = 0; v < s->adv[i].conds[c].nvalues[o]; v++)
                    free(s->adv[i].conds[c].values[o][v]);
                free(s->adv[i].conds[c].values[o]);
            }
        free(s->adv[i].conds);
    }
    free(s->adv);
    free(s);
}

/* ---- basic selectors ---- */

static bool compile_basic(sl_trail_selectors *s, const json_t *sel, char *err, size_t n) {
    if (!json_is_array(sel) || json_array_size(sel) > MAX_BASIC_SELECTORS) {
        snprintf(err, n, "EventSelectors must be a list of at most 5 selectors.");
        return false;
    }
    s->basic = sl_xcalloc(json_array_size(sel) + 1, sizeof *s->basic);
    size_t total = 0, i;
    json_t *js;
    json_array_foreach(sel, i, js) {
        basic_selector *b = &s->basic[s->nbasic++];
        if (!json_is_object(js)) {
            snprintf(err, n, "Each event selector must be an object.");
            return false;
        }
        json_t *rwj = json_object_get(js, "ReadWriteType");
        const char *rw = json_string_value(rwj);
        if ((rwj && !rw) ||
            (rw && strcmp(rw, "ReadOnly") && strcmp(rw, "WriteOnly") && strcmp(rw, "All"))) {
            snprintf(err, n, "ReadWriteType must be ReadOnly, WriteOnly or All.");
            return false;
        }
        b->reads = !rw || strcmp(rw, "WriteOnly") != 0;
        b->writes = !rw || strcmp(rw, "ReadOnly") != 0;
        json_t *resources = json_object_get(js, "DataResources");
        if (resources && !json_is_array(resources)) {
            snprintf(err, n, "DataResources must be a list.");
            return false;
        }
        size_t j;
        json_t *dr;
        json_array_foreach(resources, j, dr) {
            const char *type = json_string_value(json_object_get(dr, "Type"));
            if (!type) {
                snprintf(err, n, "DataResources need a Type.");
                return false;
            }
            json_t *values = json_object_get(dr, "Values");
            if (values && !json_is_array(values)) {
                snprintf(err, n, "DataResources.Values must be a list.");
                return false;
            }
            bool s3_object = strcmp(type, "AWS::S3::Object") == 0;
            size_t k;
            json_t *v;
            json_array_foreach(values, k, v) {
                const char *val = json_string_value(v);
                if (++total > MAX_DATA_RESOURCES) {
                    snprintf(err, n, "A trail can have at most 250 data resources.");
                    return false;
                }
                if (!val || (s3_object && strncmp(val, "arn:", 4) != 0)) {
                    snprintf(err, n, "Value %.200s for parameter DataResources.Values is invalid.",
                             val ? val : "null");
                    return false;
                }
                if (!s3_object) continue; /* other resource types: valid, never logged here */
                b->prefixes = sl_xrealloc(b->prefixes, (b->nprefixes + 1) * sizeof *b->prefixes);
                b->prefixes[b->nprefixes++] = sl_xstrdup(val);
            }
        }
    }
    return true;
}

static bool basic_matches(const basic_selector *b, const sl_trail_event *e) {
    if (!(e->read_only ? b->reads : b->writes)) return false;
    if (!e->resource_type || strcmp(e->resource_type, "AWS::S3::Object") != 0 || !e->resource_arn)
        return false;
    for (size_t i = 0; i < b->nprefixes; i++) {
        const char *p = b->prefixes[i];
        /* "arn:aws:s3" (or "arn:aws:s3:::") selects every bucket. */
        if (!strcmp(p, "arn:aws:s3") || !strcmp(p, "arn:aws:s3:::") ||
            sl_str_has_prefix(e->resource_arn, p))
            return true;
    }
    return false;
}

/* ---- advanced selectors ---- */

static int field_index(const char *name) {
    for (size_t i = 0; i < NFIELDS; i++)
        if (!strcmp(fields[i].name, name)) return (int)i;
    return -1;
}

static bool field_name_ok(const char *s) {
    size_t len = strlen(s);
    if (!len || len > MAX_FIELD_LEN) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '|'))
            return false;
    return true;
}

/* The single value of an Equals-only condition, or NULL when it has several. */
static const char *only_value(const condition *c) {
    return c->nvalues[OP_EQUALS] == 1 ? c->values[OP_EQUALS][0] : NULL;
}

static bool compile_condition(condition *c, const json_t *fs, const char *fname, int fi,
                              size_t *total, char *err, size_t n) {
    c->f = fields[fi].f;
    bool any = false;
    for (int o = 0; o < OP_N; o++) {
        json_t *vals = json_object_get(fs, op_names[o]);
        if (!vals) continue;
        if (!json_is_array(vals) || !json_array_size(vals)) {
            snprintf(err, n, "The %s operator of field %.100s must be a non-empty list of values.",
                     op_names[o], fname);
            return false;
        }
        if (!(fields[fi].ops & (1u << o))) {
            snprintf(err, n, "Field %.100s does not support the %s operator%s.", fname, op_names[o],
                     fields[fi].ops == OPS_EQ ? "; use Equals" : "");
            return false;
        }
        any = true;
        c->values[o] = sl_xcalloc(json_array_size(vals), sizeof *c->values[o]);
        size_t k;
        json_t *v;
        json_array_foreach(vals, k, v) {
            const char *s = json_string_value(v);
            if (!s || !*s || strlen(s) > MAX_OPERATOR_VALUE_LEN) {
                snprintf(err, n, "Values of field %.100s must be strings of 1 to 2048 characters.",
                         fname);
                return false;
            }
            if (++*total > MAX_ADVANCED_VALUES) {
                snprintf(err, n,
                         "Advanced event selectors can have at most 500 values in all conditions.");
                return false;
            }
            if (c->f == F_RESOURCES_ARN && o != OP_ENDS && o != OP_NOT_ENDS &&
                strncmp(s, "arn:", 4) != 0) {
                snprintf(err, n,
                         "Value %.200s for field resources.ARN with operator %s is not an ARN.", s,
                         op_names[o]);
                return false;
            }
            c->values[o][c->nvalues[o]++] = sl_xstrdup(s);
        }
    }
    if (!any) {
        snprintf(err, n,
                 "Field %.100s needs at least one operator (Equals, StartsWith, EndsWith, "
                 "NotEquals, NotStartsWith or NotEndsWith).",
                 fname);
        return false;
    }
    return true;
}

/* Checks what a selector's category demands once all its conditions are read. */
static bool check_selector(const condition *by_field[], char *err, size_t n) {
    const condition *cat = by_field[F_EVENT_CATEGORY];
    const char *category = cat ? only_value(cat) : NULL;
    if (!cat) {
        snprintf(err, n, "Each advanced event selector needs an eventCategory field.");
        return false;
    }
    if (!category || (strcmp(category, "Management") && strcmp(category, "Data") &&
                      strcmp(category, "NetworkActivity"))) {
        snprintf(err, n,
                 "eventCategory must be Equals one of Management, Data or NetworkActivity.");
        return false;
    }
    const condition *ro = by_field[F_READ_ONLY];
    if (ro) {
        const char *v = only_value(ro);
        if (!v || (strcmp(v, "true") && strcmp(v, "false"))) {
            snprintf(err, n, "readOnly must be Equals true or false.");
            return false;
        }
    }
    if (!strcmp(category, "Management")) {
        for (size_t i = 0; i < NFIELDS; i++)
            if (by_field[fields[i].f] && !fields[i].management) {
                snprintf(err, n,
                         "Field %s cannot be used in a selector for management events (use "
                         "eventCategory, readOnly and eventSource).",
                         fields[i].name);
                return false;
            }
        return true;
    }
    if (!strcmp(category, "Data")) {
        const condition *rt = by_field[F_RESOURCES_TYPE];
        if (!rt || !only_value(rt)) {
            snprintf(err, n,
                     "A selector for data events needs one resources.type (Equals, one "
                     "value, such as AWS::S3::Object).");
            return false;
        }
        const char *t = only_value(rt);
        if (strncmp(t, "AWS::", 5) != 0 || !strstr(t + 5, "::")) {
            snprintf(err, n, "resources.type %.200s is not a resource type.", t);
            return false;
        }
        return true;
    }
    /* NetworkActivity: the event source names the service whose VPC endpoint is watched. */
    if (!by_field[F_EVENT_SOURCE] || !by_field[F_EVENT_SOURCE]->nvalues[OP_EQUALS]) {
        snprintf(err, n, "A selector for network activity events needs eventSource Equals.");
        return false;
    }
    if (by_field[F_RESOURCES_TYPE] || by_field[F_RESOURCES_ARN]) {
        snprintf(err, n, "A selector for network activity events cannot use resources fields.");
        return false;
    }
    return true;
}

static bool compile_advanced(sl_trail_selectors *s, const json_t *adv, char *err, size_t n) {
    if (!json_is_array(adv)) {
        snprintf(err, n, "AdvancedEventSelectors must be a list.");
        return false;
    }
    s->adv = sl_xcalloc(json_array_size(adv) + 1, sizeof *s->adv);
    size_t total = 0, i;
    json_t *js;
    json_array_foreach(adv, i, js) {
        advanced_selector *a = &s->adv[s->nadv++];
        json_t *name = json_object_get(js, "Name");
        if (!json_is_object(js) ||
            (name && (!json_is_string(name) || json_string_length(name) > MAX_SELECTOR_NAME_LEN))) {
            snprintf(err, n,
                     "Each advanced event selector is an object with an optional Name "
                     "(at most 1000 characters) and FieldSelectors.");
            return false;
        }
        json_t *fsl = json_object_get(js, "FieldSelectors");
        if (!json_is_array(fsl) || !json_array_size(fsl)) {
            snprintf(err, n, "Each advanced event selector needs at least one field selector.");
            return false;
        }
        a->conds = sl_xcalloc(json_array_size(fsl), sizeof *a->conds);
        const condition *by_field[F_VPC_ENDPOINT + 1] = {0};
        size_t j;
        json_t *fs;
        json_array_foreach(fsl, j, fs) {
            const char *fname = json_string_value(json_object_get(fs, "Field"));
            if (!fname || !field_name_ok(fname)) {
                snprintf(err, n, "Each field selector needs a Field (letters, digits, '.', '_').");
                return false;
            }
            int fi = field_index(fname);
            if (fi < 0) {
                snprintf(err, n, "Field %.100s is not a valid field for advanced event selectors.",
                         fname);
                return false;
            }
            if (by_field[fields[fi].f]) {
                snprintf(err, n, "Field %.100s appears more than once in one selector.", fname);
                return false;
            }
            condition *c = &a->conds[a->nconds++];
            if (!compile_condition(c, fs, fname, fi, &total, err, n)) return false;
            by_field[c->f] = c;
        }
        if (!check_selector(by_field, err, n)) return false;
    }
    return true;
}

sl_trail_selectors *sl_trail_selectors_compile(const json_t *basic, const json_t *advanced,
                                               char *err, size_t errlen) {
    sl_trail_selectors *s = sl_xcalloc(1, sizeof *s);
    if ((basic && !json_is_null(basic) && !compile_basic(s, basic, err, errlen)) ||
        (advanced && !json_is_null(advanced) && !compile_advanced(s, advanced, err, errlen))) {
        sl_trail_selectors_free(s);
        return NULL;
    }
    return s;
}

static const char *field_value(const sl_trail_event *e, field f) {
    switch (f) {
    case F_EVENT_CATEGORY: return e->event_category;
    case F_READ_ONLY: return e->read_only ? "true" : "false";
    case F_EVENT_SOURCE: return e->event_source;
    case F_EVENT_NAME: return e->event_name;
    case F_EVENT_TYPE: return e->event_type;
    case F_RESOURCES_TYPE: return e->resource_type;
    case F_RESOURCES_ARN: return e->resource_arn;
    case F_ERROR_CODE: return e->error_code;
    case F_USER_ARN: return e->user_arn;
    case F_SESSION_FROM_CONSOLE: return NULL; /* Sluice has no console sessions */
    case F_VPC_ENDPOINT: return NULL;
    }
    return NULL;
}

static bool value_hits(op o, const char *have, const char *want) {
    switch (o) {
    case OP_EQUALS:
    case OP_NOT_EQUALS: return !strcmp(have, want);
    case OP_STARTS:
    case OP_NOT_STARTS: return sl_str_has_prefix(have, want);
    case OP_ENDS:
    case OP_NOT_ENDS: return sl_str_has_suffix(have, want);
    case OP_N: break;
    }
    return false;
}

/* Equals/StartsWith/EndsWith: some value hits; Not*: no value hits. Every operator present
 * must hold. */
static bool condition_holds(const condition *c, const sl_trail_event *e) {
    const char *have = field_value(e, c->f);
    for (int o = 0; o < OP_N; o++) {
        if (!c->nvalues[o]) continue;
        bool negated = o >= OP_NOT_EQUALS;
        bool hit = false;
        for (size_t v = 0; have && v < c->nvalues[o] && !hit; v++)
            hit = value_hits((op)o, have, c->values[o][v]);
        if (hit == negated) return false;
    }
    return true;
}

bool sl_trail_selectors_match(const sl_trail_selectors *s, const sl_trail_event *e) {
    if (!s) return false;
    for (size_t i = 0; i < s->nbasic; i++)
        if (basic_matches(&s->basic[i], e)) return true;
    for (size_t i = 0; i < s->nadv; i++) {
        bool all = true;
        for (size_t c = 0; c < s->adv[i].nconds && all; c++)
            all = condition_holds(&s->adv[i].conds[c], e);
        if (all) return true;
    }
    return false;
}
