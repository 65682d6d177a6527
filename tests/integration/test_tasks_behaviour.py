#!/usr/bin/env python3
"""ECS tasks behaving as ECS does at the edges, through boto3 and the AWS CLI: a task copying an
S3 object with `aws s3 cp` inside it; a task killed by its memory limit (OutOfMemoryError, 137);
a runTask.sync state timing out (States.Timeout, the task stopped by Step Functions); a missing
executable (TaskFailedToStart, CannotStartContainerError); an image that cannot be pulled
(RunTask failures); a task flooding stdout (every line in CloudWatch Logs by the time it is
STOPPED); 50 short tasks at once (every exit reported). After each case the daemon must still
answer GET /_sluice/health and run a trivial task. Output: TAP-like lines for
tests/integration/run."""
import json
import os
import time

import harness as h
from harness import PID

ecs, logs, s3, sfn = (h.client(x) for x in ("ecs", "logs", "s3", "stepfunctions"))
ROLE = "arn:aws:iam::000000000000:role/tasks-behaviour-it"


def family(name):
    return "beh-%s-%d" % (name, PID)


def register(name, command, image="host", **container):
    return h.fargate_task_definition(ecs, family(name), command, image, container)


def run(td, count=1, **kw):
    r = ecs.run_task(taskDefinition=td["taskDefinitionArn"], launchType="FARGATE", count=count,
                     networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}}, **kw)
    assert not r["failures"], r["failures"]
    assert len(r["tasks"]) == count, r
    return r["tasks"]


def wait_all_stopped(arns, timeout=30):
    """DescribeTasks (100 at a time) until every task is STOPPED; returns them by ARN."""
    deadline = time.time() + timeout
    done = {}
    while True:
        left = [a for a in arns if a not in done]
        for i in range(0, len(left), 100):
            for t in ecs.describe_tasks(tasks=left[i:i + 100])["tasks"]:
                if t["lastStatus"] == "STOPPED":
                    done[t["taskArn"]] = t
        if len(done) == len(arns):
            return done
        if time.time() > deadline:
            raise AssertionError("%d of %d tasks not STOPPED after %ss" % (len(arns) - len(done), len(arns), timeout))
        time.sleep(0.1)


def wait_stopped(arn, timeout=30):
    return wait_all_stopped([arn], timeout)[arn]


def stream_of(td_name, arn):
    return "/ecs/" + family(td_name), "ecs/main/" + arn.rsplit("/", 1)[1]


def all_log_lines(group, stream):
    """Every event of a stream, following nextForwardToken until it stops changing."""
    lines, token = [], None
    while True:
        kw = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kw["nextToken"] = token
        r = logs.get_log_events(**kw)
        lines.extend(e["message"] for e in r["events"])
        if not r["events"] or r["nextForwardToken"] == token:
            return lines
        token = r["nextForwardToken"]


def assert_healthy():
    """The daemon answers its health check and still runs a trivial task to a clean exit."""
    h.assert_endpoint_answers()
    td = register("health", ["/bin/true"])
    t = wait_stopped(run(td)[0]["taskArn"], timeout=20)
    assert t["containers"][0].get("exitCode") == 0, t


def test_1_task_copies_s3_object_with_aws_cli():
    bucket = "beh-copy-%d" % PID
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(3 << 20) + b"end"
    s3.put_object(Bucket=bucket, Key="k1", Body=body)
    td = register("copy", ["/bin/sh", "-c", "aws s3 cp s3://%s/k1 s3://%s/k2" % (bucket, bucket)])
    t = wait_stopped(run(td)[0]["taskArn"], timeout=60)
    assert t["containers"][0]["exitCode"] == 0, (t, all_log_lines(*stream_of("copy", t["taskArn"])))
    got = s3.get_object(Bucket=bucket, Key="k2")["Body"].read()
    assert got == body, "k2 has %d bytes, k1 %d, equal: %s" % (len(got), len(body), got == body)


def test_2_memory_limit_kills_with_out_of_memory_error():
    td = register("oom", ["/bin/sh", "-c", "exec python3 -c \"a=' '*(400<<20)\""], memory=64)
    t = wait_stopped(run(td)[0]["taskArn"], timeout=60)
    c = t["containers"][0]
    assert t["stopCode"] == "EssentialContainerExited", t
    assert c.get("reason", "").startswith("OutOfMemoryError"), \
        ("container reason %r, exitCode %r, log %r" % (c.get("reason"), c.get("exitCode"),
                                                        all_log_lines(*stream_of("oom", t["taskArn"]))[-3:]))
    assert c.get("exitCode") == 137, c


