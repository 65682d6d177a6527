#!/usr/bin/env python3
"""Every supported ECS operation through Debian's AWS CLI v2 (/usr/bin/aws, with --endpoint-url:
the CLI 2.9 ignores AWS_ENDPOINT_URL): clusters (create, describe, list, delete, tags),
task definitions (from --cli-input-json and from shorthand --container-definitions, revisions,
deregistration, list filters, family prefixes and statuses), run-task (overrides of command and
environment, --count, --started-by, FARGATE with --network-configuration, --tags), describe-tasks
until STOPPED (exit codes, stop codes, containers), list-tasks with each filter and paging,
stop-task (UserInitiated), the `aws ecs wait tasks-running` / `tasks-stopped` waiters, tags on
tasks, container instances (a `sluice agent` beside the runner's daemon: start-task and EXTERNAL
run-task on it; register/deregister-container-instance from the CLI), the errors as the CLI shows
them (exit status 254, `An error occurred (Code) when calling the Op operation`), and the
awslogs output of a task read back with `aws logs get-log-events` / `filter-log-events` on the
stream `prefix/container/task-id`. Output: TAP-like lines for tests/integration/run."""
import json
import os
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import harness as h
from harness import AWS, EP, PID, aws

TMP = tempfile.mkdtemp(prefix="tasks-cli-", dir=os.environ.get("SLUICE_TEST_TMP"))
ACCOUNT = "arn:aws:ecs:us-east-1:000000000000:"
EDGE = "cli-edge-%d" % PID  # the agent's cluster
RUN_FAMILY = "cli-run-%d" % PID  # the definition most tests run
LOG_GROUP = "/cli/tasks-%d" % PID
POOL = ThreadPoolExecutor(max_workers=3)  # independent CLI calls side by side: each is ~1 s
# boto3 only to know when a state is reached, so a CLI waiter called then answers at its first
# poll instead of sleeping its 6 s delay; every operation under test goes through the CLI.
SYNC = h.client("ecs")


# ---- the CLI ----

def ok(*args):
    """Runs `aws ARGS`, expects exit status 0, returns the parsed JSON output ({} when none)."""
    return h.aws_json(*args, empty={})


def ecs(*args):
    return ok("ecs", *args)


def ecs_err(code, operation, *args):
    """`aws ecs ARGS` must fail as the CLI shows a service error: status 254 and the code."""
    r = aws("ecs", *args)
    assert r.returncode == 254, "aws ecs %s: expected exit 254 (%s), got %d: %s %s" % (
        args[0], code, r.returncode, r.stdout, r.stderr)
    want = "An error occurred (%s) when calling the %s operation" % (code, operation)
    assert want in r.stderr, "aws ecs %s: expected %r in %r" % (args[0], want, r.stderr)
    return r.stderr


def par(*thunks):
    """Runs the thunks side by side; returns their results in order (the first failure raises)."""
    futures = [POOL.submit(t) for t in thunks]
    return [f.result() for f in futures]


def task_id(arn):
    return arn.rsplit("/", 1)[1]


def describe(arns, cluster=None):
    extra = ["--cluster", cluster] if cluster else []
    r = ecs("describe-tasks", "--tasks", *arns, *extra)
    assert r["failures"] == [], r["failures"]
    by_arn = {t["taskArn"]: t for t in r["tasks"]}
    assert sorted(by_arn) == sorted(arns), r
    return [by_arn[a] for a in arns]


def until(arns, status, cluster="default", timeout=30):
    deadline = time.time() + timeout
    while True:
        got = [t["lastStatus"] for t in SYNC.describe_tasks(cluster=cluster, tasks=arns)["tasks"]]
        if len(got) == len(arns) and all(s == status or s == "STOPPED" for s in got):
            return
        assert time.time() < deadline, "tasks not %s within %d s: %s" % (status, timeout, got)
        time.sleep(0.05)


