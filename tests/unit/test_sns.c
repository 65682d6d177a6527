/* Unit tests for sns: Query forms into values (attribute maps, message attributes, tags,
 * lists), topic names and ARNs, MessageStructure=json, filter policies (checks and matching
 * in both scopes), the string SNS signs, and the mail text. Table-driven where cases are many. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sns/sns_internal.h"

static sl_form form_of(const char *body) {
    sl_form f;
    char err[256];
    assert_int_equal(sl_form_parse(&f, body, strlen(body), err, sizeof err), 0);
    return f;
}

static void test_attribute_maps(void **state) {
    (void)state;
    char err[256];
    sl_form f = form_of("Attributes.entry.1.key=DisplayName&Attributes.entry.1.value=Hi+there&"
                        "Attributes.entry.2.key=Policy&Attributes.entry.2.value=%7B%7D");
    json_t *m = sns_form_map(&f, "Attributes", err, sizeof err);
    assert_non_null(m);
    assert_int_equal(json_object_size(m), 2);
    assert_string_equal(json_string_value(json_object_get(m, "DisplayName")), "Hi there");
    assert_string_equal(json_string_value(json_object_get(m, "Policy")), "{}");
    json_decref(m);
    sl_form_free(&f);

    f = form_of("Attributes.entry.1.key=DisplayName");
    assert_null(sns_form_map(&f, "Attributes", err, sizeof err));
    assert_non_null(strstr(err, "has no value"));
    sl_form_free(&f);

    f = form_of("Other=1");
    m = sns_form_map(&f, "Attributes", err, sizeof err);
    assert_int_equal(json_object_size(m), 0);
    json_decref(m);
    sl_form_free(&f);
}

static void test_message_attributes(void **state) {
    (void)state;
    static const struct {
        const char *body;
        const char *error; /* a substring of the error, NULL: accepted */
    } cases[] = {
        {"M.entry.1.Name=a&M.entry.1.Value.DataType=String&M.entry.1.Value.StringValue=x", NULL},
        {"M.entry.1.Name=n&M.entry.1.Value.DataType=Number&M.entry.1.Value.StringValue=-1.5e3",
         NULL},
        {"M.entry.1.Name=n&M.entry.1.Value.DataType=Number.int&M.entry.1.Value.StringValue=7",
         NULL},
        {"M.entry.1.Name=b&M.entry.1.Value.DataType=Binary&M.entry.1.Value.BinaryValue=AAE%3D",
         NULL},
        {"M.entry.1.Name=l&M.entry.1.Value.DataType=String.Array&"
         "M.entry.1.Value.StringValue=%5B%22a%22%2C1%5D",
         NULL},
        {"M.entry.1.Name=n&M.entry.1.Value.DataType=Number&M.entry.1.Value.StringValue=ten",
         "Could not cast"},
        {"M.entry.1.Name=n&M.entry.1.Value.DataType=Number&M.entry.1.Value.StringValue=+1",
         "Could not cast"},
        {"M.entry.1.Name=f&M.entry.1.Value.DataType=Float&M.entry.1.Value.StringValue=1",
         "invalid message attribute type"},
        {"M.entry.1.Name=f&M.entry.1.Value.DataType=Number.&M.entry.1.Value.StringValue=1",
         "invalid message attribute type"},
        {"M.entry.1.Name=s&M.entry.1.Value.DataType=String&M.entry.1.Value.StringValue=",
         "non-empty message attribute value"},
        {"M.entry.1.Name=s&M.entry.1.Value.DataType=String", "non-empty message attribute value"},
        {"M.entry.1.Name=s&M.entry.1.Value.StringValue=x", "non-empty message attribute type"},
        {"M.entry.1.Name=AWS.x&M.entry.1.Value.DataType=String&M.entry.1.Value.StringValue=x",
         "name 'AWS.x' is invalid"},
        {"M.entry.1.Name=a..b&M.entry.1.Value.DataType=String&M.entry.1.Value.StringValue=x",
         "is invalid"},
        {"M.entry.1.Name=.a&M.entry.1.Value.DataType=String&M.entry.1.Value.StringValue=x",
         "is invalid"},
        {"M.entry.1.Name=a%20b&M.entry.1.Value.DataType=String&M.entry.1.Value.StringValue=x",
         "is invalid"},
        {"M.entry.1.Name=l&M.entry.1.Value.DataType=String.Array&M.entry.1.Value.StringValue=x",
         "must be a JSON array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_form f = form_of(cases[i].body);
        char err[512] = "";
        json_t *a = sns_form_message_attributes(&f, "M", err, sizeof err);
        if (cases[i].error) {
            if (a || !strstr(err, cases[i].error))
                fail_msg("case %zu: expected '%s', got %s", i, cases[i].error,
                         a ? "accepted" : err);
        } else if (!a || json_object_size(a) != 1) {
            fail_msg("case %zu: refused: %s", i, err);
        }
        json_decref(a);
        sl_form_free(&f);
    }
    /* eleven attributes are one too many */
    char body[4096] = "";
    for (int i = 1; i <= 11; i++) {
        char one[128];
        snprintf(one, sizeof one,
                 "%sM.entry.%d.Name=a%d&M.entry.%d.Value.DataType=String&"
                 "M.entry.%d.Value.StringValue=v",
                 i > 1 ? "&" : "", i, i, i, i);
        strcat(body, one);
    }
    sl_form f = form_of(body);
    char err[256];
    assert_null(sns_form_message_attributes(&f, "M", err, sizeof err));
    assert_string_equal(err, "Number of message attributes [11] exceeds the allowed maximum [10].");
    sl_form_free(&f);
}

