/* deliver: SNS's delivery senders. SNS_SENDERS threads drain sns_deliveries in due order, each
 * claiming one delivery at a time (so a slow endpoint holds up only its own sender): HTTP(S)
 * POSTs in SNS's JSON shape and headers (or the bare message with RawMessageDelivery), and mail
 * through the configured SMTP server (libcurl, loaded on first use). A row is deleted once its
 * endpoint took it; a failure (network error, 5xx or 429 from HTTP, any SMTP error) is retried
 * on the delivery's retry policy, then dropped with a log line; other 4xx answers drop it at
 * once, as AWS does. Messages are signed (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA)
 * with an RSA key the daemon generates under its data dir; its certificate is served at the
 * SigningCertURL on the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "core/curl_loader.h"
#include "core/ids.h"
#include "core/log.h"
#include "sns/sns_internal.h"

#define HTTP_TIMEOUT_MS 15000L
#define CERT_PATH       "/_sluice/sns/SimpleNotificationService.pem"
#define KEY_FILE        "sns-signing-key.pem"

/* ---- signing ---- */

struct sns_signer {
    EVP_PKEY *key;
    char *cert_pem;
};

static EVP_PKEY *load_or_create_key(const char *data_dir, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" KEY_FILE, data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (k) return k;
        snprintf(err, errlen, "%.200s is not a PEM private key", path);
        return NULL;
    }
    EVP_PKEY *k = EVP_RSA_gen(2048);
    if (!k) {
        snprintf(err, errlen, "cannot generate the SNS signing key");
        return NULL;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    bool ok = f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
    if (f) ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok, fclose(f);
    else if (fd >= 0) close(fd);
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %.200s: %.80s", path, strerror(errno));
        unlink(tmp);
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

static char *self_signed_cert(EVP_PKEY *key) {
    X509 *x = X509_new();
    char *pem = NULL;
    if (!x) return NULL;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Sluice", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"sns.sluice.local",
                               -1, -1, 0);
    X509_set_issuer_name(x, name);
    BIO *mem = NULL;
    if (X509_sign(x, key, EVP_sha256()) > 0 && (mem = BIO_new(BIO_s_mem())) &&
        PEM_write_bio_X509(mem, x) == 1) {
        char *data;
        long n = BIO_get_mem_data(mem, &data);
        pem = sl_xstrndup(data, (size_t)n);
    }
    BIO_free(mem);
    X509_free(x);
    return pem;
}

/* Loads or creates the signing key under the data dir, and makes its certificate. */
static struct sns_signer *signer_open(const char *data_dir, char *err, size_t errlen) {
    EVP_PKEY *key = load_or_create_key(data_dir, err, errlen);
    if (!key) return NULL;
    char *pem = self_signed_cert(key);
    if (!pem) {
        snprintf(err, errlen, "cannot make the SNS signing certificate");
        EVP_PKEY_free(key);
        return NULL;
    }
    struct sns_signer *s = sl_xcalloc(1, sizeof *s);
    s->key = key;
    s->cert_pem = pem;
    return s;
}

void sns_signer_free(struct sns_signer *s) {
    if (!s) return;
    EVP_PKEY_free(s->key);
    free(s->cert_pem);
    free(s);
}

/* The signer, made on first use (a new data dir's RSA key takes a while to generate, and a
 * daemon that never sends an SNS message should not start slower for it). NULL, logged, when
 * the key cannot be read or written. */
static struct sns_signer *signer(sl_sns *sns) {
    pthread_mutex_lock(&sns->signer_mu);
    if (!sns->signer && !sns->signer_failed) {
        char err[300];
        sns->signer = signer_open(sl_store_dir(sns->store), err, sizeof err);
        if (!sns->signer) {
            sns->signer_failed = true;
            sl_error("\"sns signing key unusable: messages go unsigned\" error=\"%s\"", err);
        }
    }
    pthread_mutex_unlock(&sns->signer_mu);
    return sns->signer;
}

const char *sns_signing_cert(sl_sns *sns) {
    struct sns_signer *s = signer(sns);
    return s ? s->cert_pem : NULL;
}

