#!/usr/bin/env python3
"""Regenerates the botocore-signed request vectors embedded in tests/unit/test_sigv4.c.

Each vector is a request exactly as botocore would put it on the wire (method, raw path, raw
query, headers, payload hash), signed at a fixed instant, so the C verifier is checked against
the client it must interoperate with rather than against our own reading of the spec.

Usage: python3 tests/unit/vectors/gen_sigv4_vectors.py [--write]
Without --write the C table is printed; with it, the block between the BEGIN/END GENERATED
markers in test_sigv4.c is replaced. Needs botocore/boto3 (no network: requests are captured
in the before-send hook and never sent).
"""
import datetime
import email.utils
import hashlib
import os
import sys
from urllib.parse import urlsplit

import boto3
import botocore.auth
from botocore.auth import HmacV1Auth, HmacV1QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

FIXED = datetime.datetime(2026, 3, 4, 5, 6, 7)
FIXED_EPOCH = int(FIXED.replace(tzinfo=datetime.timezone.utc).timestamp())
AK, SK = "AKIDSLUICETEST", "sluice/secret+key=="

# Freeze every clock botocore's signers read.
botocore.auth.get_current_datetime = lambda *a, **k: FIXED
HmacV1Auth._get_date = lambda self: email.utils.formatdate(FIXED_EPOCH, usegmt=True)
HmacV1QueryAuth._get_date = lambda self: str(FIXED_EPOCH + int(self._expires))


class Captured(Exception):
    pass


def capture(request, **kwargs):
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    raise Captured(request.method, request.url, list(request.headers.items()), body or b"")


def host_of(url):
    return botocore.auth._host_from_url(url)


vectors = []


def add(name, method, url, headers, body, s3, payload_hash=None):
    parts = urlsplit(url)
    hdrs = [("host", host_of(url))]
    skip = {"user-agent", "amz-sdk-invocation-id", "amz-sdk-request", "expect"}
    for k, v in headers:
        if isinstance(v, bytes):
            v = v.decode("utf-8")
        if k.lower() in skip or k.lower() == "host":
            continue
        hdrs.append((k.lower(), v))
    if not s3 and payload_hash is None:
        payload_hash = hashlib.sha256(body if isinstance(body, bytes) else body.encode()).hexdigest()
    vectors.append(dict(name=name, method=method, path=parts.path or "/", query=parts.query,
                        headers=hdrs, payload=payload_hash, s3=s3, body=body))


def call(client, op, **params):
    try:
        getattr(client, op)(**params)
    except Captured as e:
        return e.args
    raise RuntimeError("request was not captured")


def client(service, endpoint, **cfg):
    s = boto3.session.Session(aws_access_key_id=AK, aws_secret_access_key=SK,
                              region_name="us-east-1")
    c = s.client(service, endpoint_url=endpoint, config=Config(**cfg) if cfg else None)
    c.meta.events.register("before-send", capture)
    return c


def s3_vectors():
    c = client("s3", "http://localhost:4566", signature_version="s3v4")
    odd = [
        ("space-plus-query-hash", "dir/a b+c?d#e&f=g.txt"),
        ("unicode", "\u00fcn\u00ef\u00e7\u00f8d\u00e9/\u65e5\u672c\u8a9e.txt"),
        ("double-slash-trailing", "a//b/"),
        ("reserved-chars", "x!$'()*,;:@[]~y"),
        ("percent-literal", "100%25 sure %zz"),
    ]
    for tag, key in odd:
        m, u, h, b = call(c, "put_object", Bucket="bkt", Key=key, Body=b"hello world")
        add("s3-put-" + tag, m, u, h, b, True)
        m, u, h, b = call(c, "get_object", Bucket="bkt", Key=key, Range="bytes=0-4")
        add("s3-get-" + tag, m, u, h, b, True)
    m, u, h, b = call(c, "list_objects_v2", Bucket="bkt", Prefix="a b+c/\u00fc", Delimiter="/",
                      StartAfter="x~y*z'q", MaxKeys=7)
    add("s3-list-v2-query", m, u, h, b, True)
    # Older clients (aws-sdk-go v1, form encoders) send a space as '+' but sign it as %20.
    m, u, h, b = call(c, "list_objects_v2", Bucket="bkt", Prefix="a b")
    add("s3-list-plus-for-space", m, u.replace("%20", "+"), h, b, True)
    m, u, h, b = call(c, "create_multipart_upload", Bucket="bkt", Key="big file",
                      ContentType="application/octet-stream", Metadata={"Note": "  two   spaces  "})
    add("s3-create-multipart", m, u, h, b, True)
    m, u, h, b = call(c, "upload_part", Bucket="bkt", Key="big file", UploadId="abc+/=def",
                      PartNumber=3, Body=b"part data")
    add("s3-upload-part", m, u, h, b, True)
    m, u, h, b = call(c, "delete_objects", Bucket="bkt",
                      Delete={"Objects": [{"Key": "a"}, {"Key": "b c"}]})
    add("s3-delete-objects", m, u, h, b, True)
    m, u, h, b = call(c, "get_bucket_location", Bucket="bkt")
    add("s3-get-bucket-location", m, u, h, b, True)
    m, u, h, b = call(c, "list_buckets")
    add("s3-list-buckets", m, u, h, b, True)
    # Over https boto3 streams uploads as aws-chunked with an unsigned CRC32 trailer.
    tls = client("s3", "https://localhost:4566", signature_version="s3v4")
    m, u, h, b = call(tls, "put_object", Bucket="bkt", Key="chunked key", Body=b"hello world")
    add("s3-put-aws-chunked-trailer", m, u, h, b, True)