static void test_tags_and_lists(void **state) {
    (void)state;
    char err[256];
    sl_form f = form_of("Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.2.Key=b&"
                        "Tags.member.2.Value=&Tags.member.3.Key=a&Tags.member.3.Value=3&"
                        "K.member.1=x&K.member.2=y");
    json_t *t = sns_form_tags(&f, "Tags", err, sizeof err);
    assert_int_equal(json_array_size(t), 2);
    /* a key given twice keeps its last value */
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "Value")), "3");
    json_decref(t);
    json_t *l = sns_form_list(&f, "K");
    assert_int_equal(json_array_size(l), 2);
    assert_string_equal(json_string_value(json_array_get(l, 1)), "y");
    json_decref(l);
    sl_form_free(&f);
    f = form_of("Tags.member.1.Value=1");
    assert_null(sns_form_tags(&f, "Tags", err, sizeof err));
    sl_form_free(&f);
}

static void test_topic_names_and_arns(void **state) {
    (void)state;
    assert_true(sns_topic_name_valid("my-topic_1", false));
    assert_false(sns_topic_name_valid("", false));
    assert_false(sns_topic_name_valid("a.b", false));
    assert_false(sns_topic_name_valid("a b", false));
    assert_true(sns_topic_name_valid("a.fifo", true));
    assert_false(sns_topic_name_valid(".fifo", true));
    char longname[300];
    memset(longname, 'a', 257);
    longname[257] = 0;
    assert_false(sns_topic_name_valid(longname, false));
    longname[256] = 0;
    assert_true(sns_topic_name_valid(longname, false));
    const char *name;
    assert_true(sns_topic_arn_parse("arn:aws:sns:us-east-1:000000000000:t1", &name));
    assert_string_equal(name, "t1");
    assert_false(sns_topic_arn_parse("arn:aws:sqs:us-east-1:000000000000:t1", &name));
    assert_false(sns_topic_arn_parse("arn:aws:sns:us-east-1:000000000000:t1:sub", &name));
    assert_false(sns_topic_arn_parse("arn:aws:sns:us-east-1:000000000000:", &name));
    assert_false(sns_topic_arn_parse("t1", &name));
    assert_false(sns_topic_arn_parse(NULL, &name));
}

static void test_message_structure(void **state) {
    (void)state;
    char err[256];
    json_t *m = sns_message_structure_parse("{\"default\":\"d\",\"http\":\"h\"}", err, sizeof err);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "http")), "h");
    json_decref(m);
    assert_null(sns_message_structure_parse("{\"http\":\"h\"}", err, sizeof err));
    assert_non_null(strstr(err, "No default entry"));
    assert_null(sns_message_structure_parse("not json", err, sizeof err));
    assert_non_null(strstr(err, "failed to parse"));
    assert_null(sns_message_structure_parse("{\"default\":1}", err, sizeof err));
}

static json_t *attrs_of(const char *json) { return json_loads(json, 0, NULL); }

