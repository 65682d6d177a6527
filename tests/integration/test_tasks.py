#!/usr/bin/env python3
"""ECS tasks through boto3 and the AWS CLI: task definitions, RunTask with the `host` driver,
the task's environment (endpoint, its own credentials, the metadata endpoint, environment
files from S3, overrides), statuses and stop codes, StopTask, ListTasks filters, awslogs output
in CloudWatch Logs complete by the time the task is STOPPED, what cannot run answered in
failures; a state machine running a task with ecs:runTask.sync; an EventBridge rule with
EcsParameters starting one. Output: TAP-like lines for tests/integration/run."""
import base64
import json
import time

from botocore.exceptions import ClientError

import harness as h
from harness import EP, PID

ecs, logs, s3, sfn, ev = (h.client(x) for x in ("ecs", "logs", "s3", "stepfunctions", "events"))
ROLE = "arn:aws:iam::000000000000:role/tasks-it"


def family(name):
    return "%s-%d" % (name, PID)


def register(name, command, image="host", **extra):
    return h.fargate_task_definition(ecs, family(name), command, image, extra.pop("container", {}),
                                     **extra)


def wait_stopped(arn, timeout=30):
    t = h.wait_until(lambda: ecs.describe_tasks(tasks=[arn])["tasks"][0],
                     lambda t: t["lastStatus"] == "STOPPED", timeout, interval=0.1)
    assert t["lastStatus"] == "STOPPED", "task did not stop: %s" % t
    return t


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
    spec = {"family": family("cli"), "containerDefinitions": [{"name": "main", "image": "host", "command": ["true"]}]}
    out = h.aws_json("ecs", "register-task-definition", "--cli-input-json", json.dumps(spec))
    arn = out["taskDefinition"]["taskDefinitionArn"]
    out = h.aws_json("ecs", "run-task", "--task-definition", family("cli"), "--launch-type", "EC2")
    task = out["tasks"][0]["taskArn"]
    assert out["tasks"][0]["taskDefinitionArn"] == arn, out
    wait_stopped(task)
    out = h.aws_json("ecs", "describe-tasks", "--tasks", task)
    assert out["tasks"][0]["containers"][0]["exitCode"] == 0, out


def paginate(method, key, **kw):
    """Every item of a List operation through boto3's paginator, one item a page."""
    items, pages = [], 0
    for page in ecs.get_paginator(method).paginate(PaginationConfig={"PageSize": 1}, **kw):
        assert len(page[key]) <= 1, page
        items.extend(page[key])
        pages += 1
    assert len(items) == len(set(items)), items  # no item twice
    return items, pages


