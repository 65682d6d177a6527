#!/usr/bin/env python3
"""The ASL conformance suite (tests/states/conformance/*.json) through boto3: every case's
machine is created with CreateStateMachine, started as execution "exec", its activities are
worked by scripted workers over GetActivityTask/SendTask*, and the execution's status, output,
error, cause and history event types are compared with the case's expectations.

SLUICE_TEST_FILTER selects cases by substring. Output: one TAP-like line per case for
tests/integration/run.
"""
import glob
import json
import os
import threading
import time

from botocore.exceptions import ClientError

import harness as h

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "..", "states", "conformance")
ROLE = "arn:aws:iam::000000000000:role/conformance"
CFG = h.config(read_timeout=70, max_pool_connections=64)
sfn = h.client("stepfunctions", CFG)
s3 = h.client("s3", CFG)


def load_cases():
    cases = []
    for path in sorted(glob.glob(os.path.join(CASES, "*.json"))):
        with open(path) as f:
            for c in json.load(f):
                c["_file"] = os.path.basename(path)
                cases.append(c)
    return cases


def same(a, b):
    """JSON equality where 1 == 1.0 but True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def worker(activity_arn, script, done):
    """Answers the activity's tasks in order with the scripted responses."""
    for step in script:
        task = {}
        while not task.get("taskToken"):
            if done.is_set():
                return
            task = sfn.get_activity_task(activityArn=activity_arn, workerName="conformance")
        token = task["taskToken"]
        try:
            if "output" in step:
                sfn.send_task_success(taskToken=token, output=json.dumps(step["output"]))
            elif step.get("echo"):
                sfn.send_task_success(taskToken=token, output=task["input"])
            elif "error" in step:
                kw = {"taskToken": token, "error": step["error"]}
                if "cause" in step:
                    kw["cause"] = step["cause"]
                sfn.send_task_failure(**kw)
            elif "heartbeat_then_ignore" in step:
                sfn.send_task_heartbeat(taskToken=token)
        except ClientError:
            pass  # the task timed out first: what some cases expect


def put_objects(objects):
    """"bucket/key": text or JSON (stored as its JSON text); buckets are created first."""
    for path, body in objects.items():
        bucket, key = path.split("/", 1)
        try:
            s3.create_bucket(Bucket=bucket)
        except ClientError as e:
            if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        if not isinstance(body, str):
            body = json.dumps(body)
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())


def run_case(c):
    name = c["name"]
    expect = c["expect"]
    put_objects(c.get("objects", {}))
    for child, definition in c.get("machines", {}).items():
        try:
            sfn.create_state_machine(name=child, definition=json.dumps(definition), roleArn=ROLE)
        except ClientError as e:
            return f"creating machine {child}: {e}"
    try:
        arn = sfn.create_state_machine(
            name=name, definition=json.dumps(c["definition"]), roleArn=ROLE
        )["stateMachineArn"]
    except ClientError as e:
        if expect.get("invalid_definition") and e.response["Error"]["Code"] == "InvalidDefinition":
            return None
        return f"CreateStateMachine: {e}"
    if expect.get("invalid_definition"):
        return "the definition was accepted; InvalidDefinition expected"
    done = threading.Event()
    threads = []
    for act, script in c.get("activities", {}).items():
        aarn = sfn.create_activity(name=act)["activityArn"]
        t = threading.Thread(target=worker, args=(aarn, script, done), daemon=True)
        t.start()
        threads.append(t)
    inp = c.get("input", {})
    ex = sfn.start_execution(stateMachineArn=arn, name="exec", input=json.dumps(inp))
    deadline = time.time() + 30
    while True:
        d = sfn.describe_execution(executionArn=ex["executionArn"])
        if d["status"] != "RUNNING":
            break
        if time.time() > deadline:
            done.set()
            return "still RUNNING after 30 s"
        time.sleep(0.05)
    done.set()
    problems = []
    if d["status"] != expect["status"]:
        problems.append(
            f"status {d['status']} (error {d.get('error')!r}, cause {d.get('cause')!r}), "
            f"expected {expect['status']}"
        )
    if "output" in expect and d["status"] == "SUCCEEDED":
        got = json.loads(d.get("output", "null"))
        if not same(got, expect["output"]):
            problems.append(f"output {json.dumps(got)}, expected {json.dumps(expect['output'])}")
    if "error" in expect and d.get("error") != expect["error"]:
        problems.append(f"error {d.get('error')!r}, expected {expect['error']!r}")
    if "cause" in expect and d.get("cause") != expect["cause"]:
        problems.append(f"cause {d.get('cause')!r}, expected {expect['cause']!r}")
    if "cause_contains" in expect and expect["cause_contains"] not in (d.get("cause") or ""):
        problems.append(f"cause {d.get('cause')!r} lacks {expect['cause_contains']!r}")
    if "history" in expect:
        events = sfn.get_execution_history(executionArn=ex["executionArn"], maxResults=1000)
        types = [e["type"] for e in events["events"]]
        if types != expect["history"]:
            problems.append(f"history {types}, expected {expect['history']}")
    for path, want in expect.get("objects", {}).items():
        bucket, key = path.split("/", 1)
        try:
            got = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except ClientError as e:
            problems.append(f"object {path}: {e.response['Error']['Code']}")
            continue
        if isinstance(want, str) and got != want:
            problems.append(f"object {path} holds {got!r}, expected {want!r}")
        elif not isinstance(want, str) and not same(json.loads(got), want):
            problems.append(f"object {path} holds {got}, expected {json.dumps(want)}")
    return "; ".join(problems) or None


def case_test(c):
    """(name, test) for a case: the test fails with run_case's problem."""
    def test():
        problem = run_case(c)
        assert not problem, problem
    return "%s: %s" % (c["_file"][:-5], c["name"]), test


if __name__ == "__main__":
    h.main([case_test(c) for c in load_cases()], label="conformance ", inline=True, workers=24)
