/* iam_internal: what the IAM files share: the model's input constraints and the policy
 * grammar check (validate.c), and the role and inline-policy rows in the store (iam.c). api.c
 * owns the wire (with core/query.c's form decoder and XML envelopes). */
#ifndef SL_IAM_INTERNAL_H
#define SL_IAM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/query.h"
#include "iam/iam.h"
#include "store/store.h"

struct sl_iam {
    const sl_config *cfg;
    sl_store *store;
    struct sl_credentials *credentials;
};

/* ---- validate.c: the IAM model's constraints ---- */

/* [\w+=,.@-]{1,max}: role names (max 64) and policy names (max 128). */
bool iam_name_valid(const char *s, size_t max);
/* "/" or "/" [\x21-\x7E]+ "/", at most 512 bytes. */
bool iam_path_valid(const char *s);
/* "/" [\x21-\x7F]*, at most 512 bytes. */
bool iam_path_prefix_valid(const char *s);
/* Tab, LF, CR and U+0020..U+00FF only (the model's policyDocumentType), 1..131072 bytes. */
bool iam_document_chars_valid(const char *s);
/* Number of Unicode code points in UTF-8 text (invalid bytes count one each). */
size_t iam_utf8_length(const char *s);

/* The policy grammar IAM checks before storing: the document is a JSON object, Version (when
 * present) is 2012-10-17 or 2008-10-17, Statement is a statement or a non-empty list of them,
 * each with Effect Allow or Deny and an Action or NotAction. A trust policy (trust=true)
 * names a Principal and no Resource; a permissions policy names a Resource and no Principal.
 * Returns 0, or -1 with IAM's message for MalformedPolicyDocument in err. */
int iam_policy_check(const char *doc, bool trust, char *err, size_t errlen);

/* ---- iam.c: roles and inline policies in the store ---- */

typedef struct {
    char *name;
    char *role_id;
    char *path;
    int64_t created_ms;
    char *assume_role_policy;
    char *description; /* NULL when none */
    int max_session_duration;
    char *tags; /* JSON [{"Key":..,"Value":..}] */
} iam_role;

void iam_role_free(iam_role *r);
/* "arn:aws:iam::<account>:role<path><name>" */
void iam_role_arn(const sl_iam *iam, const iam_role *r, char *out, size_t n);
/* "AROA" followed by 17 upper-case letters and digits, as IAM's role ids are. */
void iam_role_id_new(char out[22]);

typedef enum {
    IAM_OK = 0,
    IAM_EXISTS,       /* EntityAlreadyExists */
    IAM_NO_ROLE,      /* NoSuchEntity: the role */
    IAM_NO_POLICY,    /* NoSuchEntity: the role's policy */
    IAM_HAS_POLICIES, /* DeleteConflict */
    IAM_FAILED,       /* ServiceFailure */
} iam_status;

/* Role names are unique without regard to case, as in IAM; lookups ignore case too. */
iam_status iam_role_create(sl_iam *iam, const iam_role *r);
/* Loads a role into *out (fields owned by *out). */
iam_status iam_role_get(sl_iam *iam, const char *name, iam_role *out);
iam_status iam_role_delete(sl_iam *iam, const char *name);
iam_status iam_role_set_trust(sl_iam *iam, const char *name, const char *doc);
/* Up to max roles whose path starts with prefix (NULL: all) and whose name sorts after
 * marker (NULL: from the first), in name order; *truncated when more follow. */
iam_status iam_roles_list(sl_iam *iam, const char *prefix, const char *marker, int max,
                          iam_role **out, size_t *n, bool *truncated);

iam_status iam_policy_put(sl_iam *iam, const char *role, const char *name, const char *doc);
/* *doc (malloc'd) and *role_name (the role's stored spelling, malloc'd) on success. */
iam_status iam_policy_get(sl_iam *iam, const char *role, const char *name, char **role_name,
                          char **doc);
iam_status iam_policy_delete(sl_iam *iam, const char *role, const char *name);
/* Policy names of a role in order, after marker, up to max: malloc'd array of malloc'd
 * strings. */
iam_status iam_policies_list(sl_iam *iam, const char *role, const char *marker, int max,
                             char ***names, size_t *n, bool *truncated);

#endif
