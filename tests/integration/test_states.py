#!/usr/bin/env python3
"""Step Functions through boto3 and the AWS CLI: state machines, executions, history,
StartSyncExecution on EXPRESS machines, activities worked by real GetActivityTask/SendTask*
workers (long poll, heartbeats, timeouts, stale and garbage tokens), callbacks
(.waitForTaskToken), nested executions (.sync, .sync:2), events:putEvents delivered through an
EventBridge rule to an API destination, tags, and the unknown-operation error.

Every expectation is AWS's documented behaviour (the botocore model's documentation and the
Step Functions API reference); a comment says where when it is not obvious. Tests are
independent (each makes its own machines and activities with unique names) and run
concurrently, so the file stays well under a minute although several tests wait on timers.

Output: one TAP-like line per test for tests/integration/run.
"""
import json
import threading
import time
import urllib.error
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import harness as h
from harness import ACCOUNT, EP, REGION, expect_error, uniq

ROLE = "arn:aws:iam::%s:role/sfn-it" % ACCOUNT
# GetActivityTask long-polls up to 60 s, so reads must wait longer than that. StartSyncExecution
# carries the host prefix "sync-", which a loopback endpoint cannot resolve: turn it off.
CFG = h.config(read_timeout=70, max_pool_connections=64, inject_host_prefix=False)
sfn = h.client("stepfunctions", CFG)
ev = h.client("events", CFG)


def error_message(e):
    return e.response["Error"].get("Message", "")


def machine(definition, type_="STANDARD", name=None, **kw):
    name = name or uniq("sm")
    body = definition if isinstance(definition, str) else json.dumps(definition)
    return sfn.create_state_machine(name=name, definition=body, roleArn=ROLE, type=type_,
                                    **kw)["stateMachineArn"]


def activity(name=None):
    return sfn.create_activity(name=name or uniq("act"))["activityArn"]


def start(sm_arn, inp=None, name=None):
    kw = {"name": name} if name else {}
    if inp is not None:
        kw["input"] = inp if isinstance(inp, str) else json.dumps(inp)
    return sfn.start_execution(stateMachineArn=sm_arn, **kw)["executionArn"]


def wait_done(exec_arn, timeout=10.0):
    """DescribeExecution once the execution has left RUNNING."""
    d = h.wait_until(lambda: sfn.describe_execution(executionArn=exec_arn),
                     lambda d: d["status"] != "RUNNING", timeout)
    if d["status"] == "RUNNING":
        raise AssertionError("%s still RUNNING after %.0f s" % (exec_arn, timeout))
    return d


def run_to_end(sm_arn, inp=None, timeout=10.0):
    return wait_done(start(sm_arn, inp), timeout)


def history(exec_arn, **kw):
    events = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=exec_arn, **kw):
        events += page["events"]
    return events


def wait_for_event(exec_arn, type_, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(e["type"] == type_ for e in history(exec_arn)):
            return
        time.sleep(0.05)
    raise AssertionError("no %s event in %s after %.0f s" % (type_, exec_arn, timeout))


class Poll:
    """One GetActivityTask in a daemon thread, so a test can bound how long it waits for it
    (a poll that never gets a task blocks for 60 s) and measure when it returned."""

    def __init__(self, activity_arn, worker="it-worker"):
        self.result = None
        self.error = None
        self.returned_at = None
        self.done = threading.Event()

        def run():
            try:
                self.result = sfn.get_activity_task(activityArn=activity_arn, workerName=worker)
            except Exception as e:  # noqa: BLE001 - reported by wait()
                self.error = e
            self.returned_at = time.time()
            self.done.set()

        threading.Thread(target=run, daemon=True).start()

    def wait(self, timeout=10.0):
        assert self.done.wait(timeout), "GetActivityTask did not return within %.0f s" % timeout
        if self.error:
            raise self.error
        return self.result


def get_task(activity_arn, timeout=10.0):
    t = Poll(activity_arn).wait(timeout)
    assert t.get("taskToken"), "GetActivityTask returned no task: %s" % t
    return t


def task_machine(activity_arn, **task_fields):
    st = {"Type": "Task", "Resource": activity_arn, "End": True}
    st.update(task_fields)
    return machine({"StartAt": "Work", "States": {"Work": st}})


PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
LONG_WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}}}


# ---- state machines --------------------------------------------------------------------------

def test_create_and_describe_state_machine():
    name = uniq("create")
    # Formatted the way a user keeps it in a file: DescribeStateMachine hands back the
    # definition exactly as it was sent.
    definition = json.dumps({"Comment": "greets", "StartAt": "Hello",
                             "States": {"Hello": {"Type": "Pass", "Result": "hi", "End": True}}},
                            indent=2)
    r = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)
    arn = r["stateMachineArn"]
    assert arn == "arn:aws:states:%s:%s:stateMachine:%s" % (REGION, ACCOUNT, name), arn
    assert abs(r["creationDate"].timestamp() - time.time()) < 60, r["creationDate"]
    d = sfn.describe_state_machine(stateMachineArn=arn)
    assert d["stateMachineArn"] == arn and d["name"] == name, d
    assert d["definition"] == definition, d["definition"]
    assert d["roleArn"] == ROLE and d["type"] == "STANDARD" and d["status"] == "ACTIVE", d
    assert d["creationDate"] == r["creationDate"], (d["creationDate"], r["creationDate"])
    assert d.get("revisionId"), "DescribeStateMachine has no revisionId: %s" % d

    express = machine(PASS, "EXPRESS")
    assert sfn.describe_state_machine(stateMachineArn=express)["type"] == "EXPRESS"


