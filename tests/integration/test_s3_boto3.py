#!/usr/bin/env python3
"""S3 through boto3, the way Python users drive it: the client API, s3transfer's upload_file and
download_file, presigned URLs, virtual-host addressing and the checksums boto3 1.43 sends by
default. Where a client cannot produce a request on purpose (malformed XML, a body cut short,
an unknown operation) the request is signed with botocore's own signer and sent raw.

Every assertion is on what a user sees: bytes that come back, error codes, HTTP statuses. After
each test the endpoint must still answer.

Output is one line per test for tests/integration/run ("ok - NAME", "not ok - NAME",
"ok - NAME # SKIP why"). SLUICE_TEST_FILTER picks tests by name. SLUICE_ENDPOINT_KIND=moto marks
the checks where moto, used to debug these tests before the daemon had S3, is known to differ
from AWS; those are reported, not run, there. AWS's documented behaviour is the reference.
"""
import base64
import contextlib
import datetime
import hashlib
import http.client
import io
import os
import shutil
import socket
import sys
import tempfile
import time
import unittest
import urllib.parse
import uuid
import zlib

import boto3
import botocore
from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from boto3.s3.transfer import TransferConfig

import harness as h
from harness import EP, REGION

KIND = os.environ.get("SLUICE_ENDPOINT_KIND", "sluice")
TMP = os.environ.get("SLUICE_TEST_TMP") or tempfile.gettempdir()
MIB = 1024 * 1024
PORT = urllib.parse.urlsplit(EP).port if EP else None


def client(**kw):
    # No retries: a retry would hide exactly the failures these tests look for.
    cfg = (kw.pop("config", None) or Config()).merge(h.config(connect_timeout=10, read_timeout=120))
    return boto3.client("s3", endpoint_url=kw.pop("endpoint_url", EP), region_name=kw.pop("region_name", REGION),
                        config=cfg, **kw)


# ------------------------------------------------------------------------------------------------
# Checksums the Python standard library lacks (botocore needs awscrt for CRC32C and CRC64NVME,
# and awscrt is not installed here), table-driven, checked against the published check values.

def _crc_table(poly, width):
    mask = (1 << width) - 1
    tbl = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        tbl.append(c & mask)
    return tbl


_CRC32C_T = _crc_table(0x82F63B78, 32)
_CRC64NVME_T = _crc_table(0x9A6C9329AC4BC9B5, 64)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    t = _CRC32C_T
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc64nvme(data, crc=0):
    m = 0xFFFFFFFFFFFFFFFF
    crc ^= m
    t = _CRC64NVME_T
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ m


assert crc32c(b"123456789") == 0xE3069283
assert crc64nvme(b"123456789") == 0xAE8B14860A799888


def b64(raw):
    return base64.b64encode(raw).decode()


def checksum_b64(algo, data):
    algo = algo.upper()
    if algo == "CRC32":
        return b64(zlib.crc32(data).to_bytes(4, "big"))
    if algo == "CRC32C":
        return b64(crc32c(data).to_bytes(4, "big"))
    if algo == "CRC64NVME":
        return b64(crc64nvme(data).to_bytes(8, "big"))
    if algo == "SHA1":
        return b64(hashlib.sha1(data).digest())
    if algo == "SHA256":
        return b64(hashlib.sha256(data).digest())
    raise ValueError(algo)


class _PyChecksum:
    """botocore's checksum interface over the functions above, so that botocore itself frames
    an aws-chunked body with a CRC32C or CRC64NVME trailer, as it does when awscrt is present."""

    fn = None
    width = 4

    def __init__(self):
        self._crc = 0

    def update(self, chunk):
        self._crc = type(self).fn(bytes(chunk), self._crc)

    def digest(self):
        return self._crc.to_bytes(self.width, "big")

    def b64digest(self):
        return b64(self.digest())

    def handle(self, body):
        if isinstance(body, (bytes, bytearray)):
            self.update(body)
        else:
            start = body.tell()
            for chunk in iter(lambda: body.read(1 << 20), b""):
                self.update(chunk)
            body.seek(start)
        return self.b64digest()


class _Crc32cChecksum(_PyChecksum):
    fn = staticmethod(crc32c)


class _Crc64NvmeChecksum(_PyChecksum):
    fn = staticmethod(crc64nvme)
    width = 8


def teach_botocore_crc32c_crc64nvme():
    from botocore import httpchecksum as hc
    hc._CHECKSUM_CLS.setdefault("crc32c", _Crc32cChecksum)
    hc._CHECKSUM_CLS.setdefault("crc64nvme", _Crc64NvmeChecksum)
    for a in ("crc32c", "crc64nvme"):
        if a not in hc._SUPPORTED_CHECKSUM_ALGORITHMS:
            hc._SUPPORTED_CHECKSUM_ALGORITHMS.append(a)


teach_botocore_crc32c_crc64nvme()


def force_trailer_checksums(s3):
    """Makes this client send PutObject/UploadPart bodies the way boto3 does over HTTPS:
    Content-Encoding aws-chunked, x-amz-content-sha256 STREAMING-UNSIGNED-PAYLOAD-TRAILER and the
    checksum in a trailer. Over plain http botocore puts the checksum in a header instead; the
    daemon must take both, since users reach it through TLS proxies too."""

    def to_trailer(params, context, **kw):
        alg = context.get("checksum", {}).get("request_algorithm")
        if isinstance(alg, dict) and alg.get("in") == "header":
            alg["in"] = "trailer"

    s3.meta.events.register("before-call.s3.PutObject", to_trailer)
    s3.meta.events.register("before-call.s3.UploadPart", to_trailer)
    return s3


def record_requests(s3):
    """Returns a list that fills with (method, url, headers) of every request the client sends."""
    seen = []

    def on_send(request, **kw):
        headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        seen.append((request.method, request.url, headers))

    s3.meta.events.register("before-send.s3", on_send)
    return seen


# ------------------------------------------------------------------------------------------------
# Raw requests: signed by botocore's S3 SigV4 signer, sent with http.client.

class _DeclaredPayloadAuth(S3SigV4Auth):
    """botocore's S3 signer, declaring the given x-amz-content-sha256 (a streaming literal, or a
    hash that does not match the body) instead of hashing the body itself."""

    def __init__(self, payload_hash):
        super().__init__(Credentials("test", "test"), "s3", REGION)
        self._declared = payload_hash

    def payload(self, request):
        return self._declared or super().payload(request)


def sign_s3v4(req, payload_hash=None):
    _DeclaredPayloadAuth(payload_hash).add_auth(req)

def raw(method, path, body=b"", headers=None, query="", sign=True, host=None, payload_hash=None):
    """Sends one request to the endpoint; path is already URL-encoded. Returns
    (status, lower-case headers, body bytes)."""
    headers = dict(headers or {})
    url = EP + path + (("?" + query) if query else "")
    if sign:
        req = AWSRequest(method=method, url=url, data=body, headers=headers)
        if host:
            req.headers["Host"] = host
        sign_s3v4(req, payload_hash)
        headers = {k: v for k, v in req.headers.items()}
    elif host:
        headers["Host"] = host
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    try:
        conn.putrequest(method, path + (("?" + query) if query else ""), skip_host=True,
                        skip_accept_encoding=True)
        if not any(k.lower() == "host" for k in headers):
            conn.putheader("Host", f"127.0.0.1:{PORT}")
        for k, v in headers.items():
            conn.putheader(k, v)
        if body is not None and not any(k.lower() == "content-length" for k in headers):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body if body else None)
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def http_url(method, url, body=None, headers=None):
    """A plain HTTP request to a full URL (presigned URLs): (status, headers, body)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        target = u.path + ("?" + u.query if u.query else "")
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def error_code(xml_bytes):
    text = xml_bytes.decode("utf-8", "replace")
    a = text.find("<Code>")
    b = text.find("</Code>")
    return text[a + 6:b] if a >= 0 and b > a else None


@contextlib.contextmanager
def resolve_localhost_names():
    """Makes *.localhost resolve to 127.0.0.1 in this process (there is no DNS here), so the
    unchanged boto3 stack can use virtual-host addressing: http://BUCKET.localhost:PORT/KEY."""
    real = socket.getaddrinfo

    def fake(host, *a, **kw):
        if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
            host = "127.0.0.1"
        return real(host, *a, **kw)

    socket.getaddrinfo = fake
    try:
        yield
    finally:
        socket.getaddrinfo = real


# ------------------------------------------------------------------------------------------------

