/* test_xml: the strict XML reader. Accepted documents are checked through a compact dump of the
 * tree they produce; rejected ones through the error message and the byte offset it names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xml.h"

/* name="text"{child,child}: text shown unless empty or, beside children, only whitespace. */
static void dump(sl_buf *b, const sl_xml_node *n) {
    for (; n; n = n->next_sibling) {
        sl_buf_puts(b, n->name);
        bool blank = true;
        for (size_t i = 0; i < n->text_len; i++)
            if (!strchr(" \t\n", n->text[i])) blank = false;
        if (n->text_len && !(blank && n->first_child)) {
            sl_buf_puts(b, "=\"");
            sl_buf_append(b, n->text, n->text_len);
            sl_buf_putc(b, '"');
        }
        if (n->first_child) {
            sl_buf_putc(b, '{');
            dump(b, n->first_child);
            sl_buf_putc(b, '}');
        }
        if (n->next_sibling) sl_buf_putc(b, ',');
    }
}

typedef struct {
    const char *what, *doc, *tree;
} valid_case;

#define S3NS "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

static const valid_case valid_cases[] = {
    {"minimal", "<a/>", "a"},
    {"empty element", "<a></a>", "a"},
    {"text", "<a>hi</a>", "a=\"hi\""},
    {"whitespace kept verbatim in a leaf", "<Key>  spaced key  </Key>", "Key=\"  spaced key  \""},
    {"declaration double quotes", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>x</a>",
     "a=\"x\""},
    {"declaration as Python's ElementTree writes it",
     "<?xml version='1.0' encoding='utf-8'?>\n<a>x</a>", "a=\"x\""},
    {"declaration with standalone", "<?xml version=\"1.0\" standalone=\"yes\" ?><a/>", "a"},
    {"byte order mark", "\xEF\xBB\xBF<a>x</a>", "a=\"x\""},
    {"leading and trailing whitespace", " \n\t<a/>\r\n ", "a"},
    {"comments everywhere", "<!-- c --><a><!-- in -->x<!----></a><!-- after -->", "a=\"x\""},
    {"processing instructions skipped", "<?xml version=\"1.0\"?><?pi data?><a><?x y?>t</a><?z?>",
     "a=\"t\""},
    {"pi whose target starts with xml", "<?xml-stylesheet href=\"a\"?><a/>", "a"},
    {"predefined entities", "<a>&lt;&gt;&amp;&apos;&quot;</a>", "a=\"<>&'\\\"\""},
    {"decimal and hex references", "<a>&#65;&#x42;&#x4a;&#x4A;</a>", "a=\"ABJJ\""},
    {"references encode UTF-8", "<a>&#xE9;&#x20AC;&#x1F600;&#233;</a>",
     "a=\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xC3\xA9\""},
    {"reference with leading zeros", "<a>&#x000041;&#0066;</a>", "a=\"AB\""},
    {"control character reference (S3 keys may hold them)", "<a>&#1;&#13;&#10;&#9;</a>",
     "a=\"\x01\r\n\t\""},
    {"CDATA kept verbatim", "<a><![CDATA[<b>&amp;]]]]></a>", "a=\"<b>&amp;]]\""},
    {"CDATA mixed with text", "<a>x<![CDATA[y]]>z</a>", "a=\"xyz\""},
    {"text of an element excludes its children's", "<a>x<b>inner</b>y<c/>z</a>",
     "a=\"xyz\"{b=\"inner\",c}"},
    {"CRLF and lone CR normalised", "<a>1\r\n2\r3\n4</a>", "a=\"1\n2\n3\n4\""},
    {"CR in CDATA normalised", "<a><![CDATA[1\r\n2]]></a>", "a=\"1\n2\""},
    {"attributes parsed and dropped",
     "<a x=\"1\" y='2' z = \"&lt;&#65;\" xmlns:p=\"urn:p\"><b  q=\"\"/></a>", "a{b}"},
    {"attribute value may hold '>' and the other quote", "<a x='>\"'/>", "a"},
    {"namespace prefix stripped", "<s3:Delete xmlns:s3=\"urn:s3\"><s3:Key>k</s3:Key></s3:Delete>",
     "Delete{Key=\"k\"}"},
    {"whitespace before '>' in tags", "<a ><b\n/></a\t>", "a{b}"},
    {"non-ASCII names and text", "<caf\xC3\xA9>\xE2\x98\x83</caf\xC3\xA9>",
     "caf\xC3\xA9=\"\xE2\x98\x83\""},
    {"name characters", "<_a.b-c9/>", "_a.b-c9"},
    {"']]' and '>' alone are fine in text", "<a>]] > ]]</a>", "a=\"]] > ]]\""},
    {"raw control characters other than NUL", "<a>\x01\x1F</a>", "a=\"\x01\x1F\""},

    /* Bodies as the AWS SDKs send them. */
    {"boto3 CreateBucketConfiguration",
     "<CreateBucketConfiguration " S3NS "><LocationConstraint>eu-west-1</LocationConstraint>"
     "</CreateBucketConfiguration>",
     "CreateBucketConfiguration{LocationConstraint=\"eu-west-1\"}"},
    {"boto3 Delete",
     "<?xml version='1.0' encoding='utf-8'?>\n<Delete " S3NS "><Object><Key>a.txt</Key></Object>"
     "<Object><Key>dir/b &amp; c.txt</Key><VersionId>3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY</VersionId>"
     "</Object><Quiet>true</Quiet></Delete>",
     "Delete{Object{Key=\"a.txt\"},Object{Key=\"dir/b & c.txt\",VersionId=\"3sL4kqtJlcpXroDTDmJ."
     "rmSpXd3dIbrHY\"},Quiet=\"true\"}"},
    {"boto3 CompleteMultipartUpload (quotes in ETag left raw)",
     "<CompleteMultipartUpload " S3NS "><Part><ETag>\"7fc56270e7a70fa81a5935b72eacbe29\"</ETag>"
     "<PartNumber>1</PartNumber></Part><Part><ChecksumCRC32>yZRlqg==</ChecksumCRC32>"
     "<ETag>\"2\"</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>",
     "CompleteMultipartUpload{Part{ETag=\"\\\"7fc56270e7a70fa81a5935b72eacbe29\\\"\",PartNumber="
     "\"1\"},Part{ChecksumCRC32=\"yZRlqg==\",ETag=\"\\\"2\\\"\",PartNumber=\"2\"}}"},
    {"Java SDK CompleteMultipartUpload (quotes as &quot;)",
     "<CompleteMultipartUpload " S3NS "><Part><PartNumber>1</PartNumber><ETag>&quot;abc&quot;"
     "</ETag></Part></CompleteMultipartUpload>",
     "CompleteMultipartUpload{Part{PartNumber=\"1\",ETag=\"\\\"abc\\\"\"}}"},
    {"boto3 Tagging",
     "<Tagging " S3NS "><TagSet><Tag><Key>project</Key><Value>a &lt;b&gt;</Value></Tag>"
     "<Tag><Key>empty</Key><Value></Value></Tag></TagSet></Tagging>",
     "Tagging{TagSet{Tag{Key=\"project\",Value=\"a <b>\"},Tag{Key=\"empty\",Value}}}"},
    {"pretty-printed NotificationConfiguration",
     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
     "<NotificationConfiguration " S3NS ">\n"
     "  <QueueConfiguration>\n"
     "    <Id>q1</Id>\n"
     "    <Queue>arn:aws:sqs:us-east-1:000000000000:q</Queue>\n"
     "    <Event>s3:ObjectCreated:*</Event>\n"
     "    <Filter><S3Key><FilterRule><Name>prefix</Name><Value>img/</Value></FilterRule>"
     "</S3Key></Filter>\n"
     "  </QueueConfiguration>\n"
     "</NotificationConfiguration>\n",
     "NotificationConfiguration{QueueConfiguration{Id=\"q1\",Queue=\"arn:aws:sqs:us-east-1:"
     "000000000000:q\",Event=\"s3:ObjectCreated:*\",Filter{S3Key{FilterRule{Name=\"prefix\","
     "Value=\"img/\"}}}}}"},
};

