#!/usr/bin/env python3
"""SNS publish and delivery, measured against one endpoint (run by bench/sns/run for Sluice and
for moto side by side).

Usage: snsbench.py NAME ENDPOINT

A topic with one HTTP subscription to a local receiver (a Python HTTP server on loopback that
notes when each MessageId arrives). Sluice sends a SubscriptionConfirmation first: the bench
GETs its SubscribeURL, as a subscriber would; moto delivers without one.
  (1) latency: SNS_LAT_N publishes one after another (default 500), each timed from just before
      the request to the notification's arrival at the receiver; and the Publish round trip.
  (2) throughput: SNS_THREADS threads (default 8) publish over keep-alive connections for
      SNS_SECS seconds (default 5): publishes answered per second, then deliveries per second
      (notifications received / (last arrival - first publish)), and how many arrived.
Requests are signed here (SigV4, http.client): boto3 spends milliseconds of CPU per call, which
would measure the client. Prints a RESULT line per phase."""
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request

NAME, EP = sys.argv[1], sys.argv[2]
LAT_N = int(os.environ.get("SNS_LAT_N", "500"))
THREADS = int(os.environ.get("SNS_THREADS", "8"))
SECS = float(os.environ.get("SNS_SECS", "5"))
REGION, AK, SK = "us-east-1", "test", "test"
HOST = urllib.parse.urlparse(EP).netloc

arrived = {}  # MessageId -> perf_counter at arrival
lock = threading.Lock()
confirm_urls = []


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = time.perf_counter()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        try:
            m = json.loads(body)
        except ValueError:
            return
        if m.get("Type") == "SubscriptionConfirmation":
            confirm_urls.append(m["SubscribeURL"])
        elif m.get("MessageId"):
            with lock:
                arrived.setdefault(m["MessageId"], now)

    def log_message(self, *a):
        pass


def _h(k, m):
    return hmac.new(k, m.encode(), hashlib.sha256).digest()


def signed(params):
    """(body, headers) of a SigV4-signed Query POST to SNS."""
    params = dict(params, Version="2010-03-31")
    body = urllib.parse.urlencode(params)
    t = datetime.datetime.now(datetime.timezone.utc)
    amz, day = t.strftime("%Y%m%dT%H%M%SZ"), t.strftime("%Y%m%d")
    ph = hashlib.sha256(body.encode()).hexdigest()
    hdrs = {"content-type": "application/x-www-form-urlencoded; charset=utf-8", "host": HOST,
            "x-amz-content-sha256": ph, "x-amz-date": amz}
    names = ";".join(sorted(hdrs))
    canon = "POST\n/\n\n%s\n%s\n%s" % ("".join("%s:%s\n" % (k, hdrs[k]) for k in sorted(hdrs)),
                                        names, ph)
    scope = "%s/%s/sns/aws4_request" % (day, REGION)
    sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amz, scope, hashlib.sha256(canon.encode()).hexdigest())
    key = _h(_h(_h(_h(("AWS4" + SK).encode(), day), REGION), "sns"), "aws4_request")
    hdrs["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        AK, scope, names, hmac.new(key, sts.encode(), hashlib.sha256).hexdigest())
    del hdrs["host"]
    return body, hdrs


def call(conn, params):
    body, hdrs = signed(params)
    conn.request("POST", "/", body=body, headers=hdrs)
    r = conn.getresponse()
    text = r.read().decode()
    if r.status != 200:
        raise RuntimeError("%s: HTTP %d %s" % (params["Action"], r.status, text[:300]))
    return text


def between(text, a, b):
    i = text.index(a) + len(a)
    return text[i:text.index(b, i)]


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main():
    recv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    recv.daemon_threads = True
    threading.Thread(target=recv.serve_forever, daemon=True).start()
    hook = "http://127.0.0.1:%d/" % recv.server_address[1]
    conn = http.client.HTTPConnection(HOST, timeout=30)
    topic = between(call(conn, {"Action": "CreateTopic", "Name": "bench-%d" % os.getpid()}),
                    "<TopicArn>", "</TopicArn>")
    call(conn, {"Action": "Subscribe", "TopicArn": topic, "Protocol": "http", "Endpoint": hook})
    end = time.time() + 5
    while not confirm_urls and time.time() < end and NAME == "sluice":
        time.sleep(0.02)
    for u in confirm_urls:
        urllib.request.urlopen(u).read()

    # warm-up, and a check that deliveries arrive at all
    mid = between(call(conn, {"Action": "Publish", "TopicArn": topic, "Message": "warm"}),
                  "<MessageId>", "</MessageId>")
    end = time.time() + 10
    while mid not in arrived and time.time() < end:
        time.sleep(0.01)
    if mid not in arrived:
        sys.exit("%s: the warm-up notification did not arrive" % NAME)

    # (1) latency, one publish at a time
    lat, rtt = [], []
    for i in range(LAT_N):
        t0 = time.perf_counter()
        mid = between(call(conn, {"Action": "Publish", "TopicArn": topic, "Message": "lat %d" % i,
                                  "Subject": "bench"}), "<MessageId>", "</MessageId>")
        rtt.append((time.perf_counter() - t0) * 1000)
        end = time.time() + 10
        while True:
            with lock:
                got = arrived.get(mid)
            if got or time.time() > end:
                break
            time.sleep(0.0002)
        if got:
            lat.append((got - t0) * 1000)
        time.sleep(0.002)
    print("RESULT %s phase=latency n=%d delivered=%d publish_rtt_p50_ms=%.2f publish_rtt_p99_ms=%.2f "
          "delivery_p50_ms=%.2f delivery_p99_ms=%.2f" % (NAME, LAT_N, len(lat), pct(rtt, .5), pct(rtt, .99),
                                                        pct(lat, .5), pct(lat, .99)), flush=True)

    # (2) throughput
    ids, errors = [], []
    stop = time.perf_counter() + SECS

    def publisher(n):
        c = http.client.HTTPConnection(HOST, timeout=30)
        mine = []
        i = 0
        while time.perf_counter() < stop:
            try:
                mine.append(between(call(c, {"Action": "Publish", "TopicArn": topic,
                                             "Message": "tp %d %d" % (n, i)}), "<MessageId>", "</MessageId>"))
            except Exception as e:  # noqa: BLE001 — counted
                errors.append(str(e))
                c = http.client.HTTPConnection(HOST, timeout=30)
            i += 1
        with lock:
            ids.extend(mine)

    t0 = time.perf_counter()
    ths = [threading.Thread(target=publisher, args=(n,)) for n in range(THREADS)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    t_pub = time.perf_counter() - t0
    end = time.time() + 60
    while time.time() < end:
        with lock:
            if all(m in arrived for m in ids):
                break
        time.sleep(0.05)
    with lock:
        got = [arrived[m] for m in ids if m in arrived]
    span = (max(got) - t0) if got else float("nan")
    print("RESULT %s phase=throughput threads=%d published=%d errors=%d publish_per_s=%.0f "
          "delivered=%d deliveries_per_s=%.0f" % (NAME, THREADS, len(ids), len(errors), len(ids) / t_pub,
                                                  len(got), len(got) / span if got else 0), flush=True)
    for e in errors[:3]:
        print("#   error: %s" % e)
    recv.shutdown()


main()