static void sign_field(sl_buf *b, const json_t *msg, const char *name) {
    const char *v = json_string_value(json_object_get(msg, name));
    if (!v) return;
    sl_buf_printf(b, "%s\n", name);
    sl_buf_puts(b, v);
    sl_buf_putc(b, '\n');
}

char *sns_string_to_sign(const json_t *msg) {
    static const char *const notification[] = {"Message",  "MessageId", "Subject", "Timestamp",
                                               "TopicArn", "Type",      NULL};
    static const char *const confirmation[] = {"Message", "MessageId", "SubscribeURL", "Timestamp",
                                               "Token",   "TopicArn",  "Type",         NULL};
    const char *type = json_string_value(json_object_get(msg, "Type"));
    const char *const *fields = type && !strcmp(type, "Notification") ? notification : confirmation;
    sl_buf b;
    sl_buf_init(&b);
    for (size_t i = 0; fields[i]; i++) sign_field(&b, msg, fields[i]);
    if (!b.data) sl_buf_puts(&b, "");
    return sl_buf_steal(&b);
}

/* base64 of the signature of text with SHA1 (version "1") or SHA256 (other). */
static char *sign_text(const struct sns_signer *s, const char *text, bool sha256) {
    if (!s) return NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[1024];
    size_t siglen = sizeof sig;
    char *out = NULL;
    if (ctx &&
        EVP_DigestSignInit(ctx, NULL, sha256 ? EVP_sha256() : EVP_sha1(), NULL, s->key) == 1 &&
        EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)text, strlen(text)) == 1) {
        out = sl_xmalloc(siglen * 4 / 3 + 8);
        size_t n = sl_base64_encode(sig, siglen, out);
        out[n] = 0;
    }
    EVP_MD_CTX_free(ctx);
    return out;
}

/* ---- the message as sent ---- */

static void url_param(sl_buf *b, const char *name, const char *value, bool first) {
    sl_buf_printf(b, "%c%s=", first ? '?' : '&', name);
    sl_buf_uri_encode(b, value, strlen(value), false);
}

static char *subscribe_url(const sl_sns *sns, const json_t *doc) {
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_printf(&b, "%s/", sns->endpoint);
    url_param(&b, "Action", "ConfirmSubscription", true);
    url_param(&b, "TopicArn", json_string_value(json_object_get(doc, "TopicArn")), false);
    url_param(&b, "Token", json_string_value(json_object_get(doc, "Token")), false);
    return sl_buf_steal(&b);
}

static char *unsubscribe_url(const sl_sns *sns, const char *sub_arn) {
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_printf(&b, "%s/", sns->endpoint);
    url_param(&b, "Action", "Unsubscribe", true);
    url_param(&b, "SubscriptionArn", sub_arn, false);
    return sl_buf_steal(&b);
}

static void copy_field(json_t *out, const json_t *doc, const char *name) {
    json_t *v = json_object_get(doc, name);
    if (v) json_object_set(out, name, v);
}

/* The document in AWS's field order, with URLs and signature. The signature version is the
 * topic's SignatureVersion attribute when the row carries one, else "1" as on AWS. */
static json_t *message_as_sent(sl_sns *sns, const json_t *doc, const char *sub_arn) {
    const char *type = json_string_value(json_object_get(doc, "Type"));
    bool notification = type && !strcmp(type, "Notification");
    json_t *out = json_object();
    char *sub_url = notification ? NULL : subscribe_url(sns, doc);
    copy_field(out, doc, "Type");
    copy_field(out, doc, "MessageId");
    if (!notification) copy_field(out, doc, "Token");
    copy_field(out, doc, "TopicArn");
    if (notification) copy_field(out, doc, "Subject");
    copy_field(out, doc, "Message");
    if (sub_url) json_object_set_new(out, "SubscribeURL", json_string(sub_url));
    copy_field(out, doc, "Timestamp");
    const char *version = json_string_value(json_object_get(doc, "SignatureVersion"));
    if (!version) version = "1";
    char *text = sns_string_to_sign(out);
    char *sig = sign_text(signer(sns), text, strcmp(version, "1") != 0);
    free(text);
    json_object_set_new(out, "SignatureVersion", json_string(version));
    json_object_set_new(out, "Signature", json_string(sig ? sig : ""));
    free(sig);
    char cert[600];
    snprintf(cert, sizeof cert, "%s" CERT_PATH, sns->endpoint);
    json_object_set_new(out, "SigningCertURL", json_string(cert));
    if (notification) {
        char *unsub = unsubscribe_url(sns, sub_arn);
        json_object_set_new(out, "UnsubscribeURL", json_string(unsub));
        free(unsub);
        copy_field(out, doc, "MessageAttributes");
    }
    free(sub_url);
    return out;
}