def s3_presigned_vectors():
    v4 = client("s3", "http://localhost:4566", signature_version="s3v4")
    v2 = client("s3", "http://localhost:4566")  # botocore's default for presigning: SigV2
    for tag, c in (("v4", v4), ("v2", v2)):
        cases = [
            ("get", "GET", "get_object", dict(Bucket="bkt", Key="a b+c/\u00fc?x.txt")),
            ("get-week", "GET", "get_object", dict(Bucket="bkt", Key="k"), 604800),
            ("put-typed", "PUT", "put_object",
             dict(Bucket="bkt", Key="up load", ContentType="text/plain", ACL="public-read",
                  Metadata={"Foo": "bar baz"})),
            ("upload-part", "PUT", "upload_part",
             dict(Bucket="bkt", Key="k", UploadId="u+1/=", PartNumber=2)),
            ("response-override", "GET", "get_object",
             dict(Bucket="bkt", Key="k", ResponseContentDisposition='attachment; filename="a b.txt"',
                  ResponseContentType="text/csv")),
        ]
        for case in cases:
            name, method, op, params = case[:4]
            expires = case[4] if len(case) > 4 else 3600
            url = c.generate_presigned_url(op, Params=params, ExpiresIn=expires)
            # SigV4 presigning keeps these as signed headers the caller must send; SigV2 moves
            # x-amz-* into the query but still signs the Content-Type header.
            hdrs = []
            if "ContentType" in params:
                hdrs.append(("content-type", params["ContentType"]))
            if tag == "v4" and "ACL" in params:
                hdrs.append(("x-amz-acl", params["ACL"]))
                for k, v in params["Metadata"].items():
                    hdrs.append(("x-amz-meta-" + k.lower(), v))
            add("s3-presign-%s-%s" % (tag, name), method, url, hdrs, b"", True)


def s3_sigv2_header_vectors():
    c = client("s3", "http://localhost:4566", signature_version="s3")
    m, u, h, b = call(c, "put_object", Bucket="bkt", Key="v2 key+x", Body=b"hello",
                      ContentType="text/plain", Metadata={"A": "1"})
    add("s3-v2hdr-put", m, u, h, b, True)
    m, u, h, b = call(c, "list_objects", Bucket="bkt", Prefix="p q")
    add("s3-v2hdr-list-bucket", m, u, h, b, True)
    m, u, h, b = call(c, "get_object_acl", Bucket="bkt", Key="k")
    add("s3-v2hdr-get-acl", m, u, h, b, True)


