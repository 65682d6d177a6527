#!/usr/bin/env python3
"""EventBridge through boto3 and the AWS CLI: rules, targets, PutEvents, TestEventPattern, and
the pipeline start that every seed relies on: an S3 upload becomes an event ("Object Created"
or CloudTrail-shaped) that a rule matches and an API destination receives, transformed.

A real HTTP receiver (http.server on a loopback port) stands in for the webhook; it can be told
to fail, to check retries with backoff and the dead letters. Output: one TAP-like line per test
for tests/integration/run.
"""
import json
import os
import subprocess
import time

import harness as h
from harness import expect_error, uniq

ev, s3, ct = h.client("events"), h.client("s3"), h.client("cloudtrail")
RECV = h.Receiver()


def destination(path, rate=None):
    conn = ev.create_connection(Name=uniq("conn"), AuthorizationType="API_KEY",
                                AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k3y"}})
    kw = {"InvocationRateLimitPerSecond": rate} if rate else {}
    d = ev.create_api_destination(Name=uniq("dest"), ConnectionArn=conn["ConnectionArn"],
                                  InvocationEndpoint=RECV.url + path, HttpMethod="POST", **kw)
    return d["ApiDestinationArn"]


# ---------------------------------------------------------------------------------------------

PATTERN_CASES = [
    # (pattern, event detail, expected)
    ({"detail": {"k": ["a"]}}, {"k": "a"}, True),
    ({"detail": {"k": ["a"]}}, {"k": "b"}, False),
    ({"detail": {"k": [{"prefix": "in/"}]}}, {"k": "in/x"}, True),
    ({"detail": {"k": [{"suffix": ".jpg"}]}}, {"k": "a.png"}, False),
    ({"detail": {"n": [{"numeric": [">", 10, "<=", 20]}]}}, {"n": 20}, True),
    ({"detail": {"n": [{"numeric": [">", 10, "<=", 20]}]}}, {"n": 21}, False),
    ({"detail": {"k": [{"anything-but": ["x", "y"]}]}}, {"k": "z"}, True),
    ({"detail": {"k": [{"exists": False}]}}, {"other": 1}, True),
    ({"detail": {"k": [{"equals-ignore-case": "ABC"}]}}, {"k": "abc"}, True),
    ({"detail": {"k": [{"wildcard": "in/*.txt"}]}}, {"k": "in/a/b.txt"}, True),
    ({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}, {"ip": "10.0.0.7"}, True),
    ({"detail": {"$or": [{"a": [1]}, {"b": [2]}]}}, {"b": 2}, True),
    ({"detail": {"tags": ["x"]}}, {"tags": ["w", "x"]}, True),
]


def event_for(detail):
    return json.dumps({"id": "1", "account": "000000000000", "source": "my.app", "time": "2026-01-01T00:00:00Z",
                       "region": "us-east-1", "detail-type": "t", "resources": [], "detail": detail})


def test_test_event_pattern_boto3():
    for pattern, detail, want in PATTERN_CASES:
        got = ev.test_event_pattern(EventPattern=json.dumps(pattern), Event=event_for(detail))["Result"]
        assert got == want, "%s on %s: got %s" % (pattern, detail, got)
    e = expect_error("InvalidEventPatternException", ev.test_event_pattern,
                     EventPattern='{"detail": {"k": [{"numeric": ["<>", 1]}]}}', Event=event_for({}))
    assert "numeric" in str(e).lower() or "reason" in str(e).lower(), str(e)
    expect_error("InvalidEventPatternException", ev.test_event_pattern, EventPattern="{not json", Event=event_for({}))


def test_test_event_pattern_awscli():
    for pattern, detail, want in PATTERN_CASES[:5]:
        r = h.aws_json("events", "test-event-pattern", "--event-pattern", json.dumps(pattern),
                       "--event", event_for(detail))
        assert r["Result"] == want, (pattern, detail, r)
    out = h.aws("events", "test-event-pattern", "--event-pattern", '{"source": "not-a-list"}',
                "--event", event_for({}))
    assert out.returncode != 0 and "InvalidEventPatternException" in out.stderr, out.stderr


def test_rule_lifecycle():
    name = uniq("rule")
    arn = ev.put_rule(Name=name, EventPattern='{"source": ["my.app"]}', Description="d")["RuleArn"]
    assert arn == "arn:aws:events:us-east-1:000000000000:rule/" + name, arn
    r = ev.describe_rule(Name=name)
    assert r["State"] == "ENABLED" and r["EventBusName"] == "default" and r["Description"] == "d", r
    assert name in [x["Name"] for x in ev.list_rules(NamePrefix=name)["Rules"]]
    ev.disable_rule(Name=name)
    assert ev.describe_rule(Name=name)["State"] == "DISABLED"
    ev.enable_rule(Name=name)
    dest = destination("/lifecycle")
    ev.put_targets(Rule=name, Targets=[{"Id": "a", "Arn": dest}])
    assert ev.list_rule_names_by_target(TargetArn=dest)["RuleNames"] == [name]
    expect_error("ValidationException", ev.delete_rule, Name=name)
    ev.remove_targets(Rule=name, Ids=["a"])
    assert ev.list_targets_by_rule(Rule=name)["Targets"] == []
    ev.delete_rule(Name=name)
    expect_error("ResourceNotFoundException", ev.describe_rule, Name=name)
    expect_error("ValidationException", ev.put_rule, Name=uniq("r"))
    expect_error("InvalidEventPatternException", ev.put_rule, Name=uniq("r"), EventPattern='{"a": "b"}')
    expect_error("ResourceNotFoundException", ev.put_targets, Rule="no-such-rule", Targets=[{"Id": "a", "Arn": dest}])
    expect_error("ResourceNotFoundException", ev.put_rule, Name=uniq("r"), EventPattern='{"source":["x"]}',
                 EventBusName="no-such-bus")


def test_put_events_routes_and_validates():
    name = uniq("pe")
    ev.put_rule(Name=name, EventPattern=json.dumps({"source": ["shop"], "detail": {"total": [{"numeric": [">=", 100]}]}}))
    ev.put_targets(Rule=name, Targets=[{"Id": "t", "Arn": destination("/pe"), "InputPath": "$.detail"}])
    r = ev.put_events(Entries=[
        {"Source": "shop", "DetailType": "order", "Detail": json.dumps({"total": 150, "id": "big"})},
        {"Source": "shop", "DetailType": "order", "Detail": json.dumps({"total": 5, "id": "small"})},
        {"Source": "shop", "DetailType": "order"},
        {"Source": "shop", "DetailType": "order", "Detail": "{broken"},
    ])
    assert r["FailedEntryCount"] == 2, r
    assert "EventId" in r["Entries"][0] and "EventId" in r["Entries"][1], r
    assert r["Entries"][2]["ErrorCode"] == "InvalidArgument", r["Entries"][2]
    assert r["Entries"][3]["ErrorCode"] == "MalformedDetail", r["Entries"][3]
    got = RECV.wait(1, "/pe")
    time.sleep(0.3)
    got = RECV.at("/pe")
    assert len(got) == 1 and json.loads(got[0]["body"]) == {"total": 150, "id": "big"}, got
    assert got[0]["headers"].get("x-api-key") == "k3y", got[0]["headers"]
    expect_error("ValidationException", ev.put_events,
                 Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}] * 11)