def test_create_state_machine_idempotency():
    # API reference, CreateStateMachine: "idempotent ... based on the state machine name,
    # definition, type, LoggingConfiguration ..."; a different definition under the same name
    # is StateMachineAlreadyExists.
    name = uniq("idem")
    body = json.dumps(PASS)
    first = sfn.create_state_machine(name=name, definition=body, roleArn=ROLE)
    again = sfn.create_state_machine(name=name, definition=body, roleArn=ROLE)
    assert again["stateMachineArn"] == first["stateMachineArn"], (first, again)
    assert again["creationDate"] == first["creationDate"], (first, again)
    other = json.dumps({"StartAt": "Q", "States": {"Q": {"Type": "Succeed"}}})
    expect_error("StateMachineAlreadyExists", sfn.create_state_machine, name=name,
                 definition=other, roleArn=ROLE)
    expect_error("StateMachineAlreadyExists", sfn.create_state_machine, name=name,
                 definition=body, roleArn=ROLE, type="EXPRESS")
    # "If a following request has a different roleArn or tags, Step Functions will ignore these
    # differences and treat it as an idempotent request of the previous. In this case, roleArn
    # and tags will not be updated."
    tagged = sfn.create_state_machine(name=name, definition=body, roleArn=ROLE,
                                      tags=[{"key": "new", "value": "tag"}])
    assert tagged["stateMachineArn"] == first["stateMachineArn"], tagged
    assert sfn.list_tags_for_resource(resourceArn=first["stateMachineArn"])["tags"] == []
    other_role = sfn.create_state_machine(name=name, definition=body,
                                          roleArn="arn:aws:iam::%s:role/another" % ACCOUNT)
    assert other_role["stateMachineArn"] == first["stateMachineArn"], other_role
    assert sfn.describe_state_machine(stateMachineArn=first["stateMachineArn"])["roleArn"] == ROLE


def test_create_state_machine_errors():
    e = expect_error("InvalidDefinition", sfn.create_state_machine, name=uniq("bad"),
                     roleArn=ROLE, definition=json.dumps(
                         {"StartAt": "Greet", "States": {"Greet": {"Type": "Pass", "Next": "Nowhere"}}}))
    msg = error_message(e)
    # AWS: "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next'
    # target: Nowhere at /States/Greet/Next'"
    assert "Greet" in msg and "Next" in msg and "Nowhere" in msg, msg
    e = expect_error("InvalidDefinition", sfn.create_state_machine, name=uniq("bad"),
                     roleArn=ROLE, definition=json.dumps(
                         {"StartAt": "Work", "States": {"Work": {"Type": "Task", "End": True}}}))
    msg = error_message(e)
    assert "Work" in msg and "Resource" in msg, msg
    expect_error("InvalidDefinition", sfn.create_state_machine, name=uniq("bad"), roleArn=ROLE,
                 definition="{not json")
    expect_error("InvalidDefinition", sfn.create_state_machine, name=uniq("bad"), roleArn=ROLE,
                 definition=json.dumps({"StartAt": "Missing", "States": {"P": {"Type": "Pass", "End": True}}}))
    for bad in ("has space", "semi;colon", "x" * 81, "brace{"):
        expect_error("InvalidName", sfn.create_state_machine, name=bad, roleArn=ROLE,
                     definition=json.dumps(PASS))
    expect_error("InvalidArn", sfn.create_state_machine, name=uniq("role"),
                 definition=json.dumps(PASS), roleArn="not-an-arn")


def test_express_refuses_sync_and_callback_patterns():
    # "Express Workflows only support Request Response integrations" (developer guide,
    # integrate-optimized; activities are Standard-only too). AWS refuses them when the machine
    # is created: InvalidDefinition "SCHEMA_VALIDATION_FAILED: Express state machine does not
    # support '.sync' service integration" (or "... does not support Activity ARN").
    child = machine(PASS)
    act = activity()
    for resource in ("arn:aws:states:::states:startExecution.sync:2",
                     "arn:aws:states:::states:startExecution.waitForTaskToken", act):
        params = {"StateMachineArn": child, "Input": {"t.$": "$$.Task.Token"}}
        st = {"Type": "Task", "Resource": resource, "End": True}
        if resource != act:
            st["Parameters"] = params
        try:
            machine({"StartAt": "Nested", "States": {"Nested": st}}, "EXPRESS")
            raise AssertionError("an EXPRESS machine with a %s task was created" % resource)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "InvalidDefinition", (resource, e)
    # The request-response pattern is fine.
    machine({"StartAt": "Nested", "States": {"Nested": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
        "Parameters": {"StateMachineArn": child}, "End": True}}}, "EXPRESS")


def test_update_state_machine_running_execution_keeps_definition():
    def version(v):
        return {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
            "P": {"Type": "Pass", "Result": {"v": v}, "End": True}}}

    v1, v2 = json.dumps(version(1)), json.dumps(version(2))
    arn = machine(v1)
    before = sfn.describe_state_machine(stateMachineArn=arn)
    old = start(arn)
    r = sfn.update_state_machine(stateMachineArn=arn, definition=v2)
    assert r.get("revisionId") and r["revisionId"] != before["revisionId"], (before, r)
    assert r["updateDate"] >= before["creationDate"], r
    after = sfn.describe_state_machine(stateMachineArn=arn)
    assert after["definition"] == v2 and after["revisionId"] == r["revisionId"], after
    new = start(arn)
    # API reference, UpdateStateMachine: "Executions that are currently running will continue
    # to use the previous definition and roleArn."
    m_old = sfn.describe_state_machine_for_execution(executionArn=old)
    m_new = sfn.describe_state_machine_for_execution(executionArn=new)
    assert m_old["definition"] == v1 and m_old["stateMachineArn"] == arn, m_old
    # DescribeStateMachineForExecution.revisionId: "The first revision ID when you create the
    # state machine is null."
    assert m_old.get("revisionId") in (None, before["revisionId"]), (m_old, before)
    # updateDate: "The date and time the state machine associated with an execution was
    # updated. For a newly created state machine, this is the creation date."
    assert m_old["updateDate"] == before["creationDate"], (m_old, before)
    assert m_new["updateDate"] == r["updateDate"], (m_new, r)
    assert m_new["definition"] == v2 and m_new.get("revisionId") == r["revisionId"], m_new
    assert json.loads(wait_done(old)["output"]) == {"v": 1}
    assert json.loads(wait_done(new)["output"]) == {"v": 2}
    new_role = "arn:aws:iam::%s:role/other" % ACCOUNT
    sfn.update_state_machine(stateMachineArn=arn, roleArn=new_role)
    assert sfn.describe_state_machine(stateMachineArn=arn)["roleArn"] == new_role
    expect_error("InvalidDefinition", sfn.update_state_machine, stateMachineArn=arn,
                 definition='{"StartAt": "X", "States": {}}')
    expect_error("MissingRequiredParameter", sfn.update_state_machine, stateMachineArn=arn)
    expect_error("StateMachineDoesNotExist", sfn.update_state_machine,
                 stateMachineArn=arn + "-gone", definition=v1)


