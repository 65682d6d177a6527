#!/usr/bin/env python3
"""CloudTrail data events through boto3 and the AWS CLI: advanced event selectors (resources.ARN
prefixes and suffixes, eventName, readOnly, Not* operators) decide which S3 calls become
"AWS API Call via CloudTrail" events, checked by what a rule with an API destination delivers to
a local HTTP receiver; PutEventSelectors validation; a DeleteObjects call is one CloudTrail
event while each of its keys still raises its own "Object Deleted". Output: one TAP-like line
per test for tests/integration/run.
"""
import json
import os
import time

import harness as h
from harness import expect_error, uniq

ev, s3, ct = h.client("events"), h.client("s3"), h.client("cloudtrail")
RECV = h.Receiver()


def aws(*args, check=True):
    """Runs the AWS CLI; with check, asserts success and returns its JSON answer (s3 commands
    print text: None)."""
    if check and args[0] != "s3":
        return h.aws_json(*args, timeout=120)
    out = h.aws(*args, check=check, timeout=120)
    return out if not check else None


def route_cloudtrail(bucket, path):
    """A rule sending every CloudTrail event about bucket to RECV at path."""
    conn = ev.create_connection(Name=uniq("conn"), AuthorizationType="API_KEY",
                                AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    dest = ev.create_api_destination(Name=uniq("dest"), ConnectionArn=conn["ConnectionArn"],
                                     InvocationEndpoint=RECV.url + path, HttpMethod="POST")["ApiDestinationArn"]
    rule = uniq("ct")
    ev.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["s3.amazonaws.com"], "requestParameters": {"bucketName": [bucket]}}}))
    ev.put_targets(Rule=rule, Targets=[{"Id": "recv", "Arn": dest}])


def logging_trail(bucket, **selectors):
    trail = uniq("trail")
    ct.create_trail(Name=trail, S3BucketName=bucket)
    ct.put_event_selectors(TrailName=trail, **selectors)
    ct.start_logging(Name=trail)
    return trail


def settle(path, count, timeout=10.0):
    """Waits for count events at path, then a little longer so that extra ones would show."""
    RECV.wait(count, path, timeout)
    time.sleep(0.7)
    return RECV.events(path)


def data_s3(*more):
    return {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                               {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}, *more]}


# ---------------------------------------------------------------------------------------------

def test_advanced_selectors_arn_prefix_and_suffix_boto3():
    bucket = uniq("adv")
    s3.create_bucket(Bucket=bucket)
    selectors = [dict(Name="writes under in/ and up/, no temp files", **data_s3(
        {"Field": "readOnly", "Equals": ["false"]},
        {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::%s/in/" % bucket, "arn:aws:s3:::%s/up/" % bucket],
         "NotEndsWith": [".tmp", ".part"]}))]
    trail = logging_trail(bucket, AdvancedEventSelectors=selectors)
    got = ct.get_event_selectors(TrailName=trail)
    assert got["AdvancedEventSelectors"] == selectors and "EventSelectors" not in got, got
    assert ct.get_trail(Name=trail)["Trail"]["HasCustomEventSelectors"] is True
    route_cloudtrail(bucket, "/prefix")
    for key in ["in/a.txt", "in/b.tmp", "up/c.part", "up/d.jpg", "out/e.txt", "inbox/f.txt"]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.copy_object(Bucket=bucket, Key="in/copy.txt", CopySource={"Bucket": bucket, "Key": "out/e.txt"})
    s3.copy_object(Bucket=bucket, Key="out/copy.txt", CopySource={"Bucket": bucket, "Key": "in/a.txt"})
    got = settle("/prefix", 3)
    seen = sorted((e["detail"]["eventName"], e["detail"]["requestParameters"]["key"]) for e in got)
    assert seen == [("CopyObject", "in/copy.txt"), ("PutObject", "in/a.txt"), ("PutObject", "up/d.jpg")], seen
    d = got[0]["detail"]
    assert d["eventCategory"] == "Data" and d["readOnly"] is False and d["managementEvent"] is False, d