def test_s3_object_created_to_api_destination():
    bucket = uniq("evbucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket=bucket)
    name = uniq("s3rule")
    ev.put_rule(Name=name, EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]},
                   "object": {"key": [{"prefix": "in/"}], "size": [{"numeric": [">", 3]}]}}}))
    ev.put_targets(Rule=name, Targets=[{"Id": "hook", "Arn": destination("/s3"), "InputTransformer": {
        "InputPathsMap": {"key": "$.detail.object.key", "size": "$.detail.object.size", "bucket": "$.detail.bucket.name"},
        "InputTemplate": '{"file": <key>, "bytes": <size>, "where": "s3://<bucket>/<key>", "rule": "<aws.events.rule-name>"}'}}])
    s3.put_object(Bucket=bucket, Key="in/photo.jpg", Body=b"12345678")
    s3.put_object(Bucket=bucket, Key="in/tiny.txt", Body=b"12")      # too small: no delivery
    s3.put_object(Bucket=bucket, Key="out/photo.jpg", Body=b"12345678")  # wrong prefix: no delivery
    got = RECV.wait(1, "/s3")
    time.sleep(0.5)
    got = RECV.at("/s3")
    assert len(got) == 1, got
    body = json.loads(got[0]["body"])
    assert body == {"file": "in/photo.jpg", "bytes": 8, "where": "s3://%s/in/photo.jpg" % bucket, "rule": name}, body


