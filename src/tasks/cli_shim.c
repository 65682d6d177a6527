/* cli_shim: the `aws` wrapper for tasks (see cli_shim.h). */
#include "tasks/cli_shim.h"

#include <stdio.h>
#include <sys/stat.h>

static const char AWS_SHIM[] = "#!/bin/sh\n"
                               "# Sluice: pass AWS_ENDPOINT_URL to AWS CLIs that ignore it.\n"
                               "for c in /usr/bin/aws /usr/local/bin/aws; do\n"
                               "  if [ -x \"$c\" ]; then\n"
                               "    if [ -n \"$AWS_ENDPOINT_URL\" ]; then exec \"$c\" "
                               "--endpoint-url \"$AWS_ENDPOINT_URL\" \"$@\"; fi\n"
                               "    exec \"$c\" \"$@\"\n"
                               "  fi\n"
                               "done\n"
                               "echo 'aws: the AWS CLI is not installed' >&2\n"
                               "exit 127\n";

bool sl_cli_shim_install(const char *data_dir, char *out, size_t n) {
    char d[1100], f[1200], tmp[1300];
    snprintf(d, sizeof d, "%.1000s/bin", data_dir);
    snprintf(f, sizeof f, "%s/aws", d);
    snprintf(tmp, sizeof tmp, "%s.tmp", f);
    mkdir(d, 0755);
    FILE *fp = fopen(tmp, "w");
    if (!fp) return false;
    bool ok = fwrite(AWS_SHIM, 1, sizeof AWS_SHIM - 1, fp) == sizeof AWS_SHIM - 1;
    ok = fclose(fp) == 0 && ok;
    if (!ok || chmod(tmp, 0755) != 0 || rename(tmp, f) != 0) return false;
    snprintf(out, n, "%s", d);
    return true;
}
