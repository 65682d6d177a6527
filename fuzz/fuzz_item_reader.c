/* fuzz_item_reader: libFuzzer target for sfn_items_parse, the CSV / JSON / JSONL parsers behind
 * a distributed Map's ItemReader. The first byte picks the ReaderConfig (input type, header
 * location, delimiter, MaxItems); the rest is the object's bytes. Besides "no crash, no leak, no
 * UB", it checks the contract: a result is an array of at most MaxItems items, CSV items are
 * objects of strings keyed by exactly the headers, and a failure always explains itself. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "states/s3_tasks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t sel = data[0];
    static const char *const types[] = {"JSON", "JSONL", "CSV", "CSV"};
    static const char *const delims[] = {"COMMA", "PIPE", "SEMICOLON", "TAB"};
    const char *type = types[sel & 3];
    bool given = sel & 4;
    size_t max = (sel >> 3) & 3; /* 0: no limit */
    json_t *config = json_pack("{s:s}", "InputType", type);
    if (max) json_object_set_new(config, "MaxItems", json_integer((json_int_t)max));
    if (!strcmp(type, "CSV")) {
        json_object_set_new(config, "CSVDelimiter", json_string(delims[(sel >> 5) & 3]));
        if (given) {
            json_object_set_new(config, "CSVHeaderLocation", json_string("GIVEN"));
            json_object_set_new(config, "CSVHeaders", json_pack("[s,s,s]", "a", "b", "c"));
        }
    } else if (!strcmp(type, "JSON") && given) {
        json_object_set_new(config, "ItemsPointer", json_string("/items"));
    }
    char err[512];
    err[0] = 0;
    json_t *items = sfn_items_parse((const char *)data + 1, size - 1, config, err, sizeof err);
    if (!items) {
        if (!err[0]) abort();
    } else {
        if (!json_is_array(items)) abort();
        if (max && json_array_size(items) > max) abort();
        if (!strcmp(type, "CSV")) {
            size_t i;
            json_t *it;
            size_t want = given ? 3 : (size_t)-1;
            json_array_foreach(items, i, it) {
                if (!json_is_object(it)) abort();
                if (want != (size_t)-1 && json_object_size(it) != want) abort();
                const char *k;
                json_t *v;
                json_object_foreach(it, k, v) if (!json_is_string(v)) abort();
            }
        }
        /* Whatever was accepted serializes (every string is valid UTF-8). */
        char *text = json_dumps(items, JSON_COMPACT);
        if (!text) abort();
        free(text);
        json_decref(items);
    }
    json_decref(config);
    return 0;
}