def test_event_shape_object_created():
    bucket = uniq("shape")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    name = uniq("shape")
    ev.put_rule(Name=name, EventPattern=json.dumps({"source": ["aws.s3"], "detail": {"bucket": {"name": [bucket]}}}))
    ev.put_targets(Rule=name, Targets=[{"Id": "all", "Arn": destination("/shape")}])
    put = s3.put_object(Bucket=bucket, Key="a b.txt", Body=b"hello")
    s3.delete_object(Bucket=bucket, Key="a b.txt")
    got = RECV.wait(2, "/shape")
    events = sorted((json.loads(r["body"]) for r in got), key=lambda e: e["detail-type"])
    created, deleted = events[0], events[1]
    assert created["detail-type"] == "Object Created" and deleted["detail-type"] == "Object Deleted", events
    for e in events:
        assert set(e) >= {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}, e
        assert e["source"] == "aws.s3" and e["account"] == "000000000000" and e["region"] == "us-east-1", e
        assert e["resources"] == ["arn:aws:s3:::" + bucket], e
        assert e["time"].endswith("Z") and len(e["time"]) == 20, e["time"]
    d = created["detail"]
    assert d["bucket"] == {"name": bucket}, d
    assert d["object"]["key"] == "a b.txt" and d["object"]["size"] == 5, d
    assert d["object"]["etag"] == put["ETag"].strip('"'), d
    assert len(d["object"]["sequencer"]) >= 16, d
    assert d["reason"] == "PutObject" and d["version"] == "0", d
    assert {"request-id", "requester", "source-ip-address"} <= set(d), d
    assert deleted["detail"]["reason"] == "DeleteObject", deleted
    assert deleted["detail"]["deletion-type"] == "Permanently Deleted", deleted
    assert deleted["detail"]["object"]["sequencer"] > d["object"]["sequencer"], (deleted, d)