def test_3_state_machine_timeout_stops_the_task():
    td = register("sfnto", ["/bin/sleep", "60"], stopTimeout=2)
    definition = {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "TimeoutSeconds": 2,
        "Parameters": {"LaunchType": "FARGATE", "Cluster": "default",
                       "TaskDefinition": td["taskDefinitionArn"]},
        "End": True}}}
    arn = sfn.create_state_machine(name="beh-timeout-%d" % PID, definition=json.dumps(definition),
                                   roleArn=ROLE)["stateMachineArn"]
    t0 = time.time()
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    deadline = t0 + 30
    while (d := sfn.describe_execution(executionArn=ex))["status"] == "RUNNING":
        assert time.time() < deadline, "execution still RUNNING after 30 s"
        time.sleep(0.1)
    assert d["status"] == "FAILED" and d.get("error") == "States.Timeout", d
    assert time.time() - t0 < 15, "took %.1f s for a 2 s timeout" % (time.time() - t0)
    arns = ecs.list_tasks(family=family("sfnto"), desiredStatus="STOPPED")["taskArns"] + \
        ecs.list_tasks(family=family("sfnto"))["taskArns"]
    assert len(arns) == 1, arns
    t = wait_stopped(arns[0], timeout=15)
    assert t["stopCode"] == "UserInitiated", t
    assert "Step Functions" in t.get("stoppedReason", ""), t
    assert t["containers"][0].get("exitCode") in (143, 137), t


def test_4_missing_executable_fails_to_start():
    td = register("nobin", ["/no/such/binary"])
    t = wait_stopped(run(td)[0]["taskArn"])
    c = t["containers"][0]
    assert t["stopCode"] == "TaskFailedToStart", t
    assert c.get("reason", "").startswith("CannotStartContainerError"), c
    assert "/no/such/binary" in c["reason"], c


def test_5_bad_image_answers_failures():
    td = register("badimg", ["true"], image="example/not-here-%d:1" % PID)
    r = h.aws_json("ecs", "run-task", "--task-definition", td["taskDefinitionArn"],
                   "--launch-type", "FARGATE")
    assert r["tasks"] == [] and r["failures"][0]["reason"] == "CannotPullContainerError", r
    assert "example/not-here-%d:1" % PID in r["failures"][0].get("detail", ""), r


def test_6_stdout_flood_reaches_logs_complete():
    n = 200000
    td = register("flood", ["/usr/bin/seq", "1", str(n)])
    t0 = time.time()
    t = wait_stopped(run(td)[0]["taskArn"], timeout=120)
    took = time.time() - t0
    assert t["containers"][0]["exitCode"] == 0, t
    lines = all_log_lines(*stream_of("flood", t["taskArn"]))
    assert len(lines) == n and lines[-1] == str(n), \
        "%d lines of %d in CloudWatch Logs when STOPPED (STOPPED after %.1f s), last %r" % (
            len(lines), n, took, lines[-1:] or None)
    assert lines == [str(i) for i in range(1, n + 1)], "lines out of order or altered"
    assert took < 60, "STOPPED after %.1f s" % took
    print("# flood: %d lines, STOPPED after %.1f s" % (n, took))


def test_7_fifty_concurrent_short_tasks_all_exit():
    td = register("many", ["/bin/sh", "-c", "echo $$; exit 0"])
    arns = []
    for _ in range(5):
        arns += [t["taskArn"] for t in run(td, count=10)]
    assert len(set(arns)) == 50, len(set(arns))
    done = wait_all_stopped(arns, timeout=60)
    bad = [(a, t["containers"][0].get("exitCode"), t.get("stopCode")) for a, t in done.items()
           if t["containers"][0].get("exitCode") != 0]
    assert not bad, "%d of 50 without exit 0: %s" % (len(bad), bad[:5])


def test_8_a_task_finds_nothing_left_by_the_one_before():
    """Working directories are emptied and reused: what one task leaves in its cwd and HOME
    (files, a directory tree, a file without write permission) is gone for the next ones."""
    dirty = register("dirty", ["/bin/sh", "-c",
                               "echo x > left.txt; mkdir -p deep/er; echo y > deep/er/f; "
                               "echo z > ro.txt; chmod 0400 ro.txt; echo h > \"$HOME/home.txt\"; "
                               "mkdir \"$HOME/extra\"; ls -A"])
    look = register("look", ["/bin/sh", "-c", "echo CWD $(ls -A | tr '\\n' ' '); "
                             "echo HOME $(ls -A \"$HOME\" | tr '\\n' ' '); pwd"])
    for _ in range(3):
        t = wait_stopped(run(dirty)[0]["taskArn"])
        assert t["containers"][0]["exitCode"] == 0, t
    arns = [t["taskArn"] for t in run(look, count=5)]
    for arn, t in wait_all_stopped(arns).items():
        assert t["containers"][0]["exitCode"] == 0, t
        lines = all_log_lines(*stream_of("look", arn))
        cwd = [x for x in lines if x.startswith("CWD")]
        home = [x for x in lines if x.startswith("HOME")]
        assert cwd == ["CWD"] or cwd == ["CWD "], "cwd not empty: %r" % lines
        # HOME holds the container directories (main) and nothing a task left
        assert home and home[0].split()[1:] == ["main"], "HOME not clean: %r" % lines
        assert lines[-1].endswith("/main"), lines


TESTS = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")]


if __name__ == "__main__":
    h.main(TESTS, label="tasks_behaviour: ", inline=True, check=assert_healthy)
