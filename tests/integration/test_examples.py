#!/usr/bin/env python3
# sluice-integration: own-daemon
"""The examples, end to end: each examples/*/run.sh that this file lists runs against a daemon
it starts itself (the example's own config carries its image aliases), with the daemon's stderr
in SLUICE_DAEMON_LOG_DIR for the runner's sanitizer check. One TAP line per example; a failing
example's output follows as diagnostics.
"""
import os
import sys

import harness as h

EXAMPLES = [
    # (test name, script, time limit in seconds)
    ("cookbook_fargate", "examples/cookbook-fargate/run.sh", 120),
]


if __name__ == "__main__":
    if not os.environ.get("SLUICE_BIN"):
        print("ok - examples # SKIP SLUICE_BIN is not set", flush=True)
        sys.exit(0)
    h.main([(name, lambda s=script, t=limit: h.run_example(s, t)) for name, script, limit in EXAMPLES],
           timings=True)
