/* credentials: the access keys the daemon accepts. The configured key pair always; later,
 * short-lived keys issued to tasks and functions (scoped to them, expiring with them).
 * Thread-safe: lookups come from every HTTP thread. */
#ifndef SL_CREDENTIALS_H
#define SL_CREDENTIALS_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/sigv4.h"

typedef struct sl_credentials sl_credentials;

sl_credentials *sl_credentials_new(const char *access_key_id, const char *secret_access_key);
void sl_credentials_free(sl_credentials *c);

/* Issues a key pair valid until expires_ms (wall clock); out buffers hold 21 and 41 bytes. */
void sl_credentials_issue(sl_credentials *c, int64_t expires_ms, char access_key_id[21],
                          char secret_access_key[41]);
void sl_credentials_revoke(sl_credentials *c, const char *access_key_id);

/* Copies the secret for an access key into out; false when the key is unknown, revoked or
 * expired. Matches sl_secret_lookup_fn. */
bool sl_credentials_secret(void *credentials, const char *access_key_id, char out[SL_SECRET_MAX]);

#endif
