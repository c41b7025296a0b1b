"""The template reader: short tags, intrinsic functions, and what the local stack takes from the
repo's real template.yaml (so a template change that the local stack cannot follow fails here)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from local.cfn_yaml import load_template
from local.template import StackTemplate, TemplateError, rate_to_seconds

REPO = Path(__file__).resolve().parents[2]

MINI = textwrap.dedent(
    """
    Transform: AWS::Serverless-2016-10-31
    Parameters:
      Prefix: {Type: String, Default: uploads/}
      Suffix: {Type: String, Default: ""}
      Rate: {Type: String, Default: rate(2 minutes)}
      Env: {Type: String, Default: dev}
      Names: {Type: CommaDelimitedList, Default: "a,b"}
    Mappings:
      Sizes: {dev: {Memory: 256}, prod: {Memory: 1024}}
    Conditions:
      HasPrefix: !Not [!Equals [!Ref Prefix, ""]]
      HasSuffix: !Not [!Equals [!Ref Suffix, ""]]
      IsProd: !Equals [!Ref Env, prod]
      Either: !Or [!Condition HasPrefix, !Condition HasSuffix]
    Globals:
      Function:
        Timeout: 20
        Layers: [!Ref Layer]
        Environment:
          Variables:
            TABLE: !Ref Table
            SHARED: from-globals
            FLAG: true
    Resources:
      Layer:
        Type: AWS::Serverless::LayerVersion
        Properties: {ContentUri: layer/}
      Bucket:
        Type: AWS::S3::Bucket
        Properties:
          BucketName: !Sub "b-${AWS::AccountId}-${AWS::Region}"
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          BillingMode: PAY_PER_REQUEST
          KeySchema: [{AttributeName: id, KeyType: HASH}]
          AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
          TimeToLiveSpecification: {AttributeName: ttl, Enabled: true}
      ProdOnly:
        Type: AWS::SQS::Queue
        Condition: IsProd
      Worker:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: src/worker/
          Handler: handler.main
          MemorySize: !FindInMap [Sizes, !Ref Env, Memory]
          Environment:
            Variables:
              SHARED: from-function
              ARN: !GetAtt Table.Arn
              SUB_VARS: !Sub ["${X}-${!Literal}-${Table.Arn}", {X: !Select [1, !Ref Names]}]
              JOINED: !Join ["-", [!Ref "AWS::Region", !If [IsProd, p, d]]]
              MAYBE: !If [IsProd, prod-only, !Ref "AWS::NoValue"]
          Events:
            Put:
              Type: S3
              Properties:
                Bucket: !Ref Bucket
                Events: s3:ObjectCreated:*
                Filter: !If
                  - Either
                  - S3Key:
                      Rules:
                        - !If [HasPrefix, {Name: prefix, Value: !Ref Prefix}, !Ref "AWS::NoValue"]
                        - !If [HasSuffix, {Name: suffix, Value: !Ref Suffix}, !Ref "AWS::NoValue"]
                  - !Ref "AWS::NoValue"
            Tick:
              Type: Schedule
              Properties: {Schedule: !Ref Rate}
            Hook:
              Type: HttpApi
              Properties: {Path: /hook, Method: post}
    """
)


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(MINI)
    return path


def test_short_tags_become_long_form(mini: Path) -> None:
    document = load_template(mini)
    env = document["Resources"]["Worker"]["Properties"]["Environment"]["Variables"]
    assert env["ARN"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert document["Conditions"]["Either"] == {"Fn::Or": [{"Condition": "HasPrefix"}, {"Condition": "HasSuffix"}]}


def test_rejects_a_file_without_resources(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\n")
    with pytest.raises(ValueError, match="Resources"):
        load_template(path)


def test_function_spec_merges_globals_and_resolves_intrinsics(mini: Path) -> None:
    template = StackTemplate(mini, region="ap-southeast-3")
    template.resolver.refs["Table"] = "jobs"
    template.resolver.attributes[("Table", "Arn")] = "arn:table/jobs"
    spec = template.function_spec("Worker")
    assert spec.code_dir == (mini.parent / "src/worker").resolve()
    assert spec.handler_file == spec.code_dir / "handler.py"
    assert spec.handler_function == "main"
    assert spec.layer_dirs == ((mini.parent / "layer").resolve(),)
    assert spec.timeout_seconds == 20 and spec.memory_mb == 256
    assert spec.environment == {
        "TABLE": "jobs",
        "SHARED": "from-function",  # the function's value wins over Globals
        "FLAG": "true",  # YAML booleans become Lambda's strings
        "ARN": "arn:table/jobs",
        "SUB_VARS": "b-${Literal}-arn:table/jobs",
        "JOINED": "ap-southeast-3-d",
    }  # MAYBE resolved to AWS::NoValue and is gone


def test_conditions_and_overrides_change_the_result(mini: Path) -> None:
    template = StackTemplate(mini, parameter_overrides={"Env": "prod", "Prefix": "", "Suffix": ".jpg"})
    spec = template.function_spec("Worker")
    assert spec.memory_mb == 1024
    assert spec.environment["MAYBE"] == "prod-only"
    assert "ProdOnly" in template.resources_of_type("AWS::SQS::Queue")
    trigger = template.s3_trigger("Worker")
    assert (trigger.prefix, trigger.suffix) == ("", ".jpg")
    assert trigger.matches("x/card.jpg") and not trigger.matches("card.png")


def test_filter_that_resolves_to_no_value_means_no_filter(mini: Path) -> None:
    template = StackTemplate(mini, parameter_overrides={"Prefix": ""})
    trigger = template.s3_trigger("Worker")
    assert (trigger.prefix, trigger.suffix) == ("", "")
    assert "ProdOnly" not in template.resources_of_type("AWS::SQS::Queue")


def test_events_schedule_and_routes(mini: Path) -> None:
    template = StackTemplate(mini)
    assert template.s3_trigger("Worker").bucket_logical_id == "Bucket"
    assert template.s3_trigger("Worker").prefix == "uploads/"
    assert template.schedule_seconds("Worker") == 120
    assert [route.route_key for route in template.http_routes("Worker")] == ["POST /hook"]
    assert template.table_ttl_attribute("Table") == "ttl"
    assert template.physical_name("Bucket", "BucketName") == "b-123456789012-ap-southeast-3"


def test_unknown_override_and_missing_default_fail_loudly(mini: Path, tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="Nope"):
        StackTemplate(mini, parameter_overrides={"Nope": 1})
    bare = tmp_path / "bare.yaml"
    bare.write_text("Parameters: {X: {Type: String}}\nResources: {}\n")
    with pytest.raises(TemplateError, match="no Default"):
        StackTemplate(bare)


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(5 minutes)", 300), ("rate(1 minute)", 60), ("rate(30 seconds)", 30), ("rate(2 hours)", 7200), ("3", 180)],
)
def test_rate_expressions(expression: str, seconds: float) -> None:
    assert rate_to_seconds(expression) == seconds


def test_cron_is_refused_with_a_clear_message() -> None:
    with pytest.raises(TemplateError, match="rate"):
        rate_to_seconds("cron(0 * * * ? *)")


# --- the repo's template -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def real() -> StackTemplate:
    return StackTemplate(REPO / "template.yaml")


def test_real_template_upload_trigger(real: StackTemplate) -> None:
    trigger = real.s3_trigger("SubmitFunction")
    assert trigger.bucket_logical_id == "UploadBucket"
    assert trigger.events == ("s3:ObjectCreated:*",)
    assert trigger.prefix == real.parameters["UploadPrefix"]
    assert trigger.suffix == real.parameters["UploadSuffix"]


def test_real_template_table_matches_the_pipeline_conventions(real: StackTemplate) -> None:
    definition = real.table_definition("JobsTable")
    assert definition["KeySchema"] == [{"AttributeName": "reference_id", "KeyType": "HASH"}]
    assert definition["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {index["IndexName"]: index for index in definition["GlobalSecondaryIndexes"]}
    index = indexes["pending-by-next-check"]
    assert [key["AttributeName"] for key in index["KeySchema"]] == ["pending_shard", "next_check_at"]
    assert real.table_ttl_attribute("JobsTable") == "expires_at"


def test_real_template_functions_and_their_environment(real: StackTemplate) -> None:
    for logical_id, folder in (("SubmitFunction", "submit"), ("CallbackFunction", "callback"), ("PollerFunction", "poller")):
        spec = real.function_spec(logical_id)
        assert spec.handler_file == REPO / "functions" / folder / "app.py"
        assert spec.handler_file.exists()
        assert spec.handler_function == "lambda_handler"
        assert spec.layer_dirs == (REPO / "layers" / "pipeline",)
        assert spec.environment["JOBS_PENDING_INDEX"] == "pending-by-next-check"
    submit = real.function_spec("SubmitFunction").environment
    assert "CALLBACK_URL" in submit and "PROVIDER_BASE_URL" in submit
    assert "CALLBACK_SECRET_ID" in real.function_spec("CallbackFunction").environment


def test_real_template_schedule_and_callback_route(real: StackTemplate) -> None:
    assert real.schedule_seconds("PollerFunction") == rate_to_seconds(real.parameters["PollRate"])
    assert any(route.method == "POST" for route in real.http_routes("CallbackFunction"))
