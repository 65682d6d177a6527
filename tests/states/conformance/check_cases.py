#!/usr/bin/env python3
"""Validate the Step Functions conformance case files in this directory.

Checks (stdlib only):
  * every *.json file parses and is a JSON array of case objects;
  * case names are unique across all files, match [a-z0-9-]+ and are <= 70 chars;
  * required fields (name, doc, definition, expect) are present, no unknown fields;
  * "expect" is well formed (status / output / error / cause / history, or
    invalid_definition alone);
  * every activity ARN used in a definition (or a child machine) is scripted
    in "activities", every scripted response has a known shape, and activity
    and child-machine names are unique across the suite (cases run in parallel);
  * for valid definitions: a light structural lint (StartAt / Next / Default /
    Catch targets exist in their own scope, allowed Task resources only);
  * speed guards: Wait <= 1 s, retriers with explicit MaxAttempts <= 2,
    IntervalSeconds <= 1 and BackoffRate 1, task timeouts small.

Prints the number of cases per group and the total; exits 1 on any error.
Usage: python3 check_cases.py [-v] [DIR]
"""
import glob
import json
import os
import re
import sys

REGION = "us-east-1"
ACCOUNT = "000000000000"
ACTIVITY_PREFIX = "arn:aws:states:%s:%s:activity:" % (REGION, ACCOUNT)
MACHINE_PREFIX = "arn:aws:states:%s:%s:stateMachine:" % (REGION, ACCOUNT)
SFN_RESOURCES = {
    "arn:aws:states:::states:startExecution",
    "arn:aws:states:::states:startExecution.sync",
    "arn:aws:states:::states:startExecution.sync:2",
}
NAME_RE = re.compile(r"^[a-z0-9-]+$")
CASE_KEYS = {"name", "doc", "definition", "input", "machines", "activities", "objects", "expect"}
EXPECT_KEYS = {"status", "output", "error", "cause", "cause_contains", "history", "invalid_definition",
               "objects"}
STATUSES = {"SUCCEEDED", "FAILED", "TIMED_OUT"}
RESPONSE_KEYS = {"output", "echo", "error", "ignore", "heartbeat_then_ignore"}
STATE_TYPES = {"Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"}

# HistoryEvent types from the Step Functions API reference (API_HistoryEvent).
EVENT_TYPES = set("""
ActivityFailed ActivityScheduled ActivityScheduleFailed ActivityStarted ActivitySucceeded ActivityTimedOut
ChoiceStateEntered ChoiceStateExited
ExecutionAborted ExecutionFailed ExecutionStarted ExecutionSucceeded ExecutionTimedOut ExecutionRedriven
FailStateEntered
LambdaFunctionFailed LambdaFunctionScheduled LambdaFunctionScheduleFailed LambdaFunctionStarted
LambdaFunctionStartFailed LambdaFunctionSucceeded LambdaFunctionTimedOut
MapIterationAborted MapIterationFailed MapIterationStarted MapIterationSucceeded
MapStateAborted MapStateEntered MapStateExited MapStateFailed MapStateStarted MapStateSucceeded
MapRunAborted MapRunFailed MapRunStarted MapRunSucceeded MapRunRedriven
ParallelStateAborted ParallelStateEntered ParallelStateExited ParallelStateFailed ParallelStateStarted ParallelStateSucceeded
PassStateEntered PassStateExited
SucceedStateEntered SucceedStateExited
TaskFailed TaskScheduled TaskStarted TaskStartFailed TaskStateAborted TaskStateEntered TaskStateExited
TaskSubmitFailed TaskSubmitted TaskSucceeded TaskTimedOut
WaitStateAborted WaitStateEntered WaitStateExited
EvaluationFailed
""".split())


class Checker:
    def __init__(self):
        self.errors = []
        self.warnings = []
        self.unasserted = []  # FAILED/TIMED_OUT cases that leave the error name open

    def err(self, where, msg):
        self.errors.append("%s: %s" % (where, msg))

    def warn(self, where, msg):
        self.warnings.append("%s: %s" % (where, msg))