/* ---- HTTP ---- */

static _Thread_local CURL *thread_curl;

/* Releases this thread's HTTP handle (as a sending thread ends). */
static void thread_end(void) {
    if (!thread_curl) return;
    char err[64];
    const sl_curl_api *cu = sl_curl(err, sizeof err);
    if (cu) cu->easy_cleanup(thread_curl);
    thread_curl = NULL;
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
    (void)p;
    (void)ud;
    return size * n;
}

typedef enum {
    SENT,
    RETRY,
    DROP
} send_result;

static send_result send_http(sl_sns *sns, const char *sub_arn, const char *url, bool raw,
                             const json_t *doc, const char *content_type, char *err,
                             size_t errlen) {
    const sl_curl_api *cu = sl_curl(err, errlen);
    if (!cu) return RETRY;
    if (!thread_curl) thread_curl = cu->easy_init();
    CURL *curl = thread_curl;
    cu->easy_reset(curl);
    const char *type = json_string_value(json_object_get(doc, "Type"));
    bool notification = type && !strcmp(type, "Notification");
    json_t *sent = message_as_sent(sns, doc, sub_arn);
    char *body = raw && notification
                     ? sl_xstrdup(json_string_value(json_object_get(doc, "Message")))
                     : json_dumps(sent, JSON_COMPACT);
    struct curl_slist *h = NULL;
    char line[1200];
    snprintf(line, sizeof line, "x-amz-sns-message-type: %s", type ? type : "");
    h = cu->slist_append(h, line);
    snprintf(line, sizeof line, "x-amz-sns-message-id: %s",
             json_string_value(json_object_get(doc, "MessageId")));
    h = cu->slist_append(h, line);
    snprintf(line, sizeof line, "x-amz-sns-topic-arn: %s",
             json_string_value(json_object_get(doc, "TopicArn")));
    h = cu->slist_append(h, line);
    if (strcmp(type ? type : "", "SubscriptionConfirmation") != 0) {
        snprintf(line, sizeof line, "x-amz-sns-subscription-arn: %s", sub_arn);
        h = cu->slist_append(h, line);
    }
    if (raw && notification) h = cu->slist_append(h, "x-amz-sns-rawdelivery: true");
    snprintf(line, sizeof line, "Content-Type: %.200s",
             content_type ? content_type : "text/plain; charset=UTF-8");
    h = cu->slist_append(h, line);
    h = cu->slist_append(h, "User-Agent: Amazon Simple Notification Service Agent");
    h = cu->slist_append(h, "Expect:");
    cu->easy_setopt(curl, CURLOPT_URL, url);
    cu->easy_setopt(curl, CURLOPT_POST, 1L);
    cu->easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    cu->easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    cu->easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    cu->easy_setopt(curl, CURLOPT_TIMEOUT_MS, HTTP_TIMEOUT_MS);
    cu->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    cu->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    cu->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = cu->easy_perform(curl);
    long status = 0;
    cu->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    cu->slist_free_all(h);
    free(body);
    json_decref(sent);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s", cu->easy_strerror(cc));
        return RETRY;
    }
    if (status >= 200 && status < 300) return SENT;
    snprintf(err, errlen, "the endpoint answered HTTP %ld", status);
    return status >= 500 || status == 429 ? RETRY : DROP;
}

/* ---- SMTP ---- */