def waiter(name, arns, cluster=None):
    extra = ["--cluster", cluster] if cluster else []
    return aws("ecs", "wait", name, "--tasks", *arns, *extra, timeout=40)


def list_tasks(*filters):
    return ecs("list-tasks", *filters)["taskArns"]


def json_file(name, doc):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    return "file://" + path


# ---- the shared definition, cluster and agent ----

RUN = {}  # the registered RUN_FAMILY definition
AGENT = {}


def setup():
    spec = {"family": RUN_FAMILY, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "cpu": "256", "memory": "512",
            "containerDefinitions": [{
                "name": "main", "image": "host", "essential": True, "stopTimeout": 2,
                "command": ["/bin/sh", "-c", "echo default WHO=$WHO"],
                "environment": [{"name": "WHO", "value": "definition"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": LOG_GROUP, "awslogs-stream-prefix": "cli",
                    "awslogs-create-group": "true", "awslogs-region": "us-east-1"}}}]}
    td, cluster = par(lambda: ecs("register-task-definition", "--cli-input-json",
                                  json_file("run.json", spec))["taskDefinition"],
                      lambda: ecs("create-cluster", "--cluster-name", EDGE)["cluster"])
    RUN.update(td)
    assert cluster["clusterName"] == EDGE, cluster
    binary = os.environ.get("SLUICE_BIN")
    if not binary or not os.access(binary, os.X_OK):
        return
    # the agent's stderr goes where the runner scans for sanitizer reports
    log_dir = os.path.join(os.environ.get("SLUICE_TEST_TMP", TMP), "daemon-logs")
    os.makedirs(log_dir, exist_ok=True)
    data = os.path.join(TMP, "agent")
    AGENT["data"] = data
    AGENT["proc"] = subprocess.Popen(
        [binary, "agent", "--endpoint", EP, "--cluster", EDGE, "--data", data, "--name",
         "cli-box"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(log_dir, "agent-tasks-cli.log"), "w"))


def teardown():
    p = AGENT.get("proc")
    if p and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError("the agent did not stop within 30 s of SIGTERM")
        assert rc == 0, "the agent exited with %d after SIGTERM" % rc


def agent_instance(timeout=20):
    return h.agent_instance(AGENT["data"], timeout)


def overrides(command=None, env=None):
    o = {"name": "main"}
    if command is not None:
        o["command"] = command
    if env is not None:
        o["environment"] = [{"name": k, "value": v} for k, v in env.items()]
    return json.dumps({"containerOverrides": [o]})


def log_messages(stream):
    r = ok("logs", "get-log-events", "--log-group-name", LOG_GROUP, "--log-stream-name", stream,
           "--start-from-head")
    return [e["message"] for e in r["events"]]


# ---- tests ----

def test_01_clusters():
    name = "cli-cl-%d" % PID
    arn = ACCOUNT + "cluster/" + name
    c = ecs("create-cluster", "--cluster-name", name, "--tags", "key=team,value=edge")["cluster"]
    assert c["clusterName"] == name and c["clusterArn"] == arn and c["status"] == "ACTIVE", c
    assert c["runningTasksCount"] == 0 and c["registeredContainerInstancesCount"] == 0, c
    assert c["tags"] == [{"key": "team", "value": "edge"}], c
    desc, listed = par(
        lambda: ecs("describe-clusters", "--clusters", name, "missing-%d" % PID, "--include", "TAGS"),
        lambda: ecs("list-clusters")["clusterArns"])
    assert [x["clusterArn"] for x in desc["clusters"]] == [arn], desc
    assert desc["clusters"][0]["tags"] == [{"key": "team", "value": "edge"}], desc
    assert desc["failures"] == [{"arn": ACCOUNT + "cluster/missing-%d" % PID, "reason": "MISSING"}], desc
    assert listed.count(arn) == 1 and ACCOUNT + "cluster/default" in listed, listed
    d = ecs("delete-cluster", "--cluster", name)["cluster"]
    assert d["clusterArn"] == arn and d["status"] == "INACTIVE", d
    desc = ecs("describe-clusters", "--clusters", arn)
    # gone: MISSING, or (as AWS keeps them a while) INACTIVE, never ACTIVE
    assert all(x["status"] == "INACTIVE" for x in desc["clusters"]), desc
    assert desc["clusters"] or desc["failures"][0]["reason"] == "MISSING", desc