static void test_valid_documents(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
        const valid_case *c = &valid_cases[i];
        char err[256] = "";
        sl_xml_node *root = sl_xml_parse(c->doc, strlen(c->doc), err, sizeof err);
        if (!root) fail_msg("%s: rejected: %s", c->what, err);
        sl_buf b;
        sl_buf_init(&b);
        dump(&b, root);
        /* The expected dumps write '"' inside text as \" for readability. */
        sl_buf want;
        sl_buf_init(&want);
        for (const char *p = c->tree; *p; p++) {
            if (p[0] == '\\' && p[1] == '"') continue;
            sl_buf_putc(&want, *p);
        }
        if (strcmp(b.data, want.data) != 0)
            fail_msg("%s:\n  got  %s\n  want %s", c->what, b.data, want.data);
        assert_string_equal(err, "");
        sl_buf_free(&b);
        sl_buf_free(&want);
        sl_xml_free(root);
    }
}

typedef struct {
    const char *what, *doc;
    size_t offset;       /* byte the error must name */
    const char *message; /* a substring of the error */
} invalid_case;

static const invalid_case invalid_cases[] = {
    {"empty input", "", 0, "no root element"},
    {"only whitespace", "  \n", 3, "no root element"},
    {"only a comment", "<!-- x -->", 10, "no root element"},
    {"DOCTYPE", "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", 0, "DOCTYPE is not allowed"},
    {"DOCTYPE after declaration", "<?xml version=\"1.0\"?>\n<!DOCTYPE a><a/>", 22,
     "DOCTYPE is not allowed"},
    {"other markup declaration", "<!ELEMENT a ANY><a/>", 0, "markup declarations"},
    {"markup declaration inside an element", "<a><!ENTITY x 'y'></a>", 3, "markup declarations"},
    {"external entity reference", "<a>&xxe;</a>", 3, "unknown entity '&xxe;'"},
    {"mismatched end tag", "<a><b></a></b>", 6, "expected </b>, found </a>"},
    {"end tag must repeat the prefix", "<p:a></a>", 5, "expected </p:a>, found </a>"},
    {"unterminated element", "<a><b>text</b>", 0, "unterminated element <a>"},
    {"unterminated nested element", "<a><b>text", 3, "unterminated element <b>"},
    {"unterminated start tag", "<a x=\"1\"", 0, "unterminated start tag"},
    {"unterminated end tag", "<a></a", 3, "unterminated end tag"},
    {"unterminated comment", "<a><!-- x </a>", 3, "unterminated comment"},
    {"double dash in comment", "<a><!-- x -- y --></a>", 10, "'--' is not allowed"},
    {"unterminated CDATA", "<a><![CDATA[x</a>", 3, "unterminated CDATA"},
    {"unterminated PI", "<a><?pi x</a>", 3, "unterminated processing instruction"},
    {"late XML declaration", "<a/><?xml version=\"1.0\"?>", 4, "very first thing"},
    {"XML declaration inside root", "<a><?xml version=\"1.0\"?></a>", 3, "very first thing"},
    {"declaration without version", "<?xml encoding=\"UTF-8\"?><a/>", 0, "lacks a version"},
    {"declaration with other encoding", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>", 20,
     "unsupported encoding"},
    {"declaration with bad version", "<?xml version=\"2.0\"?><a/>", 6, "unsupported XML version"},
    {"unterminated declaration", "<?xml version=\"1.0\"", 0, "unterminated XML declaration"},
    {"two roots", "<a/><b/>", 4, "more than one root element"},
    {"two roots with space", "<a></a>\n<a></a>", 8, "more than one root element"},
    {"text after root", "<a/>junk", 4, "text after the root element"},
    {"entity after root", "<a/>&amp;", 4, "text after the root element"},
    {"text before root", "x<a/>", 0, "text before the root element"},
    {"unknown entity", "<a>&nbsp;</a>", 3, "unknown entity '&nbsp;'"},
    {"bare ampersand", "<a>fish & chips</a>", 8, "'&' must start an entity reference"},
    {"entity without semicolon", "<a>&amp</a>", 3, "missing ';'"},
    {"char ref without digits", "<a>&#;</a>", 3, "without digits"},
    {"hex char ref without digits", "<a>&#x;</a>", 3, "without digits"},
    {"char ref with bad digit", "<a>&#12a;</a>", 3, "missing ';'"},
    {"char ref to NUL", "<a>&#0;</a>", 3, "U+0000"},
    {"char ref to surrogate", "<a>&#xD800;</a>", 3, "surrogate"},
    {"char ref beyond Unicode", "<a>&#x110000;</a>", 3, "beyond U+10FFFF"},
    {"huge char ref", "<a>&#99999999999999999999;</a>", 3, "beyond U+10FFFF"},
    {"']]>' in text", "<a>x]]>y</a>", 4, "']]>' is not allowed"},
    {"'<' in attribute value", "<a x=\"<\"/>", 6, "'<' is not allowed in an attribute"},
    {"unquoted attribute", "<a x=1/>", 5, "must be quoted"},
    {"attribute without value", "<a x/>", 4, "expected '='"},
    {"unterminated attribute value", "<a x=\"1/>", 5, "unterminated attribute value"},
    {"unknown entity in attribute", "<a x=\"&foo;\"/>", 6, "unknown entity"},
    {"duplicate attribute", "<a x=\"1\" x=\"2\"/>", 9, "duplicate attribute 'x'"},
    {"attributes not separated", "<a x=\"1\"y=\"2\"/>", 8, "expected whitespace"},
    {"empty tag name", "<>", 1, "expected a name"},
    {"name starting with a digit", "<1a/>", 1, "expected a name"},
    {"space after '<'", "< a/>", 1, "expected a name"},
    {"empty prefix", "<:a/>", 1, "malformed namespace prefix"},
    {"empty local name", "<a:/>", 1, "malformed namespace prefix"},
    {"two colons", "<a:b:c/>", 1, "malformed namespace prefix"},
    {"end tag with garbage", "<a></a x>", 7, "expected '>' to close </a"},
    {"uppercase X in hex reference", "<a>&#X41;</a>", 3, "without digits"},
    {"NUL byte", "<a>\0</a>", 3, "NUL byte"},
    {"invalid UTF-8", "<a>\xC3\x28</a>", 3, "invalid UTF-8"},
    {"overlong UTF-8", "<a>\xC0\xAF</a>", 3, "invalid UTF-8"},
    {"UTF-8 surrogate", "<a>\xED\xA0\x80</a>", 3, "invalid UTF-8"},
    {"truncated UTF-8", "<a>\xE2\x98", 3, "invalid UTF-8"},
    {"UTF-16 document", "\xFF\xFE<\0a\0/\0>\0", 0, "invalid UTF-8"},
    {"lone '<' in text", "<a>1 < 2</a>", 6, "expected a name"},
};

