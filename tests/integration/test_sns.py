#!/usr/bin/env python3
# sluice-integration: own-daemon
"""SNS through boto3 and the AWS CLI against a daemon this file starts itself (it needs the
daemon configured with an SMTP server, and kills it with -9 once): topics (idempotent
CreateTopic, attributes, paging, tags, FIFO refused), subscriptions confirmed through the
SubscribeURL a receiver gets, Publish delivered with SNS's headers and a signature that verifies
against the certificate at SigningCertURL, RawMessageDelivery, filter policies (message
attributes and body), PublishBatch with a failing entry, SNS's errors, a receiver failing then
recovering (retries on the delivery policy), kill -9 between Publish and delivery, email and
email-json through a real SMTP server (aiosmtpd), S3 uploads and s3:TestEvent published to a
topic, EventBridge rules with SNS targets and the Step Functions sns:publish integration.

Output: one TAP-like line per test for tests/integration/run."""
import base64
import email
import glob
import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

import harness as h
from harness import ACCOUNT, expect_error, uniq

HERE = os.path.dirname(os.path.abspath(__file__))
STATE = {}


def ep():
    return STATE["ep"]


def sns():
    return h.client("sns", endpoint=ep())


def cli(*args):
    return h.aws_json("sns", *args, endpoint=ep())


# ---- the daemon and the SMTP server ----

def start_smtp():
    mail_dir = tempfile.mkdtemp(prefix="sluice-sns-mail-")
    port = h.free_port()
    env = dict(os.environ, PYTHONPATH=HERE)
    proc = subprocess.Popen(["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l",
                             "127.0.0.1:%d" % port, "-c", "smtp_sink.Sink", mail_dir],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=h.log_file("smtp"))
    import socket
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None, "aiosmtpd exited (is python3-aiosmtpd installed?)"
            time.sleep(0.1)
    STATE.update(smtp=proc, smtp_port=port, mail_dir=mail_dir)


def start_daemon(data=None):
    data = data or STATE.get("data") or tempfile.mkdtemp(prefix="sluice-sns-")
    port = STATE.get("port") or h.free_port()
    env = dict(os.environ, SLUICE_SMTP_URL="smtp://127.0.0.1:%d" % STATE["smtp_port"],
               SLUICE_SMTP_FROM="sns@sluice.test")
    STATE.update(data=data, port=port, ep="http://127.0.0.1:%d" % port)
    STATE["proc"] = h.serve(data, port, env=env)


def setup():
    start_smtp()
    start_daemon()


def stop_all():
    h.stop(STATE.get("proc"))
    if STATE.get("smtp"):
        STATE["smtp"].terminate()
        STATE["smtp"].wait(10)


def check():
    assert h.healthy(ep())


# ---- helpers ----

def topic(name=None, **kw):
    return sns().create_topic(Name=name or uniq("t"), **kw)["TopicArn"]


def fast_retries(arn, delay=1, retries=3):
    policy = {"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": delay, "maxDelayTarget": delay,
                                                     "numRetries": retries, "backoffFunction": "linear"}}}
    sns().set_topic_attributes(TopicArn=arn, AttributeName="DeliveryPolicy",
                               AttributeValue=json.dumps(policy))


