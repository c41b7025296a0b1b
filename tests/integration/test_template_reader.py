"""The template as the local stack reads it: samtranslator's YAML loader and translation, moto's
CloudFormation resolving the intrinsic functions, and what the local stack takes from the repo's
real template.yaml (so a template change that the local stack cannot follow fails here)."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest

from local.aws import MotoServer, ProvisionedResources, provision
from local.template import TemplateError, http_routes, load_template, rate_to_seconds, translate

REPO = Path(__file__).resolve().parents[2]
REGION = "ap-southeast-3"
_stack_names = (f"reader-{n}" for n in itertools.count())

MINI = textwrap.dedent(
    """
    Transform: AWS::Serverless-2016-10-31
    Parameters:
      Prefix: {Type: String, Default: uploads/}
      Suffix: {Type: String, Default: ""}
      Rate: {Type: String, Default: rate(2 minutes)}
      Env: {Type: String, Default: dev}
      Names: {Type: String, Default: "a,b"}
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
        Runtime: python3.13
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
          BucketName: !Sub "b-${AWS::StackName}-${AWS::Region}"
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
              SUB_VARS: !Sub ["${X}-${!Literal}-${Table.Arn}", {X: !Select [1, !Split [",", !Ref Names]]}]
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


@pytest.fixture(scope="module")
def moto_endpoint():
    server = MotoServer()
    yield server.start()
    server.stop()


def provisioned(path: Path, endpoint: str, overrides: dict | None = None, *, submit_id: str = "Worker",
                scheduled: tuple[str, ...] = ("Worker",)) -> tuple[dict, ProvisionedResources]:
    # moto's state is process-wide: a stack name per call keeps resources apart.
    cfn = translate(load_template(path), overrides, region=REGION)
    return cfn, provision(cfn, endpoint, {}, root=path.parent, stack_name=next(_stack_names), region=REGION,
                          parameter_values=overrides, submit_id=submit_id, scheduled_ids=scheduled)