def test_02_task_definitions():
    fam = "clitd_%d" % PID  # '_' matters: a family prefix is literal, not a LIKE pattern
    other = "clitdX%d" % PID  # shares the prefix "clitd"; only a LIKE would match it to fam
    spec = {"family": fam, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "cpu": "256", "memory": "512", "tags": [{"key": "owner", "value": "cli"}],
            "containerDefinitions": [{"name": "app", "image": "host", "command": ["/bin/true"],
                                      "environment": [{"name": "A", "value": "1"}]}]}
    path = json_file("td.json", spec)
    r1 = ecs("register-task-definition", "--cli-input-json", path)
    r2, rb = par(
        lambda: ecs("register-task-definition", "--cli-input-json", path),
        lambda: ecs("register-task-definition", "--family", other, "--container-definitions",
                    "name=main,image=host,essential=true,command=[/bin/sh,-c,echo short $X],"
                    "environment=[{name=X,value=shorthand}],memory=128"))
    td1, td2 = r1["taskDefinition"], r2["taskDefinition"]
    assert r1["tags"] == [{"key": "owner", "value": "cli"}], r1
    arn1 = ACCOUNT + "task-definition/%s:%d" % (fam, td1["revision"])
    arn2 = ACCOUNT + "task-definition/%s:%d" % (fam, td1["revision"] + 1)
    assert td1["taskDefinitionArn"] == arn1 and td1["family"] == fam and td1["status"] == "ACTIVE", td1
    assert td2["taskDefinitionArn"] == arn2 and td2["revision"] == td1["revision"] + 1, (td1, td2)
    assert td1["cpu"] == "256" and td1["memory"] == "512" and td1["networkMode"] == "awsvpc", td1
    assert td1["requiresCompatibilities"] == ["FARGATE"], td1
    c = td1["containerDefinitions"][0]
    assert c["name"] == "app" and c["command"] == ["/bin/true"] and c["essential"] is True, c
    assert c["environment"] == [{"name": "A", "value": "1"}], c
    s = rb["taskDefinition"]["containerDefinitions"]
    assert len(s) == 1 and s[0]["command"] == ["/bin/sh", "-c", "echo short $X"], s
    assert s[0]["environment"] == [{"name": "X", "value": "shorthand"}] and s[0]["memory"] == 128, s
    assert s[0]["name"] == "main" and s[0]["image"] == "host" and s[0]["essential"] is True, s
    first, d, g = par(
        lambda: ecs("describe-task-definition", "--task-definition", arn1, "--include", "TAGS"),
        lambda: ecs("deregister-task-definition", "--task-definition", arn2)["taskDefinition"],
        lambda: ecs("deregister-task-definition", "--task-definition", other + ":1")["taskDefinition"])
    assert first["taskDefinition"]["revision"] == td1["revision"], first
    assert first["tags"] == [{"key": "owner", "value": "cli"}], first
    assert d["status"] == "INACTIVE" and d["taskDefinitionArn"] == arn2 and "deregisteredAt" in d, d
    assert g["status"] == "INACTIVE" and g["family"] == other and g["revision"] == 1, g
    active, inactive, literal, all_fams, inactive_fams, latest = par(
        lambda: ecs("list-task-definitions", "--family-prefix", fam)["taskDefinitionArns"],
        lambda: ecs("list-task-definitions", "--family-prefix", fam, "--status", "INACTIVE")["taskDefinitionArns"],
        lambda: ecs("list-task-definition-families", "--family-prefix", fam, "--status", "ALL")["families"],
        lambda: ecs("list-task-definition-families", "--family-prefix", "clitd")["families"],
        lambda: ecs("list-task-definition-families", "--family-prefix", "clitd", "--status", "INACTIVE")["families"],
        lambda: ecs("describe-task-definition", "--task-definition", fam)["taskDefinition"])
    assert active == [arn1] and inactive == [arn2], (active, inactive)
    assert literal == [fam], literal
    # by default both ACTIVE and INACTIVE families; INACTIVE: the families with no ACTIVE revision
    assert all_fams == sorted([fam, other]), all_fams
    assert inactive_fams == [other], inactive_fams
    assert latest["taskDefinitionArn"] == arn1, latest  # the latest ACTIVE revision


