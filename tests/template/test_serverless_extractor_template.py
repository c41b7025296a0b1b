"""serverless_extractor/template.yaml: lint-clean, and the properties the issue asks for hold."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file
from template_tools import REPO_ROOT, deep_copy

from local.template import load_template, translate

TEMPLATE = REPO_ROOT / "serverless_extractor" / "template.yaml"
LINT_CONFIG = ManualArgs(append_rules=["cfn_lint_serverless.rules"], regions=["ap-southeast-3", "us-east-1"], include_checks=["I"])

DOCUMENTED_IGNORES = {
    ("WS1004", "ApiFunction"): "log group wired through LoggingConfig.LogGroup, which the rule does not read",
    ("WS1004", "OcrWorkerFunction"): "same as ApiFunction",
    ("WS1004", "CallbackFunction"): "same as ApiFunction",
    ("ES6000", "WorkDeadLetterQueue"): "terminal dead-letter queue with an alarm",
    ("ES6000", "CallbackDeadLetterQueue"): "terminal dead-letter queue with an alarm",
}


@pytest.fixture(scope="module")
def sam() -> dict:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def resources() -> dict:
    return translate(load_template(TEMPLATE))["Resources"]


def _findings(path: Path) -> list[tuple[str, str, str]]:
    return [(m.rule.id, "/".join(str(p) for p in m.path[:2]), m.message) for m in lint_file(path, LINT_CONFIG)]


def test_cfn_lint_with_serverless_rules_reports_nothing():
    assert _findings(TEMPLATE) == []


def test_every_ignore_is_documented_and_still_needed(sam, tmp_path):
    ignored = {
        (rule, name)
        for name, resource in sam["Resources"].items()
        for rule in resource.get("Metadata", {}).get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
    }
    assert ignored == set(DOCUMENTED_IGNORES)
    stripped = deep_copy(sam)
    for resource in stripped["Resources"].values():
        resource.get("Metadata", {}).pop("cfn-lint", None)
    path = tmp_path / "serverless-without-ignores.json"
    path.write_text(json.dumps(stripped), encoding="utf-8")
    assert {(rule, p.split("/")[1]) for rule, p, _ in _findings(path)} == set(DOCUMENTED_IGNORES)


def test_sam_validate_lint_passes():
    sam_cli = shutil.which("sam", path=str(Path(sys.executable).parent)) or shutil.which("sam")
    assert sam_cli, "the SAM CLI (requirements-dev.txt) is not installed"
    done = subprocess.run(
        [sam_cli, "validate", "--lint", "-t", str(TEMPLATE), "--region", "ap-southeast-3"],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout + done.stderr


def test_http_api_serves_the_contract_routes_and_everything_else_through_the_function(sam):
    events = sam["Resources"]["ApiFunction"]["Properties"]["Events"]
    assert {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events.values()} == {
        ("POST", "/ktp/id/extract-async"), ("GET", "/ktp/id/extract-async/result"),
        ("DELETE", "/ktp/id/extract-async/result"), ("ANY", "$default"),
    }


def _actions(resources: dict, role: str) -> set[str]:
    return {
        action
        for policy in resources[role]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in statement["Action"]
    }


def test_only_the_api_role_may_erase_jobs_and_the_bucket_is_not_versioned(sam, resources):
    # Erasure deletes the job item and the image; with versioning on, DeleteObject would leave the
    # image behind as a noncurrent version (and need DeleteObjectVersion).
    assert {"dynamodb:DeleteItem", "s3:DeleteObject"} <= _actions(resources, "ApiFunctionRole")
    for role in ("OcrWorkerFunctionRole", "CallbackFunctionRole"):
        assert "dynamodb:DeleteItem" not in _actions(resources, role)
    assert not any("DeleteObjectVersion" in a for name in ("ApiFunctionRole", "OcrWorkerFunctionRole",
                   "CallbackFunctionRole") for a in _actions(resources, name))
    assert "VersioningConfiguration" not in sam["Resources"]["ImageBucket"]["Properties"]


def test_worker_retries_end_in_the_worker_not_the_dead_letter_queue(sam):
    r = sam["Resources"]
    worker = r["OcrWorkerFunction"]["Properties"]
    work = worker["Events"]["Work"]["Properties"]
    assert work["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert work["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "OcrMaximumConcurrency"}
    assert worker.get("Architectures", sam["Globals"]["Function"]["Architectures"]) == ["arm64"]
    queue = r["WorkQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]
    # Each delivery is one processing attempt: SQS must allow more than the most attempts the
    # worker may use, so the worker records INTERNAL_SERVER_ERROR itself.
    assert queue["RedrivePolicy"]["maxReceiveCount"] > sam["Parameters"]["MaxProcessingAttempts"]["MaxValue"] + 1
    callback_queue = r["CallbackQueue"]["Properties"]
    assert callback_queue["RedrivePolicy"]["maxReceiveCount"] > sam["Parameters"]["CallbackMaxAttempts"]["MaxValue"]
    assert callback_queue["VisibilityTimeout"] >= 6 * r["CallbackFunction"]["Properties"]["Timeout"]


def test_image_bucket_is_private_encrypted_tls_only_and_expires_within_a_day(sam):
    bucket = sam["Resources"]["ImageBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert [rule["ExpirationInDays"] for rule in bucket["LifecycleConfiguration"]["Rules"]] == [1]
    statements = sam["Resources"]["ImageBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert {"aws:SecureTransport": "false"} in [s["Condition"].get("Bool") for s in statements]


def test_roles_name_their_own_resources_only(resources):
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if statement["Resource"] == "*":
                    assert all(action.startswith("xray:") for action in statement["Action"]), (name, statement)


def test_every_log_group_has_a_retention_and_the_outputs_are_there(sam):
    groups = [r for r in sam["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert len(groups) == 4
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups)
    assert set(sam["Outputs"]) == {"ExtractorUrl", "ApplicationsSecretArn"}


def test_the_worker_carries_its_own_code_and_no_layers(sam, resources):
    assert not sam["Globals"]["Function"].get("Layers")  # SAM would append them to every function's
    worker = sam["Resources"]["OcrWorkerFunction"]
    assert worker["Metadata"]["BuildMethod"] == "makefile"
    assert (worker["Properties"]["CodeUri"], worker["Properties"]["Handler"]) == ("functions/ocr_worker/", "app.lambda_handler")
    assert sam["Parameters"]["OcrMemorySize"]["Default"] == 1769
    assert not resources["OcrWorkerFunction"]["Properties"].get("Layers")
    variables = resources["OcrWorkerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["KTP_OCR_THREADS"] == "1"
    # The worker's role may read no secret, so it is given no secret id to read.
    assert all(variables[name] == "" for name in (
        "KTP_APPLICATIONS_SECRET_ID", "KTP_PIPELINE_CREDENTIALS_SECRET_ID", "KTP_PIPELINE_CALLBACK_SECRET_ID"))
    for function in ("ApiFunction", "CallbackFunction"):
        assert sam["Resources"][function]["Properties"]["Layers"] == [{"Ref": "ExtractorCodeLayer"}, {"Ref": "PipelineLayer"}]


def _secret_statements(role: dict) -> list[dict]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]
            if "secretsmanager:GetSecretValue" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]


@pytest.mark.parametrize("function", ["ApiFunction", "CallbackFunction"])
def test_functions_read_exactly_the_secrets_they_are_given(resources, function):
    variables = resources[function]["Properties"]["Environment"]["Variables"]
    assert variables["KTP_PIPELINE_CREDENTIALS_SECRET_ID"] == {"Ref": "PipelineCredentialsSecretArn"}
    assert variables["KTP_PIPELINE_CALLBACK_SECRET_ID"] == {"Ref": "PipelineCallbackSecretArn"}
    (statement,) = _secret_statements(resources[f"{function}Role"])
    # An empty parameter repeats ApplicationsSecret instead of granting "" or "*".
    assert statement["Resource"] == [
        {"Ref": "ApplicationsSecret"},
        {"Fn::If": ["HasPipelineCredentials", {"Ref": "PipelineCredentialsSecretArn"}, {"Ref": "ApplicationsSecret"}]},
        {"Fn::If": ["HasPipelineCallback", {"Ref": "PipelineCallbackSecretArn"}, {"Ref": "ApplicationsSecret"}]},
    ]
    assert not _secret_statements(resources["OcrWorkerFunctionRole"])


def test_standalone_deploys_need_no_pipeline_secret(sam):
    for name in ("PipelineCredentialsSecretArn", "PipelineCallbackSecretArn"):
        assert sam["Parameters"][name]["Default"] == ""
    assert sam["Conditions"]["HasPipelineCredentials"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "PipelineCredentialsSecretArn"}, ""]}]}
