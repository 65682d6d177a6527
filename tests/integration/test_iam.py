#!/usr/bin/env python3
"""IAM roles and inline policies through boto3 and the AWS CLI: CreateRole (path, description,
max session, tags, the trust policy returned URL-encoded and decoded again by the clients),
GetRole, ListRoles (path prefix, paging), UpdateAssumeRolePolicy, Put/Get/Delete/ListRolePolicies,
DeleteRole refused while inline policies remain; the errors IAM answers (NoSuchEntity,
EntityAlreadyExists, MalformedPolicyDocument, DeleteConflict, ValidationError), InvalidAction
for operations Sluice does not implement, and persistence across the store (names ignore case).

Output: one TAP-like line per test for tests/integration/run.
"""
import json
import os
import urllib.error
import urllib.parse
import urllib.request

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

import harness as h
from harness import ACCOUNT, EP, expect_error, uniq

iam = h.client("iam")

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}
RUN_TASK = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["ecs:RunTask"],
         "Resource": ["arn:aws:ecs:*:*:task-definition/*"]},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": ["*"],
         "Condition": {"StringLike": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
    ],
}


def cli(*args, check=True):
    return h.aws("iam", *args, check=check)


def raw_query(body):
    """A Query call signed by botocore's own signer, for what the clients will not send."""
    creds = botocore.session.get_session().get_credentials()
    req = AWSRequest(method="POST", url=EP + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(creds, "iam", "us-east-1").add_auth(req)
    r = urllib.request.Request(EP + "/", data=body.encode(), method="POST",
                               headers=dict(req.headers.items()))
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


# ---------------------------------------------------------------------------------------------


def test_create_get_role_shapes():
    name = uniq("Shapes")
    r = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST),
                        Path="/service-role/", Description="for the cookbook",
                        MaxSessionDuration=7200, Tags=[{"Key": "team", "Value": "media"}])["Role"]
    assert r["RoleName"] == name
    assert r["Path"] == "/service-role/"
    assert r["Arn"] == "arn:aws:iam::%s:role/service-role/%s" % (ACCOUNT, name), r["Arn"]
    assert r["RoleId"].startswith("AROA") and len(r["RoleId"]) == 21, r["RoleId"]
    assert r["RoleId"][4:].isalnum() and r["RoleId"].upper() == r["RoleId"]
    assert r["AssumeRolePolicyDocument"] == TRUST, r["AssumeRolePolicyDocument"]
    assert r["MaxSessionDuration"] == 7200
    assert r["Description"] == "for the cookbook"
    assert r["Tags"] == [{"Key": "team", "Value": "media"}]
    g = iam.get_role(RoleName=name)["Role"]
    for k in ("RoleName", "RoleId", "Arn", "Path", "CreateDate", "AssumeRolePolicyDocument",
              "Description", "MaxSessionDuration", "Tags"):
        assert g[k] == r[k], (k, g[k], r[k])
    assert "RoleLastUsed" in g


def test_trust_policy_sent_back_url_encoded():
    """IAM sends policy documents URL-encoded; the clients decode them (botocore unquotes)."""
    name = uniq("Encoded")
    doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":' \
          '"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole","Sid":"a b&c%d"}]}'
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=doc)
    status, body = raw_query("Action=GetRole&Version=2010-05-08&RoleName=" + name)
    assert status == 200, body
    start = body.index("<AssumeRolePolicyDocument>") + len("<AssumeRolePolicyDocument>")
    enc = body[start:body.index("</AssumeRolePolicyDocument>")]
    assert "{" not in enc and "%7B" in enc, enc
    assert urllib.parse.unquote(enc) == doc, enc
    assert 'xmlns="https://iam.amazonaws.com/doc/2010-05-08/"' in body
    assert "<GetRoleResult>" in body and "<ResponseMetadata><RequestId>" in body
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == json.loads(doc)