def walk_machine(defn, where, ck, on_state, lint):
    """Visit every state of a definition (branches and Map processors included)."""
    if not isinstance(defn, dict):
        ck.err(where, "definition is not an object")
        return
    states = defn.get("States")
    if not isinstance(states, dict):
        if lint:
            ck.err(where, "definition has no States object")
        return
    names = set(states)
    if lint and defn.get("StartAt") not in names:
        ck.err(where, "StartAt %r is not a state" % (defn.get("StartAt"),))

    def target(tgt, sname, field):
        if lint and tgt not in names:
            ck.err(where, "state %r: %s target %r not in scope" % (sname, field, tgt))

    for sname, st in states.items():
        if not isinstance(st, dict):
            ck.err(where, "state %r is not an object" % sname)
            continue
        t = st.get("Type")
        if lint and t not in STATE_TYPES:
            ck.err(where, "state %r has unknown Type %r" % (sname, t))
        on_state(sname, st)
        if "Next" in st:
            target(st["Next"], sname, "Next")
        if lint and t not in ("Choice", "Succeed", "Fail") and "Next" not in st and st.get("End") is not True:
            ck.err(where, "state %r has neither Next nor End" % sname)
        if t == "Choice":
            for rule in st.get("Choices", []):
                target(rule.get("Next"), sname, "Choices.Next")
            if "Default" in st:
                target(st["Default"], sname, "Default")
        for c in st.get("Catch", []) or []:
            target(c.get("Next"), sname, "Catch.Next")
        if t == "Parallel":
            for i, b in enumerate(st.get("Branches", []) or []):
                walk_machine(b, "%s/%s.Branches[%d]" % (where, sname, i), ck, on_state, lint)
        if t == "Map":
            proc = st.get("ItemProcessor", st.get("Iterator"))
            if proc is not None:
                walk_machine(proc, "%s/%s.ItemProcessor" % (where, sname), ck, on_state, lint)


def check_expect(where, exp, ck):
    if not isinstance(exp, dict):
        ck.err(where, "expect is not an object")
        return False
    unknown = set(exp) - EXPECT_KEYS
    if unknown:
        ck.err(where, "unknown expect keys %s" % sorted(unknown))
    if "invalid_definition" in exp:
        if exp["invalid_definition"] is not True or len(exp) != 1:
            ck.err(where, 'invalid_definition must be true and alone in expect')
        return True
    st = exp.get("status")
    if st not in STATUSES:
        ck.err(where, "expect.status must be one of %s" % sorted(STATUSES))
    if st == "SUCCEEDED":
        if "output" not in exp and "history" not in exp and "objects" not in exp:
            ck.err(where, "SUCCEEDED expectation needs output, history or objects")
        for k in ("error", "cause", "cause_contains"):
            if k in exp:
                ck.err(where, "%s makes no sense for SUCCEEDED" % k)
    else:
        if "output" in exp:
            ck.err(where, "output only allowed for SUCCEEDED")
        if "error" not in exp:
            ck.unasserted.append(where)
    if "cause" in exp and "cause_contains" in exp:
        ck.err(where, "use cause or cause_contains, not both")
    for k in ("error", "cause", "cause_contains"):
        if k in exp and not isinstance(exp[k], str):
            ck.err(where, "%s must be a string" % k)
    if "history" in exp:
        h = exp["history"]
        if not isinstance(h, list) or not h or not all(isinstance(x, str) for x in h):
            ck.err(where, "history must be a non-empty list of strings")
        else:
            bad = [x for x in h if x not in EVENT_TYPES]
            if bad:
                ck.err(where, "unknown history event types %s" % bad)
            if h[0] != "ExecutionStarted":
                ck.err(where, "history must start with ExecutionStarted")
            last = {"SUCCEEDED": "ExecutionSucceeded", "FAILED": "ExecutionFailed", "TIMED_OUT": "ExecutionTimedOut"}.get(st)
            if last and h[-1] != last:
                ck.err(where, "history must end with %s" % last)
    return False