char *sns_mail_text(const char *from, const char *to, const char *subject, const char *body,
                    const char *message_id) {
    char date[40];
    sl_time_rfc1123(sl_now_ms(), date);
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_printf(&b, "Date: %s\r\nFrom: <%s>\r\nTo: <%s>\r\n", date, from, to);
    /* a header value must not carry a line break the sender did not mean */
    sl_buf_puts(&b, "Subject: ");
    for (const char *p = subject; *p; p++) sl_buf_putc(&b, *p == '\r' || *p == '\n' ? ' ' : *p);
    sl_buf_printf(&b,
                  "\r\nMessage-ID: <%s@sns.sluice.local>\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=UTF-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n",
                  message_id);
    /* CRLF line ends; a line starting with '.' is dot-stuffed by curl itself */
    for (const char *p = body; *p; p++) {
        if (*p == '\n' && (p == body || p[-1] != '\r')) sl_buf_putc(&b, '\r');
        sl_buf_putc(&b, *p);
    }
    sl_buf_puts(&b, "\r\n");
    return sl_buf_steal(&b);
}

typedef struct {
    const char *data;
    size_t len, off;
} mail_reader;

static size_t mail_read(char *buf, size_t size, size_t n, void *ud) {
    mail_reader *r = ud;
    size_t room = size * n, left = r->len - r->off;
    size_t take = left < room ? left : room;
    memcpy(buf, r->data + r->off, take);
    r->off += take;
    return take;
}

static send_result send_mail(sl_sns *sns, const char *sub_arn, const char *protocol, const char *to,
                             const json_t *doc, char *err, size_t errlen) {
    if (!sns->cfg->smtp_url) {
        snprintf(err, errlen, "no smtp_url is configured (docs/configuration.md)");
        return RETRY;
    }
    const sl_curl_api *cu = sl_curl(err, errlen);
    if (!cu) return RETRY;
    const char *type = json_string_value(json_object_get(doc, "Type"));
    bool notification = type && !strcmp(type, "Notification");
    json_t *sent = message_as_sent(sns, doc, sub_arn);
    const char *subject = json_string_value(json_object_get(doc, "Subject"));
    if (!notification) subject = "AWS Notification - Subscription Confirmation";
    else if (!subject) subject = "AWS Notification Message";
    sl_buf b;
    sl_buf_init(&b);
    if (!strcmp(protocol, "email-json")) {
        char *j = json_dumps(sent, JSON_INDENT(2));
        sl_buf_puts(&b, j);
        free(j);
    } else if (!notification) {
        sl_buf_printf(&b,
                      "You have chosen to subscribe to the topic: \n%s\n\n"
                      "To confirm this subscription, click or visit the link below (If this "
                      "was in error no action is necessary):\nConfirm subscription:\n%s\n",
                      json_string_value(json_object_get(doc, "TopicArn")),
                      json_string_value(json_object_get(sent, "SubscribeURL")));
    } else {
        sl_buf_printf(&b,
                      "%s\n\n--\nIf you wish to stop receiving notifications from this topic, "
                      "please click or visit the link below to unsubscribe:\n%s\n",
                      json_string_value(json_object_get(doc, "Message")),
                      json_string_value(json_object_get(sent, "UnsubscribeURL")));
    }
    char *body = sl_buf_steal(&b);
    char *mail = sns_mail_text(sns->cfg->smtp_from, to, subject, body,
                               json_string_value(json_object_get(doc, "MessageId")));
    free(body);
    json_decref(sent);
    CURL *curl = cu->easy_init();
    char addr[600];
    struct curl_slist *rcpt = NULL;
    snprintf(addr, sizeof addr, "<%s>", to);
    rcpt = cu->slist_append(rcpt, addr);
    char from[600];
    snprintf(from, sizeof from, "<%s>", sns->cfg->smtp_from);
    mail_reader r = {mail, strlen(mail), 0};
    cu->easy_setopt(curl, CURLOPT_URL, sns->cfg->smtp_url);
    cu->easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    cu->easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    cu->easy_setopt(curl, CURLOPT_READFUNCTION, mail_read);
    cu->easy_setopt(curl, CURLOPT_READDATA, &r);
    cu->easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    cu->easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
    cu->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    CURLcode cc = cu->easy_perform(curl);
    cu->slist_free_all(rcpt);
    cu->easy_cleanup(curl);
    free(mail);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "SMTP: %s", cu->easy_strerror(cc));
        return RETRY;
    }
    return SENT;
}

/* ---- the senders ---- */

