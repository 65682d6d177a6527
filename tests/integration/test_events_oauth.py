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
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

EP = os.environ["AWS_ENDPOINT_URL"]
FILTER = os.environ.get("SLUICE_TEST_FILTER", "")
CFG = Config(retries={"total_max_attempts": 1})
ev = boto3.client("events", endpoint_url=EP, region_name="us-east-1", config=CFG)
AWS = "/usr/bin/aws"


class TokenServer(http.server.ThreadingHTTPServer):
    """An OAuth 2.0 client-credentials token endpoint. clients: id -> {"secret", "expires_in"};
    answers 401 to wrong credentials, 400 without grant_type=client_credentials."""

    def __init__(self):
        self.clients = {}
        self.requests = []
        self.issued = 0
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                form = dict(urllib.parse.parse_qsl(body))
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                auth = self.headers.get("Authorization", "")
                client_id = secret = None
                if auth.startswith("Basic "):
                    client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                with outer.lock:
                    outer.requests.append({"path": self.path, "headers": dict(self.headers), "form": form,
                                           "query": query, "client": client_id})
                    client = outer.clients.get(client_id)
                    if not client or client["secret"] != secret:
                        return self.answer(401, {"error": "invalid_client"})
                    if form.get("grant_type") != "client_credentials":
                        return self.answer(400, {"error": "unsupported_grant_type"})
                    outer.issued += 1
                    token = "tok-%s-%d" % (client_id, outer.issued)
                    client["tokens"].append(token)
                answer = {"access_token": token, "token_type": "Bearer"}
                if client.get("expires_in"):
                    answer["expires_in"] = client["expires_in"]
                self.answer(200, answer)

            def answer(self, status, doc):
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        super().__init__(("127.0.0.1", 0), H)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/oauth2/token" % self.server_address[1]

    def client(self, client_id, secret, expires_in=None):
        with self.lock:
            self.clients[client_id] = {"secret": secret, "expires_in": expires_in, "tokens": []}

    def tokens(self, client_id):
        with self.lock:
            return list(self.clients[client_id]["tokens"])

    def requests_of(self, client_id):
        with self.lock:
            return [r for r in self.requests if r["client"] == client_id]


class Receiver(http.server.ThreadingHTTPServer):
    """The API destination: records each request's path, Authorization and body; answers 401
    to a token in self.revoked."""

    def __init__(self):
        self.requests = []
        self.revoked = set()
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                auth = self.headers.get("Authorization", "")
                token = auth[7:] if auth.startswith("Bearer ") else None
                status = 401 if token in outer.revoked else 200
                with outer.lock:
                    outer.requests.append({"path": self.path, "auth": auth, "body": body, "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        super().__init__(("127.0.0.1", 0), H)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def at(self, path):
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def wait(self, path, count, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline and len(self.at(path)) < count:
            time.sleep(0.05)
        return self.at(path)


TOKENS = TokenServer()
RECV = Receiver()
_n = [0]


def uniq(prefix):
    _n[0] += 1
    return "%s-%d-%d" % (prefix, os.getpid(), _n[0])


def aws(*args, check=True):
    out = subprocess.run([AWS, "--endpoint-url", EP, *args, "--output", "json"],
                         capture_output=True, text=True, timeout=120)
    if not check:
        return out
    assert out.returncode == 0, (args, out.stderr)
    return json.loads(out.stdout) if out.stdout.strip() else None


def expect_error(code, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, "expected %s, got %s: %s" % (code, got, e)
        return e
    raise AssertionError("expected %s, call succeeded" % code)


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
    deadline = time.time() + timeout
    while True:
        d = ev.describe_connection(Name=name)
        if d["ConnectionState"] == want or time.time() > deadline:
            return d
        time.sleep(0.05)


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
    got = RECV.wait("/bearer", 2)
    first = TOKENS.tokens(cid)
    assert len(first) == 1, first
    assert [r["auth"] for r in got] == ["Bearer " + first[0]] * 2, got
    time.sleep(3.5)
    send("/bearer", 3)
    got = RECV.wait("/bearer", 3)
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
    RECV.revoked.add(old)  # the API revokes the token before it expires
    t0 = time.time()
    send("/revoked", 1)
    got = RECV.wait("/revoked", 2)
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
    deadline = time.time() + 10
    while True:
        d = aws("events", "describe-connection", "--name", name)
        if d["ConnectionState"] != "AUTHORIZING" or time.time() > deadline:
            break
        time.sleep(0.2)
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
    got = RECV.wait("/fixed", 1, timeout=15)  # the pending delivery, on its next retry
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
    failed = 0
    for t in TESTS:
        name = t.__name__
        if FILTER and FILTER not in name:
            continue
        try:
            t()
            print("ok - %s" % name, flush=True)
        except Exception:
            failed += 1
            print("not ok - %s" % name, flush=True)
            for line in traceback.format_exc().splitlines():
                print("# " + line, flush=True)
    sys.exit(1 if failed else 0)