def test_role_errors():
    name = uniq("Errors")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    e = expect_error("EntityAlreadyExists", iam.create_role, RoleName=name,
                     AssumeRolePolicyDocument=json.dumps(TRUST))
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    # names ignore case, as in IAM
    expect_error("EntityAlreadyExists", iam.create_role, RoleName=name.upper(),
                 AssumeRolePolicyDocument=json.dumps(TRUST))
    assert iam.get_role(RoleName=name.lower())["Role"]["RoleName"] == name
    e = expect_error("NoSuchEntity", iam.get_role, RoleName=uniq("Missing"))
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "cannot be found" in e.response["Error"]["Message"]
    e = expect_error("MalformedPolicyDocument", iam.create_role, RoleName=uniq("Bad"),
                     AssumeRolePolicyDocument="{not json")
    assert e.response["Error"]["Message"] == "This policy contains invalid Json"
    expect_error("MalformedPolicyDocument", iam.create_role, RoleName=uniq("Bad"),
                 AssumeRolePolicyDocument=json.dumps(RUN_TASK))  # no Principal
    expect_error("ValidationError", iam.create_role, RoleName="bad name!",
                 AssumeRolePolicyDocument=json.dumps(TRUST))
    expect_error("ValidationError", iam.create_role, RoleName=uniq("Path"), Path="no-slashes",
                 AssumeRolePolicyDocument=json.dumps(TRUST))
    # botocore checks the range itself: send it as the CLI would not
    status, body = raw_query("Action=CreateRole&Version=2010-05-08&RoleName=Short&"
                             "MaxSessionDuration=60&AssumeRolePolicyDocument=" +
                             urllib.parse.quote(json.dumps(TRUST)))
    assert status == 400 and "<Code>ValidationError</Code>" in body, body
    assert "maxSessionDuration" in body and "<Type>Sender</Type>" in body, body
    e = expect_error("InvalidInput", iam.create_role, RoleName=uniq("Tags"),
                     AssumeRolePolicyDocument=json.dumps(TRUST),
                     Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])
    assert "Duplicate tag keys" in e.response["Error"]["Message"]
    # nothing half-written: the refused names do not exist
    expect_error("NoSuchEntity", iam.get_role, RoleName="Short")


def test_list_roles_prefix_and_paging():
    prefix = "/" + uniq("list") + "/"
    names = sorted(uniq("L%d" % i) for i in range(5))
    for n in names:
        iam.create_role(RoleName=n, Path=prefix, AssumeRolePolicyDocument=json.dumps(TRUST))
    got = iam.list_roles(PathPrefix=prefix)
    assert [r["RoleName"] for r in got["Roles"]] == names
    assert not got["IsTruncated"]
    assert all("Tags" not in r for r in got["Roles"])
    page = iam.list_roles(PathPrefix=prefix, MaxItems=2)
    assert page["IsTruncated"] and len(page["Roles"]) == 2 and page["Marker"]
    seen = [r["RoleName"] for r in page["Roles"]]
    while page.get("IsTruncated"):
        page = iam.list_roles(PathPrefix=prefix, MaxItems=2, Marker=page["Marker"])
        seen += [r["RoleName"] for r in page["Roles"]]
    assert seen == names, seen
    paged = [r["RoleName"] for p in iam.get_paginator("list_roles").paginate(
        PathPrefix=prefix, PaginationConfig={"PageSize": 3}) for r in p["Roles"]]
    assert paged == names
    everything = [r["RoleName"] for r in iam.list_roles(MaxItems=1000)["Roles"]]
    assert set(names) <= set(everything)


def test_update_assume_role_policy():
    name = uniq("Trust")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    new = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(new))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == new
    expect_error("MalformedPolicyDocument", iam.update_assume_role_policy, RoleName=name,
                 PolicyDocument="[")
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == new
    expect_error("NoSuchEntity", iam.update_assume_role_policy, RoleName=uniq("Missing"),
                 PolicyDocument=json.dumps(new))


def test_inline_policies_and_delete_conflict():
    name = uniq("Inline")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=name, PolicyName="ECSRunTaskPermissionsForEvents",
                        PolicyDocument=json.dumps(RUN_TASK))
    iam.put_role_policy(RoleName=name, PolicyName="Another", PolicyDocument=json.dumps(RUN_TASK))
    got = iam.get_role_policy(RoleName=name, PolicyName="ECSRunTaskPermissionsForEvents")
    assert got["RoleName"] == name and got["PolicyName"] == "ECSRunTaskPermissionsForEvents"
    assert got["PolicyDocument"] == RUN_TASK, got["PolicyDocument"]
    # replacing keeps one policy of that name
    smaller = {"Version": "2012-10-17", "Statement": [RUN_TASK["Statement"][0]]}
    iam.put_role_policy(RoleName=name, PolicyName="Another", PolicyDocument=json.dumps(smaller))
    assert iam.get_role_policy(RoleName=name, PolicyName="Another")["PolicyDocument"] == smaller
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == [
        "Another", "ECSRunTaskPermissionsForEvents"]
    page = iam.list_role_policies(RoleName=name, MaxItems=1)
    assert page["IsTruncated"] and page["PolicyNames"] == ["Another"]
    page = iam.list_role_policies(RoleName=name, MaxItems=1, Marker=page["Marker"])
    assert not page["IsTruncated"] and page["PolicyNames"] == ["ECSRunTaskPermissionsForEvents"]

    e = expect_error("DeleteConflict", iam.delete_role, RoleName=name)
    assert e.response["Error"]["Message"] == "Cannot delete entity, must delete policies first."
    assert iam.get_role(RoleName=name)["Role"]["RoleName"] == name
    expect_error("MalformedPolicyDocument", iam.put_role_policy, RoleName=name, PolicyName="P",
                 PolicyDocument=json.dumps(TRUST))  # a Principal in a permissions policy
    expect_error("NoSuchEntity", iam.put_role_policy, RoleName=uniq("Missing"), PolicyName="P",
                 PolicyDocument=json.dumps(RUN_TASK))
    e = expect_error("NoSuchEntity", iam.get_role_policy, RoleName=name, PolicyName="Nope")
    assert "role policy" in e.response["Error"]["Message"]
    expect_error("NoSuchEntity", iam.delete_role_policy, RoleName=name, PolicyName="Nope")
    expect_error("NoSuchEntity", iam.list_role_policies, RoleName=uniq("Missing"))

    iam.delete_role_policy(RoleName=name, PolicyName="Another")
    iam.delete_role_policy(RoleName=name, PolicyName="ECSRunTaskPermissionsForEvents")
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
    iam.delete_role(RoleName=name)
    expect_error("NoSuchEntity", iam.get_role, RoleName=name)
    expect_error("NoSuchEntity", iam.delete_role, RoleName=name)
    # the name is free again
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []


