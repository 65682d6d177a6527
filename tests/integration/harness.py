"""Scaffolding shared by the python integration tests (tests/integration/test_*.py), so that each
test file keeps only what it tests. It owns:
  - the environment tests/integration/run exports (endpoint, filter, region, the moto switch);
  - boto3 clients built from it (no retries unless a config says otherwise);
  - the TAP-like main loop (`ok - NAME`, `ok - NAME # SKIP why`, `not ok - NAME` with the
    traceback as diagnostics), with an optional endpoint check after each test, setup and
    teardown steps, timings and concurrent runs;
  - a webhook receiver (http.server on a loopback port, in a thread) collecting POSTed requests;
  - polling (`wait_until`), `expect_error`, unique names, free ports, the health check;
  - for the files that manage their own daemons (own-daemon): starting `sluice serve`, stopping
    a daemon or agent with SIGTERM, their stderr in SLUICE_DAEMON_LOG_DIR, an agent's instance
    ARN, running an examples/*/run.sh;
  - running Debian's AWS CLI v2 (`/usr/bin/aws --endpoint-url ...`) and parsing its JSON.
"""
import concurrent.futures
import http.server
import itertools
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
from botocore.exceptions import ClientError

EP = os.environ.get("AWS_ENDPOINT_URL", "").rstrip("/")
FILTER = os.environ.get("SLUICE_TEST_FILTER", "")
MOTO = os.environ.get("SLUICE_ENDPOINT_KIND") == "moto"
REGION = "us-east-1"
ACCOUNT = "000000000000"
AWS = "/usr/bin/aws"  # Debian's CLI v2; a pip CLI v1 may come first on PATH
PID = os.getpid()


# ---- clients ----

def config(**kw):
    """A botocore Config without retries (a refusal must be seen as it is), plus kw."""
    return Config(retries={"total_max_attempts": 1}, **kw)


CFG = config()


def client(service, cfg=None, endpoint=None, **kw):
    return boto3.client(service, endpoint_url=endpoint or EP, region_name=REGION,
                        config=cfg or CFG, **kw)


