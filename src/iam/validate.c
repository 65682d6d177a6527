/* validate: the IAM model's input constraints (names, paths, document characters) and the
 * policy grammar IAM checks before it stores a document. Only what IAM itself rejects at the
 * API is checked here; nothing evaluates a policy (Sluice does not enforce IAM). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "iam/iam_internal.h"

bool iam_name_valid(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n < 1 || n > max) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("_+=,.@-", *p)))
            return false;
    return true;
}

bool iam_path_valid(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 512 || s[0] != '/' || s[n - 1] != '/') return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) return false;
    return true;
}

bool iam_path_prefix_valid(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 512 || s[0] != '/') return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7f) return false;
    return true;
}

bool iam_document_chars_valid(const char *s) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; n++) {
        if (*p == '\t' || *p == '\n' || *p == '\r' || (*p >= 0x20 && *p < 0x80)) {
            p++;
        } else if ((*p == 0xc2 || *p == 0xc3) && p[1] >= 0x80 && p[1] <= 0xbf) {
            p += 2; /* U+0080..U+00FF */
        } else {
            return false;
        }
    }
    return n >= 1 && n <= 131072;
}

size_t iam_utf8_length(const char *s) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xc0) != 0x80) n++;
    return n;
}

static bool one_or_more_strings(json_t *v) {
    if (json_is_string(v)) return true;
    if (!json_is_array(v) || json_array_size(v) == 0) return false;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) if (!json_is_string(e)) return false;
    return true;
}

static int statement_check(json_t *st, bool trust, char *err, size_t errlen) {
    if (!json_is_object(st)) return snprintf(err, errlen, "Syntax errors in policy."), -1;
    const char *effect = json_string_value(json_object_get(st, "Effect"));
    if (!json_object_get(st, "Effect"))
        return snprintf(err, errlen, "Missing required field Effect"), -1;
    if (!effect || (strcmp(effect, "Allow") && strcmp(effect, "Deny")))
        return snprintf(err, errlen, "Invalid effect: %s", effect ? effect : "(not a string)"), -1;
    json_t *action = json_object_get(st, "Action"), *not_action = json_object_get(st, "NotAction");
    if (!action && !not_action)
        return snprintf(err, errlen, "Policy statement must contain actions."), -1;
    if ((action && !one_or_more_strings(action)) ||
        (not_action && !one_or_more_strings(not_action)))
        return snprintf(err, errlen, "Syntax errors in policy."), -1;
    bool principal = json_object_get(st, "Principal") || json_object_get(st, "NotPrincipal");
    bool resource = json_object_get(st, "Resource") || json_object_get(st, "NotResource");
    if (trust && !principal) return snprintf(err, errlen, "Missing required field Principal"), -1;
    if (trust && resource) return snprintf(err, errlen, "Has prohibited field Resource"), -1;
    if (!trust && principal)
        return snprintf(err, errlen, "Policy document should not specify a principal."), -1;
    if (!trust && !resource)
        return snprintf(err, errlen, "Policy statement must contain resources."), -1;
    return 0;
}

int iam_policy_check(const char *doc, bool trust, char *err, size_t errlen) {
    json_error_t je;
    json_t *root = json_loads(doc, 0, &je);
    if (!root) return snprintf(err, errlen, "This policy contains invalid Json"), -1;
    int rc = -1;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "Syntax errors in policy.");
        goto out;
    }
    json_t *version = json_object_get(root, "Version");
    if (version &&
        (!json_is_string(version) || (strcmp(json_string_value(version), "2012-10-17") &&
                                      strcmp(json_string_value(version), "2008-10-17")))) {
        snprintf(err, errlen, "The policy failed legacy parsing");
        goto out;
    }
    json_t *statement = json_object_get(root, "Statement");
    if (!statement || (json_is_array(statement) && json_array_size(statement) == 0)) {
        snprintf(err, errlen, "Syntax errors in policy.");
        goto out;
    }
    if (json_is_array(statement)) {
        size_t i;
        json_t *st;
        json_array_foreach(statement, i,
                           st) if (statement_check(st, trust, err, errlen) != 0) goto out;
    } else if (statement_check(statement, trust, err, errlen) != 0) {
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}