def subscribe_http(arn, recv, path, attributes=None):
    """Subscribes recv's path and confirms through the SubscribeURL it receives."""
    r = sns().subscribe(TopicArn=arn, Protocol="http", Endpoint=recv.url + path,
                        Attributes=attributes or {})
    assert r["SubscriptionArn"] == "pending confirmation", r
    got = recv.wait(1, path=path)
    assert got, "no SubscriptionConfirmation arrived"
    doc = json.loads(got[0]["body"])
    assert doc["Type"] == "SubscriptionConfirmation", doc
    assert got[0]["headers"]["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    with urllib.request.urlopen(doc["SubscribeURL"], timeout=10) as resp:
        body = resp.read().decode()
    assert "<SubscriptionArn>%s:" % arn in body, body
    sub = body.split("<SubscriptionArn>")[1].split("</SubscriptionArn>")[0]
    recv.requests.clear()
    return sub


def verify_signature(doc):
    with urllib.request.urlopen(doc["SigningCertURL"], timeout=10) as resp:
        cert = x509.load_pem_x509_certificate(resp.read())
    if doc["Type"] == "Notification":
        fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        fields = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join("%s\n%s\n" % (f, doc[f]) for f in fields if f in doc)
    algo = hashes.SHA1() if doc["SignatureVersion"] == "1" else hashes.SHA256()
    cert.public_key().verify(base64.b64decode(doc["Signature"]), text.encode(), padding.PKCS1v15(), algo)


def mails(count, timeout=15):
    deadline = time.time() + timeout
    while True:
        files = sorted(glob.glob(os.path.join(STATE["mail_dir"], "*.eml")))
        if len(files) >= count or time.time() > deadline:
            out = []
            for f in files:
                with open(f, "rb") as fh:
                    out.append(email.message_from_bytes(fh.read()))
            return out
        time.sleep(0.1)


# ---- topics ----

def test_create_topic_idempotent_and_attributes():
    c = sns()
    name = uniq("topic")
    arn = c.create_topic(Name=name, Attributes={"DisplayName": "Mine"},
                         Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    assert arn == "arn:aws:sns:us-east-1:%s:%s" % (ACCOUNT, name)
    assert c.create_topic(Name=name, Attributes={"DisplayName": "Mine"})["TopicArn"] == arn
    expect_error("InvalidParameter", c.create_topic, Name=name, Attributes={"DisplayName": "Other"})
    attrs = c.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["DisplayName"] == "Mine" and attrs["TopicArn"] == arn and attrs["Owner"] == ACCOUNT
    assert attrs["SubscriptionsConfirmed"] == "0" and json.loads(attrs["Policy"])["Statement"]
    c.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="New")
    assert c.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "New"
    assert c.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    c.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}])
    tags = {t["Key"]: t["Value"] for t in c.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"team": "b", "env": "dev"}, tags
    c.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert c.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    c.delete_topic(TopicArn=arn)
    expect_error("NotFound", c.get_topic_attributes, TopicArn=arn)
    c.delete_topic(TopicArn=arn)  # deleting a missing topic succeeds, as on AWS


def test_list_topics_pages():
    c = sns()
    prefix = uniq("page")
    made = {topic("%s-%03d" % (prefix, i)) for i in range(105)}
    seen, token, pages = set(), None, 0
    while True:
        r = c.list_topics(**({"NextToken": token} if token else {}))
        pages += 1
        assert len(r["Topics"]) <= 100
        seen |= {t["TopicArn"] for t in r["Topics"]}
        token = r.get("NextToken")
        if not token:
            break
    assert made <= seen and pages >= 2
    paginated = {t["TopicArn"] for p in c.get_paginator("list_topics").paginate() for t in p["Topics"]}
    assert made <= paginated


def test_topic_errors():
    c = sns()
    expect_error("InvalidParameter", c.create_topic, Name="bad name!")
    expect_error("InvalidParameter", c.create_topic, Name="x" * 257)
    err = expect_error("InvalidParameter", c.create_topic, Name=uniq("f") + ".fifo",
                       Attributes={"FifoTopic": "true"})
    assert "FIFO" in str(err)
    expect_error("InvalidParameter", c.get_topic_attributes, TopicArn="not-an-arn")
    expect_error("NotFound", c.get_topic_attributes, TopicArn="arn:aws:sns:us-east-1:%s:nope" % ACCOUNT)
    arn = topic()
    expect_error("InvalidParameter", c.set_topic_attributes, TopicArn=arn, AttributeName="Bogus",
                 AttributeValue="x")
    expect_error("ResourceNotFound", c.list_tags_for_resource,
                 ResourceArn="arn:aws:sns:us-east-1:%s:nope" % ACCOUNT)
    expect_error("InvalidParameter", c.subscribe, TopicArn=arn, Protocol="sqs",
                 Endpoint="arn:aws:sqs:us-east-1:%s:q" % ACCOUNT)
    expect_error("InvalidParameter", c.subscribe, TopicArn=arn, Protocol="carrier-pigeon", Endpoint="x")
    expect_error("InvalidParameter", c.subscribe, TopicArn=arn, Protocol="https", Endpoint="http://x/")
    expect_error("InvalidParameter", c.subscribe, TopicArn=arn, Protocol="email", Endpoint="nobody")
    expect_error("NotFound", c.subscribe, TopicArn="arn:aws:sns:us-east-1:%s:nope" % ACCOUNT,
                 Protocol="http", Endpoint="http://127.0.0.1:9/")
    expect_error("InvalidParameter", c.publish, TopicArn=arn, Message="")
    expect_error("InvalidParameter", c.publish, TopicArn=arn, Message="m", Subject="x" * 101)
    expect_error("InvalidParameter", c.publish, TopicArn=arn, Message="m", TargetArn=arn)
    expect_error("InvalidParameter", c.publish, TopicArn=arn, Message="not json", MessageStructure="json")
    expect_error("InvalidParameter", c.publish, TopicArn=arn, Message='{"http": "x"}', MessageStructure="json")
    expect_error("ParameterValueInvalid", c.publish, TopicArn=arn, Message="m",
                 MessageAttributes={"n": {"DataType": "Number", "StringValue": "ten"}})
    expect_error("ParameterValueInvalid", c.publish, TopicArn=arn, Message="m",
                 MessageAttributes={"n": {"DataType": "Float", "StringValue": "1"}})
    expect_error("ParameterValueInvalid", c.publish, TopicArn=arn, Message="m",
                 MessageAttributes={"a%d" % i: {"DataType": "String", "StringValue": "v"} for i in range(11)})
    expect_error("InvalidParameter", c.publish, TopicArn=arn, Message="m", MessageGroupId="g")
    expect_error("InvalidParameter", c.unsubscribe, SubscriptionArn="nope")
    expect_error("NotFound", c.unsubscribe, SubscriptionArn=arn + ":00000000-0000-4000-8000-000000000000")
    expect_error("InvalidAction", c.create_platform_application, Name="p", Platform="GCM", Attributes={})