def test_03_run_task_fargate_overrides_and_logs():
    sb = "cli-run-%d" % PID
    cmd = ["/bin/sh", "-c", "printf '%s|' \"$@\"; echo; echo WHO=$WHO EXTRA=$EXTRA; exit 4",
           "sh", "a b", "c"]
    r = ecs("run-task", "--task-definition", RUN["taskDefinitionArn"], "--count", "2",
            "--started-by", sb, "--launch-type", "FARGATE",
            "--network-configuration",
            "awsvpcConfiguration={subnets=[subnet-0a1b],securityGroups=[sg-1],assignPublicIp=DISABLED}",
            "--tags", "key=job,value=cli", "key=run,value=%d" % PID,
            "--overrides", overrides(cmd, {"WHO": "override", "EXTRA": "x y"}))
    assert r["failures"] == [] and len(r["tasks"]) == 2, r
    arns = [t["taskArn"] for t in r["tasks"]]
    assert len(set(arns)) == 2, arns
    for t in r["tasks"]:
        assert t["taskArn"].startswith(ACCOUNT + "task/default/"), t
        assert t["taskDefinitionArn"] == RUN["taskDefinitionArn"], t
        assert t["launchType"] == "FARGATE" and t["startedBy"] == sb, t
        assert t["desiredStatus"] == "RUNNING" and t["lastStatus"] in ("PROVISIONING", "PENDING", "RUNNING"), t
        assert t["tags"] == [{"key": "job", "value": "cli"}, {"key": "run", "value": str(PID)}], t
        assert t["overrides"]["containerOverrides"][0]["command"] == cmd, t
    until(arns, "STOPPED")
    w = waiter("tasks-stopped", arns)
    assert w.returncode == 0, w.stderr
    for t in describe(arns):
        assert t["lastStatus"] == "STOPPED" and t["desiredStatus"] == "STOPPED", t
        assert t["stopCode"] == "EssentialContainerExited", t
        assert t["stoppedReason"] == "Essential container in task exited", t
        assert "tags" not in t, t  # only with --include TAGS
        assert len(t["containers"]) == 1, t
        c = t["containers"][0]
        assert c["name"] == "main" and c["lastStatus"] == "STOPPED" and c["exitCode"] == 4, c
        assert c["taskArn"] == t["taskArn"], c
        for k in ("createdAt", "startedAt", "stoppingAt", "stoppedAt"):
            assert k in t, (k, t)
    # the awslogs output, complete at STOPPED, on prefix/container/task-id
    streams = ["cli/main/" + task_id(a) for a in arns]
    lines, found, paged = par(
        lambda: log_messages(streams[0]),
        lambda: ok("logs", "filter-log-events", "--log-group-name", LOG_GROUP,
                   "--log-stream-names", *streams, "--filter-pattern", '"x y"'),
        # --page-size 1: the CLI follows ListTasks' nextToken
        lambda: list_tasks("--started-by", sb, "--desired-status", "STOPPED", "--page-size", "1"))
    assert lines == ["a b|c|", "WHO=override EXTRA=x y"], lines
    ev = found["events"]  # one matching line of each task, none of the others
    assert sorted(e["logStreamName"] for e in ev) == sorted(streams), ev
    assert all(e["message"] == "WHO=override EXTRA=x y" for e in ev), ev
    assert sorted(paged) == sorted(arns), paged


