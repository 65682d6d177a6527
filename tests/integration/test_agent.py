#!/usr/bin/env python3
# sluice-integration: own-daemon
"""`sluice agent` (docs/agent-protocol.md) against a real daemon, both as separate processes:
registration (ListContainerInstances / DescribeContainerInstances show it, agentConnected),
EXTERNAL tasks run by boto3's run_task on the agent (output in CloudWatch Logs through awslogs,
exit codes and containerInstanceArn in DescribeTasks, the endpoint rewritten to the agent's
--endpoint, the per-task work dir), many output lines, StopTask reaching the agent, SIGTERM to
the agent stopping and reporting its tasks, kill -9 of the agent ending its task with
TerminationNotice after the heartbeat timeout (the daemon runs with SLUICE_AGENT_TIMEOUT_S=3),
a restarted agent taking new work under the same instance, a daemon restart while the agent runs
a task (the task finishes and is reported), and the agent in its own network namespace reaching
the daemon over a veth pair with non-default credentials. Output: TAP-like lines for
tests/integration/run."""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import harness as h
from harness import PID

BIN = os.environ["SLUICE_BIN"]
TMP = tempfile.mkdtemp(prefix="sluice-agent-it-")
CLUSTER = "edge"


class Daemon:
    def __init__(self, host="127.0.0.1", env=None):
        self.data = os.path.join(TMP, "daemon-%d" % h.free_port())
        self.host = host
        self.port = h.free_port()
        self.env = dict(os.environ, SLUICE_AGENT_TIMEOUT_S="3", **(env or {}))
        self.proc = None

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def start(self):
        self.proc = h.serve(self.data, self.port, self.host, self.env)
        return self

    def stop(self):
        h.stop(self.proc, "daemon")


class Agent:
    def __init__(self, endpoint, data=None, prefix=(), env=None, name=None):
        self.endpoint = endpoint
        self.data = data or os.path.join(TMP, "agent-%d" % h.free_port())
        self.prefix = list(prefix)
        self.env = env if env is not None else dict(os.environ)
        self.name = name
        self.proc = None

    def start(self):
        cmd = self.prefix + [BIN, "agent", "--endpoint", self.endpoint, "--cluster", CLUSTER,
                             "--data", self.data]
        if self.name:
            cmd += ["--name", self.name]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=h.log_file("agent"), env=self.env)
        return self

    def instance_arn(self, timeout=15):
        return h.agent_instance(self.data, timeout)

    def terminate(self, timeout=30):
        h.stop(self.proc, "agent", timeout)

    def kill9(self):
        h.kill9(self.proc)


def clients(endpoint, ak="test", sk="test"):
    kw = dict(endpoint=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk)
    return h.client("ecs", **kw), h.client("logs", **kw)


def register(ecs, name, command, **container):
    c = {"name": "main", "image": "host", "command": command, "essential": True,
         "logConfiguration": {"logDriver": "awslogs", "options": {
             "awslogs-group": "/ecs/agent-it", "awslogs-stream-prefix": name,
             "awslogs-create-group": "true", "awslogs-region": "us-east-1"}}}
    c.update(container)
    return ecs.register_task_definition(family="%s-%d" % (name, PID), containerDefinitions=[c],
                                        requiresCompatibilities=["EXTERNAL"])["taskDefinition"]


def run_external(ecs, td):
    r = ecs.run_task(cluster=CLUSTER, taskDefinition=td["taskDefinitionArn"],
                     launchType="EXTERNAL")
    assert not r["failures"], r["failures"]
    return r["tasks"][0]["taskArn"]


def describe(ecs, arn):
    return ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0]


def wait_status(ecs, arn, status, timeout=30):
    t = h.wait_until(lambda: describe(ecs, arn), lambda t: t["lastStatus"] in (status, "STOPPED"),
                     timeout, interval=0.1)
    assert t["lastStatus"] in (status, "STOPPED"), "task not %s within %d s: %s" % (status, timeout, t)
    return t