def test_awscli_topics_and_publish():
    name = uniq("cli")
    arn = cli("create-topic", "--name", name)["TopicArn"]
    assert arn.endswith(":" + name)
    assert arn in [t["TopicArn"] for t in cli("list-topics")["Topics"]]
    recv = h.Receiver()
    subscribe_http(arn, recv, "/cli")
    out = cli("publish", "--topic-arn", arn, "--message", "from the cli", "--subject", "cli",
              "--message-attributes", '{"kind": {"DataType": "String", "StringValue": "x"}}')
    doc = json.loads(recv.wait(1, path="/cli")[0]["body"])
    assert doc["MessageId"] == out["MessageId"] and doc["Message"] == "from the cli"
    assert doc["MessageAttributes"] == {"kind": {"Type": "String", "Value": "x"}}
    subs = cli("list-subscriptions-by-topic", "--topic-arn", arn)["Subscriptions"]
    assert len(subs) == 1 and subs[0]["Protocol"] == "http"
    bad = h.aws("sns", "get-topic-attributes", "--topic-arn", arn + "-missing", endpoint=ep())
    assert bad.returncode == 254 and "NotFound" in bad.stderr, bad.stderr
    recv.shutdown()


# ---- HTTP delivery ----

def test_http_confirm_publish_headers_and_signature():
    c = sns()
    arn = topic()
    recv = h.Receiver()
    sub = subscribe_http(arn, recv, "/hook")
    attrs = c.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["PendingConfirmation"] == "false" and attrs["Protocol"] == "http"
    # Subscribe is idempotent for the same endpoint, unless other attributes are asked for
    again = c.subscribe(TopicArn=arn, Protocol="http", Endpoint=recv.url + "/hook")
    assert again["SubscriptionArn"] == sub, again
    expect_error("InvalidParameter", c.subscribe, TopicArn=arn, Protocol="http",
                 Endpoint=recv.url + "/hook", Attributes={"RawMessageDelivery": "true"})
    listed = c.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [sub]
    r = c.publish(TopicArn=arn, Message="hello world", Subject="greeting",
                  MessageAttributes={"color": {"DataType": "String", "StringValue": "red"},
                                     "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    got = recv.wait(1, path="/hook")
    assert got, "no notification"
    req = got[0]
    hd = {k.lower(): v for k, v in req["headers"].items()}
    assert hd["x-amz-sns-message-type"] == "Notification"
    assert hd["x-amz-sns-message-id"] == r["MessageId"]
    assert hd["x-amz-sns-topic-arn"] == arn
    assert hd["x-amz-sns-subscription-arn"] == sub
    assert hd["content-type"] == "text/plain; charset=UTF-8"
    doc = json.loads(req["body"])
    assert doc["Type"] == "Notification" and doc["MessageId"] == r["MessageId"]
    assert doc["TopicArn"] == arn and doc["Subject"] == "greeting" and doc["Message"] == "hello world"
    assert doc["SignatureVersion"] == "1" and doc["Timestamp"].endswith("Z")
    assert doc["MessageAttributes"]["color"] == {"Type": "String", "Value": "red"}
    assert doc["MessageAttributes"]["blob"] == {"Type": "Binary", "Value": "AAE="}
    assert doc["UnsubscribeURL"].startswith(ep() + "/?Action=Unsubscribe")
    verify_signature(doc)
    c.set_topic_attributes(TopicArn=arn, AttributeName="SignatureVersion", AttributeValue="2")
    c.publish(TopicArn=arn, Message="v2")
    doc2 = json.loads(recv.wait(2, path="/hook")[1]["body"])
    assert doc2["SignatureVersion"] == "2"
    verify_signature(doc2)
    # the UnsubscribeURL works unsigned, as on AWS
    with urllib.request.urlopen(doc["UnsubscribeURL"], timeout=10) as resp:
        assert b"UnsubscribeResponse" in resp.read()
    assert c.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []
    recv.shutdown()


def test_message_structure_json():
    c = sns()
    arn = topic()
    recv = h.Receiver()
    subscribe_http(arn, recv, "/ms")
    c.publish(TopicArn=arn, MessageStructure="json",
              Message=json.dumps({"default": "plain", "http": "for http"}))
    c.publish(TopicArn=arn, MessageStructure="json", Message=json.dumps({"default": "only default"}))
    got = [json.loads(r["body"])["Message"] for r in recv.wait(2, path="/ms")]
    assert sorted(got) == ["for http", "only default"], got
    recv.shutdown()


def test_raw_message_delivery():
    c = sns()
    arn = topic()
    recv = h.Receiver()
    sub = subscribe_http(arn, recv, "/raw", attributes={"RawMessageDelivery": "true"})
    assert c.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RawMessageDelivery"] == "true"
    c.publish(TopicArn=arn, Message='{"raw": true}', Subject="s")
    req = recv.wait(1, path="/raw")[0]
    assert req["body"] == '{"raw": true}', req["body"]
    hd = {k.lower(): v for k, v in req["headers"].items()}
    assert hd["x-amz-sns-message-type"] == "Notification" and hd["x-amz-sns-subscription-arn"] == sub
    c.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery",
                                  AttributeValue="false")
    c.set_subscription_attributes(SubscriptionArn=sub, AttributeName="DeliveryPolicy",
                                  AttributeValue=json.dumps({"requestPolicy": {
                                      "headerContentType": "application/json"}}))
    c.publish(TopicArn=arn, Message="wrapped")
    req = recv.wait(2, path="/raw")[1]
    assert json.loads(req["body"])["Message"] == "wrapped"
    assert {k.lower(): v for k, v in req["headers"].items()}["content-type"] == "application/json"
    expect_error("InvalidParameter", c.set_subscription_attributes, SubscriptionArn=sub,
                 AttributeName="RawMessageDelivery", AttributeValue="maybe")
    recv.shutdown()


def test_filter_policies():
    c = sns()
    arn = topic()
    recv = h.Receiver()
    policy = {"store": ["example_corp"], "price": [{"numeric": [">=", 100]}],
              "tags": ["urgent"]}
    sub = subscribe_http(arn, recv, "/attrs", attributes={"FilterPolicy": json.dumps(policy)})
    body_policy = {"order": {"kind": [{"prefix": "book"}]}}
    subscribe_http(arn, recv, "/body", attributes={"FilterPolicy": json.dumps(body_policy),
                                                   "FilterPolicyScope": "MessageBody"})
    def attrs(store, price, tags):
        return {"store": {"DataType": "String", "StringValue": store},
                "price": {"DataType": "Number", "StringValue": str(price)},
                "tags": {"DataType": "String.Array", "StringValue": json.dumps(tags)}}
    c.publish(TopicArn=arn, Message="match", MessageAttributes=attrs("example_corp", 150, ["x", "urgent"]))
    c.publish(TopicArn=arn, Message="cheap", MessageAttributes=attrs("example_corp", 50, ["urgent"]))
    c.publish(TopicArn=arn, Message="other store", MessageAttributes=attrs("acme", 150, ["urgent"]))
    c.publish(TopicArn=arn, Message="no attributes")
    c.publish(TopicArn=arn, Message=json.dumps({"order": {"kind": "bookcase"}}))
    c.publish(TopicArn=arn, Message=json.dumps({"order": {"kind": "lamp"}}))
    time.sleep(1.5)
    got_attrs = [json.loads(r["body"])["Message"] for r in recv.at("/attrs")]
    got_body = [json.loads(r["body"])["Message"] for r in recv.at("/body")]
    assert got_attrs == ["match"], got_attrs
    assert got_body == [json.dumps({"order": {"kind": "bookcase"}})], got_body
    a = c.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert json.loads(a["FilterPolicy"]) == policy and a["FilterPolicyScope"] == "MessageAttributes"
    for bad in ['{"a": "not-a-list"}', "[1]", "{nope", json.dumps({"a": {"b": ["c"]}}),
                json.dumps({k: ["v"] for k in "abcdef"}),
                json.dumps({"a": [{"numeric": ["<>", 1]}]})]:
        err = expect_error("InvalidParameter", c.set_subscription_attributes, SubscriptionArn=sub,
                           AttributeName="FilterPolicy", AttributeValue=bad)
        assert "FilterPolicy" in str(err), (bad, str(err))
    # the same nested policy is fine in the MessageBody scope
    c.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicyScope",
                                  AttributeValue="MessageBody")
    c.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                  AttributeValue=json.dumps({"a": {"b": ["c"]}}))
    recv.shutdown()


