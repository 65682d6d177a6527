/* cli_shim: the `aws` wrapper tasks find first on PATH. The AWS CLI that Debian ships (2.9)
 * ignores AWS_ENDPOINT_URL, so `aws s3 cp` in a task would go to AWS; the wrapper passes the
 * endpoint on. Written once per data directory, by the daemon for its tasks and by an agent for
 * the tasks it runs. */
#ifndef SL_TASKS_CLI_SHIM_H
#define SL_TASKS_CLI_SHIM_H

#include <stdbool.h>
#include <stddef.h>

/* Writes <data_dir>/bin/aws (atomically) and puts that directory in out. False when it cannot. */
bool sl_cli_shim_install(const char *data_dir, char *out, size_t n);

#endif