def test_04_waiters_stop_task_and_list_filters():
    sb = "cli-stop-%d" % PID
    r = ecs("run-task", "--task-definition", RUN_FAMILY, "--launch-type", "EC2", "--started-by", sb,
            "--overrides", overrides(["/bin/sh", "-c", "exec sleep 60"]))
    assert r["failures"] == [], r
    arn = r["tasks"][0]["taskArn"]
    assert r["tasks"][0]["launchType"] == "EC2", r
    # tasks-stopped polls while the task runs: it must still be waiting when StopTask comes
    stopped_waiter = subprocess.Popen(
        [AWS, "--endpoint-url", EP, "--region", "us-east-1", "ecs", "wait", "tasks-stopped",
         "--tasks", arn], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL)
    try:
        until([arn], "RUNNING")
        w, by_family, by_other_family = par(
            lambda: waiter("tasks-running", [arn]),
            lambda: list_tasks("--family", RUN_FAMILY),
            lambda: list_tasks("--family", "none-%d" % PID))
        assert w.returncode == 0, w.stderr
        # RUNNING by default: not the FARGATE tasks of test 03, stopped
        assert by_family == [arn] and by_other_family == [], (by_family, by_other_family)
        assert stopped_waiter.poll() is None, stopped_waiter.communicate()
        s = ecs("stop-task", "--task", arn, "--reason", "stopped from the cli")["task"]
        assert s["taskArn"] == arn and s["desiredStatus"] == "STOPPED", s
        assert s["stopCode"] == "UserInitiated" and s["stoppedReason"] == "stopped from the cli", s
        _, err = stopped_waiter.communicate(timeout=30)
        assert stopped_waiter.returncode == 0, err
    finally:
        if stopped_waiter.poll() is None:
            stopped_waiter.kill()
            stopped_waiter.wait()
    t, by_started, by_ec2, running_waiter = par(
        lambda: describe([arn])[0],
        lambda: list_tasks("--started-by", sb, "--desired-status", "STOPPED"),
        lambda: list_tasks("--launch-type", "EC2", "--desired-status", "STOPPED"),
        lambda: waiter("tasks-running", [arn]))
    assert t["lastStatus"] == "STOPPED" and t["stopCode"] == "UserInitiated", t
    assert t["stoppedReason"] == "stopped from the cli", t
    assert t["containers"][0]["exitCode"] in (143, 137), t  # SIGTERM (SIGKILL after stopTimeout)
    assert t["containers"][0]["lastStatus"] == "STOPPED", t
    # neither lists the FARGATE tasks of test 03 (other startedBy, other launch type)
    assert by_started == [arn] and by_ec2 == [arn], (by_started, by_ec2)
    # tasks-running fails at once on a STOPPED task: a waiter failure, exit 255
    assert running_waiter.returncode == 255, (running_waiter.returncode, running_waiter.stderr)
    assert "Waiter TasksRunning failed" in running_waiter.stderr, running_waiter.stderr


def test_05_task_tags():
    r = ecs("run-task", "--task-definition", RUN_FAMILY, "--tags", "key=a,value=1")
    arn = r["tasks"][0]["taskArn"]
    # RunTask's tags, then changed: b added and a replaced, then b removed
    assert ecs("list-tags-for-resource", "--resource-arn", arn)["tags"] == [{"key": "a", "value": "1"}]
    out = aws("ecs", "tag-resource", "--resource-arn", arn, "--tags", "key=b,value=2", "key=a,value=3")
    assert out.returncode == 0 and json.loads(out.stdout or "{}") == {}, (out.stdout, out.stderr)
    ecs("untag-resource", "--resource-arn", arn, "--tag-keys", "b")
    tags, d = par(lambda: ecs("list-tags-for-resource", "--resource-arn", arn)["tags"],
                  lambda: ecs("describe-tasks", "--tasks", arn, "--include", "TAGS"))
    assert tags == [{"key": "a", "value": "3"}], tags
    assert d["tasks"][0]["tags"] == [{"key": "a", "value": "3"}], d  # the current tags