def test_publish_batch():
    c = sns()
    arn = topic()
    recv = h.Receiver()
    subscribe_http(arn, recv, "/batch")
    r = c.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "one", "Message": "m1", "Subject": "s1"},
        {"Id": "two", "Message": "m2", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "x"}}},
        {"Id": "three", "Message": "m3", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
        {"Id": "four", "Message": ""},
    ])
    assert sorted(s["Id"] for s in r["Successful"]) == ["one", "three"], r
    failed = {f["Id"]: f for f in r["Failed"]}
    assert set(failed) == {"two", "four"} and all(f["SenderFault"] for f in failed.values())
    assert failed["two"]["Code"] == "ParameterValueInvalid" and failed["four"]["Code"] == "InvalidParameter"
    got = sorted(json.loads(x["body"])["Message"] for x in recv.wait(2, path="/batch"))
    assert got == ["m1", "m3"], got
    expect_error("EmptyBatchRequest", c.publish_batch, TopicArn=arn, PublishBatchRequestEntries=[])
    expect_error("TooManyEntriesInBatchRequest", c.publish_batch, TopicArn=arn,
                 PublishBatchRequestEntries=[{"Id": "i%d" % i, "Message": "m"} for i in range(11)])
    expect_error("BatchEntryIdsNotDistinct", c.publish_batch, TopicArn=arn,
                 PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}, {"Id": "a", "Message": "n"}])
    expect_error("InvalidBatchEntryId", c.publish_batch, TopicArn=arn,
                 PublishBatchRequestEntries=[{"Id": "bad id!", "Message": "m"}])
    expect_error("NotFound", c.publish_batch, TopicArn=arn + "-missing",
                 PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}])
    recv.shutdown()


