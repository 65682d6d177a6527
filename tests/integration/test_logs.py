#!/usr/bin/env python3
"""CloudWatch Logs through boto3 and the AWS CLI: log groups (retention, tags), log streams,
PutLogEvents (order, batch limits, rejected events, ignored sequence tokens), GetLogEvents'
forward and backward tokens, FilterLogEvents with text and JSON filter patterns, and the CLI's
`aws logs get-log-events`, `filter-log-events`, `tail` and `tail --follow`.

Output: one TAP-like line per test for tests/integration/run.
"""
import json
import subprocess
import threading
import time

import harness as h
from harness import AWS, EP, expect_error

logs = h.client("logs")
DAY_MS = 86400 * 1000


def uniq(prefix):
    return "/sluice/" + h.uniq(prefix)


def now_ms():
    return int(time.time() * 1000)


def cli(*args, timeout=60):
    return h.aws("logs", *args, check=True, timeout=timeout).stdout


def group_with_stream(prefix, stream="s1"):
    g = uniq(prefix)
    logs.create_log_group(logGroupName=g)
    logs.create_log_stream(logGroupName=g, logStreamName=stream)
    return g


def put(group, stream, messages, t0=None, step=1):
    t0 = now_ms() - 60000 if t0 is None else t0
    events = [{"timestamp": t0 + i * step, "message": m} for i, m in enumerate(messages)]
    return logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


# ---------------------------------------------------------------------------------------------


def test_log_group_lifecycle():
    g = uniq("life")
    logs.create_log_group(logGroupName=g, tags={"team": "core"})
    expect_error("ResourceAlreadyExistsException", logs.create_log_group, logGroupName=g)
    expect_error("InvalidParameterException", logs.create_log_group, logGroupName="bad name!")
    expect_error("InvalidParameterException", logs.create_log_group, logGroupName="x" * 513)
    [d] = logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"]
    assert d["logGroupName"] == g
    assert d["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:%s:*" % g, d
    assert d["logGroupArn"] == d["arn"][:-2], d
    assert d["metricFilterCount"] == 0 and d["storedBytes"] == 0 and d["logGroupClass"] == "STANDARD"
    assert abs(d["creationTime"] - now_ms()) < 60000 and "retentionInDays" not in d
    logs.put_retention_policy(logGroupName=g, retentionInDays=7)
    assert logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]["retentionInDays"] == 7
    e = expect_error("InvalidParameterException", logs.put_retention_policy, logGroupName=g,
                     retentionInDays=2)
    assert "3653" in str(e), e
    logs.delete_retention_policy(logGroupName=g)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]
    logs.delete_log_group(logGroupName=g)
    expect_error("ResourceNotFoundException", logs.delete_log_group, logGroupName=g)
    expect_error("ResourceNotFoundException", logs.put_retention_policy, logGroupName=g,
                 retentionInDays=1)
    expect_error("ResourceNotFoundException", logs.delete_retention_policy, logGroupName=g)
    assert logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"] == []


def test_describe_log_groups_pages_and_patterns():
    base = uniq("page")
    names = ["%s/%02d" % (base, i) for i in range(7)]
    for n in names:
        logs.create_log_group(logGroupName=n)
    r = logs.describe_log_groups(logGroupNamePrefix=base, limit=3)
    assert [g["logGroupName"] for g in r["logGroups"]] == names[:3] and r.get("nextToken"), r
    pages = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=base,
                                                               PaginationConfig={"PageSize": 2})
    got = [g["logGroupName"] for p in pages for g in p["logGroups"]]
    assert got == names, got
    # a case-sensitive substring; only arn, creationTime and logGroupName come back
    tail = base.split("/")[-1]
    r = logs.describe_log_groups(logGroupNamePattern=tail + "/0")
    assert len(r["logGroups"]) == 7, r
    assert set(r["logGroups"][0]) == {"logGroupName", "arn", "creationTime"}, r["logGroups"][0]
    assert logs.describe_log_groups(logGroupNamePattern=tail.upper() + "/0")["logGroups"] == []
    expect_error("InvalidParameterException", logs.describe_log_groups, logGroupNamePrefix=base,
                 logGroupNamePattern="x")