def expect_error(code, fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        assert e.response["Error"]["Code"] == code, (fn.__name__, kw, e.response)
        return e.response["Error"]["Message"]
    raise AssertionError("%s %s was accepted" % (fn.__name__, kw))


def test_paginators_walk_clusters_and_task_definitions_once():
    names = ["pg-%d-%s" % (PID, c) for c in "cab"]
    arns = [ecs.create_cluster(clusterName=n)["cluster"]["clusterArn"] for n in names]
    try:
        first = ecs.list_clusters(maxResults=1)
        assert len(first["clusterArns"]) == 1 and first.get("nextToken"), first
        items, pages = paginate("list_clusters", "clusterArns")
        assert items == ecs.list_clusters(maxResults=100)["clusterArns"], items
        assert pages == len(items) and len(items) >= 4, (pages, items)  # no empty last page
        assert [a for a in items if "pg-%d-" % PID in a] == sorted(arns), items
        again = paginate("list_clusters", "clusterArns")[0]
        assert again == items, again  # the same order every time
        # a cluster created between two pages sorts before them: the next page still starts
        # after the last cluster answered, not one place earlier
        page = ecs.list_clusters(maxResults=2)
        ecs.create_cluster(clusterName="A-%d" % PID)
        rest = ecs.list_clusters(maxResults=100, nextToken=page["nextToken"])["clusterArns"]
        assert page["clusterArns"] + rest == items, (page, rest)
    finally:
        for n in names + ["A-%d" % PID]:
            ecs.delete_cluster(cluster=n)
    assert not set(arns) & set(paginate("list_clusters", "clusterArns")[0])
    revs = [register("pgrevs", ["true"])["taskDefinitionArn"] for _ in range(3)]
    items, pages = paginate("list_task_definitions", "taskDefinitionArns", familyPrefix=family("pgrevs"))
    assert items == revs and pages == 3, (items, pages)
    items, _ = paginate("list_task_definitions", "taskDefinitionArns", familyPrefix=family("pgrevs"), sort="DESC")
    assert items == revs[::-1], items
    fams = [family("pgfam-%s" % c) for c in "zxy"]
    for f in fams:
        ecs.register_task_definition(family=f, containerDefinitions=[{"name": "main", "image": "host"}])
    items, pages = paginate("list_task_definition_families", "families", familyPrefix="pgfam-")
    assert items == sorted(fams) and pages == 3, (items, pages)
    # every revision of every family, ascending, once: more than one page's worth of keys
    everything, _ = paginate("list_task_definitions", "taskDefinitionArns")
    assert everything == ecs.list_task_definitions(maxResults=100)["taskDefinitionArns"], everything
    assert all(r in everything for r in revs), everything


def test_paginator_walks_tasks_once_while_more_start():
    td = register("pgtasks", ["true"])
    r = ecs.run_task(taskDefinition=td["taskDefinitionArn"], launchType="FARGATE", count=5)
    assert not r["failures"] and len(r["tasks"]) == 5, r
    arns = [t["taskArn"] for t in r["tasks"]]
    for a in arns:
        wait_stopped(a)
    items, pages = paginate("list_tasks", "taskArns", family=family("pgtasks"), desiredStatus="STOPPED")
    assert sorted(items) == sorted(arns) and pages == 5, (items, pages)
    page = ecs.list_tasks(family=family("pgtasks"), desiredStatus="STOPPED", maxResults=2)
    assert len(page["taskArns"]) == 2 and page["nextToken"], page
    rest = ecs.list_tasks(family=family("pgtasks"), desiredStatus="STOPPED", maxResults=100,
                          nextToken=page["nextToken"])
    assert page["taskArns"] + rest["taskArns"] == items and "nextToken" not in rest, (page, rest)
    # a task stopped between two pages comes first (newest first): the next page still starts
    # after the last task answered, so none repeats
    newer = wait_stopped(run(td)["taskArn"])["taskArn"]
    rest = ecs.list_tasks(family=family("pgtasks"), desiredStatus="STOPPED", maxResults=100,
                          nextToken=page["nextToken"])
    assert page["taskArns"] + rest["taskArns"] == items, (page, rest)
    assert ecs.list_tasks(family=family("pgtasks"), desiredStatus="STOPPED")["taskArns"] == [newer] + items


def test_list_pagination_errors():
    ecs.create_cluster(clusterName="pg-err-%d" % PID)
    try:
        calls = [(ecs.list_clusters, {}), (ecs.list_task_definitions, {}),
                 (ecs.list_task_definition_families, {}), (ecs.list_tasks, {}),
                 (ecs.list_container_instances, {})]
        for fn, kw in calls:
            for bad in (0, 101, -1):
                msg = expect_error("InvalidParameterException", fn, maxResults=bad, **kw)
                assert "maxResults" in msg and "100" in msg, msg
            fn(maxResults=100, **kw)
            for tok in ("garbage!", "Z2FyYmFnZQ==", base64.b64encode(b'["ListClusters", 5]').decode(),
                        base64.b64encode(b'{"a": 1}').decode()):
                msg = expect_error("InvalidParameterException", fn, nextToken=tok, **kw)
                assert "nextToken" in msg, msg
        token = ecs.list_clusters(maxResults=1)["nextToken"]
        assert ecs.list_clusters(nextToken=token)["clusterArns"], token
        # a token resumes only the operation (and sort order) that gave it
        expect_error("InvalidParameterException", ecs.list_tasks, nextToken=token)
        expect_error("InvalidParameterException", ecs.list_task_definition_families, nextToken=token)
        register("pgerr", ["true"])
        register("pgerr", ["true"])
        token = ecs.list_task_definitions(familyPrefix=family("pgerr"), maxResults=1)["nextToken"]
        assert ecs.list_task_definitions(familyPrefix=family("pgerr"), nextToken=token)["taskDefinitionArns"]
        expect_error("InvalidParameterException", ecs.list_task_definitions,
                     familyPrefix=family("pgerr"), sort="DESC", nextToken=token)
    finally:
        ecs.delete_cluster(cluster="pg-err-%d" % PID)


def test_tags_of_missing_resources():
    acct = "arn:aws:ecs:us-east-1:000000000000:"
    td = register("pgtags", ["true"])
    task = run(td, tags=[{"key": "k", "value": "v"}])["taskArn"]
    ecs.create_cluster(clusterName="pg-tags-%d" % PID, tags=[{"key": "c", "value": "1"}])
    ci = ecs.register_container_instance(cluster="pg-tags-%d" % PID)["containerInstance"]["containerInstanceArn"]
    try:
        # what exists can be tagged
        for arn in (acct + "cluster/pg-tags-%d" % PID, td["taskDefinitionArn"], task, ci):
            ecs.tag_resource(resourceArn=arn, tags=[{"key": "pg", "value": "yes"}])
            assert {"key": "pg", "value": "yes"} in ecs.list_tags_for_resource(resourceArn=arn)["tags"], arn
            ecs.untag_resource(resourceArn=arn, tagKeys=["pg"])
            assert {"key": "pg", "value": "yes"} not in ecs.list_tags_for_resource(resourceArn=arn)["tags"], arn
        d = ecs.describe_tasks(tasks=[task], include=["TAGS"])["tasks"][0]
        assert d["tags"] == [{"key": "k", "value": "v"}], d
        missing = [(acct + "cluster/pg-none-%d" % PID, "ClusterNotFoundException"),
                   (acct + "task-definition/%s:99" % family("pgtags"), "InvalidParameterException"),
                   (acct + "task-definition/nope-%d:1" % PID, "InvalidParameterException"),
                   (acct + "task/default/" + "0" * 32, "InvalidParameterException"),
                   (task.replace("/default/", "/pg-tags-%d/" % PID), "InvalidParameterException"),
                   (ci.rsplit("/", 1)[0] + "/" + "0" * 32, "InvalidParameterException"),
                   (acct + "service/default/pg", "InvalidParameterException"),
                   ("arn:aws:ecs:eu-west-1:000000000000:cluster/default", "InvalidParameterException"),
                   ("arn:aws:s3:::bucket", "InvalidParameterException"),
                   ("not-an-arn", "InvalidParameterException")]
        for arn, code in missing:
            expect_error(code, ecs.tag_resource, resourceArn=arn, tags=[{"key": "a", "value": "b"}])
            expect_error(code, ecs.untag_resource, resourceArn=arn, tagKeys=["a"])
            expect_error(code, ecs.list_tags_for_resource, resourceArn=arn)
    finally:
        ecs.deregister_container_instance(cluster="pg-tags-%d" % PID, containerInstance=ci)
        ecs.delete_cluster(cluster="pg-tags-%d" % PID)
    # a deleted cluster's ARN is a missing cluster's
    expect_error("ClusterNotFoundException", ecs.list_tags_for_resource,
                 resourceArn=acct + "cluster/pg-tags-%d" % PID)


def test_container_instance_of_another_cluster_is_not_found():
    cluster = "pg-ci-%d" % PID
    ecs.create_cluster(clusterName=cluster)
    arns = [ecs.register_container_instance(cluster=cluster)["containerInstance"]["containerInstanceArn"]
            for _ in range(3)]
    try:
        for ref in (arns[0], arns[0].rsplit("/", 1)[1]):
            r = ecs.describe_container_instances(cluster="default", containerInstances=[ref])
            assert not r["containerInstances"] and r["failures"][0]["reason"] == "MISSING", r
            expect_error("InvalidParameterException", ecs.deregister_container_instance,
                         cluster="default", containerInstance=ref, force=True)
        r = ecs.describe_container_instances(cluster=cluster, containerInstances=[arns[0].rsplit("/", 1)[1]])
        assert r["containerInstances"][0]["status"] == "ACTIVE", r  # still there, still active
        assert not set(arns) & set(ecs.list_container_instances(cluster="default")["containerInstanceArns"])
        items, pages = paginate("list_container_instances", "containerInstanceArns", cluster=cluster)
        assert items == sorted(arns) and pages == 3, (items, pages)
    finally:
        for a in arns:
            ecs.deregister_container_instance(cluster=cluster, containerInstance=a.rsplit("/", 1)[1])
        ecs.delete_cluster(cluster=cluster)


def test_task_state_change_events_reach_rules():
    """Every status change of a task goes to the default bus as "ECS Task State Change" (its
    version says the order) for the rules that want it: one rule takes every status of this task definition's
    tasks, another (put while the task runs) only STOPPED."""
    recv = h.Receiver()
    conn = ev.create_connection(Name=h.uniq("ecs-ev"), AuthorizationType="API_KEY",
                                AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    dest = ev.create_api_destination(Name=h.uniq("ecs-ev"), ConnectionArn=conn["ConnectionArn"],
                                     InvocationEndpoint=recv.url + "/all", HttpMethod="POST")
    dest_stopped = ev.create_api_destination(Name=h.uniq("ecs-ev"), ConnectionArn=conn["ConnectionArn"],
                                             InvocationEndpoint=recv.url + "/stopped", HttpMethod="POST")
    td = register("events", ["/bin/sh", "-c", "sleep 1"])
    rules = []

    def rule(name, detail, arn):
        ev.put_rule(Name=name, EventPattern=json.dumps({
            "source": ["aws.ecs"], "detail-type": ["ECS Task State Change"], "detail": detail}))
        ev.put_targets(Rule=name, Targets=[{"Id": "r", "Arn": arn, "RoleArn": ROLE, "InputPath": "$.detail"}])
        rules.append(name)

    try:
        rule(h.uniq("ecs-all"), {"taskDefinitionArn": [td["taskDefinitionArn"]]}, dest["ApiDestinationArn"])
        t = run(td)
        h.wait_until(lambda: recv.at("/all") and any(e["lastStatus"] == "RUNNING" for e in recv.events("/all")))
        rule(h.uniq("ecs-stopped"), {"taskDefinitionArn": [td["taskDefinitionArn"]], "lastStatus": ["STOPPED"]},
             dest_stopped["ApiDestinationArn"])
        done = wait_stopped(t["taskArn"])
        got = recv.wait(5, "/all")
        # deliveries run side by side and may arrive out of order (as on AWS): the task's
        # version orders them
        evs = sorted(recv.events("/all"), key=lambda e: e["version"])
        statuses = [e["lastStatus"] for e in evs]
        assert statuses == ["PROVISIONING", "PENDING", "RUNNING", "DEPROVISIONING", "STOPPED"], statuses
        assert len({e["version"] for e in evs}) == 5, [e["version"] for e in evs]
        assert all(e["taskArn"] == t["taskArn"] for e in evs), got
        last = evs[-1]
        assert last["stopCode"] == "EssentialContainerExited" and last["containers"][0]["exitCode"] == 0, last
        assert last["stoppedAt"].endswith("Z") and last["desiredStatus"] == "STOPPED", last
        stopped = recv.wait(1, "/stopped")
        assert [json.loads(r["body"])["lastStatus"] for r in stopped] == ["STOPPED"], stopped
        assert json.loads(stopped[0]["body"])["taskArn"] == done["taskArn"], stopped
    finally:
        for name in rules:
            ev.remove_targets(Rule=name, Ids=["r"])
            ev.delete_rule(Name=name)
        recv.shutdown()


TESTS = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")]


if __name__ == "__main__":
    h.main(TESTS, label="tasks: ", inline=True)