def test_receiver_fails_then_recovers():
    c = sns()
    arn = topic()
    fast_retries(arn, delay=1, retries=3)
    answers = [500, 503]

    def answer(req):
        doc = json.loads(req["body"])
        if doc["Type"] == "Notification" and answers:
            return answers.pop(0)
        return 200

    recv = h.Receiver(answer=answer)
    subscribe_http(arn, recv, "/flaky")
    c.publish(TopicArn=arn, Message="persistent")
    got = recv.wait(3, path="/flaky", timeout=15)
    assert [r["status"] for r in got] == [500, 503, 200], [r["status"] for r in got]
    ids = {json.loads(r["body"])["MessageId"] for r in got}
    assert len(ids) == 1
    # a 4xx answer is final: no retry
    recv.answer = lambda req: 404
    c.publish(TopicArn=arn, Message="refused")
    time.sleep(2.5)
    refused = [r for r in recv.at("/flaky") if json.loads(r["body"]).get("Message") == "refused"]
    assert len(refused) == 1, refused
    recv.shutdown()


def test_slow_endpoint_does_not_hold_up_others():
    c = sns()
    arn = topic()
    slow_started = threading.Event()

    def slow(req):
        if json.loads(req["body"])["Type"] == "Notification":
            slow_started.set()
            time.sleep(4)
        return 200

    slow_recv, fast_recv = h.Receiver(answer=slow), h.Receiver()
    subscribe_http(arn, slow_recv, "/slow")
    subscribe_http(arn, fast_recv, "/fast")
    for i in range(3):
        c.publish(TopicArn=arn, Message="m%d" % i)
    started = time.time()
    got = fast_recv.wait(3, path="/fast", timeout=10)
    assert len(got) == 3, got
    assert slow_started.is_set()
    assert time.time() - started < 3.5, "the fast endpoint waited for the slow one"
    slow_recv.wait(3, path="/slow", timeout=20)
    slow_recv.shutdown()
    fast_recv.shutdown()


