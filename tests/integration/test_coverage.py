#!/usr/bin/env python3
"""The docs' operation tables against the model, the sources and the running daemon.

First `scripts/coverage --check`: every page's generated table lists every operation of
botocore's model, and says served exactly for what the daemon's dispatch code serves. Then the
claims are tried on the wire with boto3, for every service and every operation (each call is a
few milliseconds, so there is no need to pick a sample):
  - an operation listed as not supported is called with the smallest input botocore accepts
    (required members only) and must get the documented error code and HTTP status;
  - an operation listed as supported or partial is called the same way and must not get the
    unknown-operation answer (UnknownOperationException, InvalidAction, NotImplemented,
    MethodNotAllowed) nor a 5xx; a validation error, NoSuchBucket or a success is fine.
The claims are read from the pages (`scripts/coverage --json`), not regenerated, so what is
checked is what a reader sees.

Output: one TAP-like line per test for tests/integration/run.
"""
import datetime
import json
import os
import subprocess
import sys

from botocore.exceptions import ClientError

import harness as h
from harness import MOTO, Skip

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
COVERAGE = os.path.join(ROOT, "scripts", "coverage")
# No host prefixes (StartSyncExecution, TestState, WriteGetObjectResponse would go to
# sync-127.0.0.1...), path-style S3.
CFG = h.config(inject_host_prefix=False, read_timeout=60, connect_timeout=10,
               s3={"addressing_style": "path"})
BUCKET = "sluice-coverage"
# What a daemon answers for a request it has no operation for, in each protocol; HEAD answers
# carry no body, so botocore reports the status as the code.
UNKNOWN_OPERATION = {"UnknownOperationException", "InvalidAction", "NotImplemented",
                     "MethodNotAllowed", "405", "501"}

_clients = {}


def client(service):
    if service not in _clients:
        _clients[service] = h.client(service, cfg=CFG)
    return _clients[service]


def minimal(shape):
    """The smallest input botocore's validator accepts for a shape: required members only,
    strings at their minimum length, the first enum value, one member of a union."""
    t = shape.type_name
    if t == "structure":
        if shape.is_document_type:
            return {}
        if shape.metadata.get("union"):
            name = next(iter(shape.members))
            return {name: minimal(shape.members[name])}
        return {name: minimal(shape.members[name]) for name in shape.required_members}
    if t == "list":
        return [minimal(shape.member) for _ in range(shape.metadata.get("min", 0) or 0)]
    if t == "map":
        return {}
    if t == "string":
        if shape.enum:
            return shape.enum[0]
        n = shape.metadata.get("min", 1) or 1
        return BUCKET if n <= len(BUCKET) else BUCKET + "x" * (n - len(BUCKET))
    if t in ("integer", "long"):
        return max(shape.metadata.get("min", 1) or 1, 1)
    if t in ("float", "double"):
        return float(max(shape.metadata.get("min", 1) or 1, 1))
    if t == "boolean":
        return False
    if t == "timestamp":
        return datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    if t == "blob":
        return b"x"
    raise ValueError("no minimal value for a %s" % t)


def call(service, operation):
    """(error code or "OK", HTTP status) for the operation called with minimal input."""
    c = client(service)
    op = c.meta.service_model.operation_model(operation)
    params = minimal(op.input_shape) if op.input_shape else {}
    try:
        r = c._make_api_call(operation, params)
        return "OK", r["ResponseMetadata"]["HTTPStatusCode"]
    except ClientError as e:
        return (e.response.get("Error", {}).get("Code"),
                e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))


def claims():
    if not hasattr(claims, "value"):
        out = subprocess.run([sys.executable, COVERAGE, "--json"], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, "scripts/coverage --json: %s" % out.stderr
        claims.value = json.loads(out.stdout)
    return claims.value


def test_docs_agree_with_models_and_sources():
    out = subprocess.run([sys.executable, COVERAGE, "--check"], capture_output=True, text=True,
                         timeout=120)
    for line in (out.stdout + out.stderr).splitlines():
        print("# " + line, flush=True)
    assert out.returncode == 0, "scripts/coverage --check failed (see above)"


def report(wrong, limit=25):
    for w in wrong[:limit]:
        print("# " + w, flush=True)
    if len(wrong) > limit:
        print("# ... and %d more" % (len(wrong) - limit), flush=True)


def not_supported_test(key):
    def test():
        if MOTO:
            raise Skip("the tables describe Sluice, not moto")
        page = claims()[key]
        wrong, n = [], 0
        for name, claim in sorted(page["operations"].items()):
            if claim["status"] != "not supported":
                continue
            n += 1
            try:
                got = call(page["model"], name)
            except Exception as e:  # noqa: BLE001 - the client could not even send it
                got = ("%s: %s" % (type(e).__name__, e), None)
            if got != (claim["code"], claim["http"]):
                wrong.append("%s: documented %s (%s), got %s (%s)"
                             % (name, claim["code"], claim["http"], got[0], got[1]))
        report(wrong)
        assert n > 0, "%s lists no operation as not supported" % page["page"]
        assert not wrong, "%d of %d operations %s lists as not supported answer otherwise" % (
            len(wrong), n, page["page"])
        print("# %s: %d operations not supported, each answered as documented" % (key, n),
              flush=True)
    test.__name__ = "%s_not_supported_operations_answer_as_documented" % key
    return test


def served_test(key):
    def test():
        if MOTO:
            raise Skip("the tables describe Sluice, not moto")
        page = claims()[key]
        wrong, n = [], 0
        for name, claim in sorted(page["operations"].items()):
            if claim["status"] == "not supported":
                continue
            n += 1
            try:
                got = call(page["model"], name)
            except Exception as e:  # noqa: BLE001
                got = ("%s: %s" % (type(e).__name__, e), None)
            if got[1] is None or got[0] in UNKNOWN_OPERATION or got[1] >= 500:
                wrong.append("%s: listed as %s, got %s (%s)"
                             % (name, claim["status"], got[0], got[1]))
        report(wrong)
        assert n > 0, "%s lists no operation as supported" % page["page"]
        assert not wrong, "%d of %d operations %s lists as served are not" % (
            len(wrong), n, page["page"])
        print("# %s: %d operations served, none answered as unknown" % (key, n), flush=True)
    test.__name__ = "%s_served_operations_are_dispatched" % key
    return test


SERVICES = ["s3", "events", "cloudtrail", "stepfunctions", "ecs", "logs", "iam", "sns"]
TESTS = [test_docs_agree_with_models_and_sources]
for _key in SERVICES:
    TESTS += [not_supported_test(_key), served_test(_key)]


if __name__ == "__main__":
    h.main(TESTS, check=None if MOTO else h.assert_endpoint_answers)
