/* Fuzz target: SNS's request parsers on arbitrary bodies. The input is decoded as a Query
 * form and every SNS parser reads it (attribute maps, message attributes, tags, lists), and
 * the raw input is compiled as a filter policy in both scopes, parsed as a
 * MessageStructure=json message and as JSON message attributes (sns:publish's); a policy that
 * compiles is matched against the parsed attributes and the input as a body. Nothing may crash,
 * leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sns/sns_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    char err[512];
    sl_form f;
    json_t *attrs = NULL;
    if (sl_form_parse(&f, (const char *)data, size, err, sizeof err) == 0) {
        json_decref(sns_form_map(&f, "Attributes", err, sizeof err));
        attrs = sns_form_message_attributes(&f, "MessageAttributes", err, sizeof err);
        json_decref(sns_form_tags(&f, "Tags", err, sizeof err));
        json_decref(sns_form_list(&f, "TagKeys"));
        const char *name;
        const char *arn = sl_form_get(&f, "TopicArn");
        if (arn) (void)sns_topic_arn_parse(arn, &name);
        sl_form_free(&f);
    }
    for (int body = 0; body < 2; body++) {
        sns_filter *p = sns_filter_compile(text, body, err, sizeof err);
        if (p) {
            (void)sns_filter_match(p, attrs, text);
            sns_filter_free(p);
        }
    }
    json_decref(sns_message_structure_parse(text, err, sizeof err));
    /* MessageAttributes as a state machine writes them */
    json_t *doc = json_loads(text, JSON_DECODE_ANY, NULL);
    json_decref(sl_sns_message_attributes(doc, err, sizeof err));
    json_decref(doc);
    json_decref(attrs);
    free(text);
    return 0;
}