# ---- email ----

def test_email_through_smtp():
    c = sns()
    arn = topic()
    before = len(mails(0, timeout=0))
    sub = c.subscribe(TopicArn=arn, Protocol="email", Endpoint="someone@example.test",
                      ReturnSubscriptionArn=True)["SubscriptionArn"]
    got = mails(before + 1)
    assert len(got) == before + 1, "no confirmation mail"
    conf = got[-1]
    assert conf["To"] == "<someone@example.test>" and "sns@sluice.test" in conf["From"]
    assert conf["Subject"] == "AWS Notification - Subscription Confirmation"
    text = conf.get_payload(decode=True).decode()
    link = [w for w in text.split() if "Action=ConfirmSubscription" in w]
    assert link, text
    assert c.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["PendingConfirmation"] == "true"
    with urllib.request.urlopen(link[0], timeout=10) as resp:
        assert sub.encode() in resp.read()
    c.publish(TopicArn=arn, Message="mail body line", Subject="Mail subject")
    got = mails(before + 2)
    msg = got[-1]
    assert msg["Subject"] == "Mail subject", msg["Subject"]
    body = msg.get_payload(decode=True).decode()
    assert body.startswith("mail body line") and "Action=Unsubscribe" in body, body
    # email-json carries the JSON document
    c.subscribe(TopicArn=arn, Protocol="email-json", Endpoint="json@example.test")
    conf = mails(before + 3)[-1]
    doc = json.loads(conf.get_payload(decode=True).decode())
    assert doc["Type"] == "SubscriptionConfirmation"
    urllib.request.urlopen(doc["SubscribeURL"], timeout=10).read()
    c.publish(TopicArn=arn, Message="json mail")
    got = mails(before + 5)
    docs = [json.loads(m.get_payload(decode=True).decode()) for m in got[before + 3:]
            if m["To"] == "<json@example.test>"]
    assert [d["Message"] for d in docs] == ["json mail"], docs
    verify_signature(docs[0])


# ---- crash ----

def test_kill9_between_publish_and_delivery():
    c = sns()
    arn = topic()
    fast_retries(arn, delay=1, retries=30)
    hook_port = h.free_port()
    recv = h.Receiver(port=hook_port)
    subscribe_http(arn, recv, "/crash")
    recv.shutdown()
    recv.server_close()
    ids = [c.publish(TopicArn=arn, Message="m%d" % i)["MessageId"] for i in range(5)]
    h.kill9(STATE["proc"])
    recv = h.Receiver(port=hook_port)
    start_daemon()
    got = recv.wait(5, path="/crash", timeout=30)
    assert sorted(json.loads(r["body"])["MessageId"] for r in got) == sorted(ids), got
    recv.shutdown()


# ---- S3 topic notifications ----

def s3():
    return h.client("s3", endpoint=ep())


def s3_topic_setup(recv, path, bucket, events=("s3:ObjectCreated:*",), rules=None):
    arn = topic()
    subscribe_http(arn, recv, path)
    s3().create_bucket(Bucket=bucket)
    conf = {"Id": "cfg-1", "TopicArn": arn, "Events": list(events)}
    if rules:
        conf["Filter"] = {"Key": {"FilterRules": rules}}
    s3().put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"TopicConfigurations": [conf]})
    return arn


def test_s3_test_event_and_missing_topic():
    recv = h.Receiver()
    bucket = uniq("sns-test-event")
    arn = s3_topic_setup(recv, "/te", bucket)
    got = recv.wait(1, path="/te")
    doc = json.loads(got[0]["body"])
    assert doc["Subject"] == "Amazon S3 Notification" and doc["TopicArn"] == arn
    test = json.loads(doc["Message"])
    assert test["Service"] == "Amazon S3" and test["Event"] == "s3:TestEvent", test
    assert test["Bucket"] == bucket and test["RequestId"] and test["HostId"] and test["Time"].endswith("Z")
    missing = "arn:aws:sns:us-east-1:%s:%s" % (ACCOUNT, uniq("nope"))
    err = expect_error("InvalidArgument", s3().put_bucket_notification_configuration, Bucket=bucket,
                       NotificationConfiguration={"TopicConfigurations": [
                           {"TopicArn": missing, "Events": ["s3:ObjectCreated:*"]}]})
    assert "Unable to validate the following destination configurations" in str(err)
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # the configuration that was there stays
    cfg = s3().get_bucket_notification_configuration(Bucket=bucket)
    assert cfg["TopicConfigurations"][0]["TopicArn"] == arn
    recv.shutdown()


