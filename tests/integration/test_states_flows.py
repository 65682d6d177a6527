#!/usr/bin/env python3
"""Step Functions working with the rest of Sluice, through boto3: an EventBridge rule whose
target is a state machine starts it with the event as input; execution status changes are
published on the default bus ("Step Functions Execution Status Change") where a rule can start
the next machine; RedriveExecution resumes a failed execution at the failed state; TestState
runs one state (with inspection data, mocks, RETRIABLE and CAUGHT_ERROR). Output: TAP-like
lines for tests/integration/run."""
import json
import os

from botocore.exceptions import ClientError

import harness as h

sfn = h.client("stepfunctions", h.config(read_timeout=70))
# TestState, like StartSyncExecution, has a "sync-" host prefix in the model
sfn_sync = h.client("stepfunctions", h.config(inject_host_prefix=False))
ev = h.client("events", h.config(read_timeout=70))
ROLE = "arn:aws:iam::000000000000:role/flows"
PREFIX = "flows-%d" % os.getpid()


def machine(name, definition):
    return sfn.create_state_machine(name="%s-%s" % (PREFIX, name), definition=json.dumps(definition),
                                    roleArn=ROLE)["stateMachineArn"]


def executions(arn, n, timeout=15):
    return h.wait_until(lambda: sfn.list_executions(stateMachineArn=arn)["executions"],
                        lambda ex: len(ex) >= n and all(e["status"] != "RUNNING" for e in ex),
                        timeout, interval=0.1)


def wait_done(arn, timeout=15):
    return h.wait_until(lambda: sfn.describe_execution(executionArn=arn),
                        lambda d: d["status"] != "RUNNING", timeout)


