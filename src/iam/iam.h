/* iam: IAM roles and their inline policies, kept in the store and returned in IAM's shapes
 * behind the Query protocol (form-encoded POST, Action=..., Version=2010-05-08, XML answers),
 * so `aws iam create-role` and boto3's iam client work unchanged. Nothing is enforced: a
 * role's policies are stored and returned, never consulted when a request is authorised
 * (docs/iam.md). Operations Sluice does not implement answer InvalidAction. */
#ifndef SL_IAM_H
#define SL_IAM_H

#include <stddef.h>

#include "core/context.h"
#include "core/router.h"

typedef struct sl_iam sl_iam;

sl_iam *sl_iam_new(const sl_context *ctx, char *err, size_t errlen);
/* Registers the Query service under the SigV4 signing name "iam". */
void sl_iam_register(sl_iam *iam, sl_router *router);
void sl_iam_free(sl_iam *iam);

#endif