def test_s3_upload_reaches_topic_as_records():
    recv = h.Receiver()
    bucket = uniq("sns-records")
    arn = s3_topic_setup(recv, "/rec", bucket, events=("s3:ObjectCreated:*", "s3:ObjectRemoved:*"),
                         rules=[{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".csv"}])
    recv.wait(1, path="/rec")
    recv.requests.clear()
    s3().put_object(Bucket=bucket, Key="in/a b+c.csv", Body=b"12345")
    s3().put_object(Bucket=bucket, Key="out/skip.csv", Body=b"x")
    s3().put_object(Bucket=bucket, Key="in/skip.txt", Body=b"x")
    s3().delete_object(Bucket=bucket, Key="in/a b+c.csv")
    got = recv.wait(2, path="/rec")
    time.sleep(0.5)
    got = recv.at("/rec")
    assert len(got) == 2, [r["body"] for r in got]
    docs = [json.loads(r["body"]) for r in got]
    assert all(d["Subject"] == "Amazon S3 Notification" and d["TopicArn"] == arn for d in docs)
    put, delete = [json.loads(d["Message"])["Records"][0] for d in docs]
    assert put["eventVersion"] == "2.1" and put["eventSource"] == "aws:s3"
    assert put["awsRegion"] == "us-east-1" and put["eventName"] == "ObjectCreated:Put"
    assert put["eventTime"].endswith("Z") and put["userIdentity"]["principalId"]
    assert put["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert put["responseElements"]["x-amz-request-id"] and put["responseElements"]["x-amz-id-2"]
    s = put["s3"]
    assert s["s3SchemaVersion"] == "1.0" and s["configurationId"] == "cfg-1"
    assert s["bucket"] == {"name": bucket, "ownerIdentity": {"principalId": ACCOUNT},
                           "arn": "arn:aws:s3:::" + bucket}
    assert s["object"]["key"] == "in/a+b%2Bc.csv", s["object"]
    assert s["object"]["size"] == 5 and s["object"]["eTag"] == "827ccb0eea8a706c4c34a16891f84e7b"
    assert "versionId" not in s["object"]
    assert delete["eventName"] == "ObjectRemoved:Delete"
    assert "size" not in delete["s3"]["object"]
    assert delete["s3"]["object"]["sequencer"] > s["object"]["sequencer"]
    recv.shutdown()


def test_kill9_between_upload_and_topic_delivery():
    hook_port = h.free_port()
    recv = h.Receiver(port=hook_port)
    bucket = uniq("sns-crash")
    arn = s3_topic_setup(recv, "/s3crash", bucket)
    fast_retries(arn, delay=1, retries=30)
    recv.wait(1, path="/s3crash")
    recv.shutdown()
    recv.server_close()
    for i in range(3):
        s3().put_object(Bucket=bucket, Key="k%d" % i, Body=b"x")
    h.kill9(STATE["proc"])
    recv = h.Receiver(port=hook_port)
    start_daemon()
    got = recv.wait(3, path="/s3crash", timeout=30)
    keys = sorted(json.loads(json.loads(r["body"])["Message"])["Records"][0]["s3"]["object"]["key"]
                  for r in got)
    assert keys == ["k0", "k1", "k2"], [r["body"][:300] for r in recv.at()]
    recv.shutdown()


# ---- EventBridge and Step Functions ----

def test_eventbridge_rule_publishes_to_topic():
    ev = h.client("events", endpoint=ep())
    arn = topic()
    recv = h.Receiver()
    subscribe_http(arn, recv, "/eb")
    rule = uniq("to-sns")
    ev.put_rule(Name=rule, EventPattern=json.dumps({"source": ["sns.test"]}))
    r = ev.put_targets(Rule=rule, Targets=[
        {"Id": "whole", "Arn": arn},
        {"Id": "shaped", "Arn": arn, "InputTransformer": {
            "InputPathsMap": {"n": "$.detail.n"}, "InputTemplate": '"number <n>"'}}])
    assert r["FailedEntryCount"] == 0, r
    ev.put_events(Entries=[{"Source": "sns.test", "DetailType": "t", "Detail": json.dumps({"n": 7})}])
    got = [json.loads(x["body"])["Message"] for x in recv.wait(2, path="/eb")]
    assert len(got) == 2, got
    whole = [json.loads(m) for m in got if m.startswith("{")]
    assert whole and whole[0]["detail"] == {"n": 7} and whole[0]["source"] == "sns.test", got
    assert '"number 7"' in got or "number 7" in got, got
    recv.shutdown()


def sfn_run(definition, timeout=20):
    sfn = h.client("stepfunctions", endpoint=ep())
    sm = sfn.create_state_machine(name=uniq("sm"), definition=json.dumps(definition),
                                  roleArn="arn:aws:iam::%s:role/sfn" % ACCOUNT)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=sm, input=json.dumps({"who": "world", "n": 3}))
    d = h.wait_until(lambda: sfn.describe_execution(executionArn=ex["executionArn"]),
                     lambda d: d["status"] != "RUNNING", timeout=timeout)
    return d, sfn.get_execution_history(executionArn=ex["executionArn"])["events"]