static void test_filter_policies(void **state) {
    (void)state;
    static const struct {
        const char *policy;
        bool body;
        const char *attributes; /* message attributes, or NULL */
        const char *message;
        bool match;
    } cases[] = {
        {"{\"store\":[\"corp\"]}", false,
         "{\"store\":{\"DataType\":\"String\",\"StringValue\":\"corp\"}}", "m", true},
        {"{\"store\":[\"corp\"]}", false,
         "{\"store\":{\"DataType\":\"String\",\"StringValue\":\"acme\"}}", "m", false},
        {"{\"store\":[\"corp\"]}", false, NULL, "m", false},
        {"{\"price\":[{\"numeric\":[\">=\",100]}]}", false,
         "{\"price\":{\"DataType\":\"Number\",\"StringValue\":\"150\"}}", "m", true},
        {"{\"price\":[{\"numeric\":[\">=\",100]}]}", false,
         "{\"price\":{\"DataType\":\"Number\",\"StringValue\":\"99.5\"}}", "m", false},
        /* a Number attribute matches an exact numeric value written another way */
        {"{\"price\":[300]}", false,
         "{\"price\":{\"DataType\":\"Number\",\"StringValue\":\"3.0e2\"}}", "m", true},
        /* String.Array: any element */
        {"{\"tags\":[\"urgent\"]}", false,
         "{\"tags\":{\"DataType\":\"String.Array\",\"StringValue\":\"[\\\"a\\\",\\\"urgent\\\"]\"}"
         "}",
         "m", true},
        {"{\"tags\":[{\"prefix\":\"urg\"}]}", false,
         "{\"tags\":{\"DataType\":\"String\",\"StringValue\":\"urgent\"}}", "m", true},
        {"{\"tags\":[{\"anything-but\":[\"urgent\"]}]}", false,
         "{\"tags\":{\"DataType\":\"String\",\"StringValue\":\"urgent\"}}", "m", false},
        {"{\"missing\":[{\"exists\":false}]}", false, NULL, "m", true},
        {"{\"b\":[{\"exists\":true}]}", false,
         "{\"b\":{\"DataType\":\"Binary\",\"BinaryValue\":\"AAE=\"}}", "m", false},
        {"{\"order\":{\"kind\":[\"book\"]}}", true, NULL, "{\"order\":{\"kind\":\"book\"}}", true},
        {"{\"order\":{\"kind\":[\"book\"]}}", true, NULL, "{\"order\":{\"kind\":\"lamp\"}}", false},
        {"{\"order\":{\"kind\":[\"book\"]}}", true, NULL, "not json", false},
        {"{\"$or\":[{\"a\":[\"1\"]},{\"b\":[\"2\"]}]}", true, NULL, "{\"b\":\"2\"}", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512];
        sns_filter *f = sns_filter_compile(cases[i].policy, cases[i].body, err, sizeof err);
        if (!f) fail_msg("case %zu: %s", i, err);
        json_t *a = cases[i].attributes ? attrs_of(cases[i].attributes) : NULL;
        if (sns_filter_match(f, a, cases[i].message) != cases[i].match)
            fail_msg("case %zu: expected %s", i, cases[i].match ? "a match" : "no match");
        json_decref(a);
        sns_filter_free(f);
    }
}

static void test_filter_policy_errors(void **state) {
    (void)state;
    static const struct {
        const char *policy;
        bool body;
        const char *error;
    } cases[] = {
        {"[1]", false, "must be a JSON object"},
        {"{nope", false, "failed to parse JSON"},
        {"{\"a\":{\"b\":[\"c\"]}}", false, "does not support nested filter policy"},
        {"{\"a\":[1],\"b\":[1],\"c\":[1],\"d\":[1],\"e\":[1],\"f\":[1]}", false,
         "more than 5 keys"},
        {"{\"a\":[1,2,3,4,5,6,7,8,9,10],\"b\":[1,2,3,4,5,6,7,8,9,10],\"c\":[1,2]}", false,
         "too complex"},
        {"{\"a\":\"x\"}", false, "FilterPolicy: "},
        {"{\"a\":[{\"numeric\":[\"<>\",1]}]}", false, "FilterPolicy: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        sns_filter *f = sns_filter_compile(cases[i].policy, cases[i].body, err, sizeof err);
        if (f || !strstr(err, cases[i].error))
            fail_msg("case %zu: expected '%s', got %s", i, cases[i].error, f ? "accepted" : err);
        if (strncmp(err, "Invalid parameter: FilterPolicy: ", 33) != 0)
            fail_msg("case %zu: message '%s' does not name FilterPolicy", i, err);
        sns_filter_free(f);
    }
    char err[256];
    sns_filter *f = sns_filter_compile("{\"a\":{\"b\":[\"c\"]}}", true, err, sizeof err);
    assert_non_null(f);
    sns_filter_free(f);
}

static void test_attributes_doc(void **state) {
    (void)state;
    json_t *a = attrs_of("{\"s\":{\"DataType\":\"String\",\"StringValue\":\"x\"},"
                         "\"n\":{\"DataType\":\"Number\",\"StringValue\":\"12\"},"
                         "\"l\":{\"DataType\":\"String.Array\",\"StringValue\":\"[1,\\\"a\\\"]\"},"
                         "\"b\":{\"DataType\":\"Binary\",\"BinaryValue\":\"AAE=\"}}");
    json_t *doc = sns_filter_attributes_doc(a);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"l\":[1,\"a\"],\"n\":12,\"s\":\"x\"}");
    free(text);
    json_decref(doc);
    json_decref(a);
}

