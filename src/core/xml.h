/* xml: a small, strict XML reader for request bodies (S3's CreateBucketConfiguration,
 * Delete, CompleteMultipartUpload, Tagging, NotificationConfiguration, ...). Builds an element
 * tree: names (namespace prefixes stripped), text content (entities decoded), children. No DTDs,
 * no external entities, bounded depth and size: hostile input gets an error, never a crash.
 * Writing XML is done with sl_buf and sl_buf_xml_escape. */
#ifndef SL_XML_H
#define SL_XML_H

#include <stddef.h>

typedef struct sl_xml_node {
    char *name;   /* local name, prefix stripped */
    char *text;   /* concatenated character data of this element (not of children), "" if none */
    size_t text_len;
    struct sl_xml_node *first_child, *next_sibling;
} sl_xml_node;

/* Parses a document; returns its root element or NULL with err filled (a message naming the
 * line/offset and problem). */
sl_xml_node *sl_xml_parse(const char *data, size_t len, char *err, size_t errlen);
void sl_xml_free(sl_xml_node *root);
/* First child element with this local name, or NULL. */
const sl_xml_node *sl_xml_child(const sl_xml_node *n, const char *name);
/* Text of the first child with this name, or NULL when absent. */
const char *sl_xml_child_text(const sl_xml_node *n, const char *name);

#endif