int64_t sns_retry_delay_s(const json_t *policy, int k) {
    int64_t n = json_integer_value(json_object_get(policy, "numRetries"));
    int64_t lo = json_integer_value(json_object_get(policy, "minDelayTarget"));
    int64_t hi = json_integer_value(json_object_get(policy, "maxDelayTarget"));
    const char *fn = json_string_value(json_object_get(policy, "backoffFunction"));
    if (hi < lo) hi = lo;
    if (lo < 0) lo = 0;
    if (fn && (!strcmp(fn, "exponential") || !strcmp(fn, "geometric"))) {
        int64_t d = lo ? lo : 1;
        for (int i = 1; i < k && d < hi; i++) d *= 2;
        return d > hi ? hi : d;
    }
    if (n <= 1) return lo;
    return lo + (hi - lo) * (k - 1) / (n - 1);
}

/* One claimed delivery: its row, and what became of it. */
typedef struct {
    int64_t id;
    int attempts;
    char *sub_arn, *protocol, *endpoint;
    bool raw;
    json_t *policy, *doc;
    send_result result;
    int64_t next_ms;
    char error[256];
} delivery;

static void delivery_clear(delivery *d) {
    free(d->sub_arn);
    free(d->protocol);
    free(d->endpoint);
    json_decref(d->policy);
    json_decref(d->doc);
    memset(d, 0, sizeof *d);
}