static void check_rejected(const char *what, const char *doc, size_t len, size_t offset,
                           const char *message) {
    char err[256] = "";
    sl_xml_node *root = sl_xml_parse(doc, len, err, sizeof err);
    if (root) {
        sl_xml_free(root);
        fail_msg("%s: accepted", what);
    }
    char where[64];
    snprintf(where, sizeof where, "XML error at byte %zu ", offset);
    if (strncmp(err, where, strlen(where)) != 0 || !strstr(err, message))
        fail_msg("%s:\n  got  %s\n  want %s... %s", what, err, where, message);
}

static void test_invalid_documents(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof invalid_cases / sizeof invalid_cases[0]; i++) {
        const invalid_case *c = &invalid_cases[i];
        /* "NUL byte" needs its length given; every other document is a C string. */
        size_t len = strlen(c->doc);
        if (!strcmp(c->what, "NUL byte")) len = 8;
        if (!strcmp(c->what, "UTF-16 document")) len = 10;
        check_rejected(c->what, c->doc, len, c->offset, c->message);
    }
}

static void test_error_names_line(void **state) {
    (void)state;
    const char *doc = "<a>\n<b>\n</a>";
    char err[256];
    assert_null(sl_xml_parse(doc, strlen(doc), err, sizeof err));
    assert_string_equal(
        err, "XML error at byte 8 (line 3): mismatched end tag: expected </b>, found </a>");
    /* A NULL or empty err buffer is allowed. */
    assert_null(sl_xml_parse(doc, strlen(doc), NULL, 0));
    assert_null(sl_xml_parse(NULL, 0, err, sizeof err));
    assert_non_null(strstr(err, "no root element"));
}