def lines_of(logs, td_name, arn):
    stream = "%s/main/%s" % (td_name, arn.rsplit("/", 1)[1])
    out, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        try:
            r = logs.get_log_events(logGroupName="/ecs/agent-it", logStreamName=stream,
                                    startFromHead=True, **kw)
        except logs.exceptions.ResourceNotFoundException:
            return out  # no output shipped yet
        out += [e["message"] for e in r["events"]]
        if not r["events"] or r.get("nextForwardToken") == token:
            return out
        token = r["nextForwardToken"]


def instance(ecs, arn):
    r = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[arn])
    assert r["containerInstances"], r
    return r["containerInstances"][0]


def wait_connected(ecs, arn, want, timeout=40):
    ci = h.wait_until(lambda: instance(ecs, arn), lambda ci: ci["agentConnected"] == want,
                      timeout, interval=0.2)
    assert ci["agentConnected"] == want, "agentConnected not %s within %d s: %s" % (want, timeout, ci)
    return ci


def kill_orphan(pidfile):
    """A task whose agent was killed -9 keeps running (it is in its own process group)."""
    try:
        with open(pidfile) as f:
            os.killpg(int(f.read().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


# ---- the shared daemon and agent for the loopback tests ----

D = None
A = None
ECS = LOGS_CLIENT = None


def setup():
    global D, A, ECS, LOGS_CLIENT
    D = Daemon().start()
    ECS, LOGS_CLIENT = clients(D.url)
    ECS.create_cluster(clusterName=CLUSTER)
    # "localhost" where the daemon knows itself as 127.0.0.1: the rewrite is visible to tasks.
    A = Agent("http://localhost:%d" % D.port, name="edge-box-1").start()
    A.instance_arn()


def test_registered_instance_is_listed():
    arn = A.instance_arn()
    assert arn in ECS.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    ci = wait_connected(ECS, arn, True)
    assert ci["status"] == "ACTIVE", ci
    assert ci["versionInfo"]["agentVersion"].startswith("sluice-"), ci
    attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
    assert "host" in attrs["sluice.drivers"].split(","), attrs
    assert attrs["sluice.hostname"] == "edge-box-1", attrs
    res = {r["name"]: r["integerValue"] for r in ci["registeredResources"]}
    assert res["CPU"] >= 1024 and res["CPU"] % 1024 == 0 and res["MEMORY"] > 0, res
    with open(os.path.join(A.data, "instance.json")) as f:
        saved = json.load(f)
    assert saved["cluster"] == CLUSTER, saved


def test_external_task_runs_on_agent():
    td = register(ECS, "basic", ["sh", "-c",
                                 "echo hello from the agent; echo endpoint=$AWS_ENDPOINT_URL; "
                                 "echo meta=$ECS_CONTAINER_METADATA_URI_V4; echo pwd=$(pwd); "
                                 "echo oops >&2; exit 3"])
    arn = run_external(ECS, td)
    t = wait_status(ECS, arn, "STOPPED")
    assert t["lastStatus"] == "STOPPED", t
    assert t["launchType"] == "EXTERNAL", t
    assert t["containerInstanceArn"] == A.instance_arn(), t
    assert t["containers"][0]["exitCode"] == 3, t
    assert t.get("stopCode") != "TerminationNotice", t
    lines = lines_of(LOGS_CLIENT, "basic", arn)
    assert lines[0] == "hello from the agent", lines
    assert "endpoint=http://localhost:%d" % D.port in lines, lines
    meta = [l for l in lines if l.startswith("meta=")][0]
    assert meta.startswith("meta=http://localhost:%d/" % D.port), lines
    task_id = arn.rsplit("/", 1)[1]
    workdir = os.path.realpath(os.path.join(A.data, "tasks", task_id, "main"))
    assert "pwd=" + workdir in lines, (workdir, lines)
    assert "oops" in lines, lines


def test_many_lines_complete_when_stopped():
    td = register(ECS, "many", ["sh", "-c", "i=0; while [ $i -lt 2500 ]; do echo line-$i; "
                                            "i=$((i+1)); done; sleep 0.3; echo last"])
    arn = run_external(ECS, td)
    t = wait_status(ECS, arn, "STOPPED")
    assert t["containers"][0]["exitCode"] == 0, t
    lines = lines_of(LOGS_CLIENT, "many", arn)
    assert lines == ["line-%d" % i for i in range(2500)] + ["last"], (len(lines), lines[-3:])


def test_cannot_start_reported():
    td = register(ECS, "nocmd", ["/nonexistent/program-%d" % PID])
    arn = run_external(ECS, td)
    t = wait_status(ECS, arn, "STOPPED")
    c = t["containers"][0]
    assert "exitCode" not in c or c["exitCode"] != 0, t
    assert "CannotStartContainerError" in (c.get("reason", "") + t.get("stoppedReason", "")), t


def test_stop_task_reaches_agent():
    td = register(ECS, "stoppable", ["sh", "-c", "trap 'echo got TERM; exit 0' TERM; "
                                                 "echo started; while :; do sleep 0.1; done"])
    arn = run_external(ECS, td)
    wait_status(ECS, arn, "RUNNING")
    deadline = time.time() + 10
    while "started" not in lines_of(LOGS_CLIENT, "stoppable", arn):
        assert time.time() < deadline, "no output from the running task"
        time.sleep(0.1)
    ECS.stop_task(cluster=CLUSTER, task=arn, reason="test stops it")
    t = wait_status(ECS, arn, "STOPPED", timeout=20)
    assert t["lastStatus"] == "STOPPED", t
    assert t.get("stopCode") == "UserInitiated", t
    assert "got TERM" in lines_of(LOGS_CLIENT, "stoppable", arn)


def test_start_task_on_named_instance():
    # StartTask places the task on the container instance it names; an unknown one is MISSING
    td = register(ECS, "started", ["sh", "-c", "echo placed"])
    inst = A.instance_arn()
    r = ECS.start_task(cluster=CLUSTER, taskDefinition=td["taskDefinitionArn"], containerInstances=[inst])
    assert not r["failures"] and len(r["tasks"]) == 1, r
    arn = r["tasks"][0]["taskArn"]
    assert r["tasks"][0]["containerInstanceArn"] == inst, r
    t = wait_status(ECS, arn, "STOPPED")
    assert t["containers"][0].get("exitCode") == 0, t
    r = ECS.start_task(cluster=CLUSTER, taskDefinition=td["taskDefinitionArn"], containerInstances=["0" * 32])
    assert not r["tasks"] and r["failures"][0]["reason"] == "MISSING", r


def test_agent_sigterm_stops_and_reports_its_tasks():
    global A
    td = register(ECS, "sigterm", ["sh", "-c", "trap 'echo bye; exit 5' TERM; echo up; "
                                               "while :; do sleep 0.1; done"])
    arn = run_external(ECS, td)
    wait_status(ECS, arn, "RUNNING")
    deadline = time.time() + 10
    while "up" not in lines_of(LOGS_CLIENT, "sigterm", arn):
        assert time.time() < deadline, "no output from the running task"
        time.sleep(0.1)
    A.terminate()
    t = describe(ECS, arn)
    assert t["lastStatus"] == "STOPPED", t  # reported before the agent exited
    assert t["containers"][0].get("exitCode") == 5, t
    assert t.get("stopCode") != "TerminationNotice", t
    assert lines_of(LOGS_CLIENT, "sigterm", arn)[-1] == "bye"
    A = Agent(A.endpoint, data=A.data, name="edge-box-1").start()
    wait_connected(ECS, A.instance_arn(), True)


def test_reregisters_when_the_daemon_forgets_the_instance():
    arn_instance = A.instance_arn()
    wait_connected(ECS, arn_instance, True)
    ECS.deregister_container_instance(cluster=CLUSTER, containerInstance=arn_instance, force=True)
    # the next poll is refused (ClientException) and the agent registers again, same ARN
    deadline = time.time() + 30
    ci = None
    while time.time() < deadline:
        ci = instance(ECS, arn_instance)
        if ci["status"] == "ACTIVE" and ci["agentConnected"]:
            break
        time.sleep(0.2)
    assert ci["status"] == "ACTIVE" and ci["agentConnected"], ci
    td = register(ECS, "rereg", ["sh", "-c", "echo still here"])
    arn = run_external(ECS, td)
    t = wait_status(ECS, arn, "STOPPED")
    assert t["containerInstanceArn"] == arn_instance, t
    assert t["containers"][0]["exitCode"] == 0, t


def test_kill9_agent_termination_notice_then_restart():
    global A
    arn_instance = A.instance_arn()
    td = register(ECS, "orphan", ["sh", "-c", "echo $$ > pid; exec sleep 120"])
    arn = run_external(ECS, td)
    wait_status(ECS, arn, "RUNNING")
    pidfile = os.path.join(A.data, "tasks", arn.rsplit("/", 1)[1], "main", "pid")
    try:
        A.kill9()
        started = time.time()
        t = wait_status(ECS, arn, "STOPPED", timeout=40)
        took = time.time() - started
        assert t["lastStatus"] == "STOPPED", t
        assert t.get("stopCode") == "TerminationNotice", t
        print("# task STOPPED (TerminationNotice) %.1f s after kill -9 of the agent" % took)
        wait_connected(ECS, arn_instance, False, timeout=10)
    finally:
        kill_orphan(pidfile)
    # the restarted agent keeps its instance and takes new work
    A = Agent(A.endpoint, data=A.data, name="edge-box-1").start()
    ci = wait_connected(ECS, arn_instance, True, timeout=20)
    assert ci["status"] == "ACTIVE", ci
    assert A.instance_arn() == arn_instance
    td = register(ECS, "after", ["sh", "-c", "echo back again"])
    arn = run_external(ECS, td)
    t = wait_status(ECS, arn, "STOPPED")
    assert t["containerInstanceArn"] == arn_instance, t
    assert t["containers"][0]["exitCode"] == 0, t
    assert lines_of(LOGS_CLIENT, "after", arn) == ["back again"]


def test_daemon_restart_while_agent_runs_a_task():
    global ECS, LOGS_CLIENT
    flag = os.path.join(TMP, "go-%d" % PID)
    td = register(ECS, "survivor", ["sh", "-c", "echo before; while [ ! -e %s ]; do sleep 0.1; "
                                                "done; echo after; exit 7" % flag])
    arn = run_external(ECS, td)
    wait_status(ECS, arn, "RUNNING")
    deadline = time.time() + 10
    while "before" not in lines_of(LOGS_CLIENT, "survivor", arn):
        assert time.time() < deadline, "no output from the running task"
        time.sleep(0.1)
    problems = []
    try:
        D.stop()  # a parked PollTasks is open at this moment
    except AssertionError as e:
        problems.append(str(e))
    time.sleep(1.0)
    open(flag, "w").close()  # the task finishes while the daemon is away
    time.sleep(0.5)
    D.start()
    ECS, LOGS_CLIENT = clients(D.url)
    t = wait_status(ECS, arn, "STOPPED", timeout=30)
    assert t["lastStatus"] == "STOPPED", t
    assert t["containers"][0].get("exitCode") == 7, t
    assert t.get("stopCode") != "TerminationNotice", t
    lines = lines_of(LOGS_CLIENT, "survivor", arn)
    assert lines == ["before", "after"], lines
    wait_connected(ECS, A.instance_arn(), True, timeout=10)
    # and it keeps working afterwards
    td = register(ECS, "afterrestart", ["sh", "-c", "echo fine"])
    arn = run_external(ECS, td)
    t = wait_status(ECS, arn, "STOPPED")
    assert t["containers"][0]["exitCode"] == 0, t
    assert not problems, problems


# ---- the agent in its own network namespace ----

CLONE_NEWNET = 0x40000000


def setns(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns %s" % path)
    finally:
        os.close(fd)


def ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), r.stderr.strip()))
    return r