class S3Case(unittest.TestCase):
    s3 = None

    @classmethod
    def setUpClass(cls):
        cls.s3 = client()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="boto3-", dir=TMP)
        self.buckets = []

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        for b in self.buckets:
            self.empty_and_delete(b)

    def empty_and_delete(self, b):
        try:
            for up in self.s3.list_multipart_uploads(Bucket=b).get("Uploads", []):
                self.s3.abort_multipart_upload(Bucket=b, Key=up["Key"], UploadId=up["UploadId"])
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=b):
                objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if objs:
                    self.s3.delete_objects(Bucket=b, Delete={"Objects": objs, "Quiet": True})
            self.s3.delete_bucket(Bucket=b)
        except ClientError:
            pass

    def bucket(self):
        name = f"py-{self._testMethodName[5:][:30].replace('_', '-')}-{uuid.uuid4().hex[:8]}".lower()
        name = name.replace("--", "-")
        self.s3.create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    # assertions ------------------------------------------------------------------------------
    def assertError(self, code, status, fn, *a, **kw):
        """fn(*a, **kw) must raise a ClientError with this S3 error code and HTTP status."""
        try:
            fn(*a, **kw)
        except ClientError as e:
            got_code = e.response.get("Error", {}).get("Code")
            got_status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            self.assertEqual((got_code, got_status), (code, status),
                             f"expected {code} ({status}), got {got_code} ({got_status}): {e}")
            return e
        self.fail(f"expected {code} ({status}), but the call succeeded")

    @contextlib.contextmanager
    def moto_differs(self, how):
        """A check moto is known to get wrong: run it everywhere but against moto."""
        if KIND == "moto":
            print(f"# moto differs, not checked: {how}")
            try:
                yield
            except (AssertionError, ClientError) as e:
                print(f"#   (moto: {' '.join(str(e).split())[:200]})")
            return
        yield

    def not_moto(self, how):
        """False against moto for a check with side effects moto gets wrong (so not run there)."""
        if KIND == "moto":
            print(f"# moto differs, not run: {how}")
            return False
        return True

    def put(self, b, k, data, **kw):
        return self.s3.put_object(Bucket=b, Key=k, Body=data, **kw)

    def get(self, b, k, **kw):
        return self.s3.get_object(Bucket=b, Key=k, **kw)["Body"].read()

    def file_of(self, name, size):
        path = os.path.join(self.tmp, name)
        h = hashlib.sha256()
        with open(path, "wb") as f:
            left = size
            while left:
                chunk = os.urandom(min(left, 4 * MIB))
                h.update(chunk)
                f.write(chunk)
                left -= len(chunk)
        return path, h.hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(4 * MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def md5_hex(b):
    return hashlib.md5(b).hexdigest()


# ================================================================================================

class Buckets(S3Case):
    def test_bucket_lifecycle(self):
        name = f"py-life-{uuid.uuid4().hex[:10]}"
        r = self.s3.create_bucket(Bucket=name)
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertEqual(r.get("Location"), f"/{name}")
        self.s3.head_bucket(Bucket=name)
        listed = {b["Name"]: b for b in self.s3.list_buckets()["Buckets"]}
        self.assertIn(name, listed)
        self.assertIsInstance(listed[name]["CreationDate"], datetime.datetime)
        self.assertIsNone(self.s3.get_bucket_location(Bucket=name).get("LocationConstraint"))
        self.s3.delete_bucket(Bucket=name)
        self.assertError("404", 404, self.s3.head_bucket, Bucket=name)
        self.assertNotIn(name, [b["Name"] for b in self.s3.list_buckets()["Buckets"]])
        self.assertError("NoSuchBucket", 404, self.s3.delete_bucket, Bucket=name)

    def test_location_constraint(self):
        eu = client(region_name="eu-west-1")
        name = f"py-eu-{uuid.uuid4().hex[:10]}"
        eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        self.buckets.append(name)
        eu.head_bucket(Bucket=name)
        self.assertEqual(eu.get_bucket_location(Bucket=name)["LocationConstraint"], "eu-west-1")
        self.assertError("BucketAlreadyOwnedByYou", 409, eu.create_bucket, Bucket=name,
                         CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        eu.put_object(Bucket=name, Key="k", Body=b"eu data")
        self.assertEqual(eu.get_object(Bucket=name, Key="k")["Body"].read(), b"eu data")

    def test_bucket_errors(self):
        missing = f"py-missing-{uuid.uuid4().hex[:10]}"
        self.assertError("NoSuchBucket", 404, self.s3.list_objects_v2, Bucket=missing)
        self.assertError("NoSuchBucket", 404, self.s3.put_object, Bucket=missing, Key="k", Body=b"x")
        self.assertError("NoSuchBucket", 404, self.s3.get_object, Bucket=missing, Key="k")
        self.assertError("404", 404, self.s3.head_bucket, Bucket=missing)
        b = self.bucket()
        self.put(b, "k", b"x")
        self.assertError("BucketNotEmpty", 409, self.s3.delete_bucket, Bucket=b)
        self.s3.head_bucket(Bucket=b)
        self.assertEqual(self.get(b, "k"), b"x")
        with self.moto_differs("moto accepts invalid bucket names"):
            for bad in ("Bad_Name", "ab", "x" * 64, "a..b", "-dash", "192.168.1.1", "under_score"):
                self.assertError("InvalidBucketName", 400, self.s3.create_bucket, Bucket=bad)

    def test_create_existing_bucket(self):
        b = self.bucket()
        # us-east-1 answers 200 to re-creating your own bucket (AWS's documented legacy
        # behaviour); BucketAlreadyOwnedByYou is the answer everywhere else. Either way the
        # bucket and its objects survive.
        self.put(b, "keep", b"still here")
        try:
            self.s3.create_bucket(Bucket=b)
        except ClientError as e:
            self.assertEqual(e.response["Error"]["Code"], "BucketAlreadyOwnedByYou")
            self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 409)
        self.assertEqual(self.get(b, "keep"), b"still here")

    def test_anonymous_and_bad_credentials(self):
        b = self.bucket()
        self.put(b, "k", b"secret")
        with self.moto_differs("moto does not authenticate requests by default"):
            anon = client(config=Config(signature_version=UNSIGNED))
            self.assertError("AccessDenied", 403, anon.get_object, Bucket=b, Key="k")
            self.assertError("AccessDenied", 403, anon.list_buckets)
            wrong = client(aws_access_key_id="test", aws_secret_access_key="not-the-secret")
            self.assertError("SignatureDoesNotMatch", 403, wrong.list_buckets)
            self.assertError("SignatureDoesNotMatch", 403, wrong.get_object, Bucket=b, Key="k")
            self.assertError("SignatureDoesNotMatch", 403, wrong.put_object, Bucket=b, Key="k2",
                             Body=b"x" * 10000)
            self.assertError("403", 403, wrong.head_object, Bucket=b, Key="k")
            nokey = client(aws_access_key_id="AKIDUNKNOWN000000000", aws_secret_access_key="test")
            self.assertError("InvalidAccessKeyId", 403, nokey.list_objects_v2, Bucket=b)
            self.assertError("404", 404, self.s3.head_object, Bucket=b, Key="k2")
        self.assertEqual(self.get(b, "k"), b"secret")


class Objects(S3Case):
    def test_put_get_head_metadata(self):
        b = self.bucket()
        data = os.urandom(1024)
        expires = datetime.datetime(2031, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
        r = self.put(b, "doc.bin", data, ContentType="application/x-sluice", Metadata={"Color": "blue", "n": "1"},
                     CacheControl="no-cache", ContentDisposition="inline", ContentLanguage="fr",
                     Expires=expires, Tagging="a=1&b=%C3%A9t%C3%A9", StorageClass="STANDARD")
        self.assertEqual(r["ETag"], f'"{md5_hex(data)}"')
        h = self.s3.head_object(Bucket=b, Key="doc.bin")
        self.assertEqual(h["ContentLength"], 1024)
        self.assertEqual(h["ETag"], f'"{md5_hex(data)}"')
        self.assertEqual(h["ContentType"], "application/x-sluice")
        self.assertEqual(h["Metadata"], {"color": "blue", "n": "1"})
        self.assertEqual(h["CacheControl"], "no-cache")
        self.assertEqual(h["ContentDisposition"], "inline")
        self.assertEqual(h["ContentLanguage"], "fr")
        self.assertEqual(h["ResponseMetadata"]["HTTPHeaders"].get("expires"), "Tue, 06 May 2031 07:08:09 GMT")
        self.assertEqual(h["ResponseMetadata"]["HTTPHeaders"].get("accept-ranges"), "bytes")
        age = datetime.datetime.now(datetime.timezone.utc) - h["LastModified"]
        self.assertLess(abs(age.total_seconds()), 300, "LastModified is now")
        g = self.s3.get_object(Bucket=b, Key="doc.bin")
        self.assertEqual(g["Body"].read(), data)
        self.assertEqual(g["TagCount"], 2)
        tags = {t["Key"]: t["Value"] for t in self.s3.get_object_tagging(Bucket=b, Key="doc.bin")["TagSet"]}
        self.assertEqual(tags, {"a": "1", "b": "été"})
        # Overwrite replaces content and metadata.
        self.put(b, "doc.bin", b"v2")
        h = self.s3.head_object(Bucket=b, Key="doc.bin")
        self.assertEqual((h["ContentLength"], h["Metadata"]), (2, {}))
        self.assertEqual(h["ContentType"], "binary/octet-stream", "S3's default Content-Type")
        self.assertEqual(self.get(b, "doc.bin"), b"v2")

    def test_empty_and_1k_objects(self):
        b = self.bucket()
        self.put(b, "empty", b"")
        g = self.s3.get_object(Bucket=b, Key="empty")
        self.assertEqual(g["Body"].read(), b"")
        self.assertEqual(g["ContentLength"], 0)
        self.assertEqual(g["ETag"], '"d41d8cd98f00b204e9800998ecf8427e"')
        data = os.urandom(1024)
        self.put(b, "1k", data)
        self.assertEqual(self.get(b, "1k"), data)

    def test_response_overrides(self):
        b = self.bucket()
        self.put(b, "o", b"override me", ContentType="text/plain")
        if KIND == "moto":
            self.skipTest("moto ignores the response-* query parameters")
        g = self.s3.get_object(Bucket=b, Key="o", ResponseContentType="application/json",
                               ResponseContentDisposition='attachment; filename="x.json"',
                               ResponseCacheControl="max-age=5", ResponseContentLanguage="de",
                               ResponseContentEncoding="identity",
                               ResponseExpires=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc))
        self.assertEqual(g["Body"].read(), b"override me")
        self.assertEqual(g["ContentType"], "application/json")
        self.assertEqual(g["ContentDisposition"], 'attachment; filename="x.json"')
        self.assertEqual(g["CacheControl"], "max-age=5")
        self.assertEqual(g["ContentLanguage"], "de")
        self.assertEqual(g["ContentEncoding"], "identity")
        self.assertEqual(g["ResponseMetadata"]["HTTPHeaders"]["expires"], "Tue, 01 Jan 2030 00:00:00 GMT")
        # The stored object is unchanged.
        self.assertEqual(self.s3.head_object(Bucket=b, Key="o")["ContentType"], "text/plain")

    def test_ranges(self):
        b = self.bucket()
        data = os.urandom(1024)
        self.put(b, "r", data)
        for rng, want, content_range in (
                ("bytes=0-0", data[:1], "bytes 0-0/1024"),
                ("bytes=0-99", data[:100], "bytes 0-99/1024"),
                ("bytes=1000-", data[1000:], "bytes 1000-1023/1024"),
                ("bytes=-24", data[-24:], "bytes 1000-1023/1024"),
                ("bytes=1020-9999", data[1020:], "bytes 1020-1023/1024"),
                ("bytes=-5000", data, "bytes 0-1023/1024")):
            g = self.s3.get_object(Bucket=b, Key="r", Range=rng)
            self.assertEqual(g["ResponseMetadata"]["HTTPStatusCode"], 206, rng)
            self.assertEqual(g["ContentRange"], content_range, rng)
            self.assertEqual(g["ContentLength"], len(want), rng)
            self.assertEqual(g["Body"].read(), want, rng)
        for bad in ("bytes=1024-", "bytes=1024-2000", "bytes=99999-100000"):
            self.assertError("InvalidRange", 416, self.s3.get_object, Bucket=b, Key="r", Range=bad)
        # HEAD with a range answers like GET, without the body.
        h = self.s3.head_object(Bucket=b, Key="r", Range="bytes=10-19")
        self.assertEqual(h["ResponseMetadata"]["HTTPStatusCode"], 206)
        self.assertEqual(h["ContentLength"], 10)

    def test_conditional_reads(self):
        b = self.bucket()
        etag = self.put(b, "c", b"conditional")["ETag"]
        lm = self.s3.head_object(Bucket=b, Key="c")["LastModified"]
        before = lm - datetime.timedelta(days=1)
        after = lm + datetime.timedelta(days=1)
        other = '"0123456789abcdef0123456789abcdef"'
        for op in (self.s3.get_object, self.s3.head_object):
            name = op.__name__
            self.assertEqual(op(Bucket=b, Key="c", IfMatch=etag)["ETag"], etag, name)
            self.assertError("PreconditionFailed" if name == "get_object" else "412", 412,
                             op, Bucket=b, Key="c", IfMatch=other)
            self.assertError("304", 304, op, Bucket=b, Key="c", IfNoneMatch=etag)
            op(Bucket=b, Key="c", IfNoneMatch=other)
            op(Bucket=b, Key="c", IfModifiedSince=before)
            self.assertError("304", 304, op, Bucket=b, Key="c", IfModifiedSince=after)
            op(Bucket=b, Key="c", IfUnmodifiedSince=after)
            self.assertError("PreconditionFailed" if name == "get_object" else "412", 412,
                             op, Bucket=b, Key="c", IfUnmodifiedSince=before)
            # S3 documents the combinations: If-Match true wins over If-Unmodified-Since false,
            # If-None-Match false wins over If-Modified-Since true (304).
            with self.moto_differs("moto evaluates every condition on its own"):
                op(Bucket=b, Key="c", IfMatch=etag, IfUnmodifiedSince=before)
                self.assertError("304", 304, op, Bucket=b, Key="c", IfNoneMatch=etag, IfModifiedSince=before)
        self.assertEqual(self.get(b, "c", IfMatch=etag), b"conditional")

    def test_conditional_writes(self):
        b = self.bucket()
        etag = self.put(b, "w", b"first", IfNoneMatch="*")["ETag"]
        self.assertError("PreconditionFailed", 412, self.put, b, "w", b"second", IfNoneMatch="*")
        self.assertEqual(self.get(b, "w"), b"first")
        with self.moto_differs("moto ignores If-Match on PutObject"):
            self.assertError("PreconditionFailed", 412, self.put, b, "w", b"third",
                             IfMatch='"0123456789abcdef0123456789abcdef"')
            self.assertEqual(self.get(b, "w"), b"first")
            self.put(b, "w", b"fourth", IfMatch=etag)
            self.assertEqual(self.get(b, "w"), b"fourth")

    def test_no_such_key(self):
        b = self.bucket()
        self.assertError("NoSuchKey", 404, self.s3.get_object, Bucket=b, Key="absent")
        self.assertError("404", 404, self.s3.head_object, Bucket=b, Key="absent")
        self.assertError("NoSuchKey", 404, self.s3.get_object_tagging, Bucket=b, Key="absent")
        r = self.s3.delete_object(Bucket=b, Key="absent")
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 204)

    def test_copy_object(self):
        b = self.bucket()
        data = os.urandom(5000)
        self.put(b, "src/ä b+c", data, ContentType="text/x-src", Metadata={"m": "1"}, Tagging="t=1")
        src = {"Bucket": b, "Key": "src/ä b+c"}
        r = self.s3.copy_object(Bucket=b, Key="copy1", CopySource=src)
        self.assertEqual(r["CopyObjectResult"]["ETag"], f'"{md5_hex(data)}"')
        h = self.s3.head_object(Bucket=b, Key="copy1")
        self.assertEqual((h["ContentType"], h["Metadata"]), ("text/x-src", {"m": "1"}))
        self.assertEqual(self.s3.get_object_tagging(Bucket=b, Key="copy1")["TagSet"], [{"Key": "t", "Value": "1"}])
        self.assertEqual(self.get(b, "copy1"), data)
        self.s3.copy_object(Bucket=b, Key="copy2", CopySource=src, MetadataDirective="REPLACE",
                            ContentType="text/x-new", Metadata={"z": "26"}, TaggingDirective="REPLACE",
                            Tagging="u=2")
        h = self.s3.head_object(Bucket=b, Key="copy2")
        self.assertEqual((h["ContentType"], h["Metadata"]), ("text/x-new", {"z": "26"}))
        self.assertEqual(self.s3.get_object_tagging(Bucket=b, Key="copy2")["TagSet"], [{"Key": "u", "Value": "2"}])
        self.assertEqual(self.get(b, "copy2"), data)
        # Onto itself: refused unless something changes.
        self.assertError("InvalidRequest", 400, self.s3.copy_object, Bucket=b, Key="copy2",
                         CopySource={"Bucket": b, "Key": "copy2"})
        self.s3.copy_object(Bucket=b, Key="copy2", CopySource={"Bucket": b, "Key": "copy2"},
                            MetadataDirective="REPLACE", Metadata={"z": "27"})
        self.assertEqual(self.s3.head_object(Bucket=b, Key="copy2")["Metadata"], {"z": "27"})
        self.assertEqual(self.get(b, "copy2"), data)
        # Across buckets, and the errors.
        b2 = self.bucket()
        self.s3.copy_object(Bucket=b2, Key="x", CopySource=src)
        self.assertEqual(self.get(b2, "x"), data)
        self.assertError("NoSuchKey", 404, self.s3.copy_object, Bucket=b, Key="y",
                         CopySource={"Bucket": b, "Key": "nope"})
        self.assertError("NoSuchBucket", 404, self.s3.copy_object, Bucket=b, Key="y",
                         CopySource={"Bucket": "py-no-such-bucket-" + uuid.uuid4().hex[:8], "Key": "k"})
        with self.moto_differs("moto ignores copy-source conditions"):
            self.assertError("PreconditionFailed", 412, self.s3.copy_object, Bucket=b, Key="y",
                             CopySource=src, CopySourceIfMatch='"0123456789abcdef0123456789abcdef"')
            self.assertError("PreconditionFailed", 412, self.s3.copy_object, Bucket=b, Key="y",
                             CopySource=src, CopySourceIfNoneMatch=f'"{md5_hex(data)}"')

    def test_special_keys(self):
        b = self.bucket()
        keys = ["../x", "a//b", "with space", "?#&+", "ünïcødé/日本語.txt", "dir/", "%2F%41", "a/./b",
                "tab\tand", "=;,!'()*@$:~", "k" * 1024, "日" * 341 + "a", " lead", "trail ",
                "emoji 🚀", "back\\slash", "<xml>&amp;"]
        for i, k in enumerate(keys):
            data = f"content {i}".encode()
            self.put(b, k, data)
            self.assertEqual(self.get(b, k), data, repr(k))
            self.assertEqual(self.s3.head_object(Bucket=b, Key=k)["ContentLength"], len(data), repr(k))
        listed = [o["Key"] for p in self.s3.get_paginator("list_objects_v2").paginate(Bucket=b)
                  for o in p.get("Contents", [])]
        self.assertEqual(listed, sorted(keys, key=lambda s: s.encode()), "exact keys, UTF-8 byte order")
        listed_v1 = [o["Key"] for o in self.s3.list_objects(Bucket=b)["Contents"]]
        self.assertEqual(listed_v1, listed)
        # Without EncodingType=url the XML must still carry the keys (XML-escaped).
        st, _, body = raw("GET", f"/{b}", query="list-type=2&prefix=%3Cxml")
        self.assertEqual(st, 200)
        self.assertIn(b"<Key>&lt;xml&gt;&amp;amp;</Key>", body)
        with self.moto_differs("moto cannot route a key with a newline"):
            self.put(b, "new\nline", b"nl")
            self.assertEqual(self.get(b, "new\nline"), b"nl")
            self.s3.delete_object(Bucket=b, Key="new\nline")
        with self.moto_differs("moto stores keys longer than 1024 bytes"):
            self.assertError("KeyTooLongError", 400, self.put, b, "k" * 1025, b"x")
            self.assertError("KeyTooLongError", 400, self.put, b, "日" * 341 + "ab", b"x")
        self.s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in keys]})
        left = [o["Key"] for o in self.s3.list_objects_v2(Bucket=b).get("Contents", [])]
        self.assertEqual([k for k in left if k in keys], [], "every key deleted by name")

    def test_tagging(self):
        b = self.bucket()
        self.put(b, "t", b"x")
        self.assertEqual(self.s3.get_object_tagging(Bucket=b, Key="t")["TagSet"], [])
        self.s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": [
            {"Key": "k1", "Value": "v1"}, {"Key": "k 2", "Value": "v/2=+"}]})
        got = {t["Key"]: t["Value"] for t in self.s3.get_object_tagging(Bucket=b, Key="t")["TagSet"]}
        self.assertEqual(got, {"k1": "v1", "k 2": "v/2=+"})
        self.assertEqual(self.s3.get_object(Bucket=b, Key="t")["TagCount"], 2)
        self.s3.delete_object_tagging(Bucket=b, Key="t")
        self.assertEqual(self.s3.get_object_tagging(Bucket=b, Key="t")["TagSet"], [])
        self.assertError("NoSuchKey", 404, self.s3.put_object_tagging, Bucket=b, Key="absent",
                         Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
        with self.moto_differs("moto does not limit tags"):
            self.assertError("BadRequest", 400, self.s3.put_object_tagging, Bucket=b, Key="t",
                             Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]})


