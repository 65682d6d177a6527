/* filter: SNS subscription filter policies. A policy is an EventBridge-style pattern (the
 * events/pattern compiler does the matching): for scope MessageAttributes it is matched
 * against the message attributes turned into a JSON object (String values as strings, Number
 * values as numbers, String.Array values as arrays whose elements match one by one, Binary
 * attributes left out, as SNS ignores them); for scope MessageBody against the message body,
 * which must then be a JSON object. SNS's own limits are checked here: at most 5 keys per
 * policy and at most 150 value combinations; MessageAttributes policies are flat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/pattern.h"
#include "sns/sns_internal.h"

#define POLICY_MAX_KEYS         5
#define POLICY_MAX_COMBINATIONS 150
#define POLICY_MAX_BYTES        (256 * 1024)

struct sns_filter {
    sl_pattern *pattern;
    bool body;
};

/* Leaf keys and value combinations of a policy object (SNS counts both). Returns false with
 * err when an attributes-scope policy nests an object. */
static bool policy_measure(const json_t *obj, bool body, int depth, size_t *keys, size_t *combos,
                           char *err, size_t errlen) {
    const char *k;
    json_t *v;
    size_t product = 1;
    json_object_foreach((json_t *)obj, k, v) {
        if (!strcmp(k, "$or") && json_is_array(v)) {
            size_t sum = 0, i;
            json_t *alt;
            json_array_foreach(v, i, alt) {
                size_t c = 1;
                if (json_is_object(alt) && !policy_measure(alt, body, depth, keys, &c, err, errlen))
                    return false;
                sum += c;
            }
            product *= sum ? sum : 1;
        } else if (json_is_object(v)) {
            if (!body) {
                snprintf(err, errlen,
                         "Invalid parameter: FilterPolicy: Filter policy scope MessageAttributes "
                         "does not support nested filter policy");
                return false;
            }
            size_t c = 1;
            if (!policy_measure(v, body, depth + 1, keys, &c, err, errlen)) return false;
            product *= c;
        } else {
            (*keys)++;
            size_t n = json_is_array(v) ? json_array_size(v) : 1;
            product *= n ? n : 1;
        }
        if (product > POLICY_MAX_COMBINATIONS) product = POLICY_MAX_COMBINATIONS + 1;
    }
    *combos = product;
    return true;
}

sns_filter *sns_filter_compile(const char *policy, bool body, char *err, size_t errlen) {
    size_t len = strlen(policy);
    if (len > POLICY_MAX_BYTES) {
        snprintf(err, errlen, "Invalid parameter: FilterPolicy: Filter policy is too long");
        return NULL;
    }
    json_error_t je;
    json_t *doc = json_loadb(policy, len, 0, &je);
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "Invalid parameter: FilterPolicy: %s",
                 doc ? "Filter policy must be a JSON object" : "failed to parse JSON");
        json_decref(doc);
        return NULL;
    }
    size_t keys = 0, combos = 1;
    bool ok = policy_measure(doc, body, 0, &keys, &combos, err, errlen);
    json_decref(doc);
    if (!ok) return NULL;
    if (keys > POLICY_MAX_KEYS) {
        snprintf(err, errlen,
                 "Invalid parameter: FilterPolicy: Filter policy can not have more "
                 "than %d keys",
                 POLICY_MAX_KEYS);
        return NULL;
    }
    if (combos > POLICY_MAX_COMBINATIONS) {
        snprintf(err, errlen,
                 "Invalid parameter: FilterPolicy: Filter policy is too complex (more than %d "
                 "value combinations)",
                 POLICY_MAX_COMBINATIONS);
        return NULL;
    }
    char perr[512];
    sl_pattern *p = sl_pattern_compile(policy, len, perr, sizeof perr);
    if (!p) {
        static const char lead[] = "Event pattern is not valid. Reason: ";
        const char *reason = strncmp(perr, lead, sizeof lead - 1) ? perr : perr + sizeof lead - 1;
        snprintf(err, errlen, "Invalid parameter: FilterPolicy: %s", reason);
        return NULL;
    }
    sns_filter *f = sl_xcalloc(1, sizeof *f);
    f->pattern = p;
    f->body = body;
    return f;
}

json_t *sns_filter_attributes_doc(const json_t *attributes) {
    json_t *doc = json_object();
    const char *name;
    json_t *a;
    json_object_foreach((json_t *)attributes, name, a) {
        const char *type = json_string_value(json_object_get(a, "DataType"));
        const char *value = json_string_value(json_object_get(a, "StringValue"));
        if (!type || !value) continue;
        if (!strncmp(type, "Number", 6)) {
            json_t *n = json_loads(value, JSON_DECODE_ANY, NULL);
            if (!json_is_number(n)) {
                json_decref(n);
                n = json_real(strtod(value, NULL));
            }
            json_object_set_new(doc, name, n);
        } else if (!strncmp(type, "String.Array", 12)) {
            json_t *arr = json_loads(value, JSON_DECODE_ANY, NULL);
            json_object_set_new(doc, name, arr ? arr : json_string(value));
        } else if (!strncmp(type, "String", 6)) {
            json_object_set_new(doc, name, json_string(value));
        }
    }
    return doc;
}

bool sns_filter_match(const sns_filter *f, const json_t *attributes, const char *body) {
    if (f->body) {
        json_t *doc = body ? json_loads(body, 0, NULL) : NULL;
        bool ok = json_is_object(doc) && sl_pattern_match(f->pattern, doc);
        json_decref(doc);
        return ok;
    }
    json_t *doc = sns_filter_attributes_doc(attributes);
    bool ok = sl_pattern_match(f->pattern, doc);
    json_decref(doc);
    return ok;
}

void sns_filter_free(sns_filter *f) {
    if (!f) return;
    sl_pattern_free(f->pattern);
    free(f);
}