def test_delete_state_machine():
    arn = machine(PASS)
    sfn.delete_state_machine(stateMachineArn=arn)
    # DeleteStateMachine: the machine goes to DELETING and then away; Describe may show
    # DELETING for a moment, then StateMachineDoesNotExist.
    deadline = time.time() + 5
    while True:
        try:
            d = sfn.describe_state_machine(stateMachineArn=arn)
            assert d["status"] == "DELETING", d
            assert time.time() < deadline, "still DELETING after 5 s"
            time.sleep(0.1)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "StateMachineDoesNotExist", e
            break
    assert arn not in [m["stateMachineArn"] for m in all_state_machines()]
    try:
        sfn.start_execution(stateMachineArn=arn)
        raise AssertionError("StartExecution on a deleted machine succeeded")
    except ClientError as e:
        assert e.response["Error"]["Code"] in ("StateMachineDoesNotExist", "StateMachineDeleting"), e
    expect_error("InvalidArn", sfn.describe_state_machine, stateMachineArn="not-an-arn")


def all_state_machines():
    out = []
    for page in sfn.get_paginator("list_state_machines").paginate():
        out += page["stateMachines"]
    return out


def test_list_state_machines_pagination():
    prefix = uniq("list")
    arns = [machine(PASS, name="%s-%d" % (prefix, i)) for i in range(5)]
    seen, token, pages = [], None, 0
    while True:
        kw = {"nextToken": token} if token else {}
        page = sfn.list_state_machines(maxResults=2, **kw)
        pages += 1
        assert len(page["stateMachines"]) <= 2, page
        seen += page["stateMachines"]
        token = page.get("nextToken")
        if not token:
            break
        assert pages < 1000, "pagination does not end"
    assert pages >= 3, "5+ machines in pages of 2 came in %d pages" % pages
    mine = [m for m in seen if m["stateMachineArn"] in arns]
    assert sorted(m["stateMachineArn"] for m in mine) == sorted(arns), mine
    for m in mine:
        assert m["name"].startswith(prefix) and m["type"] == "STANDARD" and m["creationDate"], m
    expect_error("InvalidToken", sfn.list_state_machines, nextToken="garbage-token")


def test_validate_state_machine_definition():
    ok = sfn.validate_state_machine_definition(definition=json.dumps(PASS))
    assert ok["result"] == "OK" and ok["diagnostics"] == [], ok
    bad = sfn.validate_state_machine_definition(definition=json.dumps(
        {"StartAt": "Greet", "States": {"Greet": {"Type": "Pass", "Next": "Nowhere"}}}))
    assert bad["result"] == "FAIL", bad
    d = bad["diagnostics"]
    assert d and all(x["severity"] == "ERROR" for x in d), d
    # The model's list of error codes: MISSING_TRANSITION_TARGET is a Next naming no state;
    # locations look like /States/<StateName>/<FieldName>.
    hit = [x for x in d if x["code"] == "MISSING_TRANSITION_TARGET"]
    assert hit, d
    assert "Greet" in hit[0].get("location", "") + hit[0]["message"], hit
    # Warnings do not fail a definition: NO_DOLLAR is "No .$ on a field that appears to be a
    # JSONPath or Intrinsic Function" (the model's list of warning codes).
    warn = sfn.validate_state_machine_definition(definition=json.dumps({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"x": "$.input"}, "End": True}}}))
    assert warn["result"] == "OK", warn
    assert [x["severity"] for x in warn["diagnostics"]] in ([], ["WARNING"]), warn
    syntax = sfn.validate_state_machine_definition(definition="{not json")
    assert syntax["result"] == "FAIL", syntax
    assert syntax["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION", syntax


# ---- executions ------------------------------------------------------------------------------

def test_start_execution_name_idempotency():
    # StartExecution: same name + same input while open returns the same execution; a
    # different input, or any input once it has closed, is ExecutionAlreadyExists.
    arn = machine(LONG_WAIT)
    name = uniq("run")
    first = sfn.start_execution(stateMachineArn=arn, name=name, input='{"a": 1}')
    assert first["executionArn"] == "arn:aws:states:%s:%s:execution:%s:%s" % (
        REGION, ACCOUNT, arn.split(":")[-1], name), first
    again = sfn.start_execution(stateMachineArn=arn, name=name, input='{"a": 1}')
    assert again["executionArn"] == first["executionArn"], (first, again)
    assert again["startDate"] == first["startDate"], (first, again)
    expect_error("ExecutionAlreadyExists", sfn.start_execution, stateMachineArn=arn, name=name,
                 input='{"a": 2}')
    sfn.stop_execution(executionArn=first["executionArn"])
    wait_done(first["executionArn"])  # StopExecution answers early: see test_stop_execution_*
    expect_error("ExecutionAlreadyExists", sfn.start_execution, stateMachineArn=arn, name=name,
                 input='{"a": 1}')
    runs = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert len(runs) == 1, runs


def test_start_execution_errors():
    arn = machine(PASS)
    expect_error("InvalidName", sfn.start_execution, stateMachineArn=arn, name="has space")
    expect_error("InvalidName", sfn.start_execution, stateMachineArn=arn, name="x" * 81)
    expect_error("InvalidExecutionInput", sfn.start_execution, stateMachineArn=arn,
                 input="{not json")
    expect_error("StateMachineDoesNotExist", sfn.start_execution,
                 stateMachineArn=arn[: arn.rindex(":") + 1] + uniq("ghost"))
    expect_error("InvalidArn", sfn.start_execution, stateMachineArn="not-an-arn")
    # StartExecution.input: "If you don't include any JSON input data, you still must include
    # the two braces": an execution started without input has the input {}.
    d = wait_done(start(arn))
    assert d["input"] == "{}" and json.loads(d["output"]) == {}, d
    expect_error("ExecutionDoesNotExist", sfn.describe_execution,
                 executionArn=arn.replace(":stateMachine:", ":execution:") + ":nope")


def test_describe_execution_succeeded_and_failed():
    arn = machine({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
        "greeting.$": "States.Format('hello {}', $.who)"}, "End": True}}})
    exec_arn = start(arn, {"who": "world"})
    d = wait_done(exec_arn)
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["input"]) == {"who": "world"}, d
    assert json.loads(d["output"]) == {"greeting": "hello world"}, d
    assert d["executionArn"] == exec_arn and d["stateMachineArn"] == arn, d
    assert d["startDate"] <= d["stopDate"], d
    assert "error" not in d and "cause" not in d, d

    failing = machine({"StartAt": "F", "States": {"F": {
        "Type": "Fail", "Error": "Custom.Broken", "Cause": "it broke on purpose"}}})
    d = run_to_end(failing, {})
    assert d["status"] == "FAILED", d
    assert d["error"] == "Custom.Broken" and d["cause"] == "it broke on purpose", d
    assert "output" not in d and d.get("stopDate"), d


