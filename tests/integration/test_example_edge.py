#!/usr/bin/env python3
# sluice-integration: own-daemon
"""examples/edge-download/run.sh end to end (its own daemon and agent): S3 upload → CloudTrail
event → rule → state machine → ecs:runTask.sync on a `sluice agent` → the file on the device;
the Choice's other path, a killed agent failing the execution, a restarted agent taking work.
Output: TAP-like lines for tests/integration/run."""
import harness as h

if __name__ == "__main__":
    h.main([("example: edge-download", lambda: h.run_example("examples/edge-download/run.sh", 240))],
           inline=True)
