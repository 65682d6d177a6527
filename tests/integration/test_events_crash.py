#!/usr/bin/env python3
# sluice-integration: own-daemon
"""kill -9 between upload and delivery loses nothing: events accepted (PutEvents) and object
changes committed (the outbox) before the crash are all delivered after a restart on the same
data dir. The receiver is down at first, so every delivery is still pending when the daemon is
killed; it comes up before the restart. Output: TAP-like lines for tests/integration/run."""
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

import boto3
from botocore.config import Config

BIN = os.environ["SLUICE_BIN"]
LOGS = os.environ.get("SLUICE_DAEMON_LOG_DIR", tempfile.gettempdir())
CFG = Config(retries={"total_max_attempts": 1})


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(data, port, n):
    log = open(os.path.join(LOGS, "daemon-%d.log" % n), "w")
    p = subprocess.Popen([BIN, "serve", "--data", data, "--listen", "127.0.0.1:%d" % port], stderr=log,
                         stdout=subprocess.DEVNULL)
    for _ in range(600):
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/_sluice/health" % port, timeout=1)
            return p
        except Exception:
            time.sleep(0.05)
    raise RuntimeError("daemon did not become healthy")


def test_kill9_between_upload_and_delivery():
    data = tempfile.mkdtemp(prefix="sluice-evcrash-")
    port, hook_port = free_port(), free_port()
    ep = "http://127.0.0.1:%d" % port
    p = start(data, port, 1)
    try:
        ev = boto3.client("events", endpoint_url=ep, region_name="us-east-1", config=CFG)
        s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1", config=CFG)
        conn = ev.create_connection(Name="c", AuthorizationType="API_KEY",
                                    AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
        dest = ev.create_api_destination(Name="d", ConnectionArn=conn["ConnectionArn"], HttpMethod="POST",
                                         InvocationEndpoint="http://127.0.0.1:%d/hook" % hook_port)["ApiDestinationArn"]
        ev.put_rule(Name="r", EventPattern=json.dumps({"source": ["crash.test", "aws.s3"]}))
        ev.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": dest, "InputPath": "$.detail"}])
        s3.create_bucket(Bucket="crashbucket")
        s3.put_bucket_notification_configuration(Bucket="crashbucket",
                                                 NotificationConfiguration={"EventBridgeConfiguration": {}})
        for i in range(5):
            ev.put_events(Entries=[{"Source": "crash.test", "DetailType": "x", "Detail": json.dumps({"n": i})}])
            s3.put_object(Bucket="crashbucket", Key="k%d" % i, Body=b"data")
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    got = []
    cv = threading.Condition()

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with cv:
                got.append(json.loads(body))
                cv.notify_all()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", hook_port), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    p = start(data, port, 2)
    try:
        deadline = time.time() + 20
        with cv:
            while len(got) < 10 and time.time() < deadline:
                cv.wait(0.5)
        nums = sorted(d["n"] for d in got if "n" in d)
        keys = sorted(d["object"]["key"] for d in got if "object" in d)
        assert nums == [0, 1, 2, 3, 4], got
        assert keys == ["k0", "k1", "k2", "k3", "k4"], got
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        srv.shutdown()


if __name__ == "__main__":
    failed = 0
    for t in [test_kill9_between_upload_and_delivery]:
        try:
            t()
            print("ok - %s" % t.__name__, flush=True)
        except Exception:
            failed += 1
            print("not ok - %s" % t.__name__, flush=True)
            for line in traceback.format_exc().splitlines():
                print("# " + line, flush=True)
    sys.exit(1 if failed else 0)
