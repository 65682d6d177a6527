// SNS through the AWS SDK for JavaScript v3 (@aws-sdk/client-sns, the newest from npm, pinned by
// tests/integration/node/package-lock.json; it speaks SNS's Query protocol): topics with tags and
// the SDK's paginator, an HTTP subscriber confirmed through the SubscribeURL it receives, a
// notification with message attributes whose signature is checked against the certificate at
// its SigningCertURL (SignatureVersion 1 and 2), a filter policy, PublishBatch, and the errors
// as the SDK raises them.
//
// Output: one line per test for tests/integration/run ("ok - NAME" / "not ok - NAME").
// SLUICE_TEST_FILTER picks tests by name.
import { createRequire } from "node:module";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";

import { expectError, registry, runTests } from "./node_tap.mjs";

const require = createRequire(new URL("./node/package.json", import.meta.url));
const {
  SNSClient, CreateTopicCommand, DeleteTopicCommand, GetTopicAttributesCommand,
  SetTopicAttributesCommand, ListTagsForResourceCommand, SubscribeCommand, UnsubscribeCommand,
  ListSubscriptionsByTopicCommand, SetSubscriptionAttributesCommand, PublishCommand,
  PublishBatchCommand, paginateListTopics,
} = require("@aws-sdk/client-sns");

const EP = process.env.AWS_ENDPOINT_URL;
const sns = new SNSClient({ endpoint: EP, region: "us-east-1", maxAttempts: 1 });
const suffix = crypto.randomBytes(4).toString("hex");

// ---- an HTTP subscriber: every POST recorded, 200 answered ----
const received = [];
const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    received.push({ headers: req.headers, body });
    res.writeHead(200, { "Content-Length": "0" });
    res.end();
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const HOOK = `http://127.0.0.1:${server.address().port}/hook`;

