#!/usr/bin/env python3
"""OAUTH_CLIENT_CREDENTIALS connections through boto3 and the AWS CLI, against a local token
endpoint (http.server) that checks the client's Basic credentials and the configured extra
parameters and issues numbered tokens with a short expires_in, and a local receiver standing in
for the API destination: AUTHORIZING → AUTHORIZED, Bearer tokens on every call, reuse while
fresh, refresh after expiry, a 401 answered by one retry with a fresh token, a bad client
secret → DEAUTHORIZED with a StateReason, DeauthorizeConnection and UpdateConnection, and that
no secret is ever returned. Output: one TAP-like line per test for tests/integration/run.
"""
import base64
import json
import threading
import time
import urllib.parse

from botocore.exceptions import ClientError

import harness as h
from harness import expect_error, uniq

ev = h.client("events")


class TokenServer(h.Receiver):
    """An OAuth 2.0 client-credentials token endpoint. clients: id -> {"secret", "expires_in"};
    answers 401 to wrong credentials, 400 without grant_type=client_credentials."""

    def __init__(self):
        self.clients = {}
        self.issued = 0
        self.lock = threading.Lock()
        super().__init__(answer=self.token)

    def token(self, req):
        form = req["form"] = dict(urllib.parse.parse_qsl(req["body"]))
        req["query"] = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(req["path"]).query))
        client_id = secret = None
        if req["auth"].startswith("Basic "):
            client_id, _, secret = base64.b64decode(req["auth"][6:]).decode().partition(":")
        req["client"] = client_id
        with self.lock:
            client = self.clients.get(client_id)
            if not client or client["secret"] != secret:
                return 401, {"error": "invalid_client"}
            if form.get("grant_type") != "client_credentials":
                return 400, {"error": "unsupported_grant_type"}
            self.issued += 1
            token = "tok-%s-%d" % (client_id, self.issued)
            client["tokens"].append(token)
        answer = {"access_token": token, "token_type": "Bearer"}
        if client.get("expires_in"):
            answer["expires_in"] = client["expires_in"]
        return 200, answer

    @property
    def url(self):
        return super().url + "/oauth2/token"

    def client(self, client_id, secret, expires_in=None):
        with self.lock:
            self.clients[client_id] = {"secret": secret, "expires_in": expires_in, "tokens": []}

    def tokens(self, client_id):
        with self.lock:
            return list(self.clients[client_id]["tokens"])

    def requests_of(self, client_id):
        return [r for r in self.at() if r["client"] == client_id]


def bearer_revoked(req):
    """The API destination answers 401 to a token in REVOKED."""
    auth = req["auth"]
    return 401 if (auth[7:] if auth.startswith("Bearer ") else None) in REVOKED else 200


REVOKED = set()
TOKENS = TokenServer()
RECV = h.Receiver(answer=bearer_revoked)


def aws(*args, check=True):
    if not check:
        return h.aws(*args, timeout=120)
    return h.aws_json(*args, timeout=120)


def oauth_params(client_id, secret, **extra):
    return {"OAuthParameters": {
        "AuthorizationEndpoint": TOKENS.url, "HttpMethod": "POST",
        "ClientParameters": {"ClientID": client_id, "ClientSecret": secret},
        "OAuthHttpParameters": {
            "BodyParameters": [{"Key": "grant_type", "Value": "client_credentials", "IsValueSecret": False},
                               {"Key": "audience", "Value": "https://api.example", "IsValueSecret": True}],
            "QueryStringParameters": [{"Key": "tenant", "Value": "t1", "IsValueSecret": False}],
            "HeaderParameters": [{"Key": "X-Client-Tag", "Value": "sluice", "IsValueSecret": False}]}},
        **extra}


def wait_state(name, want, timeout=10.0):
    return h.wait_until(lambda: ev.describe_connection(Name=name),
                        lambda d: d["ConnectionState"] == want, timeout)