static void test_length_is_respected(void **state) {
    (void)state;
    /* The parser reads len bytes, not up to a NUL: "<a/>" followed by junk it must not see. */
    const char doc[] = "<a/>junk";
    char err[256];
    sl_xml_node *root = sl_xml_parse(doc, 4, err, sizeof err);
    assert_non_null(root);
    sl_xml_free(root);
    assert_null(sl_xml_parse(doc, 3, err, sizeof err));
    assert_non_null(strstr(err, "unterminated start tag"));
}

static char *nested(int depth, bool self_closing_leaf) {
    sl_buf b;
    sl_buf_init(&b);
    for (int i = 0; i < depth - 1; i++) sl_buf_puts(&b, "<d>");
    sl_buf_puts(&b, self_closing_leaf ? "<d/>" : "<d>x</d>");
    for (int i = 0; i < depth - 1; i++) sl_buf_puts(&b, "</d>");
    return sl_buf_steal(&b);
}

static void test_depth_limit(void **state) {
    (void)state;
    char err[256];
    for (int leaf = 0; leaf < 2; leaf++) {
        char *ok = nested(SL_XML_MAX_DEPTH, leaf);
        sl_xml_node *root = sl_xml_parse(ok, strlen(ok), err, sizeof err);
        assert_non_null(root);
        const sl_xml_node *n = root;
        int depth = 1;
        while (n->first_child) n = n->first_child, depth++;
        assert_int_equal(depth, SL_XML_MAX_DEPTH);
        sl_xml_free(root);
        free(ok);

        char *deep = nested(SL_XML_MAX_DEPTH + 1, leaf);
        assert_null(sl_xml_parse(deep, strlen(deep), err, sizeof err));
        char want[64];
        snprintf(want, sizeof want, "XML error at byte %d ", 3 * SL_XML_MAX_DEPTH);
        assert_true(!strncmp(err, want, strlen(want)));
        assert_non_null(strstr(err, "nested deeper than 64"));
        free(deep);
    }
    /* A hostile document a million levels deep costs nothing. */
    size_t n = 1000000;
    char *huge = malloc(3 * n);
    for (size_t i = 0; i < n; i++) memcpy(huge + 3 * i, "<d>", 3);
    assert_null(sl_xml_parse(huge, 3 * n, err, sizeof err));
    assert_non_null(strstr(err, "nested deeper"));
    free(huge);
}