def check_response(where, r, ck):
    if not isinstance(r, dict):
        ck.err(where, "scripted response is not an object")
        return
    keys = set(r) - {"cause"}
    if len(keys) != 1 or not keys <= RESPONSE_KEYS:
        ck.err(where, "scripted response must have exactly one of %s (+cause with error): %r" % (sorted(RESPONSE_KEYS), r))
        return
    k = keys.pop()
    if "cause" in r and k != "error":
        ck.err(where, "cause only goes with error")
    if k == "error" and not isinstance(r["error"], str):
        ck.err(where, "error must be a string")
    if k in ("echo", "ignore") and r[k] is not True:
        ck.err(where, "%s must be true" % k)
    if k == "heartbeat_then_ignore" and not (isinstance(r[k], int) and r[k] >= 1):
        ck.err(where, "heartbeat_then_ignore must be a positive integer")


def check_case(c, where, ck, seen_names, seen_activities, seen_machines):
    if not isinstance(c, dict):
        ck.err(where, "case is not an object")
        return None
    name = c.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > 70:
        ck.err(where, "bad name %r (need [a-z0-9-]+, <= 70 chars)" % (name,))
    elif name in seen_names:
        ck.err(where, "duplicate name %r (also in %s)" % (name, seen_names[name]))
    else:
        seen_names[name] = where
    where = "%s[%s]" % (where, name)
    for k in ("name", "doc", "definition", "expect"):
        if k not in c:
            ck.err(where, "missing required field %r" % k)
    unknown = set(c) - CASE_KEYS
    if unknown:
        ck.err(where, "unknown fields %s" % sorted(unknown))
    if "doc" in c and (not isinstance(c["doc"], str) or not c["doc"].strip()):
        ck.err(where, "doc must be a non-empty string")
    if not isinstance(c.get("definition"), dict):
        ck.err(where, "definition must be an object")
        return None
    invalid = check_expect(where, c.get("expect"), ck)
    lint = not invalid

    machines = c.get("machines", {})
    if not isinstance(machines, dict):
        ck.err(where, "machines must be an object")
        machines = {}
    for mname in machines:
        if not re.match(r"^[A-Za-z0-9_-]{1,80}$", mname):
            ck.err(where, "bad machine name %r" % mname)
        if mname in seen_machines:
            ck.err(where, "machine name %r also used by %s" % (mname, seen_machines[mname]))
        seen_machines[mname] = name

    acts = c.get("activities", {})
    if not isinstance(acts, dict):
        ck.err(where, "activities must be an object")
        acts = {}
    for aname, script in acts.items():
        if not re.match(r"^[A-Za-z0-9_-]{1,80}$", aname):
            ck.err(where, "bad activity name %r" % aname)
        if aname in seen_activities:
            ck.err(where, "activity name %r also used by %s" % (aname, seen_activities[aname]))
        seen_activities[aname] = name
        if not isinstance(script, list) or not script:
            ck.err(where, "activity %r script must be a non-empty list" % aname)
            continue
        for i, r in enumerate(script):
            check_response("%s.activities.%s[%d]" % (where, aname, i), r, ck)

    used_acts = set()
    has_guard = {"v": isinstance(c["definition"].get("TimeoutSeconds"), int) and c["definition"]["TimeoutSeconds"] <= 2}

    def on_state(sname, st):
        t = st.get("Type")
        sw = "%s state %r" % (where, sname)
        if t == "Task":
            res = st.get("Resource")
            if isinstance(res, str) and res.startswith(ACTIVITY_PREFIX):
                used_acts.add(res[len(ACTIVITY_PREFIX):])
            elif res in SFN_RESOURCES:
                arn = (st.get("Parameters") or {}).get("StateMachineArn")
                if isinstance(arn, str):
                    if not arn.startswith(MACHINE_PREFIX):
                        ck.err(sw, "StateMachineArn %r outside the test account/region" % arn)
                    elif arn[len(MACHINE_PREFIX):] not in machines:
                        exp_err = (c.get("expect") or {}).get("error", "")
                        if "StateMachineDoesNotExist" not in exp_err:
                            ck.err(sw, "StateMachineArn %r is not defined in machines" % arn)
            elif res.startswith(("arn:aws:states:::aws-sdk:s3:", "arn:aws:states:::s3:")):
                if "objects" not in c:
                    ck.err(sw, "S3 tasks need the case's objects (its bucket is made from them)")
            elif lint:
                ck.err(sw, "Task resource %r not allowed (activities, states:startExecution, S3)" % (res,))
            if lint:
                to = st.get("TimeoutSeconds")
                hb = st.get("HeartbeatSeconds")
                if isinstance(to, int) and to > 2 and not (isinstance(hb, int) and hb <= 2) and not has_guard["v"]:
                    ck.warn(sw, "TimeoutSeconds %d > 2 without a short heartbeat/execution timeout" % to)
                if isinstance(hb, int) and hb > 2:
                    ck.warn(sw, "HeartbeatSeconds %d > 2" % hb)
        if t == "Wait" and lint:
            s = st.get("Seconds")
            if isinstance(s, (int, float)) and s > 1:
                ck.err(sw, "Wait Seconds %s > 1 (keep the suite fast)" % s)
        if lint:
            for r in st.get("Retry", []) or []:
                ma = r.get("MaxAttempts")
                if not isinstance(ma, int) or ma > 2:
                    ck.err(sw, "retrier needs explicit MaxAttempts <= 2 (default is 3 with backoff 2.0)")
                if r.get("IntervalSeconds", 1) > 1:
                    ck.err(sw, "retrier IntervalSeconds > 1")
                if isinstance(ma, int) and ma > 1 and r.get("BackoffRate") != 1:
                    ck.err(sw, "retrier with MaxAttempts > 1 needs BackoffRate 1")

    walk_machine(c["definition"], where + " definition", ck, on_state, lint)
    for mname, mdef in machines.items():
        walk_machine(mdef, "%s machines.%s" % (where, mname), ck, on_state, True)

    for a in sorted(used_acts - set(acts)):
        ck.err(where, "activity %r used in a definition but not scripted" % a)
    for a in sorted(set(acts) - used_acts):
        ck.warn(where, "activity %r scripted but never used" % a)
    return invalid


