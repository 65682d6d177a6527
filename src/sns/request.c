/* request: SNS's Query parameters turned into values, and the checks SNS makes on them before
 * anything is stored. Pure (no store, no HTTP), so every parser here has table-driven unit
 * tests and a fuzz target. Messages in err are SNS's own wording where AWS documents one. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "sns/sns_internal.h"

#define MESSAGE_ATTRIBUTES_MAX 10
#define NAME_MAX_LEN           256

json_t *sns_form_map(const sl_form *f, const char *prefix, char *err, size_t errlen) {
    json_t *map = json_object();
    for (size_t i = 1;; i++) {
        const char *k = sl_form_getf(f, "%s.entry.%zu.key", prefix, i);
        const char *v = sl_form_getf(f, "%s.entry.%zu.value", prefix, i);
        if (!k && !v) break;
        if (!k || !v) {
            snprintf(err, errlen, "Invalid parameter: %s entry %zu has no %s", prefix, i,
                     k ? "value" : "key");
            json_decref(map);
            return NULL;
        }
        json_object_set_new(map, k, json_string(v));
    }
    return map;
}

static bool attribute_name_valid(const char *n) {
    size_t len = strlen(n);
    if (!len || len > NAME_MAX_LEN || n[0] == '.' || n[len - 1] == '.') return false;
    if (!strncasecmp(n, "AWS.", 4) || !strncasecmp(n, "Amazon.", 7)) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)n[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.') return false;
        if (c == '.' && n[i + 1] == '.') return false;
    }
    return true;
}

/* The base of a data type: "String", "Number", "Binary" or "String.Array", each optionally
 * followed by ".custom" (AWS allows custom type suffixes). NULL when not one of them. */
static const char *data_type_base(const char *t) {
    static const char *const bases[] = {"String.Array", "String", "Number", "Binary"};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        size_t n = strlen(bases[i]);
        if (!strncmp(t, bases[i], n) && (t[n] == 0 || (t[n] == '.' && t[n + 1]))) return bases[i];
    }
    return NULL;
}

static bool number_valid(const char *s) {
    char *end;
    errno = 0;
    if (!*s || isspace((unsigned char)*s)) return false;
    (void)strtod(s, &end);
    return *end == 0;
}

/* Checks one message attribute as SNS does; returns the attribute's JSON ({"DataType",
 * "StringValue"|"BinaryValue"}) or NULL with SNS's message in err. */
static json_t *attribute_checked(const char *name, const char *type, const char *sv, const char *bv,
                                 char *err, size_t errlen) {
    if (!name || !attribute_name_valid(name)) {
        snprintf(err, errlen,
                 "The message attribute name '%.256s' is invalid: names are 1 to 256 "
                 "characters of A-Z, a-z, 0-9, '_', '-' and '.', not starting with AWS. or "
                 "Amazon., not starting or ending with '.', without '..'.",
                 name ? name : "");
        return NULL;
    }
    if (!type || !*type) {
        snprintf(err, errlen,
                 "The message attribute '%s' must contain non-empty message attribute type.", name);
        return NULL;
    }
    const char *base = data_type_base(type);
    if (!base) {
        snprintf(err, errlen,
                 "The message attribute '%s' has an invalid message attribute type, the set of "
                 "supported type prefixes is Binary, Number, and String.",
                 name);
        return NULL;
    }
    bool binary = !strcmp(base, "Binary");
    const char *value = binary ? bv : sv;
    if (!value || (!binary && !*value)) {
        snprintf(err, errlen,
                 "The message attribute '%s' must contain non-empty message attribute value for "
                 "message attribute type '%s'.",
                 name, base);
        return NULL;
    }
    if (!strcmp(base, "Number") && !number_valid(value)) {
        snprintf(err, errlen, "Could not cast message attribute '%s' value to number.", name);
        return NULL;
    }
    if (!strcmp(base, "String.Array")) {
        json_t *arr = json_loads(value, JSON_DECODE_ANY, NULL);
        bool ok = json_is_array(arr);
        json_decref(arr);
        if (!ok) {
            snprintf(err, errlen,
                     "The message attribute '%s' with type 'String.Array' must be a JSON array.",
                     name);
            return NULL;
        }
    }
    return json_pack("{s:s,s:s}", "DataType", type, binary ? "BinaryValue" : "StringValue", value);
}

static bool attributes_count_ok(size_t n, char *err, size_t errlen) {
    if (n <= MESSAGE_ATTRIBUTES_MAX) return true;
    snprintf(err, errlen, "Number of message attributes [%zu] exceeds the allowed maximum [%d].", n,
             MESSAGE_ATTRIBUTES_MAX);
    return false;
}