def test_agent_in_own_network_namespace():
    if os.geteuid() != 0 or not shutil.which("ip"):
        raise h.Skip("needs root and iproute2 to create network namespaces")
    ns_d, ns_a = "sl-d-%d" % PID, "sl-a-%d" % PID
    veth_d, veth_a = "sld%d" % (PID % 100000), "sla%d" % (PID % 100000)
    r = ip("netns", "add", ns_d, check=False)
    if r.returncode != 0:
        raise h.Skip("ip netns add is not permitted here: %s" % r.stderr.strip())
    own_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
    daemon = agent = None
    try:
        ip("netns", "add", ns_a)
        ip("link", "add", veth_d, "netns", ns_d, "type", "veth", "peer", "name", veth_a,
           "netns", ns_a)
        ip("-n", ns_d, "addr", "add", "10.213.7.1/30", "dev", veth_d)
        ip("-n", ns_a, "addr", "add", "10.213.7.2/30", "dev", veth_a)
        for ns, dev in ((ns_d, veth_d), (ns_a, veth_a)):
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", dev, "up")
        # This process (and the daemon it starts) lives in the daemon's namespace for a while.
        setns("/var/run/netns/" + ns_d)
        ak, sk = "AKIDNETNS%d" % PID, "netns-secret-%d" % PID
        daemon = Daemon(host="10.213.7.1", env={"SLUICE_ACCESS_KEY_ID": ak,
                                                "SLUICE_SECRET_ACCESS_KEY": sk}).start()
        ecs, logs = clients(daemon.url, ak, sk)
        ecs.create_cluster(clusterName=CLUSTER)
        # The agent finds its credentials in SLUICE_* when AWS_* are absent.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_ACCESS") and not k.startswith("AWS_SECRET")}
        env.update(SLUICE_ACCESS_KEY_ID=ak, SLUICE_SECRET_ACCESS_KEY=sk)
        agent = Agent(daemon.url, prefix=["ip", "netns", "exec", ns_a], env=env,
                      name="netns-box").start()
        arn_instance = agent.instance_arn()
        wait_connected(ecs, arn_instance, True, timeout=15)
        td = register(ecs, "netns", ["sh", "-c",
                                     "echo endpoint=$AWS_ENDPOINT_URL; ls /sys/class/net; "
                                     "curl -sf $ECS_CONTAINER_METADATA_URI_V4/task >/dev/null "
                                     "&& echo metadata reachable"])
        arn = run_external(ecs, td)
        t = wait_status(ecs, arn, "STOPPED")
        assert t["containerInstanceArn"] == arn_instance, t
        assert t["containers"][0]["exitCode"] == 0, t
        lines = lines_of(logs, "netns", arn)
        assert "endpoint=http://10.213.7.1:%d" % daemon.port in lines, lines
        assert veth_a in lines and veth_d not in lines, lines  # it ran in the agent's namespace
        if shutil.which("curl"):
            assert "metadata reachable" in lines, lines
        agent.terminate()
        agent = None
    finally:
        if agent:
            agent.kill9()
        if daemon:
            try:
                daemon.stop()
            except AssertionError:
                pass
        libc = ctypes.CDLL(None, use_errno=True)
        libc.setns(own_ns, CLONE_NEWNET)
        os.close(own_ns)
        ip("netns", "del", ns_a, check=False)  # deleting a namespace deletes its veth end
        ip("netns", "del", ns_d, check=False)
    return None


TESTS = [
    test_registered_instance_is_listed,
    test_external_task_runs_on_agent,
    test_many_lines_complete_when_stopped,
    test_cannot_start_reported,
    test_stop_task_reaches_agent,
    test_start_task_on_named_instance,
    test_agent_sigterm_stops_and_reports_its_tasks,
    test_reregisters_when_the_daemon_forgets_the_instance,
    test_kill9_agent_termination_notice_then_restart,
    test_daemon_restart_while_agent_runs_a_task,
    test_agent_in_own_network_namespace,
]


if __name__ == "__main__":
    h.main(TESTS, label="agent: ", inline=True, setup=setup, teardown=[
        ("the agent stops cleanly", lambda: A and A.terminate()),
        ("the daemon stops cleanly", lambda: D and D.stop()),
        ("temporary files", lambda: shutil.rmtree(TMP, ignore_errors=True))])
