"""One parameter chooses the extraction provider: `builtin` nests the serverless extractor, `external` calls ProviderBaseUrl.

builtin wires everything with no value pasted by hand: the pipeline generates both credential pairs
and hands their ARNs to the nested extractor, which reads the same secrets; the functions call the
nested stack's URL. external keeps the vendor's URL and the placeholder secret the operator fills in.
"""

from __future__ import annotations

import pytest
from template_tools import REPO_ROOT, IntrinsicEvaluator, dependency_graph, find_cycle, load_sam_template

from local.template import load_template

from ktp_pipeline.settings import Settings

VAR = Settings.env_names()
CALLING_FUNCTIONS = ("SubmitFunction", "PollerFunction")
NESTED = "Extractor"


def _evaluated(cfn, provider: str) -> IntrinsicEvaluator:
    return IntrinsicEvaluator(cfn, {"Provider": provider})


def test_provider_parameter_offers_both_and_defaults_to_builtin(sam_template):
    parameter = sam_template["Parameters"]["Provider"]
    assert parameter["AllowedValues"] == ["builtin", "external"]
    assert parameter["Default"] == "builtin"


def test_the_nested_extractor_exists_only_with_builtin(resources, cfn):
    nested = resources[NESTED]
    assert nested["Type"] == "AWS::CloudFormation::Stack"
    assert nested["Condition"] == "UseBuiltinExtractor"
    assert _evaluated(cfn, "builtin").condition("UseBuiltinExtractor")
    assert not _evaluated(cfn, "external").condition("UseBuiltinExtractor")


def test_the_nested_application_is_the_extractor_template_in_this_repository():
    properties = load_sam_template()["Resources"][NESTED]["Properties"]
    assert properties["Location"] == "serverless_extractor/template.yaml"


def test_the_nested_extractor_declares_what_the_pipeline_passes_and_reads(resources):
    extractor_template = REPO_ROOT / "serverless_extractor" / "template.yaml"
    if not extractor_template.is_file():
        pytest.skip("serverless_extractor/template.yaml is not on this branch")
    extractor = load_template(extractor_template)
    passed = set(resources[NESTED]["Properties"]["Parameters"])
    assert passed <= set(extractor["Parameters"]), sorted(passed - set(extractor["Parameters"]))
    assert "ExtractorUrl" in extractor["Outputs"]
    # A value the pipeline accepts must be one the nested stack accepts too, or the deploy fails late.
    pipeline_parameters = load_sam_template()["Parameters"]
    for name, value in resources[NESTED]["Properties"]["Parameters"].items():
        source = value.get("Ref") if isinstance(value, dict) else None
        allowed = pipeline_parameters.get(source, {}).get("AllowedValues")
        if allowed is not None:
            theirs = {str(v) for v in extractor["Parameters"][name].get("AllowedValues", allowed)}
            assert {str(v) for v in allowed} <= theirs, (name, sorted({str(v) for v in allowed} - theirs))


def test_builtin_hands_the_pipelines_own_secrets_to_the_extractor(resources, cfn):
    parameters = _evaluated(cfn, "builtin").evaluate(resources[NESTED]["Properties"]["Parameters"])
    assert parameters["PipelineCredentialsSecretArn"] == "<ProviderSecret>"
    assert parameters["PipelineCallbackSecretArn"] == "<CallbackSecret>"


@pytest.mark.parametrize("function", CALLING_FUNCTIONS)
def test_functions_call_the_nested_extractor_with_builtin(resources, cfn, function):
    env = _evaluated(cfn, "builtin").evaluate(resources[function]["Properties"]["Environment"]["Variables"])
    assert env[VAR["provider_base_url"]] == f"<{NESTED}.Outputs.ExtractorUrl>"
    assert env[VAR["provider_secret_id"]] == "<ProviderSecret>"


@pytest.mark.parametrize("function", CALLING_FUNCTIONS)
def test_functions_call_provider_base_url_with_external(resources, cfn, function):
    env = IntrinsicEvaluator(cfn, {"Provider": "external", "ProviderBaseUrl": "https://vendor.example"}).evaluate(
        resources[function]["Properties"]["Environment"]["Variables"]
    )
    assert env[VAR["provider_base_url"]] == "https://vendor.example"


def test_builtin_generates_the_api_key_so_nothing_is_pasted(resources, cfn):
    secret = _evaluated(cfn, "builtin").evaluate(resources["ProviderSecret"]["Properties"])
    assert "SecretString" not in secret
    generated = secret["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "api_key"
    assert '"app_id"' in generated["SecretStringTemplate"]
    assert generated["PasswordLength"] >= 32


def test_external_keeps_the_placeholder_the_operator_replaces(resources, cfn):
    secret = _evaluated(cfn, "external").evaluate(resources["ProviderSecret"]["Properties"])
    assert "GenerateSecretString" not in secret
    assert "REPLACE_WITH_API_KEY" in secret["SecretString"]


def test_callback_pair_is_generated_in_both_modes(resources, cfn):
    for provider in ("builtin", "external"):
        secret = _evaluated(cfn, provider).evaluate(resources["CallbackSecret"]["Properties"])
        assert secret["GenerateSecretString"]["GenerateStringKey"] == "password"


def test_provider_url_output_follows_the_mode(cfn):
    output = cfn["Outputs"]["ProviderUrl"]["Value"]
    assert _evaluated(cfn, "builtin").evaluate(output) == f"<{NESTED}.Outputs.ExtractorUrl>"
    assert IntrinsicEvaluator(cfn, {"Provider": "external", "ProviderBaseUrl": "https://vendor.example"}).evaluate(
        output) == "https://vendor.example"


def test_nesting_the_extractor_adds_no_dependency_cycle(cfn):
    graph = dependency_graph(cfn)
    assert NESTED in graph["SubmitFunction"] and NESTED in graph["PollerFunction"]
    assert find_cycle(graph) is None