static int settle_run(sqlite3 *db, void *arg) {
    delivery *d = arg;
    sqlite3_stmt *st =
        d->result == RETRY
            ? sl_store_cached(db, "UPDATE sns_deliveries SET attempts=?2, next_ms=?3,"
                                  " last_error=?4 WHERE id=?1")
            : sl_store_cached(db, "DELETE FROM sns_deliveries WHERE id=?1");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, d->id);
    if (d->result == RETRY) {
        sqlite3_bind_int(st, 2, d->attempts);
        sqlite3_bind_int64(st, 3, d->next_ms);
        sqlite3_bind_text(st, 4, d->error, -1, SQLITE_STATIC);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Sends a claimed delivery and decides its fate. */
static void send_one(sl_sns *sns, delivery *d) {
    if (!json_object_size(d->doc) || !d->sub_arn || !d->protocol || !d->endpoint) {
        d->result = DROP;
        snprintf(d->error, sizeof d->error, "stored delivery is unreadable");
    } else if (!strncmp(d->protocol, "http", 4)) {
        const char *ctype = json_string_value(json_object_get(d->policy, "headerContentType"));
        d->result = send_http(sns, d->sub_arn, d->endpoint, d->raw, d->doc, ctype, d->error,
                              sizeof d->error);
    } else {
        d->result =
            send_mail(sns, d->sub_arn, d->protocol, d->endpoint, d->doc, d->error, sizeof d->error);
    }
    if (d->result == RETRY) {
        int64_t retries = json_integer_value(json_object_get(d->policy, "numRetries"));
        if (d->attempts > retries) d->result = DROP;
        else d->next_ms = sl_now_ms() + sns_retry_delay_s(d->policy, d->attempts) * 1000;
    }
    if (d->result != SENT)
        sl_info("\"sns delivery failed\" subscription=%s attempt=%d retry=%s error=\"%s\"",
                d->sub_arn ? d->sub_arn : "?", d->attempts, d->result == RETRY ? "yes" : "no",
                d->error);
}

static bool in_flight(const sl_sns *sns, int64_t id) {
    for (int i = 0; i < SNS_SENDERS; i++)
        if (sns->in_flight[i] == id) return true;
    return false;
}

static char *column_dup(sqlite3_stmt *st, int i) {
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? sl_xstrdup(s) : NULL;
}

/* With mu held: claims the first due delivery no other sender holds into *d (slot is this
 * sender's in_flight entry). Returns true when it claimed one; otherwise *wait_ms says how
 * long until one may be due (0: due ones exist, all held by other senders). The read is made
 * under mu, after every earlier settle committed, so a settled row is never claimed again. */
static bool claim(sl_sns *sns, int slot, delivery *d, int64_t *wait_ms) {
    sqlite3 *db = sl_store_reader(sns->store);
    sqlite3_stmt *st = sl_store_cached(
        db, "SELECT id, subscription_arn, protocol, endpoint, raw, policy, message, attempts"
            " FROM sns_deliveries WHERE next_ms <= ?1 ORDER BY next_ms, id LIMIT ?2");
    *wait_ms = 1000;
    if (!st) return false;
    sqlite3_bind_int64(st, 1, sl_now_ms());
    sqlite3_bind_int(st, 2, SNS_SENDERS + 1);
    bool claimed = false, any = false;
    while (!claimed && sqlite3_step(st) == SQLITE_ROW) {
        any = true;
        int64_t id = sqlite3_column_int64(st, 0);
        if (in_flight(sns, id)) continue;
        d->id = id;
        d->sub_arn = column_dup(st, 1);
        d->protocol = column_dup(st, 2);
        d->endpoint = column_dup(st, 3);
        d->raw = sqlite3_column_int(st, 4) != 0;
        d->policy = json_loads((const char *)sqlite3_column_text(st, 5), 0, NULL);
        d->doc = json_loads((const char *)sqlite3_column_text(st, 6), 0, NULL);
        d->attempts = sqlite3_column_int(st, 7) + 1;
        sns->in_flight[slot] = id;
        claimed = true;
    }
    sqlite3_reset(st);
    if (!claimed)
        *wait_ms = any ? 0 : sl_store_due_in_ms(db, "SELECT min(next_ms) FROM sns_deliveries");
    return claimed;
}

typedef struct {
    sl_sns *sns;
    int slot;
} sender_arg;

static void *sender_main(void *arg) {
    sender_arg *sa = arg;
    sl_sns *sns = sa->sns;
    int slot = sa->slot;
    free(sa);
    pthread_mutex_lock(&sns->mu);
    while (!sns->stopping) {
        unsigned seen = sns->generation;
        delivery d = {0};
        int64_t wait_ms;
        if (claim(sns, slot, &d, &wait_ms)) {
            pthread_mutex_unlock(&sns->mu);
            send_one(sns, &d);
            if (sl_store_write(sns->store, settle_run, &d) != 0)
                sl_error("\"sns delivery settle failed\" id=%lld", (long long)d.id);
            delivery_clear(&d);
            pthread_mutex_lock(&sns->mu);
            sns->in_flight[slot] = 0;
            sns->generation++; /* a held row is free again, a retry may be due sooner */
            pthread_cond_broadcast(&sns->cv);
            continue;
        }
        /* nothing to claim: sleep until a kick, a settle elsewhere, or the next due time
         * (every producer kicks after its commit; the timed wait is for retries) */
        if (sns->generation == seen && !sns->stopping)
            sl_cond_wait_ms(&sns->cv, &sns->mu,
                            wait_ms == 0     ? 1000
                            : wait_ms > 5000 ? 5000
                                             : wait_ms);
    }
    pthread_mutex_unlock(&sns->mu);
    thread_end();
    return NULL;
}

void sl_sns_kick(sl_sns *sns) {
    if (!sns) return;
    pthread_mutex_lock(&sns->mu);
    sns->generation++;
    pthread_cond_broadcast(&sns->cv);
    pthread_mutex_unlock(&sns->mu);
}

int sns_deliver_start(sl_sns *sns, char *err, size_t errlen) {
    if (sns->nsenders) return 0;
    for (int i = 0; i < SNS_SENDERS; i++) {
        sender_arg *sa = sl_xcalloc(1, sizeof *sa);
        sa->sns = sns;
        sa->slot = i;
        if (pthread_create(&sns->senders[i], NULL, sender_main, sa) != 0) {
            free(sa);
            break;
        }
        pthread_setname_np(sns->senders[i], "sl-sns");
        sns->nsenders++;
    }
    if (!sns->nsenders) {
        snprintf(err, errlen, "cannot start the SNS delivery threads");
        return -1;
    }
    return 0;
}

void sns_deliver_stop(sl_sns *sns) {
    if (!sns->nsenders) return;
    pthread_mutex_lock(&sns->mu);
    sns->stopping = true;
    pthread_cond_broadcast(&sns->cv);
    pthread_mutex_unlock(&sns->mu);
    for (int i = 0; i < sns->nsenders; i++) pthread_join(sns->senders[i], NULL);
    sns->nsenders = 0;
}