static void test_string_to_sign(void **state) {
    (void)state;
    json_t *n = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Type", "Notification", "MessageId",
                          "id", "TopicArn", "arn", "Subject", "subj", "Message", "hello",
                          "Timestamp", "ts", "UnsubscribeURL", "u");
    char *s = sns_string_to_sign(n);
    assert_string_equal(s, "Message\nhello\nMessageId\nid\nSubject\nsubj\nTimestamp\nts\n"
                           "TopicArn\narn\nType\nNotification\n");
    free(s);
    json_object_del(n, "Subject");
    s = sns_string_to_sign(n);
    assert_string_equal(s, "Message\nhello\nMessageId\nid\nTimestamp\nts\nTopicArn\narn\n"
                           "Type\nNotification\n");
    free(s);
    json_decref(n);
    json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Type", "SubscriptionConfirmation",
                          "MessageId", "id", "Token", "tok", "TopicArn", "arn", "Message", "m",
                          "SubscribeURL", "url", "Timestamp", "ts");
    s = sns_string_to_sign(c);
    assert_string_equal(s, "Message\nm\nMessageId\nid\nSubscribeURL\nurl\nTimestamp\nts\n"
                           "Token\ntok\nTopicArn\narn\nType\nSubscriptionConfirmation\n");
    free(s);
    json_decref(c);
}

static void test_retry_delays(void **state) {
    (void)state;
    json_t *aws_default = json_pack("{s:i,s:i,s:i,s:s}", "numRetries", 3, "minDelayTarget", 20,
                                    "maxDelayTarget", 20, "backoffFunction", "linear");
    for (int k = 1; k <= 3; k++) assert_int_equal(sns_retry_delay_s(aws_default, k), 20);
    json_decref(aws_default);
    json_t *linear = json_pack("{s:i,s:i,s:i,s:s}", "numRetries", 5, "minDelayTarget", 10,
                               "maxDelayTarget", 50, "backoffFunction", "linear");
    static const int64_t want_linear[] = {10, 20, 30, 40, 50};
    for (int k = 1; k <= 5; k++) assert_int_equal(sns_retry_delay_s(linear, k), want_linear[k - 1]);
    json_decref(linear);
    json_t *expo = json_pack("{s:i,s:i,s:i,s:s}", "numRetries", 49, "minDelayTarget", 10,
                             "maxDelayTarget", 600, "backoffFunction", "exponential");
    static const int64_t want_expo[] = {10, 20, 40, 80, 160, 320, 600, 600};
    for (int k = 1; k <= 8; k++) assert_int_equal(sns_retry_delay_s(expo, k), want_expo[k - 1]);
    json_decref(expo);
    /* max below min is read as min */
    json_t *odd =
        json_pack("{s:i,s:i,s:i}", "numRetries", 2, "minDelayTarget", 5, "maxDelayTarget", 1);
    assert_int_equal(sns_retry_delay_s(odd, 2), 5);
    json_decref(odd);
}

static void test_mail_text(void **state) {
    (void)state;
    char *m = sns_mail_text("from@x", "to@y", "Sub\r\nBcc: evil@z", "line1\nline2", "id1");
    assert_non_null(strstr(m, "From: <from@x>\r\nTo: <to@y>\r\n"));
    /* a line break in the subject cannot add a header */
    assert_non_null(strstr(m, "Subject: Sub  Bcc: evil@z\r\n"));
    assert_null(strstr(m, "\r\nBcc:"));
    assert_non_null(strstr(m, "\r\n\r\nline1\r\nline2\r\n"));
    assert_non_null(strstr(m, "Message-ID: <id1@"));
    free(m);
}