def test_rule_target_starts_execution_with_event():
    arn = machine("target", {"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"key.$": "$.detail.key", "src.$": "$.source"}, "End": True}}})
    ev.put_rule(Name=PREFIX + "-r1", EventPattern=json.dumps({"source": [PREFIX + ".app"]}))
    ev.put_targets(Rule=PREFIX + "-r1", Targets=[{"Id": "sm", "Arn": arn, "RoleArn": ROLE}])
    ev.put_events(Entries=[{"Source": PREFIX + ".app", "DetailType": "t",
                            "Detail": json.dumps({"key": "demo1.txt"})}])
    ex = executions(arn, 1)
    assert len(ex) == 1 and ex[0]["status"] == "SUCCEEDED", ex
    out = json.loads(sfn.describe_execution(executionArn=ex[0]["executionArn"])["output"])
    assert out == {"key": "demo1.txt", "src": PREFIX + ".app"}, out


def test_rule_target_input_transformer():
    arn = machine("xform", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    ev.put_rule(Name=PREFIX + "-r2", EventPattern=json.dumps({"source": [PREFIX + ".xf"]}))
    ev.put_targets(Rule=PREFIX + "-r2", Targets=[{
        "Id": "sm", "Arn": arn, "RoleArn": ROLE,
        "InputTransformer": {"InputPathsMap": {"k": "$.detail.key"},
                             "InputTemplate": '{"file": <k>, "fixed": 1}'}}])
    ev.put_events(Entries=[{"Source": PREFIX + ".xf", "DetailType": "t",
                            "Detail": json.dumps({"key": "a/b.jpg"})}])
    ex = executions(arn, 1)
    assert len(ex) == 1, ex
    out = json.loads(sfn.describe_execution(executionArn=ex[0]["executionArn"])["output"])
    assert out == {"file": "a/b.jpg", "fixed": 1}, out


def test_status_change_event_starts_next_machine():
    first = machine("first", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    second = machine("second", {"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"status.$": "$.detail.status", "from.$": "$.detail.stateMachineArn",
                                       "dt.$": "$.detail-type", "src.$": "$.source"}, "End": True}}})
    ev.put_rule(Name=PREFIX + "-r3", EventPattern=json.dumps({
        "source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["SUCCEEDED"], "stateMachineArn": [first]}}))
    ev.put_targets(Rule=PREFIX + "-r3", Targets=[{"Id": "next", "Arn": second, "RoleArn": ROLE}])
    sfn.start_execution(stateMachineArn=first, input="{}")
    ex = executions(second, 1)
    assert len(ex) == 1 and ex[0]["status"] == "SUCCEEDED", ex
    out = json.loads(sfn.describe_execution(executionArn=ex[0]["executionArn"])["output"])
    assert out == {"status": "SUCCEEDED", "from": first, "src": "aws.states",
                   "dt": "Step Functions Execution Status Change"}, out


def test_redrive_resumes_at_failed_state():
    act = sfn.create_activity(name=PREFIX + "-flaky")["activityArn"]
    arn = machine("redrive", {"StartAt": "Once", "States": {
        "Once": {"Type": "Pass", "Result": 1, "ResultPath": "$.once", "Next": "Work"},
        "Work": {"Type": "Task", "Resource": act, "ResultPath": "$.work", "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"n": 7}))["executionArn"]
    t = sfn.get_activity_task(activityArn=act, workerName="w")
    sfn.send_task_failure(taskToken=t["taskToken"], error="Transient", cause="try again")
    d = wait_done(ex)
    assert d["status"] == "FAILED" and d["error"] == "Transient", d
    assert d["redriveStatus"] == "REDRIVABLE", d
    sfn.redrive_execution(executionArn=ex)
    t = sfn.get_activity_task(activityArn=act, workerName="w")
    assert json.loads(t["input"]) == {"n": 7, "once": 1}, t["input"]
    sfn.send_task_success(taskToken=t["taskToken"], output='{"ok": true}')
    d = wait_done(ex)
    assert d["status"] == "SUCCEEDED" and d["redriveCount"] == 1, d
    assert json.loads(d["output"]) == {"n": 7, "once": 1, "work": {"ok": True}}, d["output"]
    types = [e["type"] for e in sfn.get_execution_history(executionArn=ex)["events"]]
    assert types.count("PassStateEntered") == 1, types  # the Pass before the failure is not re-run
    assert "ExecutionRedriven" in types and types[-1] == "ExecutionSucceeded", types
    try:
        sfn.redrive_execution(executionArn=ex)
        raise AssertionError("a SUCCEEDED execution was redriven")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ExecutionNotRedrivable", e.response


def test_state_one_state_with_inspection():
    r = sfn_sync.test_state(definition=json.dumps({
        "Type": "Pass", "Parameters": {"a.$": "$.x"}, "ResultPath": "$.r", "Next": "After"}),
        roleArn=ROLE, input='{"x": 5}', inspectionLevel="DEBUG")
    assert r["status"] == "SUCCEEDED" and r["nextState"] == "After", r
    assert json.loads(r["output"]) == {"x": 5, "r": {"a": 5}}, r
    assert json.loads(r["inspectionData"]["afterParameters"]) == {"a": 5}, r
    r = sfn_sync.test_state(definition=json.dumps({
        "Type": "Choice", "Choices": [{"Variable": "$.x", "NumericGreaterThan": 3, "Next": "Big"}],
        "Default": "Small"}), roleArn=ROLE, input='{"x": 5}')
    assert r["nextState"] == "Big", r


def test_state_mocks_retry_and_catch():
    task = {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
            "Retry": [{"ErrorEquals": ["Throttled"]}],
            "Catch": [{"ErrorEquals": ["Broken"], "Next": "Handler"}], "End": True}
    r = sfn_sync.test_state(definition=json.dumps(task), roleArn=ROLE,
                            mock={"errorOutput": {"error": "Throttled", "cause": "slow down"}})
    assert r["status"] == "RETRIABLE" and r["error"] == "Throttled", r
    r = sfn_sync.test_state(definition=json.dumps(task), roleArn=ROLE,
                            mock={"errorOutput": {"error": "Broken", "cause": "no"}})
    assert r["status"] == "CAUGHT_ERROR" and r["nextState"] == "Handler", r
    assert json.loads(r["output"]) == {"Error": "Broken", "Cause": "no"}, r
    r = sfn_sync.test_state(definition=json.dumps(task), roleArn=ROLE,
                            mock={"result": '{"Entries": [{"EventId": "1"}], "FailedEntryCount": 0}'})
    assert r["status"] == "SUCCEEDED", r
    try:
        sfn_sync.test_state(definition=json.dumps({"Type": "Task", "End": True,
                            "Resource": "arn:aws:states:us-east-1:000000000000:activity:x"}), roleArn=ROLE)
        raise AssertionError("an activity task ran without a mock")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ValidationException", e.response
    try:
        sfn_sync.test_state(definition=json.dumps({"Type": "Pass", "Next": 3}), roleArn=ROLE)
        raise AssertionError("a bad state was accepted")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidDefinition", e.response


TESTS = [
    ("rule target starts an execution with the event", test_rule_target_starts_execution_with_event),
    ("rule target InputTransformer", test_rule_target_input_transformer),
    ("status change event starts the next machine", test_status_change_event_starts_next_machine),
    ("RedriveExecution resumes at the failed state", test_redrive_resumes_at_failed_state),
    ("TestState: one state, inspection data, nextState", test_state_one_state_with_inspection),
    ("TestState: mocks, RETRIABLE, CAUGHT_ERROR, refusals", test_state_mocks_retry_and_catch),
]


if __name__ == "__main__":
    h.main(TESTS, label="states flows: ", inline=True)