def pipeline(conn_arn, path):
    """A rule on source=path that calls an API destination at RECV path through conn_arn."""
    dest = ev.create_api_destination(Name=uniq("dest"), ConnectionArn=conn_arn,
                                     InvocationEndpoint=RECV.url + path, HttpMethod="POST")["ApiDestinationArn"]
    rule = uniq("rule")
    ev.put_rule(Name=rule, EventPattern=json.dumps({"source": ["oauth.test" + path]}))
    ev.put_targets(Rule=rule, Targets=[{"Id": "d", "Arn": dest,
                                        "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 600}}])


def send(path, n):
    r = ev.put_events(Entries=[{"Source": "oauth.test" + path, "DetailType": "t", "Detail": json.dumps({"n": n})}])
    assert r["FailedEntryCount"] == 0, r


def no_secret_in(doc, *secrets):
    text = json.dumps(doc, default=str)
    for s in secrets:
        assert s not in text, "secret %r returned: %s" % (s, text)


# ---------------------------------------------------------------------------------------------

def test_oauth_connection_authorizes_boto3():
    cid, secret = uniq("client"), "s3cr3t-" + uniq("x")
    TOKENS.client(cid, secret, expires_in=3600)
    name = uniq("oauth")
    r = ev.create_connection(Name=name, AuthorizationType="OAUTH_CLIENT_CREDENTIALS", Description="d",
                             AuthParameters=oauth_params(cid, secret, InvocationHttpParameters={
                                 "HeaderParameters": [{"Key": "X-Env", "Value": "test", "IsValueSecret": False},
                                                      {"Key": "X-Key", "Value": "hidden-value", "IsValueSecret": True}]}))
    assert r["ConnectionState"] == "AUTHORIZING", r
    assert r["ConnectionArn"].startswith("arn:aws:events:us-east-1:000000000000:connection/%s/" % name), r
    d = wait_state(name, "AUTHORIZED")
    assert d["ConnectionState"] == "AUTHORIZED" and "StateReason" not in d, d
    assert d["AuthorizationType"] == "OAUTH_CLIENT_CREDENTIALS" and d["Description"] == "d", d
    assert "LastAuthorizedTime" in d, d
    o = d["AuthParameters"]["OAuthParameters"]
    assert o["ClientParameters"] == {"ClientID": cid}, o
    assert o["AuthorizationEndpoint"] == TOKENS.url and o["HttpMethod"] == "POST", o
    body = {p["Key"]: p for p in o["OAuthHttpParameters"]["BodyParameters"]}
    assert body["grant_type"]["Value"] == "client_credentials", body
    assert "Value" not in body["audience"] and body["audience"]["IsValueSecret"] is True, body
    inv = {p["Key"]: p for p in d["AuthParameters"]["InvocationHttpParameters"]["HeaderParameters"]}
    assert inv["X-Env"]["Value"] == "test" and "Value" not in inv["X-Key"], inv
    no_secret_in(d, secret, "hidden-value", "https://api.example")
    # What the token endpoint saw: Basic client credentials, the form body, query and header.
    req = TOKENS.requests_of(cid)
    assert len(req) == 1, req
    assert req[0]["form"] == {"grant_type": "client_credentials", "audience": "https://api.example"}, req[0]
    assert req[0]["query"] == {"tenant": "t1"}, req[0]
    assert req[0]["headers"].get("X-Client-Tag") == "sluice", req[0]["headers"]
    assert req[0]["headers"].get("Content-Type") == "application/x-www-form-urlencoded", req[0]["headers"]
    listed = ev.list_connections(NamePrefix=name)["Connections"]
    assert [c["Name"] for c in listed] == [name] and listed[0]["ConnectionState"] == "AUTHORIZED", listed
    assert "AuthParameters" not in listed[0], listed
    assert name in [c["Name"] for c in ev.list_connections(ConnectionState="AUTHORIZED")["Connections"]]
    assert name not in [c["Name"] for c in ev.list_connections(ConnectionState="DEAUTHORIZED")["Connections"]]
    no_secret_in(ev.list_connections(), secret)


def test_bearer_token_reused_then_refreshed_after_expiry():
    cid, secret = uniq("client"), "pw-" + uniq("x")
    TOKENS.client(cid, secret, expires_in=6)  # fresh for 3 s (half its life), then refreshed
    name = uniq("oauth")
    arn = ev.create_connection(Name=name, AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
                               AuthParameters=oauth_params(cid, secret))["ConnectionArn"]
    pipeline(arn, "/bearer")
    assert wait_state(name, "AUTHORIZED")["ConnectionState"] == "AUTHORIZED"
    send("/bearer", 1)
    send("/bearer", 2)
    got = RECV.wait(2, "/bearer")
    first = TOKENS.tokens(cid)
    assert len(first) == 1, first
    assert [r["auth"] for r in got] == ["Bearer " + first[0]] * 2, got
    time.sleep(3.5)
    send("/bearer", 3)
    got = RECV.wait(3, "/bearer")
    tokens = TOKENS.tokens(cid)
    assert len(tokens) == 2, tokens
    assert got[2]["auth"] == "Bearer " + tokens[1], got[2]
    assert all(r["status"] == 200 for r in got), got


def test_401_refreshes_token_and_retries_once():
    cid, secret = uniq("client"), "pw-" + uniq("x")
    TOKENS.client(cid, secret, expires_in=3600)
    name = uniq("oauth")
    arn = ev.create_connection(Name=name, AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
                               AuthParameters=oauth_params(cid, secret))["ConnectionArn"]
    pipeline(arn, "/revoked")
    assert wait_state(name, "AUTHORIZED")["ConnectionState"] == "AUTHORIZED"
    old = TOKENS.tokens(cid)[0]
    REVOKED.add(old)  # the API revokes the token before it expires
    t0 = time.time()
    send("/revoked", 1)
    got = RECV.wait(2, "/revoked")
    assert len(got) == 2, got
    new = TOKENS.tokens(cid)[-1]
    assert new != old, TOKENS.tokens(cid)
    assert [(r["auth"], r["status"]) for r in got] == [("Bearer " + old, 401), ("Bearer " + new, 200)], got
    assert time.time() - t0 < 1.0, "the retry waited for the retry policy's backoff"
    time.sleep(0.5)
    assert len(RECV.at("/revoked")) == 2, RECV.at("/revoked")
    assert ev.describe_connection(Name=name)["ConnectionState"] == "AUTHORIZED"


def test_bad_client_secret_deauthorizes_awscli():
    cid = uniq("client")
    TOKENS.client(cid, "right-secret", expires_in=3600)
    name = uniq("oauthcli")
    out = aws("events", "create-connection", "--name", name, "--authorization-type", "OAUTH_CLIENT_CREDENTIALS",
              "--auth-parameters", json.dumps(oauth_params(cid, "wrong-secret")))
    assert out["ConnectionState"] == "AUTHORIZING", out
    d = h.wait_until(lambda: aws("events", "describe-connection", "--name", name),
                     lambda d: d["ConnectionState"] != "AUTHORIZING", timeout=10, interval=0.2)
    assert d["ConnectionState"] == "DEAUTHORIZED", d
    assert "401" in d["StateReason"], d
    no_secret_in(d, "wrong-secret")
    # Deliveries through it fail (and are retried) until the connection is fixed.
    pipeline(d["ConnectionArn"], "/fixed")
    send("/fixed", 1)
    time.sleep(1.0)
    assert RECV.at("/fixed") == [], RECV.at("/fixed")
    out = aws("events", "update-connection", "--name", name, "--auth-parameters",
              json.dumps({"OAuthParameters": {"ClientParameters": {"ClientID": cid, "ClientSecret": "right-secret"}}}))
    assert out["ConnectionState"] == "AUTHORIZING", out
    d = wait_state(name, "AUTHORIZED")
    assert d["ConnectionState"] == "AUTHORIZED" and "StateReason" not in d, d
    assert d["AuthParameters"]["OAuthParameters"]["AuthorizationEndpoint"] == TOKENS.url, d  # merged, kept
    got = RECV.wait(1, "/fixed", timeout=15)  # the pending delivery, on its next retry
    assert len(got) == 1 and got[0]["auth"] == "Bearer " + TOKENS.tokens(cid)[-1], got


def test_deauthorize_and_update_connection():
    cid, secret = uniq("client"), "pw-" + uniq("x")
    TOKENS.client(cid, secret)  # no expires_in: kept until a 401
    name = uniq("oauth")
    ev.create_connection(Name=name, AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
                         AuthParameters=oauth_params(cid, secret))
    wait_state(name, "AUTHORIZED")
    r = ev.deauthorize_connection(Name=name)
    assert r["ConnectionState"] == "DEAUTHORIZING" and "LastAuthorizedTime" in r, r
    assert ev.describe_connection(Name=name)["ConnectionState"] == "DEAUTHORIZED"
    # The secret is gone: an update must give it again.
    expect_error("ValidationException", ev.update_connection, Name=name, Description="no secret")
    r = ev.update_connection(Name=name, Description="again", AuthParameters={
        "OAuthParameters": {"ClientParameters": {"ClientID": cid, "ClientSecret": secret}}})
    assert r["ConnectionState"] == "AUTHORIZING", r
    d = wait_state(name, "AUTHORIZED")
    assert d["ConnectionState"] == "AUTHORIZED" and d["Description"] == "again", d
    assert d["LastModifiedTime"] >= d["CreationTime"], d
    # Switching an API key connection to OAuth drops the API key parameters.
    other = uniq("apikey")
    ev.create_connection(Name=other, AuthorizationType="API_KEY",
                         AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-k", "ApiKeyValue": "v-secret"}})
    assert ev.describe_connection(Name=other)["ConnectionState"] == "AUTHORIZED"
    ev.deauthorize_connection(Name=other)
    assert ev.describe_connection(Name=other)["ConnectionState"] == "DEAUTHORIZED"
    ev.update_connection(Name=other, AuthParameters={"ApiKeyAuthParameters": {"ApiKeyValue": "v2"}})
    assert ev.describe_connection(Name=other)["ConnectionState"] == "AUTHORIZED"
    ev.update_connection(Name=other, AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
                         AuthParameters=oauth_params(cid, secret))
    d = wait_state(other, "AUTHORIZED")
    assert d["AuthorizationType"] == "OAUTH_CLIENT_CREDENTIALS", d
    assert "ApiKeyAuthParameters" not in d["AuthParameters"], d
    r = ev.delete_connection(Name=other)
    assert r["ConnectionState"] == "DELETING", r
    expect_error("ResourceNotFoundException", ev.describe_connection, Name=other)
    expect_error("ResourceNotFoundException", ev.update_connection, Name=other, Description="x")
    expect_error("ResourceNotFoundException", ev.deauthorize_connection, Name=other)


def test_oauth_validation():
    base = oauth_params("c", "s")
    cases = [
        {"OAuthParameters": {**base["OAuthParameters"], "ClientParameters": {"ClientID": "c"}}},
        {"OAuthParameters": {k: v for k, v in base["OAuthParameters"].items() if k != "AuthorizationEndpoint"}},
        {"OAuthParameters": {**base["OAuthParameters"], "AuthorizationEndpoint": "ftp://x/token"}},
        {"OAuthParameters": {**base["OAuthParameters"], "HttpMethod": "DELETE"}},
        {"OAuthParameters": {**base["OAuthParameters"], "OAuthHttpParameters": {
            "HeaderParameters": [{"Key": "Bad Key", "Value": "v"}]}}},
        {"BasicAuthParameters": {"Username": "u", "Password": "p"}},
    ]
    for auth in cases:
        try:
            ev.create_connection(Name=uniq("bad"), AuthorizationType="OAUTH_CLIENT_CREDENTIALS", AuthParameters=auth)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ValidationException", e
            continue
        except Exception as e:  # botocore's own validation (an enum it knows) is just as good
            assert "validation" in str(e).lower(), e
            continue
        raise AssertionError("accepted %s" % auth)
    name = uniq("dup")
    ev.create_connection(Name=name, AuthorizationType="OAUTH_CLIENT_CREDENTIALS", AuthParameters=base)
    expect_error("ResourceAlreadyExistsException", ev.create_connection, Name=name,
                 AuthorizationType="OAUTH_CLIENT_CREDENTIALS", AuthParameters=base)
    # Unknown client at the token endpoint: deauthorized, with the reason.
    d = wait_state(name, "DEAUTHORIZED")
    assert d["ConnectionState"] == "DEAUTHORIZED" and "401" in d["StateReason"], d


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]

if __name__ == "__main__":
    h.main(TESTS)