def test_list_executions():
    quick = machine(PASS)
    names = [uniq("q") for _ in range(3)]
    for n in names:
        wait_done(start(quick, {}, n))
        time.sleep(0.02)
    slow = machine({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.wait", "BooleanEquals": True, "Next": "W"}], "Default": "P"},
        "W": {"Type": "Wait", "Seconds": 100, "End": True},
        "P": {"Type": "Pass", "End": True}}})
    done = [start(slow, {"wait": False}, uniq("d")) for _ in range(2)]
    for a in done:
        wait_done(a)
        time.sleep(0.02)
    running = start(slow, {"wait": True}, uniq("r"))
    try:
        got = sfn.list_executions(stateMachineArn=quick)["executions"]
        # "Results are sorted by time, with the most recent execution first."
        assert [e["name"] for e in got] == names[::-1], got
        for e in got:
            assert e["status"] == "SUCCEEDED" and e["stateMachineArn"] == quick, e
            assert e["startDate"] <= e["stopDate"], e
        run = sfn.list_executions(stateMachineArn=slow, statusFilter="RUNNING")["executions"]
        assert [e["executionArn"] for e in run] == [running], run
        assert "stopDate" not in run[0], run
        ok = sfn.list_executions(stateMachineArn=slow, statusFilter="SUCCEEDED")["executions"]
        assert [e["executionArn"] for e in ok] == done[::-1], ok
        assert sfn.list_executions(stateMachineArn=slow, statusFilter="FAILED")["executions"] == []
        page1 = sfn.list_executions(stateMachineArn=slow, maxResults=2)
        assert len(page1["executions"]) == 2 and page1.get("nextToken"), page1
        page2 = sfn.list_executions(stateMachineArn=slow, maxResults=2,
                                    nextToken=page1["nextToken"])
        assert "nextToken" not in page2, page2
        order = [e["executionArn"] for e in page1["executions"] + page2["executions"]]
        assert order == [running] + done[::-1], order
        expect_error("StateMachineDoesNotExist", sfn.list_executions,
                     stateMachineArn=quick + "-gone")
    finally:
        sfn.stop_execution(executionArn=running)


def test_stop_execution_aborts_long_wait():
    arn = machine(LONG_WAIT)
    runs = [start(arn, {"k": i}) for i in range(4)]
    for a in runs:
        wait_for_event(a, "WaitStateEntered")
    right_after = []
    for a in runs:
        t0 = time.time()
        r = sfn.stop_execution(executionArn=a, error="Custom.Stop", cause="stopped by the test")
        assert abs(r["stopDate"].timestamp() - t0) < 30, r
        right_after.append(sfn.describe_execution(executionArn=a)["status"])
    for a in runs:
        d = wait_done(a, timeout=5)
        assert d["status"] == "ABORTED" and d.get("stopDate"), d
        last = history(a)[-1]
        assert last["type"] == "ExecutionAborted", last
        det = last.get("executionAbortedEventDetails", {})
        assert det.get("error") == "Custom.Stop" and det.get("cause") == "stopped by the test", last
    aborted = sfn.list_executions(stateMachineArn=arn, statusFilter="ABORTED")["executions"]
    assert sorted(e["executionArn"] for e in aborted) == sorted(runs), aborted
    expect_error("ExecutionDoesNotExist", sfn.stop_execution, executionArn=runs[0] + "-gone")
    # StopExecution answers with the stopDate: the execution has stopped by then, so a
    # DescribeExecution issued after the answer must not say RUNNING.
    assert right_after == ["ABORTED"] * len(runs), \
        "DescribeExecution right after StopExecution answered: %s" % right_after