def main():
    args = [a for a in sys.argv[1:] if a != "-v"]
    d = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    ck = Checker()
    seen_names, seen_acts, seen_machines = {}, {}, {}
    counts = []
    total = invalid_total = 0
    files = sorted(glob.glob(os.path.join(d, "*.json")))
    if not files:
        print("no case files in %s" % d)
        return 1
    for path in files:
        group = os.path.splitext(os.path.basename(path))[0]
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            ck.err(group, "cannot parse: %s" % e)
            continue
        if not isinstance(data, list):
            ck.err(group, "top level must be a JSON array")
            continue
        n_invalid = 0
        for i, c in enumerate(data):
            if check_case(c, "%s[%d]" % (group, i), ck, seen_names, seen_acts, seen_machines):
                n_invalid += 1
        counts.append((group, len(data), n_invalid))
        total += len(data)
        invalid_total += n_invalid

    width = max(len(g) for g, _, _ in counts) if counts else 10
    for g, n, inv in counts:
        extra = "  (%d invalid_definition)" % inv if inv else ""
        print("%-*s %4d%s" % (width, g, n, extra))
    print("%-*s %4d  (%d invalid_definition)" % (width, "TOTAL", total, invalid_total))
    if ck.unasserted:
        print("note: %d failing case(s) deliberately leave the error name unasserted (-v lists them)" % len(ck.unasserted))
        if "-v" in sys.argv:
            for u in ck.unasserted:
                print("  " + u)
    for w in ck.warnings:
        print("warning: " + w)
    for e in ck.errors:
        print("ERROR: " + e)
    if ck.errors:
        print("%d error(s)" % len(ck.errors))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