def test_cloudtrail_data_events():
    bucket = uniq("trailed")
    s3.create_bucket(Bucket=bucket)
    trail = uniq("trail")
    arn = ct.create_trail(Name=trail, S3BucketName=bucket)["TrailARN"]
    ct.put_event_selectors(TrailName=arn, EventSelectors=[{
        "ReadWriteType": "WriteOnly", "IncludeManagementEvents": False,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::%s/input/" % bucket]}]}])
    assert ct.get_event_selectors(TrailName=trail)["EventSelectors"][0]["DataResources"][0]["Values"] == \
        ["arn:aws:s3:::%s/input/" % bucket]
    name = uniq("ctrule")
    ev.put_rule(Name=name, EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["s3.amazonaws.com"], "eventName": ["CopyObject", "PutObject", "CompleteMultipartUpload"],
                   "requestParameters": {"bucketName": [bucket]}}}))
    ev.put_targets(Rule=name, Targets=[{"Id": "ct", "Arn": destination("/ct")}])
    s3.put_object(Bucket=bucket, Key="input/before-logging.txt", Body=b"x")  # trail not logging yet
    ct.start_logging(Name=trail)
    assert ct.get_trail_status(Name=trail)["IsLogging"] is True
    s3.put_object(Bucket=bucket, Key="input/demo1.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="other/demo2.txt", Body=b"x")
    s3.copy_object(Bucket=bucket, Key="input/copy.txt", CopySource={"Bucket": bucket, "Key": "input/demo1.txt"})
    got = RECV.wait(2, "/ct")
    time.sleep(0.5)
    got = [json.loads(r["body"]) for r in RECV.at("/ct")]
    keys = sorted(e["detail"]["requestParameters"]["key"] for e in got)
    assert keys == ["input/copy.txt", "input/demo1.txt"], keys
    e = [x for x in got if x["detail"]["eventName"] == "PutObject"][0]
    assert e["detail"]["requestParameters"]["bucketName"] == bucket, e
    assert e["detail"]["eventCategory"] == "Data" and e["detail"]["eventType"] == "AwsApiCall", e
    ct.stop_logging(Name=trail)
    s3.put_object(Bucket=bucket, Key="input/after.txt", Body=b"x")
    time.sleep(0.5)
    assert len(RECV.at("/ct")) == 2
    ct.delete_trail(Name=trail)
    expect_error("TrailNotFoundException", ct.get_trail_status, Name=trail)


def test_retry_then_dead_letters_then_redrive():
    name = uniq("retry")
    ev.put_rule(Name=name, EventPattern=json.dumps({"source": ["retry.test"]}))
    ev.put_targets(Rule=name, Targets=[{"Id": "flaky", "Arn": destination("/flaky"),
                                        "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600}}])
    RECV.status = 503
    try:
        t0 = time.time()
        ev.put_events(Entries=[{"Source": "retry.test", "DetailType": "x", "Detail": "{\"n\": 1}"}])
        got = RECV.wait(3, "/flaky", timeout=15)
        assert len(got) == 3, got  # first try + 2 retries
        assert time.time() - t0 >= 2.5, "retries came without backoff"
        time.sleep(0.5)
        assert len(RECV.at("/flaky")) == 3
    finally:
        RECV.status = 200
    data = os.environ.get("SLUICE_DATA")
    if not data:
        return
    out = subprocess.run([os.environ["SLUICE_BIN"], "dead-letters", "list", "--data", data],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    dead = [d for d in json.loads(out.stdout)["DeadLetters"] if d["Rule"] == name]
    assert len(dead) == 1 and "503" in dead[0]["LastError"] and dead[0]["Attempts"] == 3, dead
    out = subprocess.run([os.environ["SLUICE_BIN"], "dead-letters", "redrive", "--data", data, str(dead[0]["Id"])],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "1", (out.stdout, out.stderr)
    got = RECV.wait(4, "/flaky", timeout=10)
    assert len(got) == 4 and json.loads(got[3]["body"])["detail"] == {"n": 1}, got


def test_client_error_goes_straight_to_dead_letters():
    name = uniq("bad")
    ev.put_rule(Name=name, EventPattern=json.dumps({"source": ["bad.test"]}))
    ev.put_targets(Rule=name, Targets=[{"Id": "bad", "Arn": destination("/bad")}])
    RECV.status = 400
    try:
        ev.put_events(Entries=[{"Source": "bad.test", "DetailType": "x", "Detail": "{}"}])
        RECV.wait(1, "/bad")
        time.sleep(2.5)
        assert len(RECV.at("/bad")) == 1, "a 400 answer must not be retried"
    finally:
        RECV.status = 200


def test_bus_to_bus():
    bus = uniq("bus")
    arn = ev.create_event_bus(Name=bus)["EventBusArn"]
    assert arn.endswith(":event-bus/" + bus), arn
    assert bus in [b["Name"] for b in ev.list_event_buses()["EventBuses"]]
    fwd = uniq("fwd")
    ev.put_rule(Name=fwd, EventPattern=json.dumps({"source": ["fwd.test"]}))
    ev.put_targets(Rule=fwd, Targets=[{"Id": "b", "Arn": arn}])
    on_bus = uniq("onbus")
    ev.put_rule(Name=on_bus, EventBusName=bus, EventPattern=json.dumps({"source": ["fwd.test"]}))
    ev.put_targets(Rule=on_bus, EventBusName=bus, Targets=[{"Id": "h", "Arn": destination("/bus")}])
    assert ev.describe_rule(Name=on_bus, EventBusName=bus)["Arn"].endswith(":rule/%s/%s" % (bus, on_bus))
    ev.put_events(Entries=[{"Source": "fwd.test", "DetailType": "x", "Detail": "{\"hop\": 1}"}])
    got = RECV.wait(1, "/bus")
    assert len(got) == 1 and json.loads(got[0]["body"])["detail"] == {"hop": 1}, got
    expect_error("ValidationException", ev.delete_event_bus, Name="default")


def test_unsupported_target_is_refused():
    name = uniq("unsup")
    ev.put_rule(Name=name, EventPattern='{"source": ["x"]}')
    r = ev.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:000000000000:q"}])
    assert r["FailedEntryCount"] == 1 and "sqs" in r["FailedEntries"][0]["ErrorMessage"], r


def test_schedule_validation():
    ev.put_rule(Name=uniq("sched"), ScheduleExpression="rate(5 minutes)")
    name = uniq("cron")
    ev.put_rule(Name=name, ScheduleExpression="cron(0 8 ? * MON-FRI *)")
    assert ev.describe_rule(Name=name)["ScheduleExpression"] == "cron(0 8 ? * MON-FRI *)"
    expect_error("ValidationException", ev.put_rule, Name=uniq("sched"), ScheduleExpression="rate(5 fortnights)")
    expect_error("ValidationException", ev.put_rule, Name=uniq("sched"), ScheduleExpression="rate(1 minutes)")
    expect_error("ValidationException", ev.put_rule, Name=uniq("sched"), ScheduleExpression="cron(0 8 * * * *)")
    bus = uniq("schedbus")
    ev.create_event_bus(Name=bus)
    expect_error("ValidationException", ev.put_rule, Name=uniq("sched"), EventBusName=bus,
                 ScheduleExpression="rate(5 minutes)")


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]

if __name__ == "__main__":
    h.main(TESTS)
