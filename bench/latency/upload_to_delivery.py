#!/usr/bin/env python3
"""Upload -> delivery latency: how long from the moment a PutObject is sent until an API
destination receives the "Object Created" event, measured end to end through the real daemon
(outbox, dispatcher, matcher, HTTP delivery). Also reports PUT round trip alone, so the event
path's own cost is the difference. Usage: upload_to_delivery.py SLUICE_BIN [N]"""
import http.server
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import boto3
from botocore.config import Config

BIN = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 500


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


arrivals = {}
cv = threading.Condition()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        t = time.perf_counter()
        key = json.loads(body)["key"]
        with cv:
            arrivals[key] = t
            cv.notify_all()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def main():
    data = tempfile.mkdtemp(prefix="sluice-lat-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    port, hook = free_port(), free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", hook), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    p = subprocess.Popen([BIN, "serve", "--data", data, "--listen", "127.0.0.1:%d" % port], stderr=subprocess.DEVNULL)
    ep = "http://127.0.0.1:%d" % port
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(ep + "/_sluice/health")
                break
            except Exception:
                time.sleep(0.02)
        cfg = Config(retries={"total_max_attempts": 1})
        s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1", config=cfg,
                          aws_access_key_id="test", aws_secret_access_key="test")
        ev = boto3.client("events", endpoint_url=ep, region_name="us-east-1", config=cfg,
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="lat")
        s3.put_bucket_notification_configuration(Bucket="lat", NotificationConfiguration={"EventBridgeConfiguration": {}})
        conn = ev.create_connection(Name="c", AuthorizationType="API_KEY",
                                    AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
        dest = ev.create_api_destination(Name="d", ConnectionArn=conn["ConnectionArn"], HttpMethod="POST",
                                         InvocationEndpoint="http://127.0.0.1:%d/" % hook)["ApiDestinationArn"]
        ev.put_rule(Name="r", EventPattern=json.dumps({"source": ["aws.s3"], "detail-type": ["Object Created"],
                                                       "detail": {"object": {"key": [{"prefix": "in/"}]}}}))
        ev.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": dest, "InputPath": "$.detail.object"}])
        body = b"x" * 1024
        for i in range(20):  # warm up connections
            s3.put_object(Bucket="lat", Key="warm/%d" % i, Body=body)
        e2e, put_rtt, after_put = [], [], []
        for i in range(N):
            key = "in/%d" % i
            t0 = time.perf_counter()
            s3.put_object(Bucket="lat", Key=key, Body=body)
            t1 = time.perf_counter()
            with cv:
                while key not in arrivals:
                    if not cv.wait(5):
                        raise RuntimeError("event for %s never arrived" % key)
            e2e.append((arrivals[key] - t0) * 1000)
            after_put.append(max(0.0, arrivals[key] - t1) * 1000)
            put_rtt.append((t1 - t0) * 1000)

        def pct(xs, q):
            xs = sorted(xs)
            return xs[min(len(xs) - 1, int(q * len(xs)))]

        print("uploads: %d x 1 KiB, sequential, boto3 client" % N)
        print("| figure | p50 ms | p99 ms |")
        print("|---|---|---|")
        print("| PUT round trip (client view) | %.2f | %.2f |" % (pct(put_rtt, .5), pct(put_rtt, .99)))
        print("| upload start -> delivery received | %.2f | %.2f |" % (pct(e2e, .5), pct(e2e, .99)))
        print("| PUT reply -> delivery received | %.2f | %.2f |" % (pct(after_put, .5), pct(after_put, .99)))
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        srv.shutdown()
        shutil.rmtree(data, ignore_errors=True)


main()