def test_get_execution_history():
    arn = machine({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": {"step": "a"}, "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Pass", "Result": {"step": "b"}, "ResultPath": "$.b", "End": True}}})
    exec_arn = start(arn, {"in": 1})
    d = wait_done(exec_arn)
    assert d["status"] == "SUCCEEDED", d
    ev_ = history(exec_arn)
    types = [e["type"] for e in ev_]
    assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "PassStateEntered",
                     "PassStateExited", "ExecutionSucceeded"], types
    assert [e["id"] for e in ev_] == list(range(1, 7)), ev_
    # ExecutionStarted is id 1 with previousEventId 0, and so is the first StateEntered; every
    # later event points at the one before it.
    assert [e["previousEventId"] for e in ev_] == [0, 0, 2, 3, 4, 5], ev_
    started = ev_[0]["executionStartedEventDetails"]
    assert json.loads(started["input"]) == {"in": 1} and started["roleArn"] == ROLE, started
    assert ev_[1]["stateEnteredEventDetails"]["name"] == "A", ev_[1]
    assert json.loads(ev_[1]["stateEnteredEventDetails"]["input"]) == {"in": 1}, ev_[1]
    assert ev_[2]["stateExitedEventDetails"]["name"] == "A", ev_[2]
    assert json.loads(ev_[2]["stateExitedEventDetails"]["output"]) == {"in": 1, "a": {"step": "a"}}
    assert json.loads(ev_[5]["executionSucceededEventDetails"]["output"]) == json.loads(d["output"])
    stamps = [e["timestamp"] for e in ev_]
    assert stamps == sorted(stamps), stamps

    rev = sfn.get_execution_history(executionArn=exec_arn, reverseOrder=True)["events"]
    assert [e["id"] for e in rev] == list(range(6, 0, -1)), rev

    page = sfn.get_execution_history(executionArn=exec_arn, maxResults=4)
    assert [e["id"] for e in page["events"]] == [1, 2, 3, 4] and page.get("nextToken"), page
    rest = sfn.get_execution_history(executionArn=exec_arn, maxResults=4,
                                     nextToken=page["nextToken"])
    assert [e["id"] for e in rest["events"]] == [5, 6] and "nextToken" not in rest, rest

    pages = list(sfn.get_paginator("get_execution_history").paginate(
        executionArn=exec_arn, PaginationConfig={"PageSize": 2}))
    assert [len(p["events"]) for p in pages] == [2, 2, 2], pages
    assert [e["id"] for p in pages for e in p["events"]] == list(range(1, 7))

    lean = sfn.get_execution_history(executionArn=exec_arn, includeExecutionData=False)["events"]
    assert [e["type"] for e in lean] == types
    for e in lean:
        for k, v in e.items():
            if k.endswith("EventDetails"):
                assert "input" not in v and "output" not in v, e
    expect_error("ExecutionDoesNotExist", sfn.get_execution_history, executionArn=exec_arn + "x")
    expect_error("InvalidToken", sfn.get_execution_history, executionArn=exec_arn,
                 nextToken="garbage-token")


def test_execution_timeout():
    # A machine's top-level TimeoutSeconds ends the execution as TIMED_OUT.
    arn = machine({"TimeoutSeconds": 1, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 30, "End": True}}})
    exec_arn = start(arn, {})
    d = wait_done(exec_arn, timeout=6)
    assert d["status"] == "TIMED_OUT", d
    assert (d["stopDate"] - d["startDate"]).total_seconds() < 5, d
    assert history(exec_arn)[-1]["type"] == "ExecutionTimedOut"
    got = sfn.list_executions(stateMachineArn=arn, statusFilter="TIMED_OUT")["executions"]
    assert [e["executionArn"] for e in got] == [exec_arn], got


