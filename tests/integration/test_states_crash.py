#!/usr/bin/env python3
# sluice-integration: own-daemon
"""kill -9 of the daemon mid-execution loses nothing: STANDARD executions waiting in a Wait
state, on an activity task and inside a Map (iterations waiting on activity tasks) when the
daemon dies all finish correctly after a restart on the same data dir — a Wait that fell due
while the daemon was down fires on start, activity tasks are handed out again, finished Map
iterations keep their results — and their histories carry on without gaps. An EventBridge rule
targets a state machine, so an event accepted before the crash starts its execution after.
Output: TAP-like lines for tests/integration/run."""
import json
import signal
import tempfile
import threading
import time

import harness as h

CFG = h.config(read_timeout=70)
ROLE = "arn:aws:iam::000000000000:role/r"


def client(svc, port):
    return h.client(svc, CFG, endpoint="http://127.0.0.1:%d" % port)


WAIT = {"StartAt": "W", "States": {
    "W": {"Type": "Wait", "Seconds": 2, "Next": "P"},
    "P": {"Type": "Pass", "Result": "waited", "ResultPath": "$.w", "End": True}}}


def activity_machine(act):
    return {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": act, "ResultPath": "$.r", "Next": "D"},
        "D": {"Type": "Pass", "End": True}}}


def map_machine(act):
    return {"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
              "ItemProcessor": {"StartAt": "T", "States": {
                  "T": {"Type": "Task", "Resource": act, "End": True}}},
              "End": True}}}


def wait_done(sfn, arn, timeout=30):
    return h.wait_until(lambda: sfn.describe_execution(executionArn=arn),
                        lambda d: d["status"] != "RUNNING", timeout, interval=0.1)


def work(sfn, act, n, double):
    """Answers n tasks of act with {"v": input.v * 2} (or the input when double is False)."""
    for _ in range(n):
        t = {}
        while not t.get("taskToken"):
            t = sfn.get_activity_task(activityArn=act, workerName="w")
        inp = json.loads(t["input"])
        out = {"v": inp * 2} if double else {"done": True}
        sfn.send_task_success(taskToken=t["taskToken"], output=json.dumps(out))


def test_kill9_mid_wait_activity_and_map():
    data = tempfile.mkdtemp(prefix="sluice-sfncrash-")
    port = h.free_port()
    p = h.serve(data, port)
    try:
        sfn = client("stepfunctions", port)
        ev = client("events", port)
        act1 = sfn.create_activity(name="solo")["activityArn"]
        act2 = sfn.create_activity(name="items")["activityArn"]
        mw = sfn.create_state_machine(name="waits", definition=json.dumps(WAIT), roleArn=ROLE)
        ma = sfn.create_state_machine(name="acts", definition=json.dumps(activity_machine(act1)),
                                      roleArn=ROLE)
        mm = sfn.create_state_machine(name="maps", definition=json.dumps(map_machine(act2)),
                                      roleArn=ROLE)
        ev.put_rule(Name="to-sfn", EventPattern=json.dumps({"source": ["crash.sfn"]}))
        ev.put_targets(Rule="to-sfn", Targets=[{"Id": "sm", "Arn": mw["stateMachineArn"],
                                                "RoleArn": ROLE}])
        ew = sfn.start_execution(stateMachineArn=mw["stateMachineArn"], name="w1",
                                 input=json.dumps({"a": 1}))["executionArn"]
        ea = sfn.start_execution(stateMachineArn=ma["stateMachineArn"], name="a1",
                                 input=json.dumps({"b": 2}))["executionArn"]
        em = sfn.start_execution(stateMachineArn=mm["stateMachineArn"], name="m1",
                                 input=json.dumps({"items": [1, 2, 3, 4]}))["executionArn"]
        # two of the four iterations finish before the crash; two more are scheduled
        work(sfn, act2, 2, True)
        # the activity task is taken (ActivityStarted) but never answered before the crash
        t = {}
        while not t.get("taskToken"):
            t = sfn.get_activity_task(activityArn=act1, workerName="lost")
        ev.put_events(Entries=[{"Source": "crash.sfn", "DetailType": "go", "Detail": "{}"}])
        time.sleep(0.3)
    finally:
        h.kill9(p)
    time.sleep(2.2)  # the Wait falls due while the daemon is down
    p = h.serve(data, port)
    try:
        sfn = client("stepfunctions", port)
        d = wait_done(sfn, ew, 10)
        assert d["status"] == "SUCCEEDED", d
        assert json.loads(d["output"]) == {"a": 1, "w": "waited"}, d["output"]
        threading.Thread(target=work, args=(sfn, act1, 1, False), daemon=True).start()
        d = wait_done(sfn, ea)
        assert d["status"] == "SUCCEEDED", d
        assert json.loads(d["output"]) == {"b": 2, "r": {"done": True}}, d["output"]
        threading.Thread(target=work, args=(sfn, act2, 2, True), daemon=True).start()
        d = wait_done(sfn, em)
        assert d["status"] == "SUCCEEDED", d
        assert json.loads(d["output"]) == [{"v": 2}, {"v": 4}, {"v": 6}, {"v": 8}], d["output"]
        for arn in (ew, ea, em):
            events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            ids = [e["id"] for e in events]
            assert ids == list(range(1, len(ids) + 1)), (arn, ids)
            assert events[-1]["type"] == "ExecutionSucceeded", events[-1]
        # the event accepted before the crash started an execution of "waits"
        ex = h.wait_until(lambda: sfn.list_executions(stateMachineArn=mw["stateMachineArn"])["executions"],
                          lambda ex: len(ex) == 2 and all(e["status"] == "SUCCEEDED" for e in ex),
                          15, interval=0.2)
        assert len(ex) == 2 and all(e["status"] == "SUCCEEDED" for e in ex), ex
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()


if __name__ == "__main__":
    h.main([("kill -9 mid-Wait, mid-activity, mid-Map; rule target after restart",
             test_kill9_mid_wait_activity_and_map)], label="states crash: ", inline=True)
