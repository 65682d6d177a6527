#!/usr/bin/env python3
"""ECS tasks through boto3 and the AWS CLI: task definitions, RunTask with the `host` driver,
the task's environment (endpoint, its own credentials, the metadata endpoint, environment
files from S3, overrides), statuses and stop codes, StopTask, ListTasks filters, awslogs output
in CloudWatch Logs complete by the time the task is STOPPED, what cannot run answered in
failures; a state machine running a task with ecs:runTask.sync; an EventBridge rule with
EcsParameters starting one. Output: TAP-like lines for tests/integration/run."""
import json
import os
import sys
import time
import traceback
import subprocess

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

EP = os.environ["AWS_ENDPOINT_URL"]
FILTER = os.environ.get("SLUICE_TEST_FILTER", "")
CFG = Config(retries={"total_max_attempts": 1})
ecs = boto3.client("ecs", endpoint_url=EP, region_name="us-east-1", config=CFG)
logs = boto3.client("logs", endpoint_url=EP, region_name="us-east-1", config=CFG)
s3 = boto3.client("s3", endpoint_url=EP, region_name="us-east-1", config=CFG)
sfn = boto3.client("stepfunctions", endpoint_url=EP, region_name="us-east-1", config=CFG)
ev = boto3.client("events", endpoint_url=EP, region_name="us-east-1", config=CFG)
AWS = "/usr/bin/aws"
ROLE = "arn:aws:iam::000000000000:role/tasks-it"
PID = os.getpid()


def family(name):
    return "%s-%d" % (name, PID)


def register(name, command, image="host", **extra):
    c = {"name": "main", "image": image, "command": command, "essential": True,
         "logConfiguration": {"logDriver": "awslogs", "options": {
             "awslogs-group": "/ecs/" + family(name), "awslogs-stream-prefix": "ecs",
             "awslogs-create-group": "true", "awslogs-region": "us-east-1"}}}
    c.update(extra.pop("container", {}))
    return ecs.register_task_definition(family=family(name), containerDefinitions=[c],
                                        requiresCompatibilities=["FARGATE"], cpu="256",
                                        memory="512", networkMode="awsvpc",
                                        **extra)["taskDefinition"]


def wait_stopped(arn, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        t = ecs.describe_tasks(tasks=[arn])["tasks"][0]
        if t["lastStatus"] == "STOPPED":
            return t
        time.sleep(0.1)
    raise AssertionError("task did not stop: %s" % t)


def log_lines(group, stream):
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    return [e["message"] for e in events["events"]]


def run(td, **kw):
    r = ecs.run_task(taskDefinition=td["taskDefinitionArn"], launchType="FARGATE",
                     networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}}, **kw)
    assert not r["failures"], r["failures"]
    return r["tasks"][0]


def test_run_task_host_driver_logs_and_statuses():
    td = register("hello", ["/bin/sh", "-c", "echo hello from $AWS_REGION; echo oops >&2"])
    t = run(td)
    assert t["lastStatus"] == "PROVISIONING" and t["desiredStatus"] == "RUNNING", t
    assert t["taskArn"].startswith("arn:aws:ecs:us-east-1:000000000000:task/default/"), t
    done = wait_stopped(t["taskArn"])
    c = done["containers"][0]
    assert c["exitCode"] == 0 and c["lastStatus"] == "STOPPED", c
    assert done["stopCode"] == "EssentialContainerExited", done
    assert done["stoppedReason"] == "Essential container in task exited", done
    for k in ("createdAt", "startedAt", "stoppingAt", "stoppedAt", "pullStartedAt"):
        assert k in done, (k, done)
    task_id = t["taskArn"].rsplit("/", 1)[1]
    lines = log_lines("/ecs/" + family("hello"), "ecs/main/" + task_id)
    assert lines == ["hello from us-east-1", "oops"] or sorted(lines) == ["hello from us-east-1", "oops"], lines