def test_fail_state_history():
    arn = machine({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E.x", "Cause": "c"}}})
    exec_arn = start(arn, {})
    wait_done(exec_arn)
    ev_ = history(exec_arn)
    assert [e["type"] for e in ev_] == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"], ev_
    assert ev_[-1]["executionFailedEventDetails"] == {"error": "E.x", "cause": "c"}, ev_[-1]


# ---- EXPRESS and StartSyncExecution ----------------------------------------------------------

def test_start_sync_execution():
    arn = machine({"StartAt": "Add", "States": {"Add": {"Type": "Pass", "Parameters": {
        "sum.$": "States.MathAdd($.a, $.b)"}, "End": True}}}, "EXPRESS")
    run_name = uniq("sync")
    r = sfn.start_sync_execution(stateMachineArn=arn, input='{"a": 1, "b": 2}', name=run_name)
    assert r["status"] == "SUCCEEDED" and r["name"] == run_name, r
    assert json.loads(r["output"]) == {"sum": 3}, r
    assert json.loads(r["input"]) == {"a": 1, "b": 2}, r
    assert r["stateMachineArn"] == arn and r["startDate"] <= r["stopDate"], r
    # Express execution ARNs: arn:aws:states:REGION:ACCOUNT:express:MACHINE:NAME:ID
    assert r["executionArn"].startswith("arn:aws:states:%s:%s:express:%s:" % (
        REGION, ACCOUNT, arn.split(":")[-1])), r["executionArn"]

    failing = machine({"StartAt": "F", "States": {"F": {
        "Type": "Fail", "Error": "Express.Failed", "Cause": "no luck"}}}, "EXPRESS")
    r = sfn.start_sync_execution(stateMachineArn=failing, input="{}")
    assert r["status"] == "FAILED", r
    assert r["error"] == "Express.Failed" and r["cause"] == "no luck", r
    assert "output" not in r, r

    expect_error("InvalidExecutionInput", sfn.start_sync_execution, stateMachineArn=arn,
                 input="[broken")
    standard = machine(PASS)
    expect_error("StateMachineTypeNotSupported", sfn.start_sync_execution, stateMachineArn=standard)
    expect_error("StateMachineTypeNotSupported", sfn.list_executions, stateMachineArn=arn)


# ---- activities ------------------------------------------------------------------------------

def test_activity_lifecycle():
    name = uniq("act")
    r = sfn.create_activity(name=name)
    arn = r["activityArn"]
    assert arn == "arn:aws:states:%s:%s:activity:%s" % (REGION, ACCOUNT, name), arn
    again = sfn.create_activity(name=name)  # CreateActivity is idempotent
    assert again["activityArn"] == arn and again["creationDate"] == r["creationDate"], again
    d = sfn.describe_activity(activityArn=arn)
    assert d["activityArn"] == arn and d["name"] == name, d
    assert d["creationDate"] == r["creationDate"], d
    listed = []
    for page in sfn.get_paginator("list_activities").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["activities"]) <= 2, page
        listed += page["activities"]
    assert [a["name"] for a in listed if a["activityArn"] == arn] == [name], listed
    sfn.delete_activity(activityArn=arn)
    expect_error("ActivityDoesNotExist", sfn.describe_activity, activityArn=arn)
    assert arn not in [a["activityArn"] for a in sfn.list_activities()["activities"]]
    expect_error("InvalidName", sfn.create_activity, name="bad name")
    expect_error("InvalidArn", sfn.describe_activity, activityArn="not-an-arn")
    expect_error("ActivityDoesNotExist", sfn.get_activity_task, activityArn=arn)


def test_activity_long_poll_and_success():
    act = activity()
    arn = task_machine(act)
    poll = Poll(act, worker="worker-1")  # waiting before there is any task
    time.sleep(0.5)
    assert not poll.done.is_set(), "GetActivityTask returned with no task: %s" % poll.result
    t0 = time.time()
    exec_arn = start(arn, {"job": 42})
    task = poll.wait(10)
    # The long poll hands the task over as soon as the execution schedules it.
    assert poll.returned_at - t0 < 3, "GetActivityTask took %.1f s" % (poll.returned_at - t0)
    assert task.get("taskToken") and json.loads(task["input"]) == {"job": 42}, task
    sfn.send_task_success(taskToken=task["taskToken"], output='{"done": true}')
    d = wait_done(exec_arn)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"done": True}, d
    ev_ = history(exec_arn)
    assert [e["type"] for e in ev_] == [
        "ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted",
        "ActivitySucceeded", "TaskStateExited", "ExecutionSucceeded"], ev_
    assert [e["previousEventId"] for e in ev_] == [0, 0, 2, 3, 4, 5, 6], ev_
    assert ev_[2]["activityScheduledEventDetails"]["resource"] == act, ev_[2]
    assert ev_[3]["activityStartedEventDetails"]["workerName"] == "worker-1", ev_[3]
    # The task is over: its token now belongs to no task.
    expect_error("TaskTimedOut", sfn.send_task_success, taskToken=task["taskToken"], output="{}")


def test_activity_two_workers_one_task_each():
    # Each task goes to exactly one poller; the other keeps waiting for the next task.
    act = activity()
    arn = task_machine(act)
    polls = [Poll(act, worker="w%d" % i) for i in range(2)]
    time.sleep(0.3)
    first = start(arn, {"n": 1})
    deadline = time.time() + 5
    while not any(p.done.is_set() for p in polls) and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)
    done = [p for p in polls if p.done.is_set()]
    assert len(done) == 1, "%d pollers returned for one task: %s" % (len(done), [p.result for p in done])
    waiting = [p for p in polls if p is not done[0]][0]
    second = start(arn, {"n": 2})
    t2 = waiting.wait(5)
    t1 = done[0].wait(0)
    assert json.loads(t1["input"]) == {"n": 1} and json.loads(t2["input"]) == {"n": 2}, (t1, t2)
    assert t1["taskToken"] != t2["taskToken"]
    sfn.send_task_success(taskToken=t2["taskToken"], output='{"by": 2}')
    sfn.send_task_success(taskToken=t1["taskToken"], output='{"by": 1}')
    assert json.loads(wait_done(first)["output"]) == {"by": 1}
    assert json.loads(wait_done(second)["output"]) == {"by": 2}


def test_activity_failure_routes_to_catch():
    act = activity()
    arn = machine({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": act, "Next": "Done",
                 "Catch": [{"ErrorEquals": ["Custom.Bad"], "ResultPath": "$.err", "Next": "Handled"}]},
        "Handled": {"Type": "Pass", "Result": "handled", "ResultPath": "$.how", "End": True},
        "Done": {"Type": "Succeed"}}})
    exec_arn = start(arn, {"id": 7})
    task = get_task(act)
    sfn.send_task_failure(taskToken=task["taskToken"], error="Custom.Bad", cause="it broke")
    d = wait_done(exec_arn)
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["output"]) == {"id": 7, "err": {"Error": "Custom.Bad", "Cause": "it broke"},
                                       "how": "handled"}, d
    types = [e["type"] for e in history(exec_arn)]
    assert "ActivityFailed" in types and types[-2:] == ["PassStateExited", "ExecutionSucceeded"], types


def test_activity_heartbeat_keeps_task_alive():
    act = activity()
    arn = task_machine(act, HeartbeatSeconds=2, TimeoutSeconds=30)
    exec_arn = start(arn, {})
    task = get_task(act)
    t0 = time.time()
    while time.time() - t0 < 3.5:
        time.sleep(0.7)
        sfn.send_task_heartbeat(taskToken=task["taskToken"])
    assert sfn.describe_execution(executionArn=exec_arn)["status"] == "RUNNING", \
        "a task heartbeating every 0.7 s timed out"
    sfn.send_task_success(taskToken=task["taskToken"], output='{"alive": true}')
    d = wait_done(exec_arn)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"alive": True}, d