class Listing(S3Case):
    KEYS = ["a/1", "a/2", "a/b/3", "b/4", "c", "d/", "e", "z/z/z", "é"]  # UTF-8 byte order

    def fill(self):
        b = self.bucket()
        for k in self.KEYS:
            self.put(b, k, b"1")
        return b

    def test_list_v2(self):
        b = self.fill()
        r = self.s3.list_objects_v2(Bucket=b)
        self.assertEqual([o["Key"] for o in r["Contents"]], self.KEYS)
        self.assertEqual(r["KeyCount"], len(self.KEYS))
        self.assertFalse(r["IsTruncated"])
        o = r["Contents"][0]
        self.assertEqual((o["Size"], o["ETag"], o["StorageClass"]), (1, f'"{md5_hex(b"1")}"', "STANDARD"))
        r = self.s3.list_objects_v2(Bucket=b, Delimiter="/")
        self.assertEqual([p["Prefix"] for p in r["CommonPrefixes"]], ["a/", "b/", "d/", "z/"])
        self.assertEqual([o["Key"] for o in r["Contents"]], ["c", "e", "é"])
        self.assertEqual(r["KeyCount"], 7)
        r = self.s3.list_objects_v2(Bucket=b, Prefix="a/", Delimiter="/")
        self.assertEqual(([o["Key"] for o in r["Contents"]], [p["Prefix"] for p in r["CommonPrefixes"]]),
                         (["a/1", "a/2"], ["a/b/"]))
        r = self.s3.list_objects_v2(Bucket=b, StartAfter="c")
        self.assertEqual([o["Key"] for o in r["Contents"]], ["d/", "e", "z/z/z", "é"])
        r = self.s3.list_objects_v2(Bucket=b, Prefix="nothing")
        self.assertEqual((r["KeyCount"], r.get("Contents")), (0, None))
        # Other delimiters than "/".
        r = self.s3.list_objects_v2(Bucket=b, Delimiter="b")
        self.assertEqual([p["Prefix"] for p in r.get("CommonPrefixes", [])], ["a/b", "b"])

    def test_list_v2_pagination(self):
        b = self.fill()
        for size in (1, 2, 4):
            pages = list(self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=b, PaginationConfig={"PageSize": size}))
            keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
            self.assertEqual(keys, self.KEYS, f"page size {size}")
            self.assertEqual(len(pages), -(-len(self.KEYS) // size), f"pages of {size}")
            for p in pages[:-1]:
                self.assertTrue(p["IsTruncated"])
                self.assertEqual(p["KeyCount"], size)
            self.assertFalse(pages[-1]["IsTruncated"])
        # With a delimiter a common prefix counts as one entry and is never repeated.
        pages = list(self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=b, Delimiter="/", PaginationConfig={"PageSize": 2}))
        prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
        keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
        self.assertEqual((prefixes, keys), (["a/", "b/", "d/", "z/"], ["c", "e", "é"]))
        self.assertEqual(len(pages), 4)
        # A continuation token from one listing with a StartAfter.
        r = self.s3.list_objects_v2(Bucket=b, MaxKeys=2, StartAfter="a/2")
        self.assertEqual([o["Key"] for o in r["Contents"]], ["a/b/3", "b/4"])
        r = self.s3.list_objects_v2(Bucket=b, MaxKeys=2, StartAfter="a/2",
                                    ContinuationToken=r["NextContinuationToken"])
        self.assertEqual([o["Key"] for o in r["Contents"]], ["c", "d/"])
        with self.moto_differs("moto accepts any continuation token"):
            self.assertError("InvalidArgument", 400, self.s3.list_objects_v2, Bucket=b,
                             ContinuationToken="not-a-token-this-server-made")

    def test_list_v1(self):
        b = self.fill()
        r = self.s3.list_objects(Bucket=b)
        self.assertEqual([o["Key"] for o in r["Contents"]], self.KEYS)
        pages = list(self.s3.get_paginator("list_objects").paginate(Bucket=b, PaginationConfig={"PageSize": 2}))
        self.assertEqual([o["Key"] for p in pages for o in p.get("Contents", [])], self.KEYS)
        r = self.s3.list_objects(Bucket=b, Marker="c", MaxKeys=2)
        self.assertEqual([o["Key"] for o in r["Contents"]], ["d/", "e"])
        self.assertTrue(r["IsTruncated"])
        with self.moto_differs("moto leaves out NextMarker and misreports truncation with a delimiter"):
            r = self.s3.list_objects(Bucket=b, Delimiter="/", MaxKeys=2)
            self.assertEqual(r.get("NextMarker"), "b/")
            self.assertTrue(r["IsTruncated"])
            pages = list(self.s3.get_paginator("list_objects").paginate(
                Bucket=b, Delimiter="/", PaginationConfig={"PageSize": 1}))
            self.assertEqual([c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])],
                             ["a/", "b/", "d/", "z/"])

    def test_delete_objects(self):
        b = self.fill()
        r = self.s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a/1"}, {"Key": "c"}, {"Key": "ghost"}]})
        self.assertEqual(sorted(d["Key"] for d in r["Deleted"]), ["a/1", "c", "ghost"])
        self.assertNotIn("Errors", r)
        left = [o["Key"] for o in self.s3.list_objects_v2(Bucket=b)["Contents"]]
        self.assertEqual(left, [k for k in self.KEYS if k not in ("a/1", "c")])
        r = self.s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in left], "Quiet": True})
        with self.moto_differs("moto lists deleted keys in quiet mode"):
            self.assertNotIn("Deleted", r)
        self.assertEqual(self.s3.list_objects_v2(Bucket=b)["KeyCount"], 0)
        self.s3.delete_bucket(Bucket=b)
        self.buckets.remove(b)