def test_cli_recipe_commands():
    """The cookbook recipe's commands, with file:// documents, through the AWS CLI."""
    tmp = os.environ.get("SLUICE_TEST_TMP", "/tmp")
    p1, p2 = os.path.join(tmp, "policy1.json"), os.path.join(tmp, "policy2.json")
    with open(p1, "w") as f:
        json.dump(TRUST, f, indent=2)
    with open(p2, "w") as f:
        json.dump(RUN_TASK, f, indent=2)
    name = uniq("AWSCookbook607RuleRole")
    out = json.loads(cli("create-role", "--role-name", name,
                         "--assume-role-policy-document", "file://" + p1).stdout)
    assert out["Role"]["Arn"] == "arn:aws:iam::%s:role/%s" % (ACCOUNT, name)
    assert out["Role"]["AssumeRolePolicyDocument"] == TRUST
    cli("put-role-policy", "--role-name", name, "--policy-name",
        "ECSRunTaskPermissionsForEvents", "--policy-document", "file://" + p2)
    got = json.loads(cli("get-role-policy", "--role-name", name, "--policy-name",
                         "ECSRunTaskPermissionsForEvents").stdout)
    assert got["PolicyDocument"] == RUN_TASK
    bad = cli("delete-role", "--role-name", name, check=False)
    assert bad.returncode != 0 and "DeleteConflict" in bad.stderr, bad.stderr
    cli("delete-role-policy", "--role-name", name, "--policy-name",
        "ECSRunTaskPermissionsForEvents")
    cli("delete-role", "--role-name", name)
    gone = cli("get-role", "--role-name", name, check=False)
    assert gone.returncode != 0 and "NoSuchEntity" in gone.stderr, gone.stderr


def test_unimplemented_actions_answer_invalid_action():
    e = expect_error("InvalidAction", iam.list_users)
    assert "ListUsers" in e.response["Error"]["Message"]
    expect_error("InvalidAction", iam.attach_role_policy, RoleName="x",
                 PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    out = cli("create-user", "--user-name", "someone", check=False)
    assert out.returncode != 0 and "InvalidAction" in out.stderr, out.stderr
    status, body = raw_query("Version=2010-05-08")
    assert status == 400 and "<Code>MissingAction</Code>" in body, body
    status, body = raw_query("Action=GetRole&Version=2010-05-08&RoleName=%zz")
    assert status == 400 and "MalformedQueryString" in body, body


def test_unsigned_or_wrongly_signed_requests_are_refused():
    r = urllib.request.Request(EP + "/", data=b"Action=ListRoles&Version=2010-05-08",
                               method="POST", headers={
                                   "Content-Type": "application/x-www-form-urlencoded",
                                   "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/"
                                   "us-east-1/iam/aws4_request, SignedHeaders=host, "
                                   "Signature=" + "0" * 64,
                                   "X-Amz-Date": "20240101T000000Z"})
    try:
        urllib.request.urlopen(r, timeout=10)
        raise AssertionError("an unsigned request was served")
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        assert e.code in (400, 403) and "<ErrorResponse" in body, body
    bad = h.client("iam", aws_access_key_id="test", aws_secret_access_key="wrong")
    expect_error("SignatureDoesNotMatch", bad.list_roles)


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]

if __name__ == "__main__":
    h.main(TESTS, check=lambda: iam.list_roles(MaxItems=1))