def expect_error(code, fn, *a, **kw):
    """Calls fn, which must fail with the error code; returns the ClientError."""
    try:
        fn(*a, **kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, "expected %s, got %s: %s" % (code, got, e)
        return e
    raise AssertionError("expected %s, call succeeded" % code)


_seq = itertools.count(1)


def uniq(prefix):
    """prefix-PID-N, unique in this run."""
    return "%s-%d-%d" % (prefix, PID, next(_seq))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def healthy(endpoint=None, timeout=5):
    """True when GET /_sluice/health answers 200."""
    try:
        with urllib.request.urlopen((endpoint or EP) + "/_sluice/health", timeout=timeout) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001 - any failure means not healthy
        return False


def assert_endpoint_answers():
    assert healthy(timeout=10), "the endpoint stopped answering"


def wait_until(get, done=bool, timeout=10.0, interval=0.05):
    """Calls get() until done(value) holds or timeout seconds have passed; returns the last
    value (the caller judges a value that is not done)."""
    deadline = time.time() + timeout
    while True:
        value = get()
        if done(value) or time.time() >= deadline:
            return value
        time.sleep(interval)


# ---- own daemons ----

LOGS = os.environ.get("SLUICE_DAEMON_LOG_DIR") or tempfile.gettempdir()
_log_seq = itertools.count(1)


def log_file(kind):
    """A new file for a daemon's or agent's stderr where the runner scans for sanitizer
    reports."""
    return open(os.path.join(LOGS, "%s-%d-%d.log" % (kind, PID, next(_log_seq))), "w")


def wait_healthy(endpoint, proc=None, timeout=30.0):
    """Waits until endpoint answers its health check; fails when proc exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("daemon exited with %d" % proc.returncode)
        if healthy(endpoint, timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError("daemon did not become healthy")


def serve(data, port, host="127.0.0.1", env=None, kind="daemon"):
    """Starts `SLUICE_BIN serve --data DATA --listen HOST:PORT` (stderr in a log_file) and
    returns its Popen once it answers."""
    p = subprocess.Popen([os.environ["SLUICE_BIN"], "serve", "--data", data, "--listen",
                          "%s:%d" % (host, port)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=log_file(kind), env=env)
    wait_healthy("http://%s:%d" % (host, port), p)
    return p


def stop(proc, what="daemon", timeout=20):
    """SIGTERM to a running proc, which must exit 0 within timeout (it is killed if not)."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("%s did not stop within %d s of SIGTERM" % (what, timeout))
        assert rc == 0, "%s exited with %d after SIGTERM" % (what, rc)


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_example(script, limit):
    """Runs `bash ROOT/SCRIPT` (an examples/*/run.sh, which starts its own daemon with its own
    config) and asserts that it exits 0 within limit seconds; a failure carries its output's
    last lines."""
    env = dict(os.environ)
    env.pop("AWS_ENDPOINT_URL", None)
    try:
        out = subprocess.run(["bash", os.path.join(ROOT, script)], cwd=ROOT, env=env,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=limit)
        why, text = "exit status %d" % out.returncode, out.stdout + out.stderr
    except subprocess.TimeoutExpired as e:
        out = None
        why = "still running after %d s" % limit
        text = e.stdout.decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
    tail = "\n".join(text.rstrip("\n").splitlines()[-60:])
    assert out is not None and out.returncode == 0, "%s:\n%s" % (why, tail)


def agent_instance(data, timeout=20):
    """The containerInstanceArn a `sluice agent --data DATA` wrote once it registered."""
    path = os.path.join(data, "instance.json")
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path) as f:
                return json.load(f)["containerInstanceArn"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    raise AssertionError("the agent did not register within %d s" % timeout)


def kill9(proc):
    if proc and proc.poll() is None:
        proc.kill()
        proc.wait()


# ---- the AWS CLI ----

def aws(*args, check=False, timeout=60, endpoint=None):
    """Runs `/usr/bin/aws --endpoint-url EP --region us-east-1 --output json ARGS`; returns the
    CompletedProcess (with check: asserts exit status 0)."""
    out = subprocess.run([AWS, "--endpoint-url", endpoint or EP, "--region", REGION,
                          "--output", "json", *args], capture_output=True, text=True,
                         timeout=timeout, stdin=subprocess.DEVNULL)
    if check:
        assert out.returncode == 0, "aws %s: exit %d: %s" % (
            " ".join(args[:2]), out.returncode, out.stderr)
    return out


def fargate_task_definition(ecs, family, command, image="host", container=None, **extra):
    """Registers a one-container ("main", essential) FARGATE task definition whose output goes
    to CloudWatch Logs (group /ecs/<family>, stream prefix "ecs"); container adds to or replaces
    the container's fields, extra goes to RegisterTaskDefinition. Returns the definition."""
    c = {"name": "main", "image": image, "command": command, "essential": True,
         "logConfiguration": {"logDriver": "awslogs", "options": {
             "awslogs-group": "/ecs/" + family, "awslogs-stream-prefix": "ecs",
             "awslogs-create-group": "true", "awslogs-region": "us-east-1"}}}
    c.update(container or {})
    return ecs.register_task_definition(family=family, containerDefinitions=[c],
                                        requiresCompatibilities=["FARGATE"], cpu="256",
                                        memory="512", networkMode="awsvpc", **extra)["taskDefinition"]


def aws_json(*args, timeout=60, empty=None, endpoint=None):
    """`aws ARGS` must exit 0; returns its parsed JSON output (empty when it printed none)."""
    out = aws(*args, check=True, timeout=timeout, endpoint=endpoint)
    return json.loads(out.stdout) if out.stdout.strip() else empty


# ---- a webhook receiver ----

class Receiver(http.server.ThreadingHTTPServer):
    """An HTTP server on a loopback port, in a thread: records each POST as {"path", "headers",
    "auth", "body", "status"} and answers self.status, or what answer(request) returns when set:
    a status, or (status, document) for a JSON body. answer may add to the request's record."""

    def __init__(self, answer=None, port=0):
        self.requests = []
        self.status = 200
        self.answer = answer
        self.cv = threading.Condition()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req = {"path": self.path, "headers": dict(self.headers),
                       "auth": self.headers.get("Authorization", ""), "body": body.decode()}
                reply = outer.answer(req) if outer.answer else outer.status
                status, doc = reply if isinstance(reply, tuple) else (reply, None)
                req["status"] = status
                data = b"" if doc is None else json.dumps(doc).encode()
                with outer.cv:
                    outer.requests.append(req)
                    outer.cv.notify_all()
                self.send_response(status)
                if doc is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        super().__init__(("127.0.0.1", port), H)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def at(self, path=None):
        """The requests so far (to path, when given)."""
        with self.cv:
            return [r for r in self.requests if path is None or r["path"] == path]

    def wait(self, count=1, path=None, timeout=10.0):
        """Waits until count requests (to path) have come or timeout passes; returns them."""
        deadline = time.time() + timeout
        with self.cv:
            while True:
                got = [r for r in self.requests if path is None or r["path"] == path]
                if len(got) >= count or time.time() >= deadline:
                    return got
                self.cv.wait(max(0.01, deadline - time.time()))

    def events(self, path):
        """The JSON bodies received at path."""
        return [json.loads(r["body"]) for r in self.at(path)]


# ---- the TAP-like main loop ----

class Skip(Exception):
    """Raised by a test that does not apply here: `ok - NAME # SKIP reason`."""


def _out(line):
    print(line, flush=True)


def _trace(inline):
    tb = traceback.format_exc().rstrip("\n")
    return tb.replace("\n", " | ") if inline else tb


def _run_one(name, fn, check):
    """Runs one test (and the check after it); returns (status, text, seconds)."""
    started = time.monotonic()
    try:
        fn()
        if check:
            try:
                check()
            except Exception as e:  # noqa: BLE001 - reported as the test's failure
                raise AssertionError("the endpoint is not healthy after this test: %r" % e) from None
        result = ("ok", None)
    except Skip as s:
        result = ("skip", str(s))
    except Exception:  # noqa: BLE001 - every failure is reported
        result = ("fail", traceback.format_exc().rstrip("\n"))
        if check:
            try:
                check()
            except Exception as e:  # noqa: BLE001
                result = ("fail", result[1] + "\n(the endpoint is not healthy after this test: %r)" % e)
    return result + (time.monotonic() - started,)


def run_tests(tests, label="", check=None, inline=False, timings=False, workers=1,
              setup=None, teardown=()):
    """Runs the tests whose name contains SLUICE_TEST_FILTER and prints one line each; returns
    the number of failures.

    tests: functions (named by __name__) or (name, function) pairs. label: prefix of every
    name ("tasks: "). check: called after each test, its exception fails the test (e.g. the
    health check). inline: a failure's traceback on its `not ok` line (joined with " | ")
    rather than as `# ` lines. timings: a `# NAME: S s` line after each test. workers > 1 runs
    the tests side by side (lines in order). setup: called first, a failure ends the run.
    teardown: (name, function) pairs called last, each failure a `not ok` line."""
    if setup:
        try:
            setup()
        except Exception:  # noqa: BLE001
            _out("not ok - %ssetup: %s" % (label, _trace(True)))
            return 1
    failed = 0
    try:
        named = [t if isinstance(t, tuple) else (t.__name__, t) for t in tests]
        named = [(n, f) for n, f in named if FILTER in n]

        def report(name, result):
            status, text, seconds = result
            if status == "ok":
                _out("ok - %s%s" % (label, name))
            elif status == "skip":
                _out("ok - %s%s # SKIP %s" % (label, name, text))
            elif inline:
                _out("not ok - %s%s: %s" % (label, name, text.replace("\n", " | ")))
            else:
                _out("not ok - %s%s" % (label, name))
                for line in text.splitlines():
                    _out("# " + line)
            if timings:
                _out("# %s: %.1f s" % (name, seconds))
            return status == "fail"

        if workers > 1:
            with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
                results = pool.map(lambda nf: _run_one(nf[0], nf[1], check), named)
                for (name, _), result in zip(named, results):
                    failed += report(name, result)
        else:
            for name, fn in named:
                failed += report(name, _run_one(name, fn, check))
    finally:
        for name, fn in teardown:
            try:
                fn()
            except Exception:  # noqa: BLE001
                failed += 1
                _out("not ok - %s%s: %s" % (label, name, _trace(True)))
    return failed


def main(tests, **kw):
    """run_tests, then exit 1 when a test failed."""
    sys.exit(1 if run_tests(tests, **kw) else 0)