class Multipart(S3Case):
    def test_multipart_lifecycle(self):
        b = self.bucket()
        p1, p2, p3 = os.urandom(5 * MIB), os.urandom(5 * MIB + 17), os.urandom(100)
        src = os.urandom(7 * MIB)
        self.put(b, "src", src)
        up = self.s3.create_multipart_upload(Bucket=b, Key="mp/obj", ContentType="video/x-test",
                                             Metadata={"kind": "mpu"}, Tagging="mp=yes")
        uid = up["UploadId"]
        self.assertEqual((up["Bucket"], up["Key"]), (b, "mp/obj"))
        listed = self.s3.list_multipart_uploads(Bucket=b)["Uploads"]
        self.assertEqual([(u["Key"], u["UploadId"]) for u in listed], [("mp/obj", uid)])
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=b, Prefix="zz").get("Uploads", []), [])
        e1 = self.s3.upload_part(Bucket=b, Key="mp/obj", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
        self.assertEqual(e1, f'"{md5_hex(p1)}"')
        # Uploading a part again replaces it.
        self.s3.upload_part(Bucket=b, Key="mp/obj", UploadId=uid, PartNumber=2, Body=b"junk")
        e2 = self.s3.upload_part(Bucket=b, Key="mp/obj", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
        r = self.s3.upload_part_copy(Bucket=b, Key="mp/obj", UploadId=uid, PartNumber=3,
                                     CopySource={"Bucket": b, "Key": "src"}, CopySourceRange="bytes=100-199")
        e3 = r["CopyPartResult"]["ETag"]
        self.assertEqual(e3, f'"{md5_hex(src[100:200])}"')
        p3 = src[100:200]
        parts = self.s3.list_parts(Bucket=b, Key="mp/obj", UploadId=uid)["Parts"]
        self.assertEqual([(p["PartNumber"], p["Size"], p["ETag"]) for p in parts],
                         [(1, len(p1), e1), (2, len(p2), e2), (3, 100, e3)])
        pg = self.s3.list_parts(Bucket=b, Key="mp/obj", UploadId=uid, MaxParts=2)
        self.assertTrue(pg["IsTruncated"])
        self.assertEqual(pg["NextPartNumberMarker"], 2)
        pg = self.s3.list_parts(Bucket=b, Key="mp/obj", UploadId=uid, PartNumberMarker=2)
        self.assertEqual([p["PartNumber"] for p in pg["Parts"]], [3])
        # The object does not exist until completed.
        self.assertError("NoSuchKey", 404, self.s3.get_object, Bucket=b, Key="mp/obj")
        if self.not_moto("moto completes with parts out of order"):
            self.assertError("InvalidPartOrder", 400, self.s3.complete_multipart_upload, Bucket=b, Key="mp/obj",
                             UploadId=uid, MultipartUpload={"Parts": [
                                 {"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
        if self.not_moto("moto completes with parts that were never uploaded"):
            self.assertError("InvalidPart", 400, self.s3.complete_multipart_upload, Bucket=b, Key="mp/obj",
                             UploadId=uid, MultipartUpload={"Parts": [
                                 {"PartNumber": 1, "ETag": e1}, {"PartNumber": 7, "ETag": e2}]})
        r = self.s3.complete_multipart_upload(Bucket=b, Key="mp/obj", UploadId=uid, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": e3}]})
        want_etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in (p1, p2, p3))).hexdigest() + "-3"
        self.assertEqual(r["ETag"], f'"{want_etag}"')
        g = self.s3.get_object(Bucket=b, Key="mp/obj")
        self.assertEqual(g["Body"].read(), p1 + p2 + p3)
        self.assertEqual((g["ContentType"], g["Metadata"], g["ETag"]), ("video/x-test", {"kind": "mpu"}, f'"{want_etag}"'))
        self.assertEqual(g.get("TagCount"), 1)
        # Part-wise reads: PartNumber=2 returns the second part.
        with self.moto_differs("moto does not serve GetObject PartNumber"):
            g = self.s3.get_object(Bucket=b, Key="mp/obj", PartNumber=2)
            self.assertEqual(g["Body"].read(), p2)
            self.assertEqual(g["PartsCount"], 3)
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=b).get("Uploads", []), [])
        with self.moto_differs("moto answers 500 for a completed upload"):
            self.assertError("NoSuchUpload", 404, self.s3.upload_part, Bucket=b, Key="mp/obj",
                             UploadId=uid, PartNumber=4, Body=b"x")

    def test_multipart_errors_and_abort(self):
        b = self.bucket()
        uid = self.s3.create_multipart_upload(Bucket=b, Key="small")["UploadId"]
        e1 = self.s3.upload_part(Bucket=b, Key="small", UploadId=uid, PartNumber=1, Body=b"a" * 100)["ETag"]
        e2 = self.s3.upload_part(Bucket=b, Key="small", UploadId=uid, PartNumber=2, Body=b"b" * 100)["ETag"]
        with self.moto_differs("moto does not enforce the 5 MiB minimum part size"):
            self.assertError("EntityTooSmall", 400, self.s3.complete_multipart_upload, Bucket=b, Key="small",
                             UploadId=uid, MultipartUpload={"Parts": [
                                 {"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
        self.assertError("InvalidArgument", 400, self.s3.upload_part, Bucket=b, Key="small", UploadId=uid,
                         PartNumber=10001, Body=b"x")
        self.s3.abort_multipart_upload(Bucket=b, Key="small", UploadId=uid)
        self.assertError("NoSuchUpload", 404, self.s3.list_parts, Bucket=b, Key="small", UploadId=uid)
        with self.moto_differs("moto answers 500 for parts of an aborted upload"):
            self.assertError("NoSuchUpload", 404, self.s3.upload_part, Bucket=b, Key="small", UploadId=uid,
                             PartNumber=3, Body=b"x")
            self.assertError("NoSuchUpload", 404, self.s3.complete_multipart_upload, Bucket=b, Key="small",
                             UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
        self.assertError("NoSuchUpload", 404, self.s3.abort_multipart_upload, Bucket=b, Key="small",
                         UploadId="no-such-upload-id")
        self.assertError("404", 404, self.s3.head_object, Bucket=b, Key="small")
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=b).get("Uploads", []), [])
        # A single small part is a valid upload (the last part may be any size).
        uid = self.s3.create_multipart_upload(Bucket=b, Key="one")["UploadId"]
        e = self.s3.upload_part(Bucket=b, Key="one", UploadId=uid, PartNumber=1, Body=b"only part")["ETag"]
        self.s3.complete_multipart_upload(Bucket=b, Key="one", UploadId=uid,
                                          MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
        self.assertEqual(self.get(b, "one"), b"only part")

    def test_multipart_checksums(self):
        b = self.bucket()
        p1, p2 = os.urandom(5 * MIB), os.urandom(1000)
        for algo in ("CRC32", "SHA256"):
            key = f"ck-{algo}"
            uid = self.s3.create_multipart_upload(Bucket=b, Key=key, ChecksumAlgorithm=algo)["UploadId"]
            parts = []
            for n, p in ((1, p1), (2, p2)):
                r = self.s3.upload_part(Bucket=b, Key=key, UploadId=uid, PartNumber=n, Body=p,
                                        ChecksumAlgorithm=algo)
                self.assertEqual(r[f"Checksum{algo}"], checksum_b64(algo, p), f"part {n} {algo}")
                parts.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{algo}": r[f"Checksum{algo}"]})
            listed = self.s3.list_parts(Bucket=b, Key=key, UploadId=uid)["Parts"]
            with self.moto_differs("moto's ListParts leaves out part checksums"):
                self.assertEqual([p.get(f"Checksum{algo}") for p in listed], [p[f"Checksum{algo}"] for p in parts])
            self.s3.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": parts})
            composite = b64(hashlib.sha256(b"".join(base64.b64decode(p[f"Checksum{algo}"]) for p in parts)).digest()) \
                if algo == "SHA256" else \
                b64(zlib.crc32(b"".join(base64.b64decode(p[f"Checksum{algo}"]) for p in parts)).to_bytes(4, "big"))
            h = self.s3.head_object(Bucket=b, Key=key, ChecksumMode="ENABLED")
            with self.moto_differs("moto leaves the part count out of composite checksums"):
                self.assertEqual(h.get(f"Checksum{algo}"), composite + "-2", f"composite {algo}")
            self.assertEqual(self.get(b, key), p1 + p2)
        # A part whose stated checksum is wrong is refused.
        uid = self.s3.create_multipart_upload(Bucket=b, Key="bad", ChecksumAlgorithm="SHA256")["UploadId"]
        with self.moto_differs("moto does not verify part checksums"):
            self.assertError("BadDigest", 400, self.s3.upload_part, Bucket=b, Key="bad", UploadId=uid,
                             PartNumber=1, Body=p2, ChecksumSHA256=checksum_b64("SHA256", b"other"))
        self.s3.abort_multipart_upload(Bucket=b, Key="bad", UploadId=uid)


class Checksums(S3Case):
    def test_default_checksum(self):
        # boto3 1.43 computes a CRC32 for every PutObject unless told otherwise.
        b = self.bucket()
        data = os.urandom(70000)
        seen = record_requests(self.s3)
        r = self.put(b, "default", data)
        sent = {k.lower(): v for k, v in seen[-1][2].items()}
        self.assertEqual(sent.get("x-amz-checksum-crc32"), checksum_b64("CRC32", data),
                         "boto3 sent its default CRC32")
        self.assertEqual(r.get("ChecksumCRC32"), checksum_b64("CRC32", data), "PutObject echoes the CRC32")
        h = self.s3.head_object(Bucket=b, Key="default", ChecksumMode="ENABLED")
        self.assertEqual(h.get("ChecksumCRC32"), checksum_b64("CRC32", data))
        with self.moto_differs("moto does not return ChecksumType"):
            self.assertEqual(h.get("ChecksumType"), "FULL_OBJECT")
        g = self.s3.get_object(Bucket=b, Key="default", ChecksumMode="ENABLED")
        self.assertEqual(g.get("ChecksumCRC32"), checksum_b64("CRC32", data))
        self.assertEqual(g["Body"].read(), data)  # botocore validates the CRC32 as it reads
        # Without checksum mode no checksum header is required; with it off, none is promised.
        self.assertEqual(self.get(b, "default"), data)

    def test_explicit_algorithms(self):
        b = self.bucket()
        data = os.urandom(33333)
        for algo in ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"):
            r = self.put(b, algo, data, ChecksumAlgorithm=algo)
            want = checksum_b64(algo, data)
            self.assertEqual(r.get(f"Checksum{algo}"), want, f"PutObject {algo}")
            h = self.s3.head_object(Bucket=b, Key=algo, ChecksumMode="ENABLED")
            self.assertEqual(h.get(f"Checksum{algo}"), want, f"HeadObject {algo}")
            g = self.s3.get_object(Bucket=b, Key=algo, ChecksumMode="ENABLED")
            self.assertEqual(g.get(f"Checksum{algo}"), want, f"GetObject {algo}")
            self.assertEqual(g["Body"].read(), data)
            # The client may also state the value itself.
            r = self.put(b, algo + "-stated", data, **{f"Checksum{algo}": want})
            h = self.s3.head_object(Bucket=b, Key=algo + "-stated", ChecksumMode="ENABLED")
            with self.moto_differs("moto keeps a stated checksum only with x-amz-sdk-checksum-algorithm"):
                self.assertEqual(h.get(f"Checksum{algo}"), want, f"stated {algo}")

    def test_aws_chunked_trailer(self):
        # What boto3 sends over HTTPS (and the JS SDK for streams): aws-chunked with the
        # checksum in a trailer, unsigned payload.
        b = self.bucket()
        s3 = force_trailer_checksums(client())
        seen = record_requests(s3)
        for algo in (None, "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"):
            for size in (0, 1, 70000, 3 * MIB + 5):
                data = os.urandom(size)
                kw = {"ChecksumAlgorithm": algo} if algo else {}
                key = f"chunked-{algo}-{size}"
                s3.put_object(Bucket=b, Key=key, Body=io.BytesIO(data), **kw)
                sent = {k.lower(): v for k, v in seen[-1][2].items()}
                self.assertEqual(sent.get("content-encoding"), "aws-chunked")
                self.assertEqual(sent.get("x-amz-content-sha256"), "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
                a = algo or "CRC32"
                self.assertEqual(sent.get("x-amz-trailer"), f"x-amz-checksum-{a.lower()}")
                g = self.s3.get_object(Bucket=b, Key=key, ChecksumMode="ENABLED")
                self.assertEqual(g["Body"].read(), data, key)
                self.assertEqual(g["ContentLength"], size, key)
                self.assertEqual(g.get(f"Checksum{a}"), checksum_b64(a, data), key)
                self.assertNotEqual(g.get("ContentEncoding"), "aws-chunked",
                                    "aws-chunked is a transfer framing, not stored")
        # Multipart parts framed the same way.
        p1, p2 = os.urandom(5 * MIB), os.urandom(10)
        uid = s3.create_multipart_upload(Bucket=b, Key="mp", ChecksumAlgorithm="CRC32")["UploadId"]
        parts = []
        for n, p in ((1, p1), (2, p2)):
            r = s3.upload_part(Bucket=b, Key="mp", UploadId=uid, PartNumber=n, Body=io.BytesIO(p),
                               ChecksumAlgorithm="CRC32")
            self.assertEqual(r.get("ChecksumCRC32"), checksum_b64("CRC32", p))
            parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
        s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
        self.assertEqual(self.get(b, "mp"), p1 + p2)

    def test_wrong_checksum_stores_nothing(self):
        b = self.bucket()
        data = os.urandom(5000)
        self.put(b, "keep", b"original")
        for algo in ("CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"):
            wrong = checksum_b64(algo, b"something else")
            with self.moto_differs("moto does not verify stated checksums"):
                self.assertError("BadDigest", 400, self.put, b, "new-" + algo, data, **{f"Checksum{algo}": wrong})
                self.assertError("404", 404, self.s3.head_object, Bucket=b, Key="new-" + algo)
                self.assertError("BadDigest", 400, self.put, b, "keep", data, **{f"Checksum{algo}": wrong})
                self.assertEqual(self.get(b, "keep"), b"original", "a refused overwrite keeps the old object")
        # A wrong trailer checksum in an aws-chunked body: refused, nothing stored.
        body = b"hello trailer"
        chunked = b"%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n" % (
            len(body), body, checksum_b64("CRC32", b"not the body").encode())
        st, _, resp = raw("PUT", f"/{b}/trailer-bad", body=chunked, headers={
            "Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32",
            "X-Amz-Decoded-Content-Length": str(len(body))},
            payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        with self.moto_differs("moto does not verify trailer checksums"):
            self.assertEqual((st, error_code(resp)), (400, "BadDigest"), resp[:300])
            self.assertError("404", 404, self.s3.head_object, Bucket=b, Key="trailer-bad")
        # The same body with the right trailer is stored, decoded.
        chunked = b"%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n" % (
            len(body), body, checksum_b64("CRC32", body).encode())
        st, _, resp = raw("PUT", f"/{b}/trailer-good", body=chunked, headers={
            "Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32",
            "X-Amz-Decoded-Content-Length": str(len(body))},
            payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        self.assertEqual(st, 200, resp[:300])
        with self.moto_differs("moto decodes aws-chunked only under Transfer-Encoding: chunked"):
            self.assertEqual(self.get(b, "trailer-good"), body)

    def test_content_md5(self):
        b = self.bucket()
        data = b"md5 checked body"
        self.put(b, "ok", data, ContentMD5=b64(hashlib.md5(data).digest()))
        self.assertEqual(self.get(b, "ok"), data)
        with self.moto_differs("moto does not verify Content-MD5"):
            self.assertError("BadDigest", 400, self.put, b, "bad", data, ContentMD5=b64(hashlib.md5(b"x").digest()))
            self.assertError("404", 404, self.s3.head_object, Bucket=b, Key="bad")
            self.assertError("InvalidDigest", 400, self.put, b, "bad", data, ContentMD5="not-base64-md5")
        # A payload hash that does not match the body (SigV4 signed payload).
        st, _, resp = raw("PUT", f"/{b}/sha-mismatch", body=b"actual body",
                          payload_hash=hashlib.sha256(b"another body").hexdigest())
        with self.moto_differs("moto does not check x-amz-content-sha256"):
            self.assertEqual((st, error_code(resp)), (400, "XAmzContentSHA256Mismatch"), resp[:300])
            self.assertError("404", 404, self.s3.head_object, Bucket=b, Key="sha-mismatch")


class Transfers(S3Case):
    def roundtrip(self, size, config):
        b = self.bucket()
        path, digest = self.file_of(f"up-{size}", size)
        self.s3.upload_file(path, b, "obj", Config=config)
        h = self.s3.head_object(Bucket=b, Key="obj")
        self.assertEqual(h["ContentLength"], size)
        down = os.path.join(self.tmp, "down")
        self.s3.download_file(b, "obj", down, Config=config)
        self.assertEqual(sha256_file(down), digest, "downloaded bytes are identical")
        os.unlink(down)
        return b, h, path

    def test_upload_download_20mib(self):
        cfg = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4)
        b, h, path = self.roundtrip(20 * MIB, cfg)
        self.assertTrue(h["ETag"].endswith('-3"'), f"3 parts of 8 MiB: {h['ETag']}")
        buf = io.BytesIO()
        self.s3.download_fileobj(b, "obj", buf, Config=cfg)
        with open(path, "rb") as f:
            self.assertEqual(buf.getvalue(), f.read())

    def test_upload_download_200mib(self):
        cfg = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=16 * MIB, max_concurrency=4)
        b, h, _ = self.roundtrip(200 * MIB, cfg)
        self.assertTrue(h["ETag"].endswith('-13"'), f"13 parts of 16 MiB: {h['ETag']}")
        # s3transfer asks for CRC32 on every part by default: the object's checksum.
        h = self.s3.head_object(Bucket=b, Key="obj", ChecksumMode="ENABLED")
        self.assertTrue(h.get("ChecksumCRC32"), "a multipart upload with CRC32 parts has a checksum")

    def test_upload_small_file(self):
        cfg = TransferConfig(multipart_threshold=8 * MIB)
        for size in (0, 1024):
            self.roundtrip(size, cfg)


class Presigned(S3Case):
    def test_sigv2_presigned_get_put(self):
        b = self.bucket()
        self.put(b, "dir/a b+c.txt", b"presigned content", ContentType="text/plain")
        url = self.s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "dir/a b+c.txt"}, ExpiresIn=300)
        self.assertIn("AWSAccessKeyId=", url, "boto3 presigns with SigV2 in us-east-1 by default")
        st, hdr, body = http_url("GET", url)
        self.assertEqual((st, body), (200, b"presigned content"))
        self.assertEqual(hdr.get("content-type"), "text/plain")
        url = self.s3.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "up", "ContentType": "text/csv"},
                                             ExpiresIn=300)
        st, _, body = http_url("PUT", url, body=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"})
        self.assertEqual(st, 200, body[:300])
        self.assertEqual(self.get(b, "up"), b"a,b\n1,2\n")
        self.assertEqual(self.s3.head_object(Bucket=b, Key="up")["ContentType"], "text/csv")
        # SigV2 signs Content-Type: another one must be refused, and nothing changes.
        with self.moto_differs("moto does not verify presigned signatures"):
            st, _, body = http_url("PUT", url, body=b"evil", headers={"Content-Type": "application/json"})
            self.assertEqual((st, error_code(body)), (403, "SignatureDoesNotMatch"), body[:300])
            st, _, body = http_url("PUT", url, body=b"evil")
            self.assertEqual((st, error_code(body)), (403, "SignatureDoesNotMatch"), body[:300])
            self.assertEqual(self.get(b, "up"), b"a,b\n1,2\n")
            # A URL for one key does not open another.
            other = url.replace("/up?", "/other?")
            st, _, body = http_url("PUT", other, body=b"x", headers={"Content-Type": "text/csv"})
            self.assertEqual(st, 403)
            self.assertError("404", 404, self.s3.head_object, Bucket=b, Key="other")

    def test_sigv4_presigned_get_put(self):
        s3v4 = client(config=Config(signature_version="s3v4"))
        b = self.bucket()
        self.put(b, "ünï code/k?=&", b"v4 content")
        url = s3v4.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "ünï code/k?=&"}, ExpiresIn=300)
        self.assertIn("X-Amz-Signature=", url)
        st, _, body = http_url("GET", url)
        self.assertEqual((st, body), (200, b"v4 content"))
        url = s3v4.generate_presigned_url("get_object", Params={
            "Bucket": b, "Key": "ünï code/k?=&", "ResponseContentType": "application/x-override"}, ExpiresIn=300)
        st, hdr, body = http_url("GET", url)
        with self.moto_differs("moto ignores response-content-type"):
            self.assertEqual((st, hdr.get("content-type")), (200, "application/x-override"))
        url = s3v4.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "v4-up"}, ExpiresIn=300)
        st, _, body = http_url("PUT", url, body=b"uploaded with a v4 URL")
        self.assertEqual(st, 200, body[:300])
        self.assertEqual(self.get(b, "v4-up"), b"uploaded with a v4 URL")
        url = s3v4.generate_presigned_url("head_object", Params={"Bucket": b, "Key": "v4-up"}, ExpiresIn=300)
        st, hdr, _ = http_url("HEAD", url)
        self.assertEqual((st, hdr.get("content-length")), (200, str(len(b"uploaded with a v4 URL"))))
        with self.moto_differs("moto does not verify presigned signatures"):
            url = s3v4.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "v4-up"}, ExpiresIn=300)
            base, sig = url.rsplit("X-Amz-Signature=", 1)
            tampered = base + "X-Amz-Signature=" + sig[:-1] + ("0" if sig[-1] != "0" else "1")
            st, _, body = http_url("GET", tampered)
            self.assertEqual((st, error_code(body)), (403, "SignatureDoesNotMatch"), body[:300])
            bad = client(config=Config(signature_version="s3v4"), aws_secret_access_key="wrong",
                         aws_access_key_id="test")
            st, _, body = http_url("GET", bad.generate_presigned_url(
                "get_object", Params={"Bucket": b, "Key": "v4-up"}, ExpiresIn=300))
            self.assertEqual((st, error_code(body)), (403, "SignatureDoesNotMatch"), body[:300])

    def test_presigned_expired(self):
        b = self.bucket()
        self.put(b, "k", b"soon gone")
        v2 = self.s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "k"}, ExpiresIn=1)
        v4 = client(config=Config(signature_version="s3v4")).generate_presigned_url(
            "get_object", Params={"Bucket": b, "Key": "k"}, ExpiresIn=1)
        time.sleep(2.5)
        with self.moto_differs("moto does not check presigned URL expiry"):
            for url in (v2, v4):
                st, _, body = http_url("GET", url)
                self.assertEqual((st, error_code(body)), (403, "AccessDenied"), body[:300])
                self.assertIn(b"expired", body.lower())