def test_activity_without_heartbeat_times_out():
    act = activity()
    arn = task_machine(act, HeartbeatSeconds=2, TimeoutSeconds=30)
    exec_arn = start(arn, {})
    task = get_task(act)
    t0 = time.time()
    d = wait_done(exec_arn, timeout=10)
    took = time.time() - t0
    assert d["status"] == "FAILED" and d["error"] == "States.HeartbeatTimeout", d
    assert 1.0 < took < 6, "heartbeat timeout after %.1f s, HeartbeatSeconds is 2" % took
    ev_ = history(exec_arn)
    sched = [e for e in ev_ if e["type"] == "ActivityScheduled"][0]["activityScheduledEventDetails"]
    assert sched.get("heartbeatInSeconds") == 2 and sched.get("timeoutInSeconds") == 30, sched
    timed_out = [e for e in ev_ if e["type"] == "ActivityTimedOut"]
    assert timed_out, [e["type"] for e in ev_]
    assert timed_out[0]["activityTimedOutEventDetails"]["error"] == "States.HeartbeatTimeout", timed_out
    expect_error("TaskTimedOut", sfn.send_task_heartbeat, taskToken=task["taskToken"])


def test_activity_token_errors():
    act = activity()
    arn = task_machine(act, TimeoutSeconds=1)
    exec_arn = start(arn, {})
    task = get_task(act)
    tok = task["taskToken"]
    expect_error("InvalidOutput", sfn.send_task_success, taskToken=tok, output="{not json")
    d = wait_done(exec_arn)
    assert d["status"] == "FAILED" and d["error"] == "States.Timeout", d
    # SendTaskSuccess: TaskTimedOut for a token whose task has timed out.
    expect_error("TaskTimedOut", sfn.send_task_success, taskToken=tok, output="{}")
    expect_error("TaskTimedOut", sfn.send_task_failure, taskToken=tok, error="x")
    for fn, kw in ((sfn.send_task_success, {"output": "{}"}), (sfn.send_task_failure, {}),
                   (sfn.send_task_heartbeat, {})):
        expect_error("InvalidToken", fn, taskToken="garbage-token", **kw)


def test_wait_for_task_token_child_execution():
    act = activity()
    child = task_machine(act)
    parent = machine({"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
        "Parameters": {"StateMachineArn": child,
                       "Input": {"parentToken.$": "$$.Task.Token", "v.$": "$.v"}},
        "End": True}}})
    exec_arn = start(parent, {"v": 7})
    task = get_task(act)
    child_input = json.loads(task["input"])
    assert child_input["v"] == 7 and child_input.get("parentToken"), child_input
    sfn.send_task_success(taskToken=child_input["parentToken"], output='{"fromChild": 7}')
    sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    d = wait_done(exec_arn)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"fromChild": 7}, d
    kids = sfn.list_executions(stateMachineArn=child)["executions"]
    assert len(kids) == 1, kids
    assert wait_done(kids[0]["executionArn"])["status"] == "SUCCEEDED"


def test_nested_sync_executions():
    child = machine({"StartAt": "D", "States": {"D": {"Type": "Pass", "Parameters": {
        "doubled.$": "States.MathAdd($.n, $.n)"}, "End": True}}})

    def parent(resource):
        return machine({"StartAt": "Call", "States": {"Call": {
            "Type": "Task", "Resource": resource,
            "Parameters": {"StateMachineArn": child, "Input": {"n.$": "$.n"}}, "End": True}}})

    # .sync:2 gives the child's Output as JSON, .sync as a string.
    d = run_to_end(parent("arn:aws:states:::states:startExecution.sync:2"), {"n": 5})
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["Output"] == {"doubled": 10}, out
    assert out["Status"] == "SUCCEEDED" and out["StateMachineArn"] == child, out
    assert out["ExecutionArn"].startswith(child.replace(":stateMachine:", ":execution:") + ":"), out
    d = run_to_end(parent("arn:aws:states:::states:startExecution.sync"), {"n": 6})
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert isinstance(out["Output"], str) and json.loads(out["Output"]) == {"doubled": 12}, out
    # Request-response: the parent goes on as soon as the child has started.
    d = run_to_end(parent("arn:aws:states:::states:startExecution"), {"n": 1})
    out = json.loads(d["output"])
    assert d["status"] == "SUCCEEDED" and out["ExecutionArn"] and out["StartDate"], out


def test_nested_sync_child_failure():
    child = machine({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Child.Broke",
                                                      "Cause": "child cause"}}})
    call = {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
            "Parameters": {"StateMachineArn": child, "Input": {}}, "End": True}
    d = run_to_end(machine({"StartAt": "Call", "States": {"Call": call}}), {})
    assert d["status"] == "FAILED" and d["error"] == "States.TaskFailed", d
    caught = dict(call, Catch=[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.e",
                                "Next": "Recover"}])
    d = run_to_end(machine({"StartAt": "Call", "States": {
        "Call": caught, "Recover": {"Type": "Pass", "End": True}}}), {})
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["output"])["e"]["Error"] == "States.TaskFailed", d