def test_tags():
    g = uniq("tags")
    logs.create_log_group(logGroupName=g, tags={"a": "1"})
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:%s" % g
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1"}
    logs.tag_resource(resourceArn=arn, tags={"b": "2", "a": "3"})
    assert logs.list_tags_for_resource(resourceArn=arn + ":*")["tags"] == {"a": "3", "b": "2"}
    logs.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    # the older group-name operations see the same tags
    logs.tag_log_group(logGroupName=g, tags={"c": "4"})
    assert logs.list_tags_log_group(logGroupName=g)["tags"] == {"b": "2", "c": "4"}
    logs.untag_log_group(logGroupName=g, tags=["b", "c"])
    assert logs.list_tags_log_group(logGroupName=g)["tags"] == {}
    expect_error("TooManyTagsException", logs.tag_resource, resourceArn=arn,
                 tags={"k%d" % i: "v" for i in range(51)})
    expect_error("ResourceNotFoundException", logs.list_tags_for_resource, resourceArn=arn + "-nope")
    expect_error("ResourceNotFoundException", logs.list_tags_log_group, logGroupName=g + "-nope")


def test_log_streams():
    g = group_with_stream("streams", "b-stream")
    logs.create_log_stream(logGroupName=g, logStreamName="a-stream")
    logs.create_log_stream(logGroupName=g, logStreamName="c-stream")
    expect_error("ResourceAlreadyExistsException", logs.create_log_stream, logGroupName=g,
                 logStreamName="a-stream")
    expect_error("ResourceNotFoundException", logs.create_log_stream, logGroupName=g + "-nope",
                 logStreamName="x")
    expect_error("InvalidParameterException", logs.create_log_stream, logGroupName=g,
                 logStreamName="has:colon")
    t = now_ms() - 10000
    put(g, "c-stream", ["c"], t0=t)
    put(g, "a-stream", ["a"], t0=t + 1000)
    s = logs.describe_log_streams(logGroupName=g)["logStreams"]
    assert [x["logStreamName"] for x in s] == ["a-stream", "b-stream", "c-stream"], s
    a = s[0]
    assert a["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:%s:log-stream:a-stream" % g
    assert a["firstEventTimestamp"] == a["lastEventTimestamp"] == t + 1000, a
    assert a["lastIngestionTime"] >= a["creationTime"] and a["storedBytes"] == 0
    assert a["uploadSequenceToken"] and "firstEventTimestamp" not in s[1], s[1]
    r = logs.describe_log_streams(logGroupName=g, descending=True, limit=2)
    assert [x["logStreamName"] for x in r["logStreams"]] == ["c-stream", "b-stream"]
    r = logs.describe_log_streams(logGroupName=g, descending=True, limit=2, nextToken=r["nextToken"])
    assert [x["logStreamName"] for x in r["logStreams"]] == ["a-stream"] and "nextToken" not in r
    r = logs.describe_log_streams(logGroupName=g, orderBy="LastEventTime", descending=True)
    assert [x["logStreamName"] for x in r["logStreams"]] == ["a-stream", "c-stream", "b-stream"], r
    pages = logs.get_paginator("describe_log_streams").paginate(
        logGroupName=g, orderBy="LastEventTime", PaginationConfig={"PageSize": 1})
    assert [x["logStreamName"] for p in pages for x in p["logStreams"]] == ["b-stream", "c-stream", "a-stream"]
    assert [x["logStreamName"] for x in logs.describe_log_streams(
        logGroupName=g, logStreamNamePrefix="b")["logStreams"]] == ["b-stream"]
    expect_error("InvalidParameterException", logs.describe_log_streams, logGroupName=g,
                 orderBy="LastEventTime", logStreamNamePrefix="a")
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:%s:*" % g
    assert len(logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"]) == 3
    logs.delete_log_stream(logGroupName=g, logStreamName="a-stream")
    expect_error("ResourceNotFoundException", logs.delete_log_stream, logGroupName=g,
                 logStreamName="a-stream")
    expect_error("ResourceNotFoundException", logs.get_log_events, logGroupName=g,
                 logStreamName="a-stream")
    expect_error("ResourceNotFoundException", logs.describe_log_streams, logGroupName=g + "-nope")


def test_put_log_events_rules():
    g = group_with_stream("put")
    t = now_ms() - 60000
    r = logs.put_log_events(logGroupName=g, logStreamName="s1", sequenceToken="bogus-is-ignored",
                            logEvents=[{"timestamp": t, "message": "one"}])
    assert r["nextSequenceToken"] and "rejectedLogEventsInfo" not in r, r
    e = expect_error("InvalidParameterException", logs.put_log_events, logGroupName=g,
                     logStreamName="s1", logEvents=[{"timestamp": t + 5, "message": "late"},
                                                    {"timestamp": t, "message": "early"}])
    assert "chronological" in str(e), e
    expect_error("InvalidParameterException", logs.put_log_events, logGroupName=g,
                 logStreamName="s1", logEvents=[{"timestamp": t - 2 * DAY_MS, "message": "a"},
                                                {"timestamp": t, "message": "b"}])
    big = "x" * 200000
    e = expect_error("InvalidParameterException", logs.put_log_events, logGroupName=g,
                     logStreamName="s1", logEvents=[{"timestamp": t, "message": big}] * 6)
    assert "1048576" in str(e), e
    expect_error("InvalidParameterException", logs.put_log_events, logGroupName=g, logStreamName="s1",
                 logEvents=[{"timestamp": t, "message": "m"}] * 10001)
    expect_error("ResourceNotFoundException", put, g, "nope", ["x"])
    expect_error("ResourceNotFoundException", put, g + "-nope", "s1", ["x"])
    # too old (over 14 days), too new (over 2 hours ahead): rejected, the rest kept
    n = now_ms()
    r = logs.put_log_events(logGroupName=g, logStreamName="s1", logEvents=[
        {"timestamp": n - 15 * DAY_MS, "message": "ancient"},
        {"timestamp": n - 1000, "message": "kept-1"},
        {"timestamp": n, "message": "kept-2"},
        {"timestamp": n + 3 * 3600 * 1000, "message": "future"}])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 3}, r
    msgs = [e["message"] for e in logs.get_log_events(logGroupName=g, logStreamName="s1",
                                                      startFromHead=True)["events"]]
    assert msgs == ["one", "kept-1", "kept-2"], msgs
    # events before the group's retention are expired
    logs.put_retention_policy(logGroupName=g, retentionInDays=1)
    r = logs.put_log_events(logGroupName=g, logStreamName="s1", logEvents=[
        {"timestamp": n - 3 * DAY_MS, "message": "expired"}, {"timestamp": n, "message": "ok"}])
    assert r["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}, r
    # storedBytes counts what was kept
    assert logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]["storedBytes"] == \
        len("one") + len("kept-1") + len("kept-2") + len("ok")


def test_get_log_events_tokens():
    g = group_with_stream("get")
    t = now_ms() - 60000
    put(g, "s1", ["m%d" % i for i in range(5)], t0=t)
    r = logs.get_log_events(logGroupName=g, logStreamName="s1", startFromHead=True, limit=2)
    seen = [e["message"] for e in r["events"]]
    assert r["nextForwardToken"].startswith("f/") and r["nextBackwardToken"].startswith("b/"), r
    token = r["nextForwardToken"]
    for _ in range(10):  # the loop every client writes: stop when the token comes back unchanged
        r = logs.get_log_events(logGroupName=g, logStreamName="s1", startFromHead=True, limit=2,
                                nextToken=token)
        seen += [e["message"] for e in r["events"]]
        if r["nextForwardToken"] == token:
            break
        token = r["nextForwardToken"]
    else:
        raise AssertionError("forward paging never returned the same token")
    assert seen == ["m0", "m1", "m2", "m3", "m4"], seen
    assert r["events"] == []
    # default (no startFromHead): the newest events; then backward
    r = logs.get_log_events(logGroupName=g, logStreamName="s1", limit=2)
    assert [e["message"] for e in r["events"]] == ["m3", "m4"], r
    r = logs.get_log_events(logGroupName=g, logStreamName="s1", limit=2, nextToken=r["nextBackwardToken"])
    assert [e["message"] for e in r["events"]] == ["m1", "m2"], r
    e = r["events"][0]
    assert e["timestamp"] == t + 1 and abs(e["ingestionTime"] - now_ms()) < 60000, e
    # a time range: endTime is exclusive
    r = logs.get_log_events(logGroupName=g, logStreamName="s1", startTime=t + 1, endTime=t + 3,
                            startFromHead=True)
    assert [e["message"] for e in r["events"]] == ["m1", "m2"], r
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:%s" % g
    assert len(logs.get_log_events(logGroupIdentifier=arn, logStreamName="s1")["events"]) == 5
    expect_error("InvalidParameterException", logs.get_log_events, logGroupName=g,
                 logStreamName="s1", nextToken="f/garbage")
    expect_error("InvalidParameterException", logs.get_log_events, logGroupName=g,
                 logGroupIdentifier=arn, logStreamName="s1")
    # the CLI: one call, all five
    out = json.loads(cli("get-log-events", "--log-group-name", g, "--log-stream-name", "s1",
                         "--start-from-head"))
    assert [e["message"] for e in out["events"]] == ["m%d" % i for i in range(5)], out


FILTER_CASES = [
    ("ERROR", ["ERROR disk full", "ERROR timeout"]),
    ('"disk full"', ["ERROR disk full"]),
    ("ERROR timeout", ["ERROR timeout"]),
    ("?WARN ?timeout", ["WARN slow", "ERROR timeout"]),
    ("ERROR -disk", ["ERROR timeout"]),
    ('{ $.level = "error" }', ['{"level":"error","ms":250,"user":{"id":7}}']),
    ("{ $.ms > 100 }", ['{"level":"error","ms":250,"user":{"id":7}}']),
    ("{ $.ms <= 100 && $.level = info* }", ['{"level":"info","ms":20}']),
    ("{ $.user.id = 7 || $.ms = 20 }", ['{"level":"error","ms":250,"user":{"id":7}}',
                                        '{"level":"info","ms":20}']),
    ("{ $.user NOT EXISTS }", ['{"level":"info","ms":20}']),
]


def test_filter_log_events_patterns():
    g = group_with_stream("filter")
    put(g, "s1", ["ERROR disk full", "WARN slow", "ERROR timeout", "INFO fine",
                  '{"level":"error","ms":250,"user":{"id":7}}', '{"level":"info","ms":20}'])
    for pattern, want in FILTER_CASES:
        got = [e["message"] for e in logs.filter_log_events(logGroupName=g, filterPattern=pattern)["events"]]
        assert got == want, "%s: %s" % (pattern, got)
    for bad in ["[ip, user]", '"unterminated', "{ $.a = }"]:
        e = expect_error("InvalidParameterException", logs.filter_log_events, logGroupName=g,
                         filterPattern=bad)
        assert bad in str(e), e
    out = json.loads(cli("filter-log-events", "--log-group-name", g, "--filter-pattern", "?WARN ?INFO"))
    assert [e["message"] for e in out["events"]] == ["WARN slow", "INFO fine"], out


def test_filter_log_events_interleaves_and_pages():
    g = group_with_stream("inter", "app/a")
    logs.create_log_stream(logGroupName=g, logStreamName="app/b")
    logs.create_log_stream(logGroupName=g, logStreamName="other")
    t = now_ms() - 60000
    put(g, "app/a", ["a0", "a1", "a2"], t0=t, step=10)
    put(g, "app/b", ["b0", "b1", "b2"], t0=t + 5, step=10)
    put(g, "other", ["o0"], t0=t + 1)
    r = logs.filter_log_events(logGroupName=g, interleaved=True)
    assert [e["message"] for e in r["events"]] == ["a0", "o0", "b0", "a1", "b1", "a2", "b2"], r
    assert "nextToken" not in r and r["searchedLogStreams"] == []
    e = r["events"][0]
    assert e["logStreamName"] == "app/a" and e["timestamp"] == t and e["eventId"], e
    pages = list(logs.get_paginator("filter_log_events").paginate(
        logGroupName=g, logStreamNamePrefix="app/", PaginationConfig={"PageSize": 2}))
    assert [e["message"] for p in pages for e in p["events"]] == ["a0", "b0", "a1", "b1", "a2", "b2"]
    assert len(pages) == 3, pages
    r = logs.filter_log_events(logGroupName=g, logStreamNames=["other", "app/b"], startTime=t + 5,
                               endTime=t + 15)
    assert [e["message"] for e in r["events"]] == ["b0", "b1"], r  # endTime is inclusive
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:%s:*" % g
    assert len(logs.filter_log_events(logGroupIdentifier=arn)["events"]) == 7
    expect_error("InvalidParameterException", logs.filter_log_events, logGroupName=g,
                 logStreamNames=["x"], logStreamNamePrefix="x")
    expect_error("ResourceNotFoundException", logs.filter_log_events, logGroupName=g + "-nope")


def test_retention_hides_old_events():
    g = group_with_stream("ret")
    n = now_ms()
    put(g, "s1", ["old-1", "old-2"], t0=n - 3 * DAY_MS)
    put(g, "s1", ["new"], t0=n - 1000)
    assert len(logs.filter_log_events(logGroupName=g)["events"]) == 3
    logs.put_retention_policy(logGroupName=g, retentionInDays=1)
    assert [e["message"] for e in logs.filter_log_events(logGroupName=g)["events"]] == ["new"]
    got = logs.get_log_events(logGroupName=g, logStreamName="s1", startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["new"], got


def test_delete_group_removes_events():
    g = group_with_stream("del")
    put(g, "s1", ["x", "y"])
    logs.delete_log_group(logGroupName=g)
    logs.create_log_group(logGroupName=g)
    logs.create_log_stream(logGroupName=g, logStreamName="s1")
    assert logs.filter_log_events(logGroupName=g)["events"] == []
    assert logs.get_log_events(logGroupName=g, logStreamName="s1")["events"] == []


def test_awscli_tail():
    g = group_with_stream("tail")
    put(g, "s1", ["first line", "second ERROR line"], t0=now_ms() - 5000)
    out = cli("tail", g, "--format", "short")
    assert "first line" in out and "second ERROR line" in out, out
    out = cli("tail", g, "--since", "1h", "--filter-pattern", "ERROR")
    assert "second ERROR line" in out and "first line" not in out and " s1 " in out, out


def test_awscli_tail_follow():
    g = group_with_stream("follow")
    put(g, "s1", ["before follow"], t0=now_ms() - 2000)
    proc = subprocess.Popen([AWS, "--endpoint-url", EP, "logs", "tail", g, "--follow",
                             "--format", "short"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    lines = []
    reader = threading.Thread(target=lambda: [lines.append(l) for l in proc.stdout], daemon=True)
    reader.start()
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not any("before follow" in l for l in lines):
            time.sleep(0.2)
        assert any("before follow" in l for l in lines), lines
        put(g, "s1", ["after follow"], t0=now_ms())
        # the CLI polls every 5 seconds
        deadline = time.time() + 30
        while time.time() < deadline and not any("after follow" in l for l in lines):
            time.sleep(0.2)
        assert any("after follow" in l for l in lines), lines
        assert sum("before follow" in l for l in lines) == 1, lines  # no duplicates on re-polls
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_unsupported_operation():
    expect_error("UnknownOperationException", logs.describe_metric_filters)


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]

if __name__ == "__main__":
    h.main(TESTS)