class VirtualHost(S3Case):
    def test_virtual_host_addressing(self):
        b = self.bucket()
        self.put(b, "existing", b"made path-style")
        with resolve_localhost_names():
            vs3 = client(endpoint_url=f"http://localhost:{PORT}",
                         config=Config(s3={"addressing_style": "virtual"}))
            seen = record_requests(vs3)
            self.assertEqual(vs3.get_object(Bucket=b, Key="existing")["Body"].read(), b"made path-style")
            self.assertTrue(seen[-1][1].startswith(f"http://{b}.localhost:{PORT}/existing"),
                            f"the client really used virtual-host addressing: {seen[-1][1]}")
            vs3.put_object(Bucket=b, Key="vh/ä b", Body=b"virtual", ContentType="text/x-vh")
            self.assertEqual(vs3.head_object(Bucket=b, Key="vh/ä b")["ContentType"], "text/x-vh")
            keys = [o["Key"] for o in vs3.list_objects_v2(Bucket=b)["Contents"]]
            self.assertEqual(keys, ["existing", "vh/ä b"])
            vs3.head_bucket(Bucket=b)
            vs3.copy_object(Bucket=b, Key="vh-copy", CopySource={"Bucket": b, "Key": "vh/ä b"})
            uid = vs3.create_multipart_upload(Bucket=b, Key="vh-mp")["UploadId"]
            e = vs3.upload_part(Bucket=b, Key="vh-mp", UploadId=uid, PartNumber=1, Body=b"part")["ETag"]
            vs3.complete_multipart_upload(Bucket=b, Key="vh-mp", UploadId=uid,
                                          MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
            vs3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "existing"}]})
            url = client(endpoint_url=f"http://localhost:{PORT}", config=Config(
                signature_version="s3v4", s3={"addressing_style": "virtual"})).generate_presigned_url(
                "get_object", Params={"Bucket": b, "Key": "vh-copy"}, ExpiresIn=60)
            self.assertTrue(url.startswith(f"http://{b}.localhost:{PORT}/"), url)
            u = urllib.parse.urlsplit(url)
            st, _, body = raw("GET", u.path, query=u.query, sign=False, host=u.netloc)
            self.assertEqual((st, body), (200, b"virtual"))
            self.assertError("NoSuchKey", 404, vs3.get_object, Bucket=b, Key="existing")
            missing = f"py-vh-missing-{uuid.uuid4().hex[:8]}"
            self.assertError("NoSuchBucket", 404, vs3.list_objects_v2, Bucket=missing)
        self.assertEqual(self.get(b, "vh/ä b"), b"virtual")
        self.assertEqual(self.get(b, "vh-mp"), b"part")


