/* xml: a small, strict XML reader for request bodies (S3's CreateBucketConfiguration,
 * Delete, CompleteMultipartUpload, Tagging, NotificationConfiguration, ...). Builds an element
 * tree: names (namespace prefixes stripped), text content (entities decoded), children. No DTDs,
 * no external entities, bounded depth and size: hostile input gets an error, never a crash.
 * Writing XML is done with sl_buf and sl_buf_xml_escape. */
#ifndef SL_XML_H
#define SL_XML_H

#include <stddef.h>

typedef struct sl_xml_node {
    char *name; /* local name, prefix stripped */
    char *text; /* concatenated character data of this element (not of children), "" if none */
    size_t text_len;
    struct sl_xml_node *first_child, *next_sibling;
} sl_xml_node;

/* Limits: hostile or broken input past them is an error, never a crash. A 10000-part
 * CompleteMultipartUpload stays well inside the element limit. */
#define SL_XML_MAX_DEPTH    64     /* nested elements, the root counting as 1 */
#define SL_XML_MAX_NAME     256    /* bytes in an element or attribute name, prefix included */
#define SL_XML_MAX_ATTRS    64     /* attributes on one element */
#define SL_XML_MAX_ELEMENTS 250000 /* elements in one document */

/* Parses a UTF-8 document; returns its root element or NULL with err filled ("XML error at
 * byte N (line L): problem"; err may be NULL). Accepted: an XML declaration (UTF-8 only),
 * comments, processing instructions (skipped), CDATA, the five predefined entities, decimal and
 * hex character references, attributes (checked, then dropped: xmlns included), namespace
 * prefixes (stripped), self-closing tags. Line ends are normalised to \n as XML requires (a
 * literal CR must be sent as &#13;). Any Unicode scalar value but U+0000 is allowed as text,
 * raw or as a reference, because S3 keys may hold control characters. Rejected: DOCTYPE (no
 * entity is ever expanded), mismatched or unterminated constructs, a second root, text outside
 * the root, invalid UTF-8, and anything past the limits above. Memory is linear in len: cap the
 * request body before parsing. */
sl_xml_node *sl_xml_parse(const char *data, size_t len, char *err, size_t errlen);
void sl_xml_free(sl_xml_node *root);
/* First child element with this local name (any name when name is NULL), or NULL. */
const sl_xml_node *sl_xml_child(const sl_xml_node *n, const char *name);
/* The next sibling after `after` with this local name (any when NULL), or NULL. Iterates
 * repeated children, e.g. every <Object> of a <Delete>:
 *     for (o = sl_xml_child(del, "Object"); o; o = sl_xml_child_next(o, "Object")) ...  */
const sl_xml_node *sl_xml_child_next(const sl_xml_node *after, const char *name);
/* Text of the first child with this name, or NULL when absent. */
const char *sl_xml_child_text(const sl_xml_node *n, const char *name);

#endif