def test_advanced_selectors_event_name_and_read_only_awscli():
    bucket = uniq("advcli")
    aws("s3api", "create-bucket", "--bucket", bucket)
    trail = uniq("trail")
    aws("cloudtrail", "create-trail", "--name", trail, "--s3-bucket-name", bucket)
    # Reads only (Sluice logs no reads: nothing), plus deletions and copies by name.
    selectors = [
        data_s3({"Field": "readOnly", "Equals": ["true"]}),
        data_s3({"Field": "eventName", "Equals": ["DeleteObject", "CopyObject"]},
                {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::%s/" % bucket]}),
    ]
    out = aws("cloudtrail", "put-event-selectors", "--trail-name", trail,
              "--advanced-event-selectors", json.dumps(selectors))
    assert out["AdvancedEventSelectors"] == selectors, out
    assert aws("cloudtrail", "get-event-selectors", "--trail-name", trail)["AdvancedEventSelectors"] == selectors
    aws("cloudtrail", "start-logging", "--name", trail)
    route_cloudtrail(bucket, "/names")
    src = os.path.join(os.environ.get("TMPDIR", "/tmp"), uniq("file"))
    with open(src, "w") as f:
        f.write("hello")
    try:
        aws("s3", "cp", src, "s3://%s/a.txt" % bucket)                       # PutObject: not selected
        aws("s3api", "copy-object", "--bucket", bucket, "--key", "b.txt", "--copy-source", "%s/a.txt" % bucket)
        aws("s3", "cp", "s3://%s/a.txt" % bucket, src + ".back")              # a read: not logged
        aws("s3", "rm", "s3://%s/a.txt" % bucket)                             # DeleteObject
        aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", "b.txt",
            "--tagging", '{"TagSet": [{"Key": "k", "Value": "v"}]}')        # not selected
    finally:
        for p in (src, src + ".back"):
            if os.path.exists(p):
                os.unlink(p)
    got = settle("/names", 2)
    seen = sorted((e["detail"]["eventName"], e["detail"]["requestParameters"]["key"]) for e in got)
    assert seen == [("CopyObject", "b.txt"), ("DeleteObject", "a.txt")], seen


def test_advanced_selectors_not_operators_and_or_across_selectors():
    bucket = uniq("advnot")
    s3.create_bucket(Bucket=bucket)
    logging_trail(bucket, AdvancedEventSelectors=[
        # in this bucket, everything but PutObject, outside tmp/
        data_s3({"Field": "eventName", "NotEquals": ["PutObject"]},
                {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::%s/" % bucket],
                 "NotStartsWith": ["arn:aws:s3:::%s/tmp/" % bucket]}),
        # and PutObject of .csv files
        data_s3({"Field": "eventName", "Equals": ["PutObject"]},
                {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::%s/" % bucket], "EndsWith": [".csv"]}),
    ])
    route_cloudtrail(bucket, "/not")
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"x")        # PutObject, not .csv: no
    s3.put_object(Bucket=bucket, Key="data.csv", Body=b"x")     # second selector: yes
    s3.put_object(Bucket=bucket, Key="tmp/t.csv", Body=b"x")    # second selector: yes
    s3.delete_object(Bucket=bucket, Key="a.txt")                # first selector: yes
    s3.delete_object(Bucket=bucket, Key="tmp/t.csv")            # tmp/ excluded: no
    got = settle("/not", 3)
    seen = sorted((e["detail"]["eventName"], e["detail"]["requestParameters"]["key"]) for e in got)
    assert seen == [("DeleteObject", "a.txt"), ("PutObject", "data.csv"), ("PutObject", "tmp/t.csv")], seen


def test_advanced_selectors_validation():
    bucket = uniq("advval")
    s3.create_bucket(Bucket=bucket)
    trail = uniq("trail")
    ct.create_trail(Name=trail, S3BucketName=bucket)
    bad = [
        [{"FieldSelectors": [{"Field": "resources.type", "Equals": ["AWS::S3::Object"]}]}],   # no eventCategory
        [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}],               # no resources.type
        [data_s3({"Field": "color", "Equals": ["red"]})],                                     # unknown field
        [data_s3({"Field": "readOnly", "NotEquals": ["true"]})],                              # Equals only
        [data_s3({"Field": "readOnly", "Equals": ["maybe"]})],
        [data_s3({"Field": "resources.ARN", "StartsWith": ["%s/in/" % bucket]})],             # not an ARN
        [data_s3({"Field": "eventName", "Equals": ["A"]}, {"Field": "eventName", "Equals": ["B"]})],
        [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]},
                             {"Field": "eventName", "Equals": ["PutObject"]}]}],
        [data_s3({"Field": "eventName"})],                                                    # no operator
    ]
    for sel in bad:
        expect_error("InvalidEventSelectorsException", ct.put_event_selectors, TrailName=trail,
                     AdvancedEventSelectors=sel)
    expect_error("InvalidEventSelectorsException", ct.put_event_selectors, TrailName=trail,
                 AdvancedEventSelectors=[data_s3()], EventSelectors=[{"ReadWriteType": "All"}])
    many = [data_s3({"Field": "eventName", "Equals": ["E%d" % i for i in range(100)]}) for _ in range(5)]
    expect_error("InvalidEventSelectorsException", ct.put_event_selectors, TrailName=trail,
                 AdvancedEventSelectors=many)  # 510 values: the limit is 500
    out = aws("cloudtrail", "put-event-selectors", "--trail-name", trail, "--advanced-event-selectors",
              json.dumps([data_s3({"Field": "color", "Equals": ["red"]})]), check=False)
    assert out.returncode != 0 and "InvalidEventSelectorsException" in out.stderr, out.stderr
    expect_error("TrailNotFoundException", ct.put_event_selectors, TrailName=uniq("none"),
                 AdvancedEventSelectors=[data_s3()])
    # A trail has either kind: advanced replace basic and basic replace advanced.
    ct.put_event_selectors(TrailName=trail, EventSelectors=[{"ReadWriteType": "WriteOnly", "DataResources": [
        {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::%s/" % bucket]}]}])
    ct.put_event_selectors(TrailName=trail, AdvancedEventSelectors=[data_s3()])
    got = ct.get_event_selectors(TrailName=trail)
    assert "EventSelectors" not in got and len(got["AdvancedEventSelectors"]) == 1, got
    ct.put_event_selectors(TrailName=trail, EventSelectors=[{"ReadWriteType": "All"}])
    got = ct.get_event_selectors(TrailName=trail)
    assert "AdvancedEventSelectors" not in got and got["EventSelectors"][0]["ReadWriteType"] == "All", got


def test_delete_objects_is_one_cloudtrail_event():
    bucket = uniq("delobjs")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    logging_trail(bucket, AdvancedEventSelectors=[data_s3(
        {"Field": "eventName", "Equals": ["DeleteObjects", "DeleteObject"]},
        {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::%s/in/" % bucket]})])
    route_cloudtrail(bucket, "/delobjs")
    rule = uniq("objdel")
    conn = ev.create_connection(Name=uniq("conn"), AuthorizationType="BASIC",
                                AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}})
    dest = ev.create_api_destination(Name=uniq("dest"), ConnectionArn=conn["ConnectionArn"],
                                     InvocationEndpoint=RECV.url + "/objdel", HttpMethod="POST")["ApiDestinationArn"]
    ev.put_rule(Name=rule, EventPattern=json.dumps({"source": ["aws.s3"], "detail-type": ["Object Deleted"],
                                                    "detail": {"bucket": {"name": [bucket]}}}))
    ev.put_targets(Rule=rule, Targets=[{"Id": "d", "Arn": dest}])
    keys = ["in/1.txt", "in/2.txt", "other/3.txt"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in r["Deleted"]) == keys, r
    got = settle("/delobjs", 1)
    assert len(got) == 1, got
    d = got[0]["detail"]
    assert d["eventName"] == "DeleteObjects" and d["eventSource"] == "s3.amazonaws.com", d
    assert d["requestParameters"] == {"bucketName": bucket, "Host": "s3.amazonaws.com", "delete": ""}, d
    assert d["resources"] == [
        {"type": "AWS::S3::Object", "ARNPrefix": "arn:aws:s3:::%s/" % bucket},
        {"accountId": "000000000000", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + bucket}], d
    assert d["readOnly"] is False and d["eventCategory"] == "Data", d
    deleted = settle("/objdel", 3)
    assert sorted(e["detail"]["object"]["key"] for e in deleted) == keys, deleted
    # No selected key: no CloudTrail event at all.
    s3.put_object(Bucket=bucket, Key="other/4.txt", Body=b"x")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "other/4.txt"}, {"Key": "nope"}], "Quiet": True})
    settle("/objdel", 5)
    assert len(RECV.events("/delobjs")) == 1, RECV.events("/delobjs")
    # The same through the AWS CLI: again one event.
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    out = aws("s3api", "delete-objects", "--bucket", bucket,
              "--delete", json.dumps({"Objects": [{"Key": k} for k in keys]}))
    assert len(out["Deleted"]) == 3, out
    got = settle("/delobjs", 2)
    assert [e["detail"]["eventName"] for e in got] == ["DeleteObjects", "DeleteObjects"], got


def test_basic_selectors_still_select_delete_objects():
    bucket = uniq("delbasic")
    s3.create_bucket(Bucket=bucket)
    logging_trail(bucket, EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": False,
                                          "DataResources": [{"Type": "AWS::S3::Object",
                                                             "Values": ["arn:aws:s3:::%s/in/" % bucket]}]}])
    route_cloudtrail(bucket, "/delbasic")
    s3.put_object(Bucket=bucket, Key="in/a", Body=b"x")
    s3.put_object(Bucket=bucket, Key="in/b", Body=b"x")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "in/a"}, {"Key": "in/b"}]})
    got = settle("/delbasic", 3)
    names = sorted(e["detail"]["eventName"] for e in got)
    assert names == ["DeleteObjects", "PutObject", "PutObject"], names


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]

if __name__ == "__main__":
    h.main(TESTS)
