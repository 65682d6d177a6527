#!/usr/bin/env python3
# sluice-integration: own-daemon
"""The examples, end to end: each examples/*/run.sh that this file lists runs against a daemon
it starts itself (the example's own config carries its image aliases), with the daemon's stderr
in SLUICE_DAEMON_LOG_DIR for the runner's sanitizer check. One TAP line per example; a failing
example's output follows as diagnostics.
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FILTER = os.environ.get("SLUICE_TEST_FILTER", "")
EXAMPLES = [
    # (test name, script, time limit in seconds)
    ("cookbook_fargate", "examples/cookbook-fargate/run.sh", 120),
]


def run_example(name, script, limit):
    env = dict(os.environ)
    env.pop("AWS_ENDPOINT_URL", None)  # the example starts its own daemon with its config
    started = time.monotonic()
    try:
        out = subprocess.run(["bash", os.path.join(ROOT, script)], cwd=ROOT, env=env,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=limit)
        ok, text = out.returncode == 0, out.stdout + out.stderr
        why = "exit status %d" % out.returncode
    except subprocess.TimeoutExpired as e:
        ok = False
        text = (e.stdout or b"").decode("utf-8", "replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        why = "still running after %d s" % limit
    elapsed = time.monotonic() - started
    if ok:
        print("ok - %s (%.1f s)" % (name, elapsed), flush=True)
        return True
    print("not ok - %s: %s" % (name, why), flush=True)
    for line in text.rstrip("\n").splitlines()[-60:]:
        print("# " + line, flush=True)
    return False


if __name__ == "__main__":
    if not os.environ.get("SLUICE_BIN"):
        print("ok - examples # SKIP SLUICE_BIN is not set", flush=True)
        sys.exit(0)
    failed = 0
    for name, script, limit in EXAMPLES:
        if FILTER and FILTER not in name:
            continue
        if not run_example(name, script, limit):
            failed += 1
    sys.exit(1 if failed else 0)