def test_events_put_events_task():
    recv = h.Receiver()
    source = uniq("sfn.it")
    conn = ev.create_connection(Name=uniq("conn"), AuthorizationType="API_KEY", AuthParameters={
        "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}})
    dest = ev.create_api_destination(Name=uniq("dest"), ConnectionArn=conn["ConnectionArn"],
                                     InvocationEndpoint=recv.url + "/sfn", HttpMethod="POST")
    rule = uniq("sfnrule")
    ev.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    ev.put_targets(Rule=rule, Targets=[{"Id": "hook", "Arn": dest["ApiDestinationArn"]}])
    arn = machine({"StartAt": "Put", "States": {"Put": {
        "Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
        "Parameters": {"Entries": [{"Source": source, "DetailType": "Order Placed",
                                    "Detail": {"order.$": "$.order"}}]},
        "End": True}}})
    d = run_to_end(arn, {"order": "o-1"})
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out.get("FailedEntryCount") == 0 and len(out["Entries"]) == 1, out
    assert out["Entries"][0].get("EventId"), out
    got = recv.wait(1, "/sfn")
    assert len(got) == 1, got
    event = json.loads(got[0]["body"])
    assert event["source"] == source and event["detail-type"] == "Order Placed", event
    assert event["detail"] == {"order": "o-1"}, event
    assert event["id"] == out["Entries"][0]["EventId"], (event, out)

    # putEvents.waitForTaskToken: the event carries the token; whoever receives it answers.
    cb = machine({"StartAt": "Put", "States": {"Put": {
        "Type": "Task", "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
        "Parameters": {"Entries": [{"Source": source, "DetailType": "Approve",
                                    "Detail": {"token.$": "$$.Task.Token"}}]},
        "End": True}}})
    exec_arn = start(cb, {})
    got = recv.wait(2, "/sfn")
    assert len(got) == 2, got
    token = json.loads(got[1]["body"])["detail"]["token"]
    assert sfn.describe_execution(executionArn=exec_arn)["status"] == "RUNNING"
    sfn.send_task_success(taskToken=token, output='{"approved": true}')
    d = wait_done(exec_arn)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"approved": True}, d
    recv.shutdown()


# ---- tags ------------------------------------------------------------------------------------

def test_tags():
    sm = machine(PASS, tags=[{"key": "team", "value": "core"}])
    act = sfn.create_activity(name=uniq("tagact"), tags=[{"key": "a", "value": "1"}])["activityArn"]

    def tags(arn):
        return sorted((t["key"], t["value"]) for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"])

    assert tags(sm) == [("team", "core")], tags(sm)
    assert tags(act) == [("a", "1")], tags(act)
    for arn in (sm, act):
        sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "test"},
                                                {"key": "team", "value": "edge"}])
    assert tags(sm) == [("env", "test"), ("team", "edge")], tags(sm)
    assert tags(act) == [("a", "1"), ("env", "test"), ("team", "edge")], tags(act)
    sfn.untag_resource(resourceArn=sm, tagKeys=["team", "absent"])
    sfn.untag_resource(resourceArn=act, tagKeys=["a"])
    assert tags(sm) == [("env", "test")], tags(sm)
    assert tags(act) == [("env", "test"), ("team", "edge")], tags(act)
    ghost = sm[: sm.rindex(":") + 1] + uniq("ghost")
    expect_error("ResourceNotFound", sfn.list_tags_for_resource, resourceArn=ghost)
    expect_error("ResourceNotFound", sfn.tag_resource, resourceArn=ghost,
                 tags=[{"key": "k", "value": "v"}])
    expect_error("ResourceNotFound", sfn.untag_resource, resourceArn=ghost, tagKeys=["k"])


# ---- AWS CLI ---------------------------------------------------------------------------------

def cli(*args):
    return h.aws_json("stepfunctions", *args)


def test_awscli():
    name = uniq("cli")
    definition = json.dumps({"StartAt": "Hi", "States": {"Hi": {
        "Type": "Pass", "Parameters": {"msg.$": "States.Format('hi {}', $.who)"}, "End": True}}})
    r = cli("create-state-machine", "--name", name, "--definition", definition, "--role-arn", ROLE)
    arn = r["stateMachineArn"]
    assert arn.endswith(":stateMachine:" + name) and r["creationDate"], r
    r = cli("start-execution", "--state-machine-arn", arn, "--name", "first", "--input", '{"who": "cli"}')
    exec_arn = r["executionArn"]
    assert exec_arn.endswith(":execution:%s:first" % name) and r["startDate"], r
    wait_done(exec_arn)
    d = cli("describe-execution", "--execution-arn", exec_arn)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"msg": "hi cli"}, d
    types = cli("get-execution-history", "--execution-arn", exec_arn, "--query", "events[].type")
    assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"], types
    listed = cli("list-executions", "--state-machine-arn", arn)
    assert [e["executionArn"] for e in listed["executions"]] == [exec_arn], listed
    assert listed["executions"][0]["status"] == "SUCCEEDED", listed
    out = h.aws("stepfunctions", "describe-state-machine", "--state-machine-arn", arn + "-gone")
    assert out.returncode != 0 and "StateMachineDoesNotExist" in out.stderr, out.stderr


# ---- protocol --------------------------------------------------------------------------------

def test_unknown_operation():
    req = AWSRequest(method="POST", url=EP + "/", data=b"{}", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions.NoSuchThing"})
    SigV4Auth(Credentials("test", "test"), "states", REGION).add_auth(req)
    p = req.prepare()
    try:
        with urllib.request.urlopen(urllib.request.Request(p.url, data=p.body, headers=dict(p.headers),
                                                           method="POST"), timeout=10) as r:
            raise AssertionError("unknown operation answered %d: %s" % (r.status, r.read()))
    except urllib.error.HTTPError as e:
        body = json.loads(e.read())
        assert e.code == 400, e.code
        assert body.get("__type", "").split("#")[-1] == "UnknownOperationException", body


# ---------------------------------------------------------------------------------------------

TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]


if __name__ == "__main__":
    h.main(TESTS, check=h.assert_endpoint_answers, workers=max(1, len(TESTS)))