static void test_name_limit(void **state) {
    (void)state;
    char err[256];
    char doc[2 * SL_XML_MAX_NAME + 16];
    for (int extra = 0; extra < 2; extra++) {
        int n = SL_XML_MAX_NAME + extra;
        char *p = doc;
        *p++ = '<';
        memset(p, 'n', (size_t)n), p += n;
        memcpy(p, "/>", 3);
        sl_xml_node *root = sl_xml_parse(doc, strlen(doc), err, sizeof err);
        if (extra) {
            assert_null(root);
            assert_non_null(strstr(err, "name longer than 256 bytes"));
            assert_true(!strncmp(err, "XML error at byte 1 ", 20));
        } else {
            assert_non_null(root);
            assert_int_equal(strlen(root->name), SL_XML_MAX_NAME);
            sl_xml_free(root);
        }
    }
    /* Entity names are bounded too. */
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "<a>&");
    for (int i = 0; i < 10000; i++) sl_buf_putc(&b, 'e');
    sl_buf_puts(&b, ";</a>");
    assert_null(sl_xml_parse(b.data, b.len, err, sizeof err));
    assert_non_null(strstr(err, "missing ';'"));
    sl_buf_free(&b);
}

static void test_attribute_limit(void **state) {
    (void)state;
    char err[256];
    for (int extra = 0; extra < 2; extra++) {
        sl_buf b;
        sl_buf_init(&b);
        sl_buf_puts(&b, "<a");
        for (int i = 0; i < SL_XML_MAX_ATTRS + extra; i++) sl_buf_printf(&b, " a%d=\"\"", i);
        sl_buf_puts(&b, "/>");
        sl_xml_node *root = sl_xml_parse(b.data, b.len, err, sizeof err);
        if (extra) {
            assert_null(root);
            assert_non_null(strstr(err, "more than 64 attributes"));
        } else {
            assert_non_null(root);
            sl_xml_free(root);
        }
        sl_buf_free(&b);
    }
}

