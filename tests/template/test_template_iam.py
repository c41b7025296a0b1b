"""Least privilege: every identity policy in the translated template, including the ones SAM generates."""

from __future__ import annotations

import pytest
from template_tools import as_list, iam_statements

# The only actions allowed on Resource "*", each because the service has no resource-level permissions.
RESOURCE_STAR_ALLOWED = {
    "xray:PutTraceSegments": "AWS X-Ray supports no resource-level permissions (Tracer segments)",
    "xray:PutTelemetryRecords": "AWS X-Ray supports no resource-level permissions (X-Ray daemon telemetry)",
}

BUCKET = "arn:aws:s3:::ktp-uploads-123456789012-ap-southeast-3-0a1b2c3d4e5f"
BUCKET_OBJECTS = BUCKET + "/*"
XRAY = {("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")}

EXPECTED_GRANTS = {
    "SubmitFunction": XRAY
    | {
        ("logs:CreateLogStream", "<SubmitLogGroup.Arn>"),
        ("logs:PutLogEvents", "<SubmitLogGroup.Arn>"),
        ("s3:GetObject", BUCKET_OBJECTS),
        ("s3:GetObjectVersion", BUCKET_OBJECTS),
        ("s3:ListBucket", BUCKET),
        ("dynamodb:GetItem", "<JobsTable.Arn>"),
        ("dynamodb:PutItem", "<JobsTable.Arn>"),
        ("dynamodb:UpdateItem", "<JobsTable.Arn>"),
        ("secretsmanager:GetSecretValue", "<ProviderSecret>"),
        ("sqs:SendMessage", "<SubmitFailureQueue.Arn>"),
    },
    "CallbackFunction": XRAY
    | {
        ("logs:CreateLogStream", "<CallbackLogGroup.Arn>"),
        ("logs:PutLogEvents", "<CallbackLogGroup.Arn>"),
        ("dynamodb:GetItem", "<JobsTable.Arn>"),
        ("dynamodb:PutItem", "<JobsTable.Arn>"),
        ("dynamodb:UpdateItem", "<JobsTable.Arn>"),
        ("secretsmanager:GetSecretValue", "<CallbackSecret>"),
        ("secretsmanager:GetSecretValue", "<NikHashSecret>"),
    },
    "PollerFunction": XRAY
    | {
        ("logs:CreateLogStream", "<PollerLogGroup.Arn>"),
        ("logs:PutLogEvents", "<PollerLogGroup.Arn>"),
        ("dynamodb:Query", "<JobsTable.Arn>/index/pending-by-next-check"),
        ("dynamodb:GetItem", "<JobsTable.Arn>"),
        ("dynamodb:UpdateItem", "<JobsTable.Arn>"),
        ("s3:GetObject", "<UploadBucket.Arn>/*"),
        ("s3:GetObjectVersion", "<UploadBucket.Arn>/*"),
        ("s3:ListBucket", "<UploadBucket.Arn>"),
        ("secretsmanager:GetSecretValue", "<ProviderSecret>"),
        ("secretsmanager:GetSecretValue", "<NikHashSecret>"),
    },
    # Erasure: a Query on the NIK-hash index only (no Scan), version-named deletes only (no
    # s3:DeleteObject, no GetObject: it never reads an image).
    "EraseFunction": XRAY
    | {
        ("logs:CreateLogStream", "<EraseLogGroup.Arn>"),
        ("logs:PutLogEvents", "<EraseLogGroup.Arn>"),
        ("dynamodb:Query", "<JobsTable.Arn>/index/by-nik-hash"),
        ("dynamodb:GetItem", "<JobsTable.Arn>"),
        ("dynamodb:UpdateItem", "<JobsTable.Arn>"),
        ("dynamodb:PutItem", "<JobsTable.Arn>"),
        ("s3:ListBucketVersions", "<UploadBucket.Arn>"),
        ("s3:DeleteObjectVersion", "<UploadBucket.Arn>/*"),
        ("secretsmanager:GetSecretValue", "<ProviderSecret>"),
        ("secretsmanager:GetSecretValue", "<NikHashSecret>"),
    },
}


def _allow_statements(cfn):
    return [(owner, s) for owner, s in iam_statements(cfn) if s["Effect"] == "Allow"]


def test_there_are_identity_policies_to_check(cfn):
    owners = {owner for owner, _ in _allow_statements(cfn)}
    assert {"SubmitFunctionRole", "CallbackFunctionRole", "PollerFunctionRole"} <= owners
    assert any(cfn["Resources"][o]["Type"] == "AWS::IAM::Role" and "Schedule" in o for o in owners)


def test_no_action_wildcards(cfn):
    for owner, statement in _allow_statements(cfn):
        assert "NotAction" not in statement and "NotResource" not in statement, owner
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{owner} allows wildcard action {action!r}"