def test_06_container_instances_with_agent():
    if "proc" not in AGENT:
        raise h.Skip("SLUICE_BIN not set")
    inst = agent_instance()
    iid = inst.rsplit("/", 1)[1]
    assert inst.startswith(ACCOUNT + "container-instance/%s/" % EDGE), inst
    deadline = time.time() + 15
    while not SYNC.describe_container_instances(cluster=EDGE, containerInstances=[inst])[
            "containerInstances"][0]["agentConnected"]:  # once its first long poll arrives
        assert time.time() < deadline, "the agent never connected"
        time.sleep(0.1)
    d, listed, started, ran = par(
        lambda: ecs("describe-container-instances", "--cluster", EDGE, "--container-instances", iid,
                    "missing-%d" % PID),
        lambda: ecs("list-container-instances", "--cluster", EDGE)["containerInstanceArns"],
        lambda: ecs("start-task", "--cluster", EDGE, "--task-definition", RUN_FAMILY,
                    "--container-instances", inst, "--started-by", "cli-start",
                    "--overrides", overrides(["/bin/sh", "-c", "echo started on $WHO"], {"WHO": "agent"})),
        lambda: ecs("run-task", "--cluster", EDGE, "--task-definition", RUN_FAMILY,
                    "--launch-type", "EXTERNAL", "--overrides", overrides(["/bin/sh", "-c", "exit 9"])))
    ci = d["containerInstances"][0]
    assert ci["containerInstanceArn"] == inst and ci["status"] == "ACTIVE" and ci["agentConnected"], ci
    attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
    assert attrs.get("sluice.hostname") == "cli-box", attrs
    assert d["failures"] == [{"arn": "missing-%d" % PID, "reason": "MISSING"}], d
    assert listed == [inst], listed
    assert started["failures"] == [] and len(started["tasks"]) == 1, started
    assert ran["failures"] == [] and len(ran["tasks"]) == 1, ran
    arns = [started["tasks"][0]["taskArn"], ran["tasks"][0]["taskArn"]]
    for t in started["tasks"] + ran["tasks"]:
        assert t["containerInstanceArn"] == inst and t["launchType"] == "EXTERNAL", t
        assert t["clusterArn"] == ACCOUNT + "cluster/" + EDGE, t
    until(arns, "STOPPED", cluster=EDGE)
    (s, r), on_instance = par(
        lambda: describe(arns, cluster=EDGE),
        lambda: list_tasks("--cluster", EDGE, "--container-instance", inst, "--desired-status", "STOPPED"))
    assert s["containers"][0]["exitCode"] == 0 and s["startedBy"] == "cli-start", s
    assert r["containers"][0]["exitCode"] == 9 and r["stopCode"] == "EssentialContainerExited", r
    assert sorted(on_instance) == sorted(arns), on_instance


