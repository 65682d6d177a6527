/* fuzz_xml: libFuzzer target for sl_xml_parse. Besides "no crash, no leak, no UB", it checks
 * what the contract promises of an accepted tree (bounded depth, text_len matching a
 * NUL-terminated text, names within bounds) and that writing the tree back out with
 * sl_buf_xml_escape and parsing it again gives the same tree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const sl_xml_node *n, int depth) {
    if (depth > SL_XML_MAX_DEPTH) abort();
    for (; n; n = n->next_sibling) {
        if (!n->name || !n->text) abort();
        size_t name_len = strlen(n->name);
        if (name_len == 0 || name_len > SL_XML_MAX_NAME || strchr(n->name, ':')) abort();
        if (strlen(n->text) != n->text_len) abort(); /* NUL is rejected, so never embedded */
        check(n->first_child, depth + 1);
    }
}

static void write_tree(sl_buf *b, const sl_xml_node *n) {
    for (; n; n = n->next_sibling) {
        sl_buf_printf(b, "<%s>", n->name);
        sl_buf_xml_escape(b, n->text, n->text_len);
        write_tree(b, n->first_child);
        sl_buf_printf(b, "</%s>", n->name);
    }
}

static bool same(const sl_xml_node *a, const sl_xml_node *b) {
    for (; a && b; a = a->next_sibling, b = b->next_sibling) {
        if (strcmp(a->name, b->name) || a->text_len != b->text_len ||
            memcmp(a->text, b->text, a->text_len) || !same(a->first_child, b->first_child))
            return false;
    }
    return !a && !b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    sl_xml_node *root = sl_xml_parse((const char *)data, size, err, sizeof err);
    if (!root) {
        if (strncmp(err, "XML error at byte ", 18) != 0) abort();
        return 0;
    }
    if (root->next_sibling) abort();
    check(root, 1);

    sl_buf b;
    sl_buf_init(&b);
    write_tree(&b, root);
    sl_xml_node *again = sl_xml_parse(b.data, b.len, err, sizeof err);
    if (!again || !same(root, again)) abort();
    sl_xml_free(again);
    sl_buf_free(&b);
    sl_xml_free(root);
    return 0;
}