def test_task_environment_and_credentials():
    script = ("set -e; echo endpoint=$AWS_ENDPOINT_URL; echo key=${AWS_ACCESS_KEY_ID%%${AWS_ACCESS_KEY_ID#????}};"
              "echo file=$FROM_FILE; echo over=$OVER; echo meta=${ECS_CONTAINER_METADATA_URI_V4:+yes};"
              "echo hi > f.txt; aws s3 cp f.txt s3://%s/from-task; aws s3 ls s3://%s/from-task")
    bucket = "tasks-env-%d" % PID
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="vars.env", Body=b"# comment\nFROM_FILE=yes\n")
    td = register("env", ["/bin/sh", "-c", script % (bucket, bucket)],
                  container={"environmentFiles": [{"value": "arn:aws:s3:::%s/vars.env" % bucket, "type": "s3"}],
                             "environment": [{"name": "OVER", "value": "definition"}]})
    t = run(td, overrides={"containerOverrides": [{"name": "main", "environment": [{"name": "OVER", "value": "override"}]}]})
    done = wait_stopped(t["taskArn"])
    assert done["containers"][0]["exitCode"] == 0, done
    lines = log_lines("/ecs/" + family("env"), "ecs/main/" + t["taskArn"].rsplit("/", 1)[1])
    assert "endpoint=%s" % EP in lines, lines
    assert "key=ASIA" in lines, lines  # the task's own temporary key, not the daemon's
    assert "file=yes" in lines and "over=override" in lines and "meta=yes" in lines, lines
    assert s3.get_object(Bucket=bucket, Key="from-task")["Body"].read() == b"hi\n"


def test_command_override_keeps_arguments_apart():
    td = register("argv", ["/bin/echo", "default"])
    t = run(td, overrides={"containerOverrides": [{"name": "main", "command": ["/usr/bin/printf", "%s|", "a b", "c"]}]})
    wait_stopped(t["taskArn"])
    lines = log_lines("/ecs/" + family("argv"), "ecs/main/" + t["taskArn"].rsplit("/", 1)[1])
    assert lines == ["a b|c|"], lines


def test_metadata_endpoint():
    td = register("meta", ["/bin/sh", "-c", "python3 -c \"import json,os,urllib.request as u;"
                                            "print(json.load(u.urlopen(os.environ['ECS_CONTAINER_METADATA_URI_V4']+'/task'))['TaskARN'])\""])
    t = run(td)
    wait_stopped(t["taskArn"])
    lines = log_lines("/ecs/" + family("meta"), "ecs/main/" + t["taskArn"].rsplit("/", 1)[1])
    assert lines == [t["taskArn"]], lines


def test_failing_container_and_stop_task():
    td = register("fail", ["/bin/sh", "-c", "exit 7"])
    done = wait_stopped(run(td)["taskArn"])
    assert done["containers"][0]["exitCode"] == 7, done
    td = register("sleepy", ["/bin/sleep", "60"], container={"stopTimeout": 2})
    t = run(td, startedBy="it-%d" % PID)
    deadline = time.time() + 10
    while ecs.describe_tasks(tasks=[t["taskArn"]])["tasks"][0]["lastStatus"] != "RUNNING":
        assert time.time() < deadline
        time.sleep(0.05)
    listed = ecs.list_tasks(startedBy="it-%d" % PID)["taskArns"]
    assert listed == [t["taskArn"]], listed
    assert ecs.list_tasks(family=family("sleepy"))["taskArns"] == [t["taskArn"]]
    r = ecs.stop_task(task=t["taskArn"], reason="enough")
    assert r["task"]["desiredStatus"] == "STOPPED", r
    done = wait_stopped(t["taskArn"])
    assert done["stopCode"] == "UserInitiated" and done["stoppedReason"] == "enough", done
    assert done["containers"][0]["exitCode"] in (143, 137), done
    assert t["taskArn"] in ecs.list_tasks(desiredStatus="STOPPED", family=family("sleepy"))["taskArns"]
    assert ecs.list_tasks(family=family("sleepy"))["taskArns"] == []