class BadRequests(S3Case):
    def test_malformed_xml(self):
        if KIND == "moto":
            self.skipTest("moto answers malformed XML with 500")
        b = self.bucket()
        self.put(b, "x", b"x")
        garbage = [b"<Delete><Object><Key>x</Key></Object>", b"not xml at all", b"",
                   b"<Delete><Object><Key>x</Key></Object></Wrong>"]
        for body in garbage:
            st, _, resp = raw("POST", f"/{b}", query="delete", body=body,
                              headers={"Content-MD5": b64(hashlib.md5(body).digest()),
                                       "Content-Type": "application/xml"})
            self.assertEqual((st, error_code(resp)), (400, "MalformedXML"), (body, resp[:300]))
        self.assertEqual(self.get(b, "x"), b"x", "nothing deleted by a malformed request")
        uid = self.s3.create_multipart_upload(Bucket=b, Key="m")["UploadId"]
        st, _, resp = raw("POST", f"/{b}/m", query="uploadId=" + urllib.parse.quote(uid, safe=""),
                          body=b"<CompleteMultipartUpload><Part><PartNumber>1</Part>")
        self.assertEqual((st, error_code(resp)), (400, "MalformedXML"), resp[:300])
        # A complete with no parts at all is malformed too.
        self.assertError("MalformedXML", 400, self.s3.complete_multipart_upload, Bucket=b, Key="m",
                         UploadId=uid, MultipartUpload={"Parts": []})
        body = b"<Tagging><TagSet><Tag><Key>a</Key>"
        st, _, resp = raw("PUT", f"/{b}/x", query="tagging", body=body,
                          headers={"Content-MD5": b64(hashlib.md5(body).digest())})
        self.assertEqual((st, error_code(resp)), (400, "MalformedXML"), resp[:300])
        name = f"py-mx-{uuid.uuid4().hex[:8]}"
        st, _, resp = raw("PUT", f"/{name}", body=b"<CreateBucketConfiguration><LocationConstraint>")
        self.assertEqual((st, error_code(resp)), (400, "MalformedXML"), resp[:300])
        self.assertError("404", 404, self.s3.head_bucket, Bucket=name)

    def test_unknown_operation(self):
        b = self.bucket()
        self.put(b, "data.csv", b"a,b\n1,2\n")
        # S3 Select: an S3 operation Sluice does not serve. AWS's answer for what a service does
        # not implement is NotImplemented, 501.
        with self.moto_differs("moto serves S3 Select"):
            self.assertError("NotImplemented", 501, self.s3.select_object_content, Bucket=b, Key="data.csv",
                             Expression="select * from s3object", ExpressionType="SQL",
                             InputSerialization={"CSV": {}}, OutputSerialization={"CSV": {}})
        self.assertEqual(self.get(b, "data.csv"), b"a,b\n1,2\n")

    def test_truncated_body(self):
        b = self.bucket()
        self.put(b, "existing", b"old content")
        for key in ("fresh", "existing"):
            sock = socket.create_connection(("127.0.0.1", PORT), timeout=30)
            try:
                req = AWSRequest(method="PUT", url=f"{EP}/{b}/{key}", data=b"",
                                 headers={"Content-Length": "100000"})
                sign_s3v4(req, "UNSIGNED-PAYLOAD")
                head = f"PUT /{b}/{key} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n"
                for k, v in req.headers.items():
                    if k.lower() != "host":
                        head += f"{k}: {v}\r\n"
                sock.sendall(head.encode() + b"\r\n" + b"z" * 40000)
                sock.shutdown(socket.SHUT_WR)
                try:
                    while sock.recv(65536):
                        pass
                except OSError:
                    pass
            finally:
                sock.close()
        time.sleep(0.3)
        self.assertError("404", 404, self.s3.head_object, Bucket=b, Key="fresh")
        self.assertEqual(self.get(b, "existing"), b"old content", "a cut-off overwrite keeps the old object")
        # An aws-chunked body that stops before its final chunk.
        chunked = b"400\r\n" + b"q" * 1024 + b"\r\n" + b"400\r\n" + b"q" * 100
        st, _, resp = raw("PUT", f"/{b}/chunk-cut", body=chunked, headers={
            "Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32",
            "X-Amz-Decoded-Content-Length": "2048"}, payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        with self.moto_differs("moto stores what arrives of a cut aws-chunked body"):
            self.assertEqual(st // 100, 4, resp[:300])
            self.assertError("404", 404, self.s3.head_object, Bucket=b, Key="chunk-cut")
        # A body shorter than x-amz-decoded-content-length promises.
        body = b"short"
        chunked = b"%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n" % (
            len(body), body, checksum_b64("CRC32", body).encode())
        st, _, resp = raw("PUT", f"/{b}/len-mismatch", body=chunked, headers={
            "Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32",
            "X-Amz-Decoded-Content-Length": "500"}, payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        with self.moto_differs("moto ignores x-amz-decoded-content-length"):
            self.assertEqual(st // 100, 4, resp[:300])
            self.assertError("404", 404, self.s3.head_object, Bucket=b, Key="len-mismatch")

    def test_error_document_shape(self):
        b = self.bucket()
        st, hdr, body = raw("GET", f"/{b}/no/such%20key")
        self.assertEqual(st, 404)
        self.assertIn("xml", hdr.get("content-type", ""))
        self.assertEqual(error_code(body), "NoSuchKey")
        self.assertIn(b"<Key>no/such key</Key>", body)
        with self.moto_differs("moto sends no request id"):
            self.assertIn(b"<RequestId>", body)
            self.assertTrue(hdr.get("x-amz-request-id"), "every response carries x-amz-request-id")


# ------------------------------------------------------------------------------------------------

_classes_set_up = set()


def as_test(case):
    """(name, test) for a unittest case: its failure or skip raised as the harness expects."""
    def test():
        if type(case) not in _classes_set_up:  # once per class, as a suite does
            _classes_set_up.add(type(case))
            type(case).setUpClass()
        result = unittest.TestResult()
        case.run(result)
        for _, err in result.errors + result.failures:
            raise AssertionError(err)
        for _, why in result.skipped:
            raise h.Skip(why)
    return case.id().split(".", 1)[1], test


def endpoint_alive():
    try:
        client().list_buckets()
    except Exception as e:  # noqa: BLE001 - any failure means it is not serving
        raise AssertionError("the endpoint stopped answering: %s" % e)


if __name__ == "__main__":
    if not EP:
        print("not ok - boto3: AWS_ENDPOINT_URL is not set (tests/integration/run sets it)")
        sys.exit(1)
    print(f"# boto3 {boto3.__version__}, botocore {botocore.__version__}, endpoint {EP}", flush=True)
    loader = unittest.TestLoader()
    cases = (Buckets, Objects, Listing, Multipart, Checksums, Presigned, VirtualHost, BadRequests, Transfers)
    h.main([as_test(t) for case in cases for t in loader.loadTestsFromTestCase(case)],
           check=endpoint_alive, timings=True)
