/* transform: what a target receives. Input (constant JSON), InputPath (a JSONPath into the
 * event) or InputTransformer (InputPathsMap + InputTemplate), else the whole event. Template
 * placement follows AWS: a placeholder inside a JSON string is replaced by the value's text
 * (a string without its quotes, anything else as JSON), escaped for the string; outside a
 * string it is replaced by the value as JSON. Predefined placeholders: <aws.events.event>,
 * <aws.events.event.json>, <aws.events.rule-arn>, <aws.events.rule-name>,
 * <aws.events.event.ingestion-time>. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "events/events_internal.h"
#include "states/jsonpath.h"

static json_t *eval_path(const char *path, const json_t *event, char *err, size_t errlen) {
    sl_jsonpath *jp = sl_jsonpath_compile(path, err, errlen);
    if (!jp) return NULL;
    json_t *v = sl_jsonpath_eval(jp, (json_t *)event, NULL, err, errlen);
    sl_jsonpath_free(jp);
    return v;
}

/* Appends s as the inside of a JSON string literal. */
static void append_escaped(sl_buf *b, const char *s) {
    json_t *str = json_string(s);
    char *dumped = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
    if (dumped) sl_buf_append(b, dumped + 1, strlen(dumped) - 2);
    free(dumped);
    json_decref(str);
}

static void append_value(sl_buf *b, const json_t *v, bool in_string) {
    if (in_string) {
        if (!v || json_is_null(v)) return;
        if (json_is_string(v)) {
            append_escaped(b, json_string_value(v));
        } else {
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            append_escaped(b, text);
            free(text);
        }
        return;
    }
    if (!v) {
        sl_buf_puts(b, "null");
        return;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    sl_buf_puts(b, text);
    free(text);
}

static char *apply_template(const json_t *xf, const json_t *event, const char *rule_arn,
                            const char *rule_name, char *err, size_t errlen) {
    const char *tpl = json_string_value(json_object_get(xf, "InputTemplate"));
    json_t *paths = json_object_get(xf, "InputPathsMap");
    json_t *values = json_object();
    const char *name;
    json_t *path;
    json_object_foreach(paths, name, path) {
        char perr[256];
        json_t *v = eval_path(json_string_value(path), event, perr, sizeof perr);
        json_object_set_new(values, name, v ? v : json_null());
    }
    /* A template that is not a JSON object or array (a bare string) places every value as text. */
    const char *first = tpl + strspn(tpl, " \t\r\n");
    bool json_template = *first == '{' || *first == '[';
    sl_buf out;
    sl_buf_init(&out);
    bool in_string = false, escaped = false;
    for (const char *p = tpl; *p; p++) {
        if (*p == '<') {
            const char *close = strchr(p, '>');
            if (close) {
                char key[256];
                size_t n = (size_t)(close - p - 1);
                if (n < sizeof key) {
                    memcpy(key, p + 1, n);
                    key[n] = 0;
                    bool known = true;
                    bool place_text = in_string || !json_template;
                    json_t *v = json_object_get(values, key);
                    if (v) {
                        append_value(&out, json_is_null(v) ? NULL : v, place_text);
                    } else if (!strcmp(key, "aws.events.event") ||
                               !strcmp(key, "aws.events.event.json")) {
                        append_value(&out, event, place_text);
                    } else if (!strcmp(key, "aws.events.rule-arn")) {
                        json_t *s = json_string(rule_arn);
                        append_value(&out, s, place_text);
                        json_decref(s);
                    } else if (!strcmp(key, "aws.events.rule-name")) {
                        json_t *s = json_string(rule_name);
                        append_value(&out, s, place_text);
                        json_decref(s);
                    } else if (!strcmp(key, "aws.events.event.ingestion-time")) {
                        char t[32];
                        sl_time_iso8601_ms(sl_now_ms(), t);
                        json_t *s = json_string(t);
                        append_value(&out, s, place_text);
                        json_decref(s);
                    } else {
                        known = false;
                    }
                    if (known) {
                        p = close;
                        continue;
                    }
                }
            }
        }
        if (in_string) {
            if (escaped) escaped = false;
            else if (*p == '\\') escaped = true;
            else if (*p == '"') in_string = false;
        } else if (*p == '"') {
            in_string = true;
        }
        sl_buf_putc(&out, *p);
    }
    json_decref(values);
    (void)err, (void)errlen;
    return sl_buf_steal(&out);
}

char *ev_transform(const json_t *target, const json_t *event, const char *rule_arn,
                   const char *rule_name, char *err, size_t errlen) {
    const char *input = json_string_value(json_object_get(target, "Input"));
    if (input) return sl_xstrdup(input);
    const char *input_path = json_string_value(json_object_get(target, "InputPath"));
    if (input_path) {
        json_t *v = eval_path(input_path, event, err, errlen);
        char *text = json_dumps(v ? v : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(v);
        return text;
    }
    json_t *xf = json_object_get(target, "InputTransformer");
    if (xf) return apply_template(xf, event, rule_arn, rule_name, err, errlen);
    return json_dumps(event, JSON_COMPACT);
}

bool ev_transform_valid(const json_t *target, char *err, size_t errlen) {
    int given = !!json_object_get(target, "Input") + !!json_object_get(target, "InputPath") +
                !!json_object_get(target, "InputTransformer");
    if (given > 1) {
        snprintf(err, errlen,
                 "Only one of Input, InputPath, or InputTransformer must be provided.");
        return false;
    }
    const char *input = json_string_value(json_object_get(target, "Input"));
    if (input) {
        json_t *v = json_loads(input, JSON_DECODE_ANY, NULL);
        if (!v) {
            snprintf(err, errlen, "Input is not valid JSON text.");
            return false;
        }
        json_decref(v);
    }
    const char *ip = json_string_value(json_object_get(target, "InputPath"));
    if (ip) {
        char perr[200];
        sl_jsonpath *jp = sl_jsonpath_compile(ip, perr, sizeof perr);
        if (!jp) {
            snprintf(err, errlen, "InputPath is not valid: %s", perr);
            return false;
        }
        sl_jsonpath_free(jp);
    }
    json_t *xf = json_object_get(target, "InputTransformer");
    if (xf) {
        if (!json_is_string(json_object_get(xf, "InputTemplate"))) {
            snprintf(err, errlen, "InputTransformer needs an InputTemplate.");
            return false;
        }
        json_t *map = json_object_get(xf, "InputPathsMap");
        if (json_object_size(map) > 100) {
            snprintf(err, errlen, "InputPathsMap has more than 100 entries.");
            return false;
        }
        const char *k;
        json_t *v;
        json_object_foreach(map, k, v) {
            char perr[200];
            sl_jsonpath *jp = json_is_string(v)
                                  ? sl_jsonpath_compile(json_string_value(v), perr, sizeof perr)
                                  : NULL;
            if (!jp) {
                snprintf(err, errlen, "InputPathsMap value for '%s' is not a valid JSON path.", k);
                return false;
            }
            sl_jsonpath_free(jp);
            if (!strncmp(k, "aws.", 4)) {
                snprintf(err, errlen, "InputPathsMap key '%s' uses the reserved prefix 'aws.'.", k);
                return false;
            }
        }
    }
    return true;
}