def test_what_cannot_run_and_errors():
    td = register("docker", ["true"], image="example/not-here:1")
    r = ecs.run_task(taskDefinition=td["taskDefinitionArn"], launchType="FARGATE")
    assert not r["tasks"] and r["failures"][0]["reason"] == "CannotPullContainerError", r
    assert "example/not-here:1" in r["failures"][0]["detail"], r
    r = ecs.run_task(taskDefinition=td["taskDefinitionArn"], launchType="EXTERNAL")
    assert r["failures"][0]["reason"] == "No Container Instances were found in your cluster.", r
    for kwargs, code in [({"taskDefinition": "nope-%d" % PID}, "InvalidParameterException"),
                         ({"taskDefinition": td["taskDefinitionArn"], "cluster": "nocluster"}, "ClusterNotFoundException"),
                         ({"taskDefinition": td["taskDefinitionArn"], "count": 11}, "InvalidParameterException"),
                         ({"taskDefinition": td["taskDefinitionArn"], "overrides": {"containerOverrides": [{"name": "other"}]}},
                          "InvalidParameterException")]:
        try:
            ecs.run_task(**kwargs)
            raise AssertionError("RunTask %s was accepted" % kwargs)
        except ClientError as e:
            assert e.response["Error"]["Code"] == code, (kwargs, e.response)
    try:
        ecs.register_task_definition(family=family("bad"), containerDefinitions=[{"name": "x"}])
        raise AssertionError("a container without an image was registered")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ClientException", e.response
    r = ecs.describe_tasks(tasks=["arn:aws:ecs:us-east-1:000000000000:task/default/0000"])
    assert r["failures"][0]["reason"] == "MISSING", r


def test_task_definitions_revisions_and_clusters():
    a = register("revs", ["true"])
    b = register("revs", ["false"])
    assert b["revision"] == a["revision"] + 1, (a, b)
    d = ecs.describe_task_definition(taskDefinition=family("revs"))["taskDefinition"]
    assert d["revision"] == b["revision"], d
    ecs.deregister_task_definition(taskDefinition=b["taskDefinitionArn"])
    d = ecs.describe_task_definition(taskDefinition=family("revs"))["taskDefinition"]
    assert d["revision"] == a["revision"], d
    arns = ecs.list_task_definitions(familyPrefix=family("revs"))["taskDefinitionArns"]
    assert arns == [a["taskDefinitionArn"]], arns
    assert family("revs") in ecs.list_task_definition_families(familyPrefix="revs")["families"]
    c = ecs.create_cluster(clusterName="it-%d" % PID)["cluster"]
    assert c["status"] == "ACTIVE" and c["clusterArn"].endswith(":cluster/it-%d" % PID), c
    assert c["clusterArn"] in ecs.list_clusters()["clusterArns"]
    r = ecs.describe_clusters(clusters=["it-%d" % PID, "missing-%d" % PID])
    assert len(r["clusters"]) == 1 and r["failures"][0]["reason"] == "MISSING", r
    ecs.delete_cluster(cluster="it-%d" % PID)


def test_state_machine_runs_task_sync():
    td = register("sfn", ["/bin/sh", "-c", "echo file=$KEY"])
    definition = {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync",
        "Parameters": {"LaunchType": "FARGATE", "Cluster": "default",
                       "TaskDefinition": td["taskDefinitionArn"],
                       "Overrides": {"ContainerOverrides": [{"Name": "main", "Environment": [
                           {"Name": "KEY", "Value.$": "$.key"}]}]}},
        "ResultSelector": {"exit.$": "$.Containers[0].ExitCode", "status.$": "$.LastStatus"},
        "End": True}}}
    arn = sfn.create_state_machine(name="ecs-sync-%d" % PID, definition=json.dumps(definition),
                                   roleArn=ROLE)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"key": "demo1.txt"}))["executionArn"]
    deadline = time.time() + 30
    while (d := sfn.describe_execution(executionArn=ex))["status"] == "RUNNING":
        assert time.time() < deadline
        time.sleep(0.1)
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["output"]) == {"exit": 0, "status": "STOPPED"}, d["output"]
    types = [e["type"] for e in sfn.get_execution_history(executionArn=ex)["events"]]
    assert types[2:6] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"], types
    # a container exiting non-zero fails the task state with States.TaskFailed
    bad = register("sfnbad", ["/bin/sh", "-c", "exit 3"])
    definition["States"]["Run"]["Parameters"]["TaskDefinition"] = bad["taskDefinitionArn"]
    definition["States"]["Run"]["Parameters"].pop("Overrides")
    arn = sfn.create_state_machine(name="ecs-bad-%d" % PID, definition=json.dumps(definition),
                                   roleArn=ROLE)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    deadline = time.time() + 30
    while (d := sfn.describe_execution(executionArn=ex))["status"] == "RUNNING":
        assert time.time() < deadline
        time.sleep(0.1)
    assert d["status"] == "FAILED" and d["error"] == "States.TaskFailed", d
    assert json.loads(d["cause"])["Containers"][0]["ExitCode"] == 3, d["cause"]