static void test_navigation(void **state) {
    (void)state;
    const char *doc = "<Delete><Quiet>false</Quiet><Object><Key>a</Key></Object>"
                      "<Other/><Object><Key>b</Key><VersionId>v</VersionId></Object>"
                      "<Object><Key>c</Key></Object></Delete>";
    char err[256];
    sl_xml_node *root = sl_xml_parse(doc, strlen(doc), err, sizeof err);
    assert_non_null(root);
    assert_string_equal(root->name, "Delete");
    assert_string_equal(root->text, "");
    assert_int_equal(root->text_len, 0);
    assert_string_equal(sl_xml_child_text(root, "Quiet"), "false");
    assert_null(sl_xml_child_text(root, "Missing"));
    assert_null(sl_xml_child(root, "Key")); /* children only, not descendants */

    const char *keys[3];
    size_t n = 0;
    for (const sl_xml_node *o = sl_xml_child(root, "Object"); o;
         o = sl_xml_child_next(o, "Object")) {
        assert_true(n < 3);
        keys[n++] = sl_xml_child_text(o, "Key");
    }
    assert_int_equal(n, 3);
    assert_string_equal(keys[0], "a");
    assert_string_equal(keys[1], "b");
    assert_string_equal(keys[2], "c");

    n = 0;
    for (const sl_xml_node *c = sl_xml_child(root, NULL); c; c = sl_xml_child_next(c, NULL)) n++;
    assert_int_equal(n, 5);

    assert_null(sl_xml_child(NULL, "x"));
    assert_null(sl_xml_child_next(NULL, "x"));
    assert_null(sl_xml_child_text(NULL, "x"));
    const sl_xml_node *leaf = sl_xml_child(sl_xml_child(root, "Object"), "Key");
    assert_null(sl_xml_child(leaf, NULL));
    sl_xml_free(root);
    sl_xml_free(NULL);
}

static void test_many_siblings(void **state) {
    (void)state;
    /* A <Delete> of 1000 objects, built the way boto3 does. */
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "<?xml version='1.0' encoding='utf-8'?>\n<Delete " S3NS ">");
    for (int i = 0; i < 1000; i++) sl_buf_printf(&b, "<Object><Key>key-%04d</Key></Object>", i);
    sl_buf_puts(&b, "</Delete>");
    char err[256];
    sl_xml_node *root = sl_xml_parse(b.data, b.len, err, sizeof err);
    assert_non_null(root);
    int i = 0;
    for (const sl_xml_node *o = sl_xml_child(root, "Object"); o;
         o = sl_xml_child_next(o, "Object")) {
        char want[16];
        snprintf(want, sizeof want, "key-%04d", i++);
        assert_string_equal(sl_xml_child_text(o, "Key"), want);
    }
    assert_int_equal(i, 1000);
    sl_xml_free(root);
    sl_buf_free(&b);
}

static void test_element_limit(void **state) {
    (void)state;
    char err[256];
    for (int extra = 0; extra < 2; extra++) {
        sl_buf b;
        sl_buf_init(&b);
        sl_buf_puts(&b, "<r>");
        for (int i = 1; i < SL_XML_MAX_ELEMENTS + extra; i++) sl_buf_puts(&b, "<e/>");
        sl_buf_puts(&b, "</r>");
        sl_xml_node *root = sl_xml_parse(b.data, b.len, err, sizeof err);
        if (extra) {
            assert_null(root);
            assert_non_null(strstr(err, "more than 250000 elements"));
        } else {
            assert_non_null(root);
            sl_xml_free(root);
        }
        sl_buf_free(&b);
    }
}

static void test_escape_round_trip(void **state) {
    (void)state;
    /* What sl_buf_xml_escape writes, sl_xml_parse reads back byte for byte (keys in listings and
     * keys coming back in a Delete must agree). */
    char all[256];
    size_t n = 0;
    for (int c = 1; c < 128; c++) all[n++] = (char)c;
    const char *utf8 = "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
    memcpy(all + n, utf8, strlen(utf8));
    n += strlen(utf8);
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "<Key>");
    sl_buf_xml_escape(&b, all, n);
    sl_buf_puts(&b, "</Key>");
    char err[256];
    sl_xml_node *root = sl_xml_parse(b.data, b.len, err, sizeof err);
    if (!root) fail_msg("%s", err);
    assert_int_equal(root->text_len, n);
    assert_memory_equal(root->text, all, n);
    sl_xml_free(root);
    sl_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_documents),   cmocka_unit_test(test_invalid_documents),
        cmocka_unit_test(test_error_names_line),  cmocka_unit_test(test_length_is_respected),
        cmocka_unit_test(test_depth_limit),       cmocka_unit_test(test_name_limit),
        cmocka_unit_test(test_attribute_limit),   cmocka_unit_test(test_element_limit),
        cmocka_unit_test(test_navigation),        cmocka_unit_test(test_many_siblings),
        cmocka_unit_test(test_escape_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