def service_vectors():
    ev = client("events", "http://localhost:4566")
    m, u, h, b = call(ev, "put_events", Entries=[{"Source": "a", "DetailType": "b", "Detail": "{}"}])
    add("events-put-events", m, u, h, b, False)
    sf = client("stepfunctions", "http://localhost:4566")
    m, u, h, b = call(sf, "list_state_machines")
    add("sfn-list-state-machines", m, u, h, b, False)
    sts = client("sts", "http://localhost:4566")
    m, u, h, b = call(sts, "get_caller_identity")
    add("sts-get-caller-identity", m, u, h, b, False)
    lam = client("lambda", "http://localhost:4566")
    m, u, h, b = call(lam, "get_function",
                      FunctionName="arn:aws:lambda:us-east-1:123456789012:function:my fn",
                      Qualifier="$LATEST")
    add("lambda-get-function-arn-path", m, u, h, b, False)
    # A path that needs normalising (dot segments, duplicate slashes), signed directly.
    creds = Credentials(AK, SK)
    for tag, path in (("dots", "/a/./b/../c//d/"), ("encoded", "/x%20y/%E2%82%AC/z~")):
        req = AWSRequest(method="GET", url="http://localhost:4566" + path + "?b=2&a=1&a=0",
                         headers={"X-Amz-Meta": "  a   b  "})
        SigV4Auth(creds, "execute-api", "eu-west-1").add_auth(req)
        add("generic-normalise-" + tag, "GET", req.url, req.headers.items(), b"", False)
    # A caller-supplied Date header makes botocore sign with Date instead of X-Amz-Date; a
    # session token adds a signed X-Amz-Security-Token.
    req = AWSRequest(method="POST", url="http://localhost:4566/", data=b"Action=ListQueues",
                     headers={"Date": "x", "Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(AK, SK, "session/token+=="), "sqs", "us-east-1").add_auth(req)
    add("sqs-date-header-session-token", "POST", req.url, req.headers.items(), req.body, False)
    # A service request whose body the client chose not to sign: it signs the header's literal.
    req = AWSRequest(method="POST", url="http://localhost:4566/", data=b'{"a": 1}',
                     headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD",
                              "Content-Type": "application/x-amz-json-1.0"})
    SigV4Auth(creds, "states", "us-east-1").add_auth(req)
    add("sfn-unsigned-payload-header", "POST", req.url, req.headers.items(), req.body, False)
    # Presigned non-S3 (the shape of an RDS IAM auth token / STS presign).
    req = AWSRequest(method="GET", url="http://localhost:4566/?Action=connect&DBUser=my%20user")
    SigV4QueryAuth(creds, "rds-db", "us-east-1", expires=900).add_auth(req)
    add("rds-db-presigned", "GET", req.url, [], b"", False)


def c_str(s):
    if isinstance(s, bytes):
        data = s
    else:
        data = s.encode("utf-8")
    out = []
    for ch in data:
        c = chr(ch)
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif 32 <= ch < 127 and c != "?":
            out.append(c)
        else:
            out.append("\\%03o" % ch)  # octal: no run-on like \x escapes
    return '"' + "".join(out) + '"'


def emit():
    lines = ["/* BEGIN GENERATED by tests/unit/vectors/gen_sigv4_vectors.py; do not edit. */",
             "#define BOTO_NOW_MS %dLL" % (FIXED_EPOCH * 1000),
             "#define BOTO_AK %s" % c_str(AK),
             "#define BOTO_SK %s" % c_str(SK),
             "static const sigv4_vector boto_vectors[] = {"]
    for v in vectors:
        hdr = "".join("%s: %s\n" % (k, val) for k, val in v["headers"])
        lines.append("    {%s," % c_str(v["name"]))
        lines.append("     %s, %s," % (c_str(v["method"]), c_str(v["path"])))
        lines.append("     %s," % c_str(v["query"]))
        lines.append("     %s," % c_str(hdr))
        lines.append("     %s, %s," % (c_str(v["payload"]) if v["payload"] else "NULL",
                                       "true" if v["s3"] else "false"))
        body = v["body"] if isinstance(v["body"], bytes) else v["body"].encode()
        lines.append("     %s, %d}," % (c_str(body), len(body)))
    lines.append("};")
    lines.append("/* END GENERATED */")
    return "\n".join(lines) + "\n"


def main():
    s3_vectors()
    s3_presigned_vectors()
    s3_sigv2_header_vectors()
    service_vectors()
    text = emit()
    if "--write" in sys.argv:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test_sigv4.c")
        src = open(path, encoding="utf-8").read()
        begin = src.index("/* BEGIN GENERATED")
        end = src.index("/* END GENERATED */") + len("/* END GENERATED */\n")
        open(path, "w", encoding="utf-8").write(src[:begin] + text + src[end:])
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