/* Same keys at every level of two JSON objects (values are compared by the caller). */
static bool same_shape(const json_t *a, const json_t *b) {
    if (json_typeof(a) != json_typeof(b)) return false;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same_shape(json_array_get(a, i), json_array_get(b, i))) return false;
        return true;
    }
    if (!json_is_object(a)) return true;
    if (json_object_size(a) != json_object_size(b)) return false;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v) {
        json_t *w = json_object_get(b, k);
        if (!w || !same_shape(v, w)) return false;
    }
    return true;
}

/* AWS's documented example of an S3 event message (eventVersion 2.1). */
static const char aws_example[] =
    "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"awsRegion\":"
    "\"us-west-2\",\"eventTime\":\"1970-01-01T00:00:00.000Z\",\"eventName\":"
    "\"ObjectCreated:Put\",\"userIdentity\":{\"principalId\":\"AIDAJDPLRKLG7UEXAMPLE\"},"
    "\"requestParameters\":{\"sourceIPAddress\":\"172.16.0.1\"},\"responseElements\":{"
    "\"x-amz-request-id\":\"C3D13FE58DE4C810\",\"x-amz-id-2\":\"FMyUVURIY8/IgAtTv8xRjskZQp\"},"
    "\"s3\":{\"s3SchemaVersion\":\"1.0\",\"configurationId\":\"testConfigRule\",\"bucket\":{"
    "\"name\":\"amzn-s3-demo-bucket\",\"ownerIdentity\":{\"principalId\":\"A3NL1KOZZKExample\"},"
    "\"arn\":\"arn:aws:s3:::amzn-s3-demo-bucket\"},\"object\":{\"key\":\"HappyFace.jpg\","
    "\"size\":1024,\"eTag\":\"d41d8cd98f00b204e9800998ecf8427e\",\"versionId\":"
    "\"096fKKXTRTtl3on89fVO.nfljtsv6qko\",\"sequencer\":\"0055AED6DCD90281E5\"}}}]}";

