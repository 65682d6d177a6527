#!/usr/bin/env python3
# sluice-integration: own-daemon
"""examples/edge-download/run.sh end to end (its own daemon and agent): S3 upload → CloudTrail
event → rule → state machine → ecs:runTask.sync on a `sluice agent` → the file on the device;
the Choice's other path, a killed agent failing the execution, a restarted agent taking work.
Output: TAP-like lines for tests/integration/run."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "..", "..", "examples", "edge-download", "run.sh")


def main():
    env = dict(os.environ)
    env.pop("AWS_ENDPOINT_URL", None)  # the example starts its own daemon with its config
    p = subprocess.run(["bash", RUN], env=env, capture_output=True, text=True, timeout=240)
    if p.returncode == 0:
        print("ok - example: edge-download")
        return 0
    detail = (p.stdout[-2500:] + p.stderr[-2500:]).replace("\n", " | ")
    print("not ok - example: edge-download: exit %d: %s" % (p.returncode, detail))
    return 1


if __name__ == "__main__":
    sys.exit(main())