def test_rule_with_ecs_parameters_runs_task():
    td = register("rule", ["/bin/sh", "-c", "echo from-rule $WHO"])
    ev.put_rule(Name="ecs-rule-%d" % PID, EventPattern=json.dumps({"source": ["it.tasks.%d" % PID]}))
    ev.put_targets(Rule="ecs-rule-%d" % PID, Targets=[{
        "Id": "run", "Arn": "arn:aws:ecs:us-east-1:000000000000:cluster/default", "RoleArn": ROLE,
        "EcsParameters": {"TaskDefinitionArn": td["taskDefinitionArn"], "TaskCount": 1, "LaunchType": "FARGATE",
                          "NetworkConfiguration": {"awsvpcConfiguration": {"Subnets": ["subnet-1"], "AssignPublicIp": "DISABLED"}}},
        "InputTransformer": {"InputPathsMap": {"who": "$.detail.who"},
                             "InputTemplate": '{"containerOverrides": [{"name": "main", "environment": [{"name": "WHO", "value": <who>}]}]}'}}])
    ev.put_events(Entries=[{"Source": "it.tasks.%d" % PID, "DetailType": "t", "Detail": json.dumps({"who": "eventbridge"})}])
    deadline = time.time() + 20
    arns = []
    while time.time() < deadline and not arns:
        arns = ecs.list_tasks(family=family("rule"), desiredStatus="STOPPED")["taskArns"]
        time.sleep(0.2)
    assert len(arns) == 1, arns
    t = wait_stopped(arns[0])
    assert t["startedBy"] == "events-rule", t
    lines = log_lines("/ecs/" + family("rule"), "ecs/main/" + arns[0].rsplit("/", 1)[1])
    assert lines == ["from-rule eventbridge"], lines


def test_aws_cli():
    base = [AWS, "--endpoint-url", EP, "--region", "us-east-1", "--output", "json", "ecs"]
    spec = {"family": family("cli"), "containerDefinitions": [{"name": "main", "image": "host", "command": ["true"]}]}
    out = json.loads(subprocess.run(base + ["register-task-definition", "--cli-input-json", json.dumps(spec)],
                                    check=True, capture_output=True, text=True).stdout)
    arn = out["taskDefinition"]["taskDefinitionArn"]
    out = json.loads(subprocess.run(base + ["run-task", "--task-definition", family("cli"), "--launch-type", "EC2"],
                                    check=True, capture_output=True, text=True).stdout)
    task = out["tasks"][0]["taskArn"]
    assert out["tasks"][0]["taskDefinitionArn"] == arn, out
    wait_stopped(task)
    out = json.loads(subprocess.run(base + ["describe-tasks", "--tasks", task], check=True,
                                    capture_output=True, text=True).stdout)
    assert out["tasks"][0]["containers"][0]["exitCode"] == 0, out


TESTS = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")]


def main():
    failed = 0
    for name, fn in TESTS:
        if FILTER not in name:
            continue
        try:
            fn()
            print("ok - tasks: %s" % name)
        except Exception:
            failed += 1
            print("not ok - tasks: %s: %s" % (name, traceback.format_exc().replace("\n", " | ")))
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