json_t *sns_form_message_attributes(const sl_form *f, const char *prefix, char *err,
                                    size_t errlen) {
    json_t *out = json_object();
    size_t n = 0;
    while (sl_form_getf(f, "%s.entry.%zu.Name", prefix, n + 1) ||
           sl_form_getf(f, "%s.entry.%zu.Value.DataType", prefix, n + 1))
        n++;
    if (!attributes_count_ok(n, err, errlen)) goto fail;
    for (size_t i = 1; i <= n; i++) {
        const char *name = sl_form_getf(f, "%s.entry.%zu.Name", prefix, i);
        json_t *a = attribute_checked(
            name, sl_form_getf(f, "%s.entry.%zu.Value.DataType", prefix, i),
            sl_form_getf(f, "%s.entry.%zu.Value.StringValue", prefix, i),
            sl_form_getf(f, "%s.entry.%zu.Value.BinaryValue", prefix, i), err, errlen);
        if (!a) goto fail;
        json_object_set_new(out, name, a);
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

json_t *sl_sns_message_attributes(const json_t *in, char *err, size_t errlen) {
    if (in && !json_is_object(in)) {
        snprintf(err, errlen,
                 "MessageAttributes must be an object of name: {DataType, "
                 "StringValue | BinaryValue}");
        return NULL;
    }
    if (!attributes_count_ok(json_object_size(in), err, errlen)) return NULL;
    json_t *out = json_object();
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)in, name, v) {
        json_t *a =
            attribute_checked(name, json_string_value(json_object_get(v, "DataType")),
                              json_string_value(json_object_get(v, "StringValue")),
                              json_string_value(json_object_get(v, "BinaryValue")), err, errlen);
        if (!a) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, name, a);
    }
    return out;
}

json_t *sns_form_tags(const sl_form *f, const char *prefix, char *err, size_t errlen) {
    json_t *tags = json_array();
    for (size_t i = 1;; i++) {
        const char *k = sl_form_getf(f, "%s.member.%zu.Key", prefix, i);
        const char *v = sl_form_getf(f, "%s.member.%zu.Value", prefix, i);
        if (!k && !v) break;
        if (!k || !*k || strlen(k) > 128) {
            snprintf(err, errlen, "Invalid parameter: Tag keys must be 1 to 128 characters");
            goto fail;
        }
        if (!v || strlen(v) > 256) {
            snprintf(err, errlen, "Invalid parameter: Tag values must be 0 to 256 characters");
            goto fail;
        }
        /* a key given twice keeps its last value, as TagResource does */
        size_t j;
        json_t *t;
        bool replaced = false;
        json_array_foreach(tags, j, t) {
            if (!strcmp(json_string_value(json_object_get(t, "Key")), k)) {
                json_object_set_new(t, "Value", json_string(v));
                replaced = true;
            }
        }
        if (!replaced) json_array_append_new(tags, json_pack("{s:s,s:s}", "Key", k, "Value", v));
    }
    return tags;
fail:
    json_decref(tags);
    return NULL;
}

json_t *sns_form_list(const sl_form *f, const char *prefix) {
    json_t *list = json_array();
    const char *v;
    for (size_t i = 1; (v = sl_form_getf(f, "%s.member.%zu", prefix, i)); i++)
        json_array_append_new(list, json_string(v));
    return list;
}

bool sns_topic_name_valid(const char *name, bool fifo) {
    size_t len = strlen(name);
    if (!len || len > 256) return false;
    if (fifo) {
        if (len <= 5 || strcmp(name + len - 5, ".fifo") != 0) return false;
        len -= 5;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '_' && c != '-') return false;
    }
    return true;
}

bool sns_topic_arn_parse(const char *arn, const char **name) {
    if (!arn || strncmp(arn, "arn:", 4) != 0) return false;
    const char *p = arn + 4;
    /* partition, service, region, account, name */
    const char *fields[5];
    for (int i = 0; i < 5; i++) {
        fields[i] = p;
        if (i == 4) break;
        p = strchr(p, ':');
        if (!p) return false;
        p++;
    }
    if (strncmp(fields[1], "sns:", 4) != 0) return false;
    if (!*fields[4] || strchr(fields[4], ':')) return false;
    *name = fields[4];
    return sns_topic_name_valid(fields[4], sl_str_has_suffix(fields[4], ".fifo"));
}

json_t *sns_message_structure_parse(const char *message, char *err, size_t errlen) {
    json_error_t je;
    json_t *m = json_loads(message, 0, &je);
    if (!json_is_object(m)) {
        snprintf(err, errlen,
                 "Invalid parameter: Message Structure - JSON message body failed "
                 "to parse");
        json_decref(m);
        return NULL;
    }
    if (!json_is_string(json_object_get(m, "default"))) {
        snprintf(err, errlen,
                 "Invalid parameter: Message Structure - No default entry in JSON message body");
        json_decref(m);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        if (!json_is_string(v)) {
            snprintf(err, errlen,
                     "Invalid parameter: Message Structure - the value of '%.64s' is not a string",
                     k);
            json_decref(m);
            return NULL;
        }
    }
    return m;
}