def test_07_register_and_deregister_container_instance():
    cluster = "cli-ci-%d" % PID
    ecs("create-cluster", "--cluster-name", cluster)
    ci = ecs("register-container-instance", "--cluster", cluster, "--total-resources",
             "name=CPU,type=INTEGER,integerValue=2048", "name=MEMORY,type=INTEGER,integerValue=4096",
             "--version-info", "agentVersion=cli-test", "--attributes", "name=custom,value=yes")
    ci = ci["containerInstance"]
    arn = ci["containerInstanceArn"]
    assert arn.startswith(ACCOUNT + "container-instance/%s/" % cluster) and ci["status"] == "ACTIVE", ci
    res = {x["name"]: x["integerValue"] for x in ci["registeredResources"]}
    assert res == {"CPU": 2048, "MEMORY": 4096}, ci
    assert ci["versionInfo"]["agentVersion"] == "cli-test", ci
    assert {"name": "custom", "value": "yes"} in ci["attributes"], ci
    listed, _ = par(
        lambda: ecs("list-container-instances", "--cluster", cluster)["containerInstanceArns"],
        lambda: ecs_err("ClusterContainsContainerInstancesException", "DeleteCluster",
                        "delete-cluster", "--cluster", cluster))
    assert listed == [arn], listed
    d = ecs("deregister-container-instance", "--cluster", cluster, "--container-instance", arn)
    assert d["containerInstance"]["containerInstanceArn"] == arn, d
    assert d["containerInstance"]["status"] == "INACTIVE", d
    # the instance gone, the cluster can go
    gone = ecs("delete-cluster", "--cluster", cluster)["cluster"]
    assert gone["status"] == "INACTIVE" and gone["registeredContainerInstancesCount"] == 0, gone


def test_08_errors_as_the_cli_shows_them():
    td = RUN["taskDefinitionArn"]
    nope = "nope-%d" % PID
    missing_task = ACCOUNT + "task/default/" + "0" * 32
    checks = [
        ("ClusterNotFoundException", "RunTask", ["run-task", "--cluster", nope, "--task-definition", td]),
        ("InvalidParameterException", "RunTask", ["run-task", "--task-definition", nope + ":1"]),
        ("ClusterNotFoundException", "DescribeTasks", ["describe-tasks", "--cluster", nope, "--tasks", missing_task]),
        ("ClusterNotFoundException", "ListTasks", ["list-tasks", "--cluster", nope]),
        ("InvalidParameterException", "StopTask", ["stop-task", "--task", missing_task]),
        ("ClusterNotFoundException", "DeleteCluster", ["delete-cluster", "--cluster", nope]),
        ("ClientException", "DescribeTaskDefinition", ["describe-task-definition", "--task-definition", nope]),
        ("ClientException", "DeregisterTaskDefinition", ["deregister-task-definition", "--task-definition", RUN_FAMILY]),
        ("ClientException", "RegisterTaskDefinition", ["register-task-definition", "--family", "bad-%d" % PID,
                                                       "--container-definitions", "name=x"]),
        ("ClusterNotFoundException", "ListContainerInstances", ["list-container-instances", "--cluster", nope]),
        ("InvalidParameterException", "DeregisterContainerInstance", ["deregister-container-instance",
                                                                      "--container-instance", "0" * 32]),
        ("UnknownOperationException", "ListServices", ["list-services"]),
    ]
    results = par(*[(lambda c=c: (c, aws("ecs", *c[2]))) for c in checks]
                  + [lambda: (None, aws("ecs", "describe-tasks", "--tasks", missing_task))])
    problems = []
    for check, r in results[:-1]:
        code, op, args = check
        want = "An error occurred (%s) when calling the %s operation" % (code, op)
        if r.returncode != 254 or want not in r.stderr:
            problems.append("aws ecs %s: want 254 and %r, got %d: %s%s" % (
                " ".join(args), want, r.returncode, r.stdout[:300], r.stderr.strip()))
    assert not problems, "\n".join(problems)
    # not an error: a task not found is a MISSING failure
    r = results[-1][1]
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["tasks"] == [] and d["failures"] == [{"arn": missing_task, "reason": "MISSING"}], d


TESTS = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")]


if __name__ == "__main__":
    h.main(TESTS, label="tasks_cli: ", check=h.assert_endpoint_answers, timings=True, setup=setup,
           teardown=[("agent teardown", teardown), ("pool", POOL.shutdown)])