def test_short_tags_become_long_form(mini: Path) -> None:
    document = load_template(mini)
    env = document["Resources"]["Worker"]["Properties"]["Environment"]["Variables"]
    assert env["ARN"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert document["Conditions"]["Either"] == {"Fn::Or": [{"Condition": "HasPrefix"}, {"Condition": "HasSuffix"}]}


def test_a_file_is_parsed_once_per_version_and_each_caller_gets_its_own_copy(
        mini: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import local.template

    parses = []
    real_parse = local.template.yaml_parse
    monkeypatch.setattr(local.template, "yaml_parse", lambda text: parses.append(text) or real_parse(text))
    local.template._parsed.cache_clear()
    first = load_template(mini)
    first["Resources"].clear()  # a caller's change stays with that caller
    second = load_template(mini)
    assert len(parses) == 1
    assert "Worker" in second["Resources"]
    mini.write_text(mini.read_text().replace("Default: dev", "Default: prod"))
    assert load_template(mini)["Parameters"]["Env"]["Default"] == "prod"
    assert len(parses) == 2


def test_rejects_a_file_without_resources(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\n")
    with pytest.raises(TemplateError, match="Resources"):
        load_template(path)


def test_function_gets_globals_merged_and_intrinsics_resolved(mini: Path, moto_endpoint: str) -> None:
    _, resources = provisioned(mini, moto_endpoint)
    spec = resources.functions["Worker"]
    assert spec.code_dir == (mini.parent / "src/worker").resolve()
    assert spec.handler_file == spec.code_dir / "handler.py"
    assert spec.handler_function == "main"
    assert spec.layer_dirs == ((mini.parent / "layer").resolve(),)
    assert spec.timeout_seconds == 20
    assert spec.memory_mb == 256
    table_arn = f"arn:aws:dynamodb:{REGION}:123456789012:table/{resources.table}"
    assert spec.environment == {
        "TABLE": resources.table,
        "SHARED": "from-function",  # the function's value wins over Globals
        "FLAG": "true",  # YAML booleans become Lambda's strings
        "ARN": table_arn,
        "SUB_VARS": f"b-${{Literal}}-{table_arn}",
        "JOINED": f"{REGION}-d",
    }  # MAYBE resolved to AWS::NoValue and is gone


def test_conditions_and_overrides_change_the_result(mini: Path, moto_endpoint: str) -> None:
    cfn, resources = provisioned(mini, moto_endpoint, {"Env": "prod", "Prefix": "", "Suffix": ".jpg"})
    spec = resources.functions["Worker"]
    assert spec.memory_mb == 1024
    assert spec.environment["MAYBE"] == "prod-only"
    assert "ProdOnly" in resources.physical_ids
    trigger = resources.trigger
    assert (trigger.prefix, trigger.suffix) == ("", ".jpg")
    assert trigger.matches("x/card.jpg")
    assert not trigger.matches("card.png")


def test_filter_that_resolves_to_no_value_means_no_filter(mini: Path, moto_endpoint: str) -> None:
    _, resources = provisioned(mini, moto_endpoint, {"Prefix": ""})
    assert (resources.trigger.prefix, resources.trigger.suffix) == ("", "")
    assert "ProdOnly" not in resources.physical_ids


def test_events_schedule_and_routes(mini: Path, moto_endpoint: str) -> None:
    cfn, resources = provisioned(mini, moto_endpoint)
    assert resources.trigger.bucket_logical_id == "Bucket"
    assert resources.trigger.prefix == "uploads/"
    assert resources.trigger.events == ("s3:ObjectCreated:*",)
    assert rate_to_seconds(resources.schedules["Worker"]) == 120
    assert [route.route_key for route in http_routes(cfn, "Worker")] == ["POST /hook"]
    assert resources.bucket == f"b-{resources.physical_ids['Worker'].split('-Worker-')[0]}-{REGION}"


def test_unknown_override_fails_loudly(mini: Path) -> None:
    with pytest.raises(TemplateError, match="Nope"):
        translate(load_template(mini), {"Nope": 1})


def test_a_template_the_sam_transform_rejects_is_a_template_error(mini: Path) -> None:
    document = load_template(mini)
    del document["Resources"]["Worker"]["Properties"]["Handler"]
    with pytest.raises(TemplateError, match="Handler"):
        translate(document)


def test_code_outside_the_repository_is_refused(mini: Path) -> None:
    document = load_template(mini)
    document["Resources"]["Worker"]["Properties"]["CodeUri"] = "s3://somewhere/code.zip"
    cfn = translate(document)
    from local.template import function_code

    with pytest.raises(TemplateError, match="local path"):
        function_code(cfn, mini.parent, "Worker")


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
def real(moto_endpoint: str) -> tuple[dict, dict, ProvisionedResources]:
    document = load_template(REPO / "template.yaml")
    # Provider=external, as the local stack runs it: moto cannot create the nested extractor stack.
    overrides = {"Provider": "external"}
    cfn = translate(document, overrides, region=REGION)
    resources = provision(cfn, moto_endpoint, {}, root=REPO, stack_name="reader-real", region=REGION,
                          parameter_values=overrides)
    return document, cfn, resources


def test_real_template_upload_trigger(real) -> None:
    document, _, resources = real
    parameters = document["Parameters"]
    assert resources.trigger.bucket_logical_id == "UploadBucket"
    assert resources.trigger.events == ("s3:ObjectCreated:*",)
    assert resources.trigger.prefix == parameters["UploadPrefix"]["Default"]
    assert resources.trigger.suffix == parameters["UploadSuffix"]["Default"]


def _declared_environment(document: dict, function_id: str) -> dict:
    """Globals + the function's own variables, as template.yaml writes them (unresolved)."""
    globals_ = document["Globals"]["Function"]["Environment"]["Variables"]
    return {**globals_, **document["Resources"][function_id]["Properties"]["Environment"]["Variables"]}


@pytest.mark.parametrize(("function_id", "folder"), [("SubmitFunction", "submit"), ("CallbackFunction", "callback"),
                                                     ("PollerFunction", "poller")])
def test_real_template_every_handler_gets_the_environment_the_template_declares(real, function_id: str, folder: str) -> None:
    document, _, resources = real
    spec = resources.functions[function_id]
    assert spec.handler_file == REPO / "functions" / folder / "app.py"
    assert spec.handler_file.exists()
    assert spec.handler_function == "lambda_handler"
    assert spec.layer_dirs == (REPO / "layers" / "pipeline",)
    declared = _declared_environment(document, function_id)
    assert set(spec.environment) == set(declared)
    parameters = document["Parameters"]
    for name, value in declared.items():
        if isinstance(value, (str, int)):
            assert spec.environment[name] == str(value), name
        elif value.get("Ref") in parameters:
            assert spec.environment[name] == str(parameters[value["Ref"]]["Default"]), name
        elif value.get("Ref") in resources.physical_ids:  # the table, the secrets, the bucket
            assert spec.environment[name] == resources.physical_ids[value["Ref"]], name
    assert spec.environment["POWERTOOLS_SERVICE_NAME"] == "reader-real"  # !Ref AWS::StackName



def test_real_template_schedule_and_callback_route(real) -> None:
    document, cfn, resources = real
    assert resources.schedules["PollerFunction"] == document["Parameters"]["PollRate"]["Default"]
    assert rate_to_seconds(resources.schedules["PollerFunction"]) == 300
    assert [route.route_key for route in http_routes(cfn, "CallbackFunction")] == ["POST /callback"]