def test_resource_star_only_for_actions_that_require_it(cfn):
    for owner, statement in _allow_statements(cfn):
        if "*" in as_list(statement["Resource"]):
            unexpected = set(as_list(statement["Action"])) - set(RESOURCE_STAR_ALLOWED)
            assert not unexpected, f"{owner} grants {sorted(unexpected)} on Resource '*'"


def test_no_managed_policies_hide_extra_permissions(resources):
    for name, resource in resources.items():
        if resource["Type"] == "AWS::IAM::Role":
            assert "ManagedPolicyArns" not in resource["Properties"], name


def test_nothing_may_scan_the_table(cfn):
    actions = {a for _, s in _allow_statements(cfn) for a in as_list(s["Action"])}
    assert "dynamodb:Scan" not in actions


@pytest.mark.parametrize("function", sorted(EXPECTED_GRANTS))
def test_each_function_role_grants_exactly_what_the_function_uses(resources, evaluator, function):
    role_name = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = resources[role_name]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    grants = set()
    for policy in role["Policies"]:
        for statement in evaluator.evaluate(policy["PolicyDocument"])["Statement"]:
            assert statement["Effect"] == "Allow"
            assert "Condition" not in statement
            grants |= {(a, r) for a in as_list(statement["Action"]) for r in as_list(statement["Resource"])}
    assert grants == EXPECTED_GRANTS[function]


def test_function_roles_are_not_shared(resources):
    roles = [resources[f]["Properties"]["Role"]["Fn::GetAtt"][0] for f in EXPECTED_GRANTS]
    assert len(set(roles)) == len(roles)


@pytest.mark.parametrize("function", ["SubmitFunction", "PollerFunction"])
def test_roles_that_read_images_may_list_the_upload_bucket_and_nothing_else(resources, evaluator, function):
    """Without s3:ListBucket S3 answers a missing key with 403 AccessDenied, not 404 NoSuchKey, and
    the job is retried until TIMED_OUT instead of being REJECTED with OBJECT_NOT_FOUND."""
    role = resources[resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
    bucket = evaluator.evaluate(resources["UploadBucket"]["Properties"]["BucketName"])
    listed = set()
    for policy in role["Policies"]:
        for statement in evaluator.evaluate(policy["PolicyDocument"])["Statement"]:
            if "s3:ListBucket" in as_list(statement["Action"]):
                listed |= set(as_list(statement["Resource"]))
    # The bucket itself (ListBucket is a bucket action), never "*" or another bucket.
    assert listed in ({f"arn:aws:s3:::{bucket}"}, {"<UploadBucket.Arn>"})


# --------------------------------------------------------------------------- upload bucket encryption


def _applies(condition: dict, headers: dict[str, str]) -> bool:
    """IAM condition evaluation for the two operators the encryption statements use (all must hold)."""
    for operator, tests in condition.items():
        for key, expected in tests.items():
            name = key.removeprefix("s3:")
            if operator == "Null":
                if (name not in headers) != (expected == "true"):
                    return False
            elif operator == "StringNotEquals":  # true for an absent key, as in IAM
                if name in headers and headers[name] in as_list(expected):
                    return False
            else:
                raise AssertionError(f"unexpected operator {operator}")
    return True


def _put_denied(statements: list[dict], headers: dict[str, str]) -> bool:
    return any(
        s["Effect"] == "Deny" and "s3:PutObject" in as_list(s["Action"]) and _applies(s.get("Condition", {}), headers)
        for s in statements
        if "Bool" not in s.get("Condition", {}) and "NumericLessThan" not in s.get("Condition", {})
    )


@pytest.mark.parametrize(("headers", "denied"), [
    ({}, False),  # the bucket default, SSE-S3: the ETag is the MD5 of the bytes
    ({"x-amz-server-side-encryption": "AES256"}, False),
    ({"x-amz-server-side-encryption": "aws:kms"}, True),
    ({"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": "k"}, True),
    ({"x-amz-server-side-encryption": "aws:kms:dsse"}, True),
    ({"x-amz-server-side-encryption-customer-algorithm": "AES256"}, True),
])
def test_uploads_keep_an_md5_etag_so_the_same_bytes_are_one_job(resources, headers, denied):
    """reference_id derives from the ETag, which is the content MD5 only under SSE-S3 (docs/job-record.md)."""
    bucket = resources["UploadBucket"]["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    statements = resources["UploadBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    for statement in statements:
        if "s3:PutObject" in as_list(statement["Action"]):
            assert statement["Principal"] == "*"
            assert statement["Resource"] == {"Fn::Sub": "${UploadBucket.Arn}/*"}
    assert _put_denied(statements, headers) is denied
