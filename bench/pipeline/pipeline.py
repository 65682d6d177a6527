#!/usr/bin/env python3
"""Seed 001's pipeline (examples/cookbook-fargate) under load, with a trivial `host` task:
S3 upload under input/ -> CloudTrail-shaped event -> the recipe's EventBridge rule -> EcsParameters
target with the recipe's InputTransformer -> ECS task (bench/pipeline/putout, a C PUT of
output/<key>) -> output object.

Usage: pipeline.py ENDPOINT PUTOUT_BIN   (run by bench/pipeline/run, which starts the daemon)

Observation: by default from the daemon's own records, so that the bench measures the pipeline
and nothing else: DescribeTasks gives each task's createdAt/startedAt and its KEY override,
ListObjectsV2 each output's LastModified (daemon clock, ms). With PIPE_OBSERVE=1 two extra rules
also send, through one API destination, to a local HTTP receiver (a) every `ECS Task State
Change` with lastStatus RUNNING and (b) every S3 `Object Created` under output/ (the bucket then
sends S3 events to EventBridge; the recipe's rule only matches CloudTrail events, so nothing
loops): the "received" figures. That path costs the daemon an ECS state-change event and two
deliveries per pipeline and the Python receiver a request each, on the same two cores.
Uploads are signed here by hand (SigV4, http.client, keep-alive): boto3 spends milliseconds of CPU per
PUT, which on two cores would be the bench's own bottleneck at 300/s. Output objects are also
checked by LastModified (daemon clock), since event delivery lags in an overload.

Phases (environment): PIPE_LAT_N uploads (default 1000) paced at PIPE_LAT_RATE/s (20), then
PIPE_RATE/s (300) open-loop for PIPE_SECS (5). Afterwards, for every upload: ListTasks +
DescribeTasks count the tasks whose KEY override names it (must be exactly 1, exit code 0) and
ListObjectsV2 must show its output (zero lost)."""
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import os
import queue
import sys
import threading
import time
import urllib.parse

import boto3
from botocore.config import Config

EP, PUTOUT = sys.argv[1], sys.argv[2]
LAT_N = int(os.environ.get("PIPE_LAT_N", "1000"))
LAT_RATE = float(os.environ.get("PIPE_LAT_RATE", "20"))
RATE = float(os.environ.get("PIPE_RATE", "300"))
SECS = float(os.environ.get("PIPE_SECS", "5"))
DRAIN = float(os.environ.get("PIPE_DRAIN_SECS", "400"))
OBSERVE = os.environ.get("PIPE_OBSERVE", "") not in ("", "0")
REGION, AK, SK = "us-east-1", "test", "test"
HOST = urllib.parse.urlparse(EP).netloc

# ---- receiver ----
running = {}   # key -> (startedAt epoch s, received perf-wall s)
task_of = {}   # taskArn -> key (dedup of redelivered events)
dup_running = []  # keys seen RUNNING in two different tasks
outputs = {}   # key (input/...) -> received wall s
lock = threading.Lock()


