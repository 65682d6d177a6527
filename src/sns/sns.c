/* sns: the service's life cycle: the delivery senders (started once the daemon knows its own
 * URL, which messages carry) and shutdown. The signing key is made on first use (deliver.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "sns/sns_internal.h"

sl_sns *sl_sns_new(const sl_context *ctx, char *err, size_t errlen) {
    sl_sns *sns = sl_xcalloc(1, sizeof *sns);
    sns->cfg = ctx->cfg;
    sns->store = ctx->store;
    sns->credentials = ctx->credentials;
    pthread_mutex_init(&sns->mu, NULL);
    pthread_cond_init(&sns->cv, NULL);
    pthread_mutex_init(&sns->signer_mu, NULL);
    (void)err;
    (void)errlen;
    return sns;
}

void sl_sns_set_endpoint(sl_sns *sns, const char *endpoint) {
    free(sns->endpoint);
    sns->endpoint = sl_xstrdup(endpoint);
    char err[128];
    if (sns_deliver_start(sns, err, sizeof err) != 0) fprintf(stderr, "sluice: %s\n", err);
}

void sl_sns_free(sl_sns *sns) {
    if (!sns) return;
    sns_deliver_stop(sns);
    sns_signer_free(sns->signer);
    pthread_mutex_destroy(&sns->mu);
    pthread_cond_destroy(&sns->cv);
    pthread_mutex_destroy(&sns->signer_mu);
    free(sns->endpoint);
    free(sns);
}