static void test_s3_records(void **state) {
    (void)state;
    json_t *payload =
        json_pack("{s:s,s:s,s:s,s:i,s:s,s:I,s:s,s:s,s:s,s:s}", "eventName", "ObjectCreated:Put",
                  "bucket", "amzn-s3-demo-bucket", "key", "HappyFace.jpg", "size", 1024, "etag",
                  "d41d8cd98f00b204e9800998ecf8427e", "timeMs", (json_int_t)0, "requestId",
                  "C3D13FE58DE4C810", "sourceIp", "172.16.0.1", "accessKey",
                  "AIDAJDPLRKLG7UEXAMPLE", "versionId", "096fKKXTRTtl3on89fVO.nfljtsv6qko");
    json_t *got = sl_sns_s3_records(payload, "testConfigRule", "us-west-2", "A3NL1KOZZKExample",
                                    0x55AED6DCD90281E5LL);
    json_t *want = json_loads(aws_example, 0, NULL);
    assert_non_null(want);
    if (!same_shape(got, want)) {
        char *t = json_dumps(got, JSON_COMPACT);
        fail_msg("shape differs from AWS's example: %s", t);
    }
    /* every value AWS's example derives from the same inputs is the same */
    json_t *r = json_array_get(json_object_get(got, "Records"), 0);
    json_t *w = json_array_get(json_object_get(want, "Records"), 0);
    static const char *const same[] = {"eventVersion",     "eventSource", "awsRegion",
                                       "eventTime",        "eventName",   "userIdentity",
                                       "requestParameters"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        if (!json_equal(json_object_get(r, same[i]), json_object_get(w, same[i])))
            fail_msg("%s differs", same[i]);
    json_t *rs3 = json_object_get(r, "s3"), *ws3 = json_object_get(w, "s3");
    assert_true(json_equal(json_object_get(rs3, "bucket"), json_object_get(ws3, "bucket")));
    json_t *ro = json_object_get(rs3, "object");
    json_t *wo = json_object_get(ws3, "object");
    assert_true(json_equal(json_object_get(ro, "key"), json_object_get(wo, "key")));
    assert_true(json_equal(json_object_get(ro, "size"), json_object_get(wo, "size")));
    assert_true(json_equal(json_object_get(ro, "eTag"), json_object_get(wo, "eTag")));
    assert_true(json_equal(json_object_get(ro, "versionId"), json_object_get(wo, "versionId")));
    assert_string_equal(json_string_value(json_object_get(ro, "sequencer")), "55AED6DCD90281E5");
    json_decref(got);

    /* keys are URL-encoded as S3 does; a delete has no size or eTag; no versionId unversioned */
    json_object_set_new(payload, "key", json_string("dir/a b+c=\xc3\xa9.txt"));
    json_object_set_new(payload, "eventName", json_string("ObjectRemoved:Delete"));
    json_object_del(payload, "versionId");
    got = sl_sns_s3_records(payload, "c", "us-east-1", "o", 2);
    ro = json_object_get(json_object_get(json_array_get(json_object_get(got, "Records"), 0), "s3"),
                         "object");
    assert_string_equal(json_string_value(json_object_get(ro, "key")), "dir/a+b%2Bc%3D%C3%A9.txt");
    assert_null(json_object_get(ro, "size"));
    assert_null(json_object_get(ro, "eTag"));
    assert_null(json_object_get(ro, "versionId"));
    assert_string_equal(json_string_value(json_object_get(ro, "sequencer")), "0000000000000002");
    json_decref(got);
    json_decref(want);
    json_decref(payload);
}

static void test_s3_test_event_and_matching(void **state) {
    (void)state;
    json_t *t = sl_sns_s3_test_event("b", "RID", 0);
    char *text = json_dumps(t, JSON_COMPACT);
    assert_string_equal(text, "{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\",\"Time\":"
                              "\"1970-01-01T00:00:00.000Z\",\"Bucket\":\"b\",\"RequestId\":"
                              "\"RID\",\"HostId\":\"RID\"}");
    free(text);
    json_decref(t);
    static const struct {
        const char *config, *event, *key;
        bool match;
    } cases[] = {
        {"{\"Events\":[\"s3:ObjectCreated:*\"]}", "ObjectCreated:Put", "k", true},
        {"{\"Events\":[\"s3:ObjectCreated:*\"]}", "ObjectRemoved:Delete", "k", false},
        {"{\"Events\":[\"s3:ObjectCreated:Copy\"]}", "ObjectCreated:Put", "k", false},
        {"{\"Events\":[\"s3:ObjectCreated:Put\"]}", "ObjectCreated:Put", "k", true},
        {"{\"Events\":[\"s3:*\"]}", "ObjectTagging:Put", "k", true},
        {"{\"Events\":[\"s3:ObjectCreated:*\"],\"Filter\":{\"Key\":{\"FilterRules\":[{\"Name\":"
         "\"Prefix\",\"Value\":\"in/\"},{\"Name\":\"Suffix\",\"Value\":\".csv\"}]}}}",
         "ObjectCreated:Put", "in/a.csv", true},
        {"{\"Events\":[\"s3:ObjectCreated:*\"],\"Filter\":{\"Key\":{\"FilterRules\":[{\"Name\":"
         "\"Prefix\",\"Value\":\"in/\"},{\"Name\":\"Suffix\",\"Value\":\".csv\"}]}}}",
         "ObjectCreated:Put", "out/a.csv", false},
        {"{\"Events\":[\"s3:ObjectCreated:*\"],\"Filter\":{\"Key\":{\"FilterRules\":[{\"Name\":"
         "\"Suffix\",\"Value\":\".csv\"}]}}}",
         "ObjectCreated:Put", "in/a.txt", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *c = json_loads(cases[i].config, 0, NULL);
        assert_non_null(c);
        if (sl_sns_s3_event_matches(c, cases[i].event, cases[i].key) != cases[i].match)
            fail_msg("case %zu", i);
        json_decref(c);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attribute_maps),
        cmocka_unit_test(test_message_attributes),
        cmocka_unit_test(test_tags_and_lists),
        cmocka_unit_test(test_topic_names_and_arns),
        cmocka_unit_test(test_message_structure),
        cmocka_unit_test(test_filter_policies),
        cmocka_unit_test(test_filter_policy_errors),
        cmocka_unit_test(test_attributes_doc),
        cmocka_unit_test(test_string_to_sign),
        cmocka_unit_test(test_mail_text),
        cmocka_unit_test(test_s3_records),
        cmocka_unit_test(test_retry_delays),
        cmocka_unit_test(test_s3_test_event_and_matching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