def iso_to_epoch(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = time.time()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        d = json.loads(body)
        if "lastStatus" in d:  # ECS Task State Change detail
            key = None
            for co in (d.get("overrides") or {}).get("containerOverrides", []):
                for e in co.get("environment", []):
                    if e.get("name") == "KEY":
                        key = e["value"]
            with lock:
                arn = d["taskArn"]
                if arn in task_of:
                    return
                task_of[arn] = key
                if key in running:
                    dup_running.append(key)
                else:
                    running[key] = (iso_to_epoch(d["startedAt"]), now, iso_to_epoch(d["createdAt"]))
        elif "key" in d:  # S3 Object Created detail.object
            k = d["key"]
            if k.startswith("output/"):
                with lock:
                    outputs.setdefault(k[len("output/"):], now)

    def log_message(self, *a):
        pass


# ---- hand-signed PUT (SigV4, UNSIGNED-PAYLOAD) ----
def _h(k, m):
    return hmac.new(k, m.encode(), hashlib.sha256).digest()


_skey = {}


def signed_put_headers(path, body):
    t = time.gmtime()
    amz = time.strftime("%Y%m%dT%H%M%SZ", t)
    day = amz[:8]
    if day not in _skey:
        _skey[day] = _h(_h(_h(_h(("AWS4" + SK).encode(), day), REGION), "s3"), "aws4_request")
    hdrs = {"host": HOST, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": amz}
    names = ";".join(sorted(hdrs))
    canon = "PUT\n%s\n\n%s\n%s\nUNSIGNED-PAYLOAD" % (
        path, "".join("%s:%s\n" % (k, hdrs[k]) for k in sorted(hdrs)), names)
    scope = "%s/%s/s3/aws4_request" % (day, REGION)
    sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amz, scope, hashlib.sha256(canon.encode()).hexdigest())
    sig = hmac.new(_skey[day], sts.encode(), hashlib.sha256).hexdigest()
    hdrs["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        AK, scope, names, sig)
    hdrs["Content-Length"] = str(len(body))
    del hdrs["host"]
    return hdrs


sent = {}      # key -> t0 (wall s, just before the request is written)
errors = []
BODY = b"x" * 1024


def uploader(bucket, q):
    c = http.client.HTTPConnection(HOST, timeout=30)
    while True:
        key = q.get()
        if key is None:
            return
        path = "/%s/%s" % (bucket, key)
        hdrs = signed_put_headers(path, BODY)
        t0 = time.time()
        try:
            c.request("PUT", path, body=BODY, headers=hdrs)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                errors.append("%s: HTTP %d" % (key, r.status))
                continue
        except Exception as e:  # noqa: BLE001 — count it, reconnect
            errors.append("%s: %s" % (key, e))
            c = http.client.HTTPConnection(HOST, timeout=30)
            continue
        with lock:
            sent[key] = t0


def paced(bucket, keys, rate, threads):
    """Open loop: key i is handed to an uploader at start + i/rate."""
    q = queue.Queue()
    ws = [threading.Thread(target=uploader, args=(bucket, q), daemon=True) for _ in range(threads)]
    for w in ws:
        w.start()
    start = time.time()
    lag = 0.0
    for i, k in enumerate(keys):
        due = start + i / rate
        d = due - time.time()
        if d > 0:
            time.sleep(d)
        else:
            lag = max(lag, -d)
        q.put(k)
    for _ in ws:
        q.put(None)
    for w in ws:
        w.join()
    return start, time.time(), lag


def list_outputs(s3, bucket, prefix=""):
    """input key -> output LastModified (epoch s, the daemon's clock) for output/<prefix>*."""
    objs, tok = {}, None
    while True:
        a = dict(Bucket=bucket, Prefix="output/" + prefix, MaxKeys=1000)
        if tok:
            a["ContinuationToken"] = tok
        r = s3.list_objects_v2(**a)
        objs.update((o["Key"][len("output/"):], o["LastModified"].timestamp()) for o in r.get("Contents", []))
        tok = r.get("NextContinuationToken")
        if not tok:
            return objs


def wait_done(s3, bucket, keys, prefix, secs, busy=None):
    """Until every sent key has its output (events received with PIPE_OBSERVE, else listed).
    Listing outputs costs the daemon and botocore real CPU on the cores being measured, so while
    busy() says tasks are still running the outputs are not listed (one cheap call a second)."""
    end = time.time() + secs
    while time.time() < end:
        if OBSERVE:
            with lock:
                if all(k in outputs for k in keys if k in sent):
                    return True
            time.sleep(0.05)
            continue
        if busy and busy():
            time.sleep(1)
            continue
        objs = list_outputs(s3, bucket, prefix)
        with lock:
            if all(k in objs for k in keys if k in sent):
                return True
        time.sleep(0.25 if not busy else 1)
    return False


def tasks_by_key(ecs, cluster):
    """KEY override -> [task], over every task of the cluster (RUNNING and STOPPED)."""
    arns = []
    for status in ("RUNNING", "STOPPED"):
        tok = None
        while True:
            a = dict(cluster=cluster, desiredStatus=status, maxResults=100)
            if tok:
                a["nextToken"] = tok
            r = ecs.list_tasks(**a)
            arns += r["taskArns"]
            tok = r.get("nextToken")
            if not tok:
                break
    per_key = {}
    for i in range(0, len(arns), 100):
        for t in ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100])["tasks"]:
            key = None
            for co in t.get("overrides", {}).get("containerOverrides", []):
                for e in co.get("environment", []):
                    if e["name"] == "KEY":
                        key = e["value"]
            per_key.setdefault(key, []).append(t)
    return per_key, len(arns)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def proc_cpu(pid):
    """(own, reaped children's) CPU seconds of a process, from /proc (None when unknown)."""
    try:
        f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    return (int(f[11]) + int(f[12])) / hz, (int(f[13]) + int(f[14])) / hz


def loadavg():
    return open("/proc/loadavg").read().split()[0]


