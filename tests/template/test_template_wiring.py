"""The translated template wires what issue 2 asks for: S3 -> submit, HTTP API -> callback, schedule -> poller."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from template_tools import FAKE_PSEUDO_PARAMETERS, REPO_ROOT, IntrinsicEvaluator, translate

FUNCTIONS = {"SubmitFunction": "submit", "CallbackFunction": "callback", "PollerFunction": "poller"}


def _single(resources: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    matches = [(name, res) for name, res in resources.items() if res["Type"] == resource_type]
    assert len(matches) == 1, f"expected exactly one {resource_type}, found {[n for n, _ in matches]}"
    return matches[0]


# --------------------------------------------------------------------------- upload bucket and S3 event


def test_s3_object_created_invokes_submit_only(resources):
    notifications = resources["UploadBucket"]["Properties"]["NotificationConfiguration"]
    assert set(notifications) == {"LambdaConfigurations"}
    (config,) = notifications["LambdaConfigurations"]
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Function"] == {"Fn::GetAtt": ["SubmitFunction", "Arn"]}
    # The notification can only be created once S3 may invoke the function.
    permission = resources["UploadBucket"]["DependsOn"]
    permission = permission[0] if isinstance(permission, list) else permission
    assert resources[permission]["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Ref": "SubmitFunction"},
        "Principal": "s3.amazonaws.com",
        "SourceAccount": {"Ref": "AWS::AccountId"},
    }


@pytest.mark.parametrize(
    ("prefix", "suffix", "expected_rules"),
    [
        ("incoming/", "", [{"Name": "prefix", "Value": "incoming/"}]),
        ("incoming/", ".jpg", [{"Name": "prefix", "Value": "incoming/"}, {"Name": "suffix", "Value": ".jpg"}]),
        ("", ".png", [{"Name": "suffix", "Value": ".png"}]),
        ("", "", None),
    ],
)
def test_s3_filter_rules_follow_parameters(cfn, prefix, suffix, expected_rules):
    evaluator = IntrinsicEvaluator(cfn, {"UploadPrefix": prefix, "UploadSuffix": suffix})
    (config,) = evaluator.evaluate(cfn["Resources"]["UploadBucket"]["Properties"]["NotificationConfiguration"])[
        "LambdaConfigurations"
    ]
    if expected_rules is None:
        assert "Filter" not in config  # S3 rejects empty filter values; no filter = whole bucket
    else:
        assert config["Filter"] == {"S3Key": {"Rules": expected_rules}}


def test_upload_prefix_default_is_incoming(sam_template):
    assert sam_template["Parameters"]["UploadPrefix"]["Default"] == "incoming/"
    assert sam_template["Parameters"]["UploadSuffix"]["Default"] == ""


def test_bucket_is_private_encrypted_versioned_and_expires_images(resources, evaluator):
    properties = resources["UploadBucket"]["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == {"Ref": "ImageRetentionDays"}
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 1
    assert "Prefix" not in rule
    assert "Filter" not in rule


def test_bucket_policy_denies_anything_but_tls(resources):
    policy = resources["UploadBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "UploadBucket"}
    statements = policy["PolicyDocument"]["Statement"]
    insecure = [s for s in statements if s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"]
    assert len(insecure) == 1
    (deny,) = insecure
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Action"] == "s3:*"
    assert {"Fn::GetAtt": ["UploadBucket", "Arn"]} in deny["Resource"]
    assert {"Fn::Sub": "${UploadBucket.Arn}/*"} in deny["Resource"]
    assert all(s["Effect"] == "Deny" for s in statements)  # the policy only ever takes access away


def test_bucket_name_is_a_valid_lowercase_name_for_a_mixed_case_stack(resources, evaluator):
    name = evaluator.evaluate(resources["UploadBucket"]["Properties"]["BucketName"])
    assert FAKE_PSEUDO_PARAMETERS["AWS::StackName"] != FAKE_PSEUDO_PARAMETERS["AWS::StackName"].lower()
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name), name
    assert len(name) <= 63
    assert name == "ktp-uploads-123456789012-ap-southeast-3-0a1b2c3d4e5f"


def test_submit_uses_the_same_computed_bucket_name_as_the_bucket(resources, evaluator):
    bucket_name = evaluator.evaluate(resources["UploadBucket"]["Properties"]["BucketName"])
    statements = evaluator.evaluate(resources["SubmitFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"])
    s3_resources = [s["Resource"] for s in statements["Statement"] if "s3:GetObject" in s["Action"]]
    assert s3_resources == [f"arn:aws:s3:::{bucket_name}/*"]


# --------------------------------------------------------------------------- submit function


def test_submit_async_failures_go_to_the_failure_queue(resources):
    config = resources["SubmitFunctionEventInvokeConfig"]["Properties"]
    assert config["FunctionName"] == {"Ref": "SubmitFunction"}
    assert config["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["SubmitFailureQueue", "Arn"]}}
    }
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 3600


def test_submit_retry_settings_come_from_parameters():
    resources = translate({"SubmitMaximumRetryAttempts": 1, "SubmitMaximumEventAgeSeconds": 900})["Resources"]
    config = resources["SubmitFunctionEventInvokeConfig"]["Properties"]
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (1, 900)


@pytest.mark.parametrize(("value", "expected"), [("0", None), ("5", "5")])
def test_submit_reserved_concurrency_zero_means_not_set(cfn, value, expected):
    properties = IntrinsicEvaluator(cfn, {"SubmitReservedConcurrency": value}).evaluate(
        cfn["Resources"]["SubmitFunction"]["Properties"]
    )
    assert properties.get("ReservedConcurrentExecutions") == expected


# --------------------------------------------------------------------------- callback HTTP API


def test_http_api_has_exactly_the_post_callback_route(resources):
    api = resources["HttpApi"]
    assert api["Type"] == "AWS::ApiGatewayV2::Api"
    paths = api["Properties"]["Body"]["paths"]
    assert list(paths) == ["/callback"]
    assert list(paths["/callback"]) == ["post"]
    integration = paths["/callback"]["post"]["x-amazon-apigateway-integration"]
    assert integration["type"] == "aws_proxy"
    assert integration["payloadFormatVersion"] == "2.0"
    assert "${CallbackFunction.Arn}" in integration["uri"]["Fn::Sub"]


def test_http_api_stage_throttles_and_logs_without_personal_data(resources):
    _, stage = _single(resources, "AWS::ApiGatewayV2::Stage")
    properties = stage["Properties"]
    assert properties["ApiId"] == {"Ref": "HttpApi"}
    assert properties["StageName"] == "$default"
    assert properties["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "CallbackThrottlingRateLimit"}
    assert properties["DefaultRouteSettings"]["ThrottlingBurstLimit"] == {"Ref": "CallbackThrottlingBurstLimit"}
    access_log = properties["AccessLogSettings"]
    assert access_log["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]}
    # Never the Authorization header, the body or the query string.
    assert not re.search(r"header|authorization|requestBody|querystring", access_log["Format"], re.IGNORECASE)


def test_only_the_callback_api_may_invoke_the_callback_function(resources):
    permissions = [
        res["Properties"]
        for res in resources.values()
        if res["Type"] == "AWS::Lambda::Permission" and res["Properties"]["FunctionName"] == {"Ref": "CallbackFunction"}
    ]
    (permission,) = permissions
    assert permission["Principal"] == "apigateway.amazonaws.com"
    source_arn, variables = permission["SourceArn"]["Fn::Sub"]
    assert source_arn.endswith("${__ApiId__}/${__Stage__}/POST/callback")
    assert variables["__ApiId__"] == {"Ref": "HttpApi"}


def test_callback_url_points_at_the_callback_route(resources, cfn, evaluator):
    url = evaluator.evaluate(cfn["Outputs"]["CallbackUrl"]["Value"])
    assert url == "https://<HttpApi>.execute-api.ap-southeast-3.amazonaws.com/callback"
    for function in ("SubmitFunction", "PollerFunction"):
        env = evaluator.evaluate(resources[function]["Properties"]["Environment"]["Variables"])
        assert env["CALLBACK_URL"] == url


# --------------------------------------------------------------------------- poller schedule


def test_poller_schedule_with_retry_policy_and_dead_letter_queue(resources):
    name, schedule = _single(resources, "AWS::Scheduler::Schedule")
    properties = schedule["Properties"]
    assert properties["ScheduleExpression"] == {"Ref": "PollRate"}
    assert "Name" not in properties  # two stacks in one account must not collide in the default group
    target = properties["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["PollerFunction", "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["PollerDeadLetterQueue", "Arn"]}}
    assert set(target["RetryPolicy"]) == {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"}
    role = resources[target["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    allowed = {
        (statement["Action"], str(statement["Resource"]))
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    }
    assert allowed == {
        ("lambda:InvokeFunction", str({"Fn::GetAtt": ["PollerFunction", "Arn"]})),
        ("sqs:SendMessage", str({"Fn::GetAtt": ["PollerDeadLetterQueue", "Arn"]})),
    }


def test_poller_runs_never_overlap(resources):
    properties = resources["PollerFunction"]["Properties"]
    assert properties["ReservedConcurrentExecutions"] == 1
    # A tick that finds the poller busy is dropped instead of queueing up behind it.
    config = resources["PollerFunctionEventInvokeConfig"]["Properties"]
    assert config["MaximumRetryAttempts"] == 0
    assert config["MaximumEventAgeInSeconds"] <= 300


def test_poll_rate_default_is_longer_than_the_poller_timeout(sam_template, resources):
    match = re.fullmatch(r"rate\((\d+) minutes?\)", sam_template["Parameters"]["PollRate"]["Default"])
    assert match
    assert int(match.group(1)) * 60 > resources["PollerFunction"]["Properties"]["Timeout"]


# --------------------------------------------------------------------------- jobs table


def test_jobs_table_keys_gsi_ttl_pitr_sse(resources):
    properties = resources["JobsTable"]["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "reference_id", "KeyType": "HASH"}]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    attribute_types = {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]}
    assert attribute_types["reference_id"] == "S"
    assert attribute_types["pending_shard"] == "S"
    assert attribute_types["next_check_at"] == "N"
    indexes = {index["IndexName"]: index for index in properties["GlobalSecondaryIndexes"]}
    pending = indexes["pending-by-next-check"]
    assert pending["KeySchema"] == [
        {"AttributeName": "pending_shard", "KeyType": "HASH"},
        {"AttributeName": "next_check_at", "KeyType": "RANGE"},
    ]
    assert pending["Projection"] == {"ProjectionType": "ALL"}
    by_status = indexes["by-status"]
    assert by_status["KeySchema"] == [
        {"AttributeName": "status", "KeyType": "HASH"},
        {"AttributeName": "updated_at", "KeyType": "RANGE"},
    ]
    # Listing by status must not copy the extracted KTP fields (personal data) into a second place.
    assert by_status["Projection"]["ProjectionType"] == "INCLUDE"
    assert "result" not in by_status["Projection"]["NonKeyAttributes"]
    # Lookup by object: every attempt of (object_key, bucket), with no personal data projected.
    by_object = indexes["by-object"]
    assert by_object["KeySchema"] == [
        {"AttributeName": "object_key", "KeyType": "HASH"},
        {"AttributeName": "bucket", "KeyType": "RANGE"},
    ]
    assert by_object["Projection"]["ProjectionType"] == "INCLUDE"
    assert set(by_object["Projection"]["NonKeyAttributes"]) <= {
        "status", "error_code", "created_at", "updated_at", "attempt", "predecessor_id", "successor_id"}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"]["SSEEnabled"] is True
    # Every key attribute is defined, and nothing else (CloudFormation rejects unused definitions).
    key_attributes = {k["AttributeName"] for k in properties["KeySchema"]} | {
        k["AttributeName"] for index in indexes.values() for k in index["KeySchema"]
    }
    assert key_attributes == set(attribute_types)


def test_stateful_resources_survive_stack_deletion(resources):
    for name in ("JobsTable", "UploadBucket"):
        assert resources[name]["DeletionPolicy"] == "Retain"
        assert resources[name]["UpdateReplacePolicy"] == "Retain"


# --------------------------------------------------------------------------- functions, layer, logs


@pytest.mark.parametrize(("function", "folder"), sorted(FUNCTIONS.items()))
def test_functions_runtime_handler_layer_and_log_group(sam_template, resources, function, folder):
    source = sam_template["Resources"][function]["Properties"]
    assert source["CodeUri"] == f"functions/{folder}/"
    assert source["Handler"] == "app.lambda_handler"
    properties = resources[function]["Properties"]
    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["TracingConfig"] == {"Mode": "Active"}
    (layer,) = properties["Layers"]
    assert resources[layer["Ref"]]["Type"] == "AWS::Lambda::LayerVersion"
    log_group = properties["LoggingConfig"]["LogGroup"]["Ref"]
    assert resources[log_group]["Type"] == "AWS::Logs::LogGroup"
    assert resources[log_group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert properties["Timeout"] > 0
    assert properties["MemorySize"] >= 128


def test_layer_is_built_by_its_makefile_for_python313_arm64(sam_template):
    layer = sam_template["Resources"]["PipelineLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/pipeline/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert (layer["Metadata"]["BuildMethod"], layer["Metadata"]["BuildArchitecture"]) == ("makefile", "arm64")
    makefile = (REPO_ROOT / "layers" / "pipeline" / "Makefile").read_text(encoding="utf-8")
    assert "\nbuild-PipelineLayer:" in makefile  # the target `sam build` runs, named after the resource
    assert "--platform manylinux2014_aarch64" in makefile and "--python-version 3.13" in makefile
    # make runs in SAM's scratch copy, outside the repository: `python3.13` (a pyenv shim resolved by
    # the repository's .python-version) is only found from the Makefile's own folder.
    for makefile_path in (REPO_ROOT / "layers" / "pipeline" / "Makefile",
                          REPO_ROOT / "serverless_extractor" / "layers" / "extractor_code" / "Makefile"):
        recipes = [line.strip().lstrip("@") for line in makefile_path.read_text(encoding="utf-8").splitlines()
                   if line.startswith("\t")]
        python_runs = [line for line in recipes if "$(PYTHON" in line]
        assert python_runs and all(line.startswith('cd "$(HERE)" && $(PYTHON') for line in python_runs), makefile_path


def test_every_log_group_has_retention(resources):
    groups = {name: res for name, res in resources.items() if res["Type"] == "AWS::Logs::LogGroup"}
    assert set(groups) == {"SubmitLogGroup", "CallbackLogGroup", "PollerLogGroup", "EraseLogGroup",
                           "HttpApiAccessLogGroup"}
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())


# --------------------------------------------------------------------------- secrets


def test_callback_password_is_generated_by_cloudformation(resources):
    generated = resources["CallbackSecret"]["Properties"]["GenerateSecretString"]
    assert generated["SecretStringTemplate"] == '{"username": "ktp-callback"}'
    assert generated["GenerateStringKey"] == "password"
    assert generated.get("PasswordLength", 32) >= 32
    assert "SecretString" not in resources["CallbackSecret"]["Properties"]


def test_provider_secret_holds_the_settings_keys_in_both_provider_modes(cfn, resources):
    # external: placeholders to replace; builtin: app_id fixed, api_key generated (test_template_provider.py).
    external = IntrinsicEvaluator(cfn, {"Provider": "external"}).evaluate(resources["ProviderSecret"]["Properties"])
    value = json.loads(external["SecretString"])
    assert set(value) == {"app_id", "api_key"}
    assert all(v.startswith("REPLACE_WITH_") for v in value.values())
    builtin = IntrinsicEvaluator(cfn, {"Provider": "builtin"}).evaluate(resources["ProviderSecret"]["Properties"])
    generated = builtin["GenerateSecretString"]
    assert set(json.loads(generated["SecretStringTemplate"])) | {generated["GenerateStringKey"]} == {"app_id", "api_key"}


# --------------------------------------------------------------------------- alarms and outputs


def _alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def test_every_function_has_an_errors_alarm(resources):
    watched = {
        a["Dimensions"][0]["Value"]["Ref"]
        for a in _alarms(resources).values()
        if a["Namespace"] == "AWS/Lambda" and a["MetricName"] == "Errors"
    }
    assert watched == set(FUNCTIONS)


def test_every_queue_has_a_depth_alarm(resources):
    watched = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in _alarms(resources).values()
        if a["Namespace"] == "AWS/SQS" and a["MetricName"] == "ApproximateNumberOfMessagesVisible"
    }
    assert watched == {name for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    assert {"SubmitFailureQueue", "PollerDeadLetterQueue", "CompletionEventsDeadLetterQueue"} <= watched


def test_straggler_alarm_matches_the_poller_metric_dimensions(resources, evaluator):
    (alarm,) = [a for a in _alarms(resources).values() if a["Namespace"] == "KtpPipeline"]
    assert alarm["MetricName"] == "poller_timed_out"  # functions/poller/app.py: f"poller_{name}"
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    env = evaluator.evaluate(resources["PollerFunction"]["Properties"]["Environment"]["Variables"])
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "KtpPipeline"
    # Powertools Metrics adds exactly one default dimension, `service`, from POWERTOOLS_SERVICE_NAME.
    assert evaluator.evaluate(alarm["Dimensions"]) == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]


@pytest.mark.parametrize(("topic", "expected"), [("", None), ("arn:aws:sns:ap-southeast-3:123456789012:ops", ["arn:aws:sns:ap-southeast-3:123456789012:ops"])])
def test_alarm_actions_follow_the_optional_topic(cfn, topic, expected):
    evaluator = IntrinsicEvaluator(cfn, {"AlarmTopicArn": topic})
    for name, alarm in _alarms(cfn["Resources"]).items():
        evaluated = evaluator.evaluate(alarm)
        assert evaluated.get("AlarmActions") == expected, name
        assert evaluated.get("OKActions") == expected, name


def test_outputs(cfn):
    assert {
        "UploadBucketName",
        "JobsTableName",
        "CallbackUrl",
        "HttpApiId",
        "ProviderSecretArn",
        "CallbackSecretArn",
        "SubmitFailureQueueUrl",
        "PollerDeadLetterQueueUrl",
    } <= set(cfn["Outputs"])


def test_required_parameters_and_their_constraints(sam_template):
    parameters = sam_template["Parameters"]
    assert parameters["ProviderBaseUrl"]["Default"] == "https://api.verihubs.com"
    assert parameters["ImageTransport"]["AllowedValues"] == ["base64", "presigned_url"]
    assert parameters["ValidateQuality"]["AllowedValues"] == ["true", "false"]
    for name in ("PollRate", "JobDeadlineSeconds", "ResultGraceSeconds", "ImageRetentionDays",
                 "ResultRetentionDays", "LogRetentionDays", "AlarmTopicArn", "SubmitReservedConcurrency"):
        assert name in parameters, name
    assert re.fullmatch(parameters["AlarmTopicArn"]["AllowedPattern"], "")
    assert re.fullmatch(parameters["PollRate"]["AllowedPattern"], "rate(5 minutes)")
    assert re.fullmatch(parameters["ProviderBaseUrl"]["AllowedPattern"], "https://api.verihubs.com")
    assert not re.fullmatch(parameters["ProviderBaseUrl"]["AllowedPattern"], "http://api.verihubs.com")