def test_step_functions_sns_publish():
    arn = topic()
    recv = h.Receiver()
    subscribe_http(arn, recv, "/sfn")
    d, _ = sfn_run({"StartAt": "P", "States": {
        "P": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
              "Parameters": {"TopicArn": arn, "Subject": "from sfn",
                             "Message": {"hello.$": "$.who", "n.$": "$.n"},
                             "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "sfn"}}},
              "Next": "Q"},
        "Q": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
              "Parameters": {"TargetArn": arn, "Message": "plain text"}, "End": True}}})
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert set(out) == {"MessageId", "SdkHttpMetadata", "SdkResponseMetadata"}, out
    assert out["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert out["SdkResponseMetadata"]["RequestId"]
    docs = [json.loads(x["body"]) for x in recv.wait(2, path="/sfn")]
    first = [x for x in docs if x.get("Subject") == "from sfn"][0]
    assert json.loads(first["Message"]) == {"hello": "world", "n": 3}
    assert first["MessageAttributes"] == {"kind": {"Type": "String", "Value": "sfn"}}
    assert out["MessageId"] in [x["MessageId"] for x in docs]
    assert "plain text" in [x["Message"] for x in docs]
    # a missing topic fails the state with the SDK's exception name, catchable
    missing = "arn:aws:sns:us-east-1:%s:%s" % (ACCOUNT, uniq("gone"))
    d, _ = sfn_run({"StartAt": "P", "States": {
        "P": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
              "Parameters": {"TopicArn": missing, "Message": "m"}, "End": True,
              "Catch": [{"ErrorEquals": ["SNS.NotFoundException"], "ResultPath": "$.err",
                         "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}}})
    assert d["status"] == "SUCCEEDED", d
    err = json.loads(d["output"])["err"]
    assert err["Error"] == "SNS.NotFoundException", err
    assert "Error Code: NotFound" in err["Cause"], err
    recv.shutdown()


def test_step_functions_sns_publish_wait_for_task_token():
    arn = topic()
    sfn = h.client("stepfunctions", endpoint=ep())

    def answer(req):
        doc = json.loads(req["body"])
        if doc["Type"] == "Notification":
            token = json.loads(doc["Message"])["token"]
            threading.Thread(target=lambda: sfn.send_task_success(
                taskToken=token, output=json.dumps({"approved": True}))).start()
        return 200

    recv = h.Receiver(answer=answer)
    subscribe_http(arn, recv, "/token")
    d, _ = sfn_run({"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                "Parameters": {"TopicArn": arn, "Message": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 30, "End": True}}})
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["output"]) == {"approved": True}, d["output"]
    recv.shutdown()


TESTS = [
    test_create_topic_idempotent_and_attributes,
    test_list_topics_pages,
    test_topic_errors,
    test_awscli_topics_and_publish,
    test_http_confirm_publish_headers_and_signature,
    test_message_structure_json,
    test_raw_message_delivery,
    test_filter_policies,
    test_publish_batch,
    test_receiver_fails_then_recovers,
    test_slow_endpoint_does_not_hold_up_others,
    test_email_through_smtp,
    test_kill9_between_publish_and_delivery,
    test_s3_test_event_and_missing_topic,
    test_s3_upload_reaches_topic_as_records,
    test_kill9_between_upload_and_topic_delivery,
    test_eventbridge_rule_publishes_to_topic,
    test_step_functions_sns_publish,
    test_step_functions_sns_publish_wait_for_task_token,
]

if __name__ == "__main__":
    h.main(TESTS, setup=setup, check=check, teardown=[("stop", stop_all)])