def main():
    recv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    recv.daemon_threads = True
    threading.Thread(target=recv.serve_forever, daemon=True).start()
    hook = "http://127.0.0.1:%d/" % recv.server_address[1]
    cfg = Config(retries={"total_max_attempts": 3}, max_pool_connections=4)
    kw = dict(endpoint_url=EP, region_name=REGION, config=cfg, aws_access_key_id=AK,
              aws_secret_access_key=SK)
    s3, ev, ecs, ct = (boto3.client(s, **kw) for s in ("s3", "events", "ecs", "cloudtrail"))

    # ---- the recipe's pipeline (examples/cookbook-fargate/run.sh, with boto3) ----
    bucket = "aws-cookbook-recipe607-bench"
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket + "-cloud-trail")
    trail = ct.create_trail(Name="AWSCookbook607Trail", S3BucketName=bucket + "-cloud-trail")["TrailARN"]
    ct.start_logging(Name=trail)
    ct.put_event_selectors(TrailName=trail, EventSelectors=[{
        "ReadWriteType": "WriteOnly", "IncludeManagementEvents": False,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::%s/input/" % bucket]}],
        "ExcludeManagementEventSources": []}])
    cluster = ecs.create_cluster(clusterName="AWS-Cookbook-EcsCluster")["cluster"]["clusterArn"]
    here = os.path.dirname(os.path.abspath(__file__))
    td = json.load(open(os.path.join(here, "../../examples/cookbook-fargate/task-definition.json")))
    td["taskRoleArn"] = "arn:aws:iam::000000000000:role/AWSCookbook607TaskRole"
    c0 = td["containerDefinitions"][0]
    c0["image"] = "host"
    c0["entryPoint"] = [PUTOUT]
    c0["logConfiguration"]["options"]["awslogs-region"] = REGION
    tdarn = ecs.register_task_definition(**td)["taskDefinition"]["taskDefinitionArn"]
    ev.put_rule(Name="AWSCookbookRule", EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["s3.amazonaws.com"],
                   "eventName": ["CopyObject", "PutObject", "CompleteMultipartUpload"],
                   "requestParameters": {"bucketName": [bucket]}}}))
    tpl = open(os.path.join(here, "../../examples/cookbook-fargate/targets-template.json")).read()
    for a, b in (("AWS_ACCOUNT_ID", "000000000000"), ("AWS_REGION", REGION), ("ECSClusterARN", cluster),
                 ("TaskDefinitionARN", tdarn), ("VPCPrivateSubnets", "subnet-0123456789abcdef0"),
                 ("VPCDefaultSecurityGroup", "sg-0123456789abcdef0")):
        tpl = tpl.replace(a, b)
    r = ev.put_targets(Rule="AWSCookbookRule", Targets=json.loads(tpl))
    assert r["FailedEntryCount"] == 0, r

    # ---- observation (PIPE_OBSERVE=1): RUNNING state changes and outputs to the receiver ----
    if OBSERVE:
        s3.put_bucket_notification_configuration(Bucket=bucket,
                                                 NotificationConfiguration={"EventBridgeConfiguration": {}})
        conn = ev.create_connection(Name="bench", AuthorizationType="API_KEY", AuthParameters={
            "ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
        dest = ev.create_api_destination(Name="bench", ConnectionArn=conn["ConnectionArn"], HttpMethod="POST",
                                         InvocationEndpoint=hook)["ApiDestinationArn"]
        ev.put_rule(Name="bench-running", EventPattern=json.dumps({
            "source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
            "detail": {"lastStatus": ["RUNNING"]}}))
        ev.put_targets(Rule="bench-running", Targets=[{"Id": "r", "Arn": dest, "InputPath": "$.detail"}])
        ev.put_rule(Name="bench-output", EventPattern=json.dumps({
            "source": ["aws.s3"], "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": "output/"}]}}}))
        ev.put_targets(Rule="bench-output", Targets=[{"Id": "o", "Arn": dest, "InputPath": "$.detail.object"}])

    # warm-up: a few pipelines end to end
    warm = ["input/warm/%d" % i for i in range(10)]
    paced(bucket, warm, 10, 1)
    if not wait_done(s3, bucket, warm, "input/warm/", 30):
        sys.exit("pipeline: warm-up uploads produced no output in 30 s (is the pipeline broken?)")

    out = []
    say = lambda s="": (print(s, flush=True), out.append(s))  # noqa: E731

    def first_task(per_key, k):
        ts = per_key.get(k) or []
        return ts[0] if ts else None

    # ---- (1) latency ----
    la0 = loadavg()
    lat = ["input/lat/%d" % i for i in range(LAT_N)]
    paced(bucket, lat, LAT_RATE, 2)
    wait_done(s3, bucket, lat, "input/lat/", DRAIN)
    per_key, _ = tasks_by_key(ecs, cluster)
    objs = list_outputs(s3, bucket, "input/lat/")
    created_ms, c2s_ms, run_ms, out_ms, exec_ms, rrecv_ms, orecv_ms = [], [], [], [], [], [], []
    with lock:
        for k in lat:
            t = first_task(per_key, k)
            if k not in sent or not t or "startedAt" not in t:
                continue
            c, st = t["createdAt"].timestamp(), t["startedAt"].timestamp()
            created_ms.append((c - sent[k]) * 1000)
            c2s_ms.append((st - c) * 1000)
            run_ms.append((st - sent[k]) * 1000)
            if k in objs:
                out_ms.append((objs[k] - sent[k]) * 1000)
                exec_ms.append((objs[k] - st) * 1000)
            if k in running:
                rrecv_ms.append((running[k][1] - sent[k]) * 1000)
            if k in outputs:
                orecv_ms.append((outputs[k] - sent[k]) * 1000)
    say("## latency: %d uploads of 1 KiB paced at %g/s (load average %s before, %s after)%s"
        % (LAT_N, LAT_RATE, la0, loadavg(), "; observation events on" if OBSERVE else ""))
    say("| figure | n | p50 ms | p99 ms | max ms |")
    say("|---|---:|---:|---:|---:|")
    rows = [("upload sent -> task createdAt (RunTask by the rule's target)", created_ms),
            ("task createdAt -> startedAt (the task's process started)", c2s_ms),
            ("upload sent -> task startedAt (DescribeTasks, ms resolution)", run_ms),
            ("task startedAt -> output written (LastModified)", exec_ms),
            ("upload sent -> output written (LastModified)", out_ms)]
    if OBSERVE:
        rows += [("upload sent -> RUNNING event received", rrecv_ms),
                 ("upload sent -> output Object Created received", orecv_ms)]
    for name, xs in rows:
        say("| %s | %d | %.2f | %.2f | %.2f |" % (name, len(xs), pct(xs, .5), pct(xs, .99), max(xs or [0])))
    say("RESULT phase=latency n=%d run_p50=%.2f run_p99=%.2f out_p50=%.2f out_p99=%.2f"
        % (LAT_N, pct(run_ms, .5), pct(run_ms, .99), pct(out_ms, .5), pct(out_ms, .99)))

    # ---- (2) throughput ----
    n = int(RATE * SECS)
    tp = ["input/tp/%d" % i for i in range(n)]
    la0 = loadavg()
    daemon = os.environ.get("PIPE_DAEMON_PID")
    d0 = proc_cpu(daemon) if daemon else None
    cpu0 = os.times()
    t_start, t_sent, lag = paced(bucket, tp, RATE, 8)
    cpu_bench = sum(os.times()[:2]) - sum(cpu0[:2])
    done = wait_done(s3, bucket, tp, "input/tp/", DRAIN, busy=lambda: bool(ecs.list_tasks(
        cluster=cluster, desiredStatus="RUNNING", maxResults=1)["taskArns"]))
    d1 = proc_cpu(daemon) if daemon else None
    cpu_all = sum(os.times()[:2]) - sum(cpu0[:2])
    per_key, _ = tasks_by_key(ecs, cluster)
    objs = list_outputs(s3, bucket, "input/tp/")
    with lock:
        ok = [k for k in tp if k in sent]
        runs = [first_task(per_key, k) for k in ok]
        t_last_run = max((t["startedAt"].timestamp() for t in runs if t and "startedAt" in t),
                         default=float("nan"))
        wr = [objs[k] for k in ok if k in objs]
        t_last_out = max(wr, default=float("nan"))
        in_window = sum(1 for x in wr if x <= t_sent)
        o_ms = [(objs[k] - sent[k]) * 1000 for k in ok if k in objs]
        r_ms = [(t["startedAt"].timestamp() - sent[k]) * 1000 for k, t in zip(ok, runs) if t and "startedAt" in t]
    eps = len(wr) / (t_last_out - t_start) if wr else float("nan")
    say()
    say("## throughput: %d uploads offered at %g/s for %gs (load average %s before, %s after)"
        % (n, RATE, SECS, la0, loadavg()))
    say("| figure | value |")
    say("|---|---:|")
    say("| uploads accepted (200) / offered | %d / %d (%d errors) |" % (len(ok), n, len(errors)))
    say("| upload rate achieved (uploads/s) | %.1f (pacer fell behind by at most %.2f s; uploader CPU %.2f s) |"
        % (len(ok) / (t_sent - t_start), lag, cpu_bench))
    say("| tasks started | %d |" % sum(1 for t in runs if t and "startedAt" in t))
    say("| outputs written | %d |" % len(wr))
    say("| **pipelines/s end to end** (outputs / (last output written - first upload)) | **%.1f** |" % eps)
    say("| outputs written within the upload window | %d (%.1f/s) |" % (in_window, in_window / (t_sent - t_start)))
    say("| drain after the last upload: last task started / last output written (s) | %.2f / %.2f |"
        % (t_last_run - t_sent, t_last_out - t_sent))
    say("| upload -> startedAt p50 / p99 (ms) | %.1f / %.1f |" % (pct(r_ms, .5), pct(r_ms, .99)))
    say("| upload -> output written p50 / p99 (ms) | %.1f / %.1f |" % (pct(o_ms, .5), pct(o_ms, .99)))
    if d0 and d1 and ok:
        say("| CPU per pipeline (ms): daemon / its tasks / this bench (uploads, then waiting) | %.2f / %.2f / %.2f |"
            % ((d1[0] - d0[0]) * 1000 / len(ok), (d1[1] - d0[1]) * 1000 / len(ok), cpu_all * 1000 / len(ok)))
    if OBSERVE:
        with lock:
            got = [outputs[k] for k in ok if k in outputs]
        say("| pipelines/s by output event received | %.1f |"
            % (len(got) / (max(got) - t_start) if got else float("nan")))
    say("RESULT phase=throughput offered=%d accepted=%d outputs=%d eps=%.1f drain_s=%.2f all_done=%s"
        % (n, len(ok), len(wr), eps, t_last_out - t_sent, done))

    # ---- (3) lost / duplicated, from the daemon's own records ----
    end = time.time() + DRAIN  # let the last tasks reach STOPPED first
    while time.time() < end and ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING",
                                               maxResults=1)["taskArns"]:
        time.sleep(0.2)
    per_key, ntasks = tasks_by_key(ecs, cluster)
    bad_exit, not_stopped = [], 0
    for key, ts in per_key.items():
        for t in ts:
            if t["lastStatus"] != "STOPPED":
                not_stopped += 1
            elif t["containers"][0].get("exitCode") != 0:
                bad_exit.append((key, t["containers"][0].get("exitCode"), t.get("stoppedReason")))
    objs = list_outputs(s3, bucket)
    uploaded = [k for k in warm + lat + tp if k in sent]
    lost_task = [k for k in uploaded if len(per_key.get(k, [])) == 0]
    dup_task = [k for k in uploaded if len(per_key.get(k, [])) > 1]
    lost_out = [k for k in uploaded if k not in objs]
    say()
    say("## lost / duplicated (ListTasks + DescribeTasks, ListObjectsV2), all %d uploads" % len(uploaded))
    say("| check | count |")
    say("|---|---:|")
    say("| tasks in the cluster | %d |" % ntasks)
    say("| uploads with no task (lost) | %d |" % len(lost_task))
    say("| uploads with more than one task (duplicated) | %d |" % len(dup_task))
    say("| uploads with no output object | %d |" % len(lost_out))
    say("| tasks not STOPPED at the end / exit code not 0 | %d / %d |" % (not_stopped, len(bad_exit)))
    if OBSERVE:
        say("| uploads RUNNING in two tasks (state-change events) | %d |" % len(dup_running))
    say("| upload errors | %d |" % len(errors))
    for e in errors[:5]:
        say("  upload error: %s" % e)
    for k in (lost_task[:5] + dup_task[:5] + lost_out[:5]):
        say("  e.g. %s: %d task(s), output %s" % (k, len(per_key.get(k, [])), "yes" if k in objs else "no"))
    for b in bad_exit[:5]:
        say("  bad exit: %s" % (b,))
    say("RESULT phase=check uploads=%d lost=%d duplicated=%d no_output=%d bad_exit=%d dup_running=%d eps_written=%.1f"
        % (len(uploaded), len(lost_task), len(dup_task), len(lost_out), len(bad_exit), len(dup_running), eps))
    rf = os.environ.get("PIPE_REPORT")
    if rf:
        with open(rf, "a") as f:
            f.write("\n".join(out) + "\n")
    recv.shutdown()
    return 0 if not (lost_task or dup_task or lost_out or bad_exit or errors or dup_running) else 1


sys.exit(main())