async function waitFor(what, pred, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const hit = received.find(pred);
    if (hit) return hit;
    if (Date.now() > end) assert.fail(`no ${what} within ${ms} ms (${received.length} received)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The string SNS signs: these fields in this order, each name and value on its own line; for a
// Notification Subject only when the message has one, for a (un)subscribe confirmation the
// SubscribeURL and Token too.
function stringToSign(m) {
  const keys = m.Type === "Notification"
    ? ["Message", "MessageId", ...(m.Subject !== undefined ? ["Subject"] : []), "Timestamp",
      "TopicArn", "Type"]
    : ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"];
  return keys.map((k) => `${k}\n${m[k]}\n`).join("");
}

async function verifySignature(m) {
  const pem = await (await fetch(m.SigningCertURL)).text();
  const alg = m.SignatureVersion === "2" ? "sha256" : "sha1";
  const ok = crypto.verify(alg, Buffer.from(stringToSign(m)), crypto.createPublicKey(pem),
    Buffer.from(m.Signature, "base64"));
  assert.ok(ok, `SignatureVersion ${m.SignatureVersion} verifies against ${m.SigningCertURL}`);
}

async function subscribeConfirmed(topicArn, attributes) {
  const s = await sns.send(new SubscribeCommand({
    TopicArn: topicArn, Protocol: "http", Endpoint: HOOK, ReturnSubscriptionArn: true,
    Attributes: attributes,
  }));
  const conf = await waitFor("SubscriptionConfirmation", (r) =>
    r.headers["x-amz-sns-message-type"] === "SubscriptionConfirmation" &&
    JSON.parse(r.body).TopicArn === topicArn);
  const c = JSON.parse(conf.body);
  assert.equal(c.Type, "SubscriptionConfirmation");
  await verifySignature(c);
  const answer = await fetch(c.SubscribeURL); // unsigned GET, as a browser or curl would
  assert.equal(answer.status, 200, "SubscribeURL answers 200");
  const subs = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }));
  const mine = subs.Subscriptions.find((x) => x.Endpoint === HOOK);
  assert.equal(mine.SubscriptionArn, s.SubscriptionArn, "confirmed: the ARN, not PendingConfirmation");
  return s.SubscriptionArn;
}

const { tests, test } = registry();

test("topics_tags_and_paginator", async () => {
  const arns = [];
  for (let i = 0; i < 3; i++) {
    const t = await sns.send(new CreateTopicCommand({
      Name: `js-topic-${suffix}-${i}`, Tags: [{ Key: "team", Value: "sluice" }],
    }));
    assert.match(t.TopicArn, /^arn:aws:sns:us-east-1:\d{12}:js-topic-/);
    arns.push(t.TopicArn);
  }
  const again = await sns.send(new CreateTopicCommand({ Name: `js-topic-${suffix}-0`,
    Tags: [{ Key: "team", Value: "sluice" }] }));
  assert.equal(again.TopicArn, arns[0], "CreateTopic is idempotent");
  const seen = [];
  for await (const page of paginateListTopics({ client: sns }, {})) {
    seen.push(...page.Topics.map((x) => x.TopicArn));
  }
  for (const a of arns) assert.ok(seen.includes(a), `ListTopics pages include ${a}`);
  const tags = await sns.send(new ListTagsForResourceCommand({ ResourceArn: arns[1] }));
  assert.deepEqual(tags.Tags, [{ Key: "team", Value: "sluice" }]);
  const attrs = await sns.send(new GetTopicAttributesCommand({ TopicArn: arns[2] }));
  assert.equal(attrs.Attributes.TopicArn, arns[2]);
  for (const a of arns) await sns.send(new DeleteTopicCommand({ TopicArn: a }));
});

test("http_subscriber_gets_signed_notifications", async () => {
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: `js-http-${suffix}` }));
  const sub = await subscribeConfirmed(TopicArn);
  for (const version of ["1", "2"]) {
    await sns.send(new SetTopicAttributesCommand({ TopicArn, AttributeName: "SignatureVersion",
      AttributeValue: version }));
    const p = await sns.send(new PublishCommand({
      TopicArn, Subject: `hello v${version}`, Message: `{"file":"in/cat.jpg","v":${version}}`,
      MessageAttributes: {
        kind: { DataType: "String", StringValue: "thumbnail" },
        size: { DataType: "Number", StringValue: "1024" },
      },
    }));
    assert.match(p.MessageId, /^[0-9a-f-]{36}$/);
    const got = await waitFor("Notification", (r) =>
      r.headers["x-amz-sns-message-id"] === p.MessageId);
    assert.equal(got.headers["x-amz-sns-message-type"], "Notification");
    assert.equal(got.headers["x-amz-sns-topic-arn"], TopicArn);
    assert.equal(got.headers["x-amz-sns-subscription-arn"], sub);
    const m = JSON.parse(got.body);
    assert.equal(m.Type, "Notification");
    assert.equal(m.Message, `{"file":"in/cat.jpg","v":${version}}`);
    assert.equal(m.Subject, `hello v${version}`);
    assert.equal(m.SignatureVersion, version);
    assert.deepEqual(m.MessageAttributes, {
      kind: { Type: "String", Value: "thumbnail" },
      size: { Type: "Number", Value: "1024" },
    });
    await verifySignature(m);
  }
  await sns.send(new UnsubscribeCommand({ SubscriptionArn: sub }));
  await sns.send(new DeleteTopicCommand({ TopicArn }));
});

test("filter_policy_and_publish_batch", async () => {
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: `js-filter-${suffix}` }));
  const sub = await subscribeConfirmed(TopicArn);
  await sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn: sub,
    AttributeName: "FilterPolicy", AttributeValue: JSON.stringify({ kind: ["wanted"] }) }));
  const r = await sns.send(new PublishBatchCommand({
    TopicArn,
    PublishBatchRequestEntries: [
      { Id: "a", Message: "skip me",
        MessageAttributes: { kind: { DataType: "String", StringValue: "other" } } },
      { Id: "b", Message: "deliver me",
        MessageAttributes: { kind: { DataType: "String", StringValue: "wanted" } } },
    ],
  }));
  assert.equal(r.Successful.length, 2, JSON.stringify(r));
  assert.equal((r.Failed || []).length, 0);
  const idOf = (id) => r.Successful.find((x) => x.Id === id).MessageId;
  await waitFor("the matching message", (x) => x.headers["x-amz-sns-message-id"] === idOf("b"));
  await new Promise((res) => setTimeout(res, 500));
  assert.ok(!received.some((x) => x.headers["x-amz-sns-message-id"] === idOf("a")),
    "a message the filter policy does not match is not delivered");
  await expectError(sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn: sub,
    AttributeName: "FilterPolicy", AttributeValue: "{not json" })), "InvalidParameterException", 400);
  await sns.send(new DeleteTopicCommand({ TopicArn }));
});

test("errors_as_the_sdk_raises_them", async () => {
  const missing = `arn:aws:sns:us-east-1:000000000000:js-missing-${suffix}`;
  await expectError(sns.send(new PublishCommand({ TopicArn: missing, Message: "x" })),
    "NotFoundException", 404);
  await expectError(sns.send(new CreateTopicCommand({ Name: "bad name!" })),
    "InvalidParameterException", 400);
  await expectError(sns.send(new SubscribeCommand({ TopicArn: missing, Protocol: "http",
    Endpoint: HOOK })), "NotFoundException", 404);
});

const pkg = require("@aws-sdk/client-sns/package.json");
process.exitCode = await runTests(tests, {
  banner: `@aws-sdk/client-sns ${pkg.version}, node ${process.version}, endpoint ${EP}`,
});
server.close();
