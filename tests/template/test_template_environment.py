"""Environment variables: exactly the layer's settings (and Powertools' own), wired to the right parameters/resources."""

from __future__ import annotations

import json

import pytest
from template_tools import REPO_ROOT, IntrinsicEvaluator

from ktp_pipeline.settings import POWERTOOLS_VARIABLES, Settings, known_variables

VAR = Settings.env_names()  # field name -> variable name: the one definition of the names

# Which settings each function needs, by field name.
COMMON = {"jobs_table_name", "jobs_pending_index", "retention_days", "pending_shards", "first_check_seconds"}
PROVIDER_SIDE = {"provider_base_url", "provider_secret_id", "callback_url", "validate_quality", "image_transport"}
REQUIRED = {
    "SubmitFunction": COMMON | PROVIDER_SIDE,
    "CallbackFunction": COMMON | {"callback_secret_id", "nik_hash_secret_id"},
    "PollerFunction": COMMON | PROVIDER_SIDE | {"job_deadline_seconds", "result_grace_seconds", "poller_max_concurrency",
                                                "nik_hash_secret_id"},
    "EraseFunction": COMMON | {"provider_base_url", "provider_secret_id", "nik_hash_secret_id"},
}

# Setting -> the template parameter it carries (provider_base_url depends on Provider: test_template_provider.py).
FROM_PARAMETER = {
    "validate_quality": "ValidateQuality",
    "image_transport": "ImageTransport",
    "job_deadline_seconds": "JobDeadlineSeconds",
    "result_grace_seconds": "ResultGraceSeconds",
    "retention_days": "ResultRetentionDays",
    "pending_shards": "PendingShards",
    "poller_max_concurrency": "PollerMaxConcurrency",
}


def _variables(resources, function):
    return resources[function]["Properties"]["Environment"]["Variables"]


@pytest.mark.parametrize("function", sorted(REQUIRED))
def test_every_variable_is_a_setting_or_powertools_own(resources, function):
    names = set(_variables(resources, function))
    assert names <= known_variables(), f"not read by anything: {sorted(names - known_variables())}"
    required = {VAR[field] for field in REQUIRED[function]} | POWERTOOLS_VARIABLES
    assert required <= names, f"missing {sorted(required - names)}"


def test_every_setting_without_a_default_is_set_for_every_function(resources):
    required = {VAR[name] for name, info in Settings.model_fields.items() if info.is_required()}
    for function in REQUIRED:
        assert required <= set(_variables(resources, function)), function


def test_literal_values_in_the_template_are_the_settings_defaults(resources):
    """A value fixed in the template (no parameter) must not drift from the model's default."""
    for function in REQUIRED:
        for field, name in VAR.items():
            value = _variables(resources, function).get(name)
            if isinstance(value, str):
                parsed = Settings.from_env({VAR["jobs_table_name"]: "t", name: value})
                assert getattr(parsed, field) == Settings.model_fields[field].default, name


def test_sdk_tracing_follows_the_detailed_tracing_parameter(cfn, resources):
    for function in REQUIRED:
        for value, disabled in (("false", "true"), ("true", "false")):
            env = IntrinsicEvaluator(cfn, {"DetailedTracing": value}).evaluate(_variables(resources, function))
            assert env["POWERTOOLS_TRACE_DISABLED"] == disabled
        assert resources[function]["Properties"]["TracingConfig"] == {"Mode": "Active"}  # Lambda's own segments


@pytest.mark.parametrize("function", sorted(REQUIRED))
def test_values_come_from_the_right_parameters_and_resources(resources, function):
    variables = _variables(resources, function)
    for field, parameter in FROM_PARAMETER.items():
        if VAR[field] in variables:
            assert variables[VAR[field]] == {"Ref": parameter}, field
    assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert variables[VAR["jobs_table_name"]] == {"Ref": "JobsTable"}
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "KtpPipeline"
    index_names = {i["IndexName"] for i in resources["JobsTable"]["Properties"]["GlobalSecondaryIndexes"]}
    assert variables[VAR["jobs_pending_index"]] in index_names
    if VAR["provider_secret_id"] in variables:
        assert variables[VAR["provider_secret_id"]] == {"Ref": "ProviderSecret"}
    if VAR["callback_secret_id"] in variables:
        assert variables[VAR["callback_secret_id"]] == {"Ref": "CallbackSecret"}


def test_secrets_never_travel_in_environment_variables(resources, evaluator):
    for function in REQUIRED:
        values = evaluator.evaluate(_variables(resources, function)).values()
        assert not any("REPLACE_WITH" in str(v) or "password" in str(v).lower() for v in values)


@pytest.mark.parametrize("function", sorted(REQUIRED))
def test_layer_settings_parse_what_the_template_sets(cfn, function):
    """The layer reads these variables; a value it cannot parse would crash every cold start."""
    parameters = {"ValidateQuality": "true", "ImageTransport": "presigned_url", "JobDeadlineSeconds": "7200",
                  "ResultGraceSeconds": "120", "ResultRetentionDays": "45", "PendingShards": "6",
                  "PollerMaxConcurrency": "3", "ProviderBaseUrl": "https://provider.example/", "Provider": "external"}
    env = IntrinsicEvaluator(cfn, parameters).evaluate(_variables(cfn["Resources"], function))
    settings = Settings.from_env(env)
    assert settings.jobs_table_name == "<JobsTable>"
    assert settings.jobs_pending_index == "pending-by-next-check"
    assert settings.retention_days == 45
    assert settings.pending_shards == 6
    if function in ("CallbackFunction", "PollerFunction", "EraseFunction"):
        assert settings.nik_hash_secret_id == "<NikHashSecret>"
    if function == "EraseFunction":
        assert settings.provider_base_url == "https://provider.example"
        assert settings.provider_secret_id == "<ProviderSecret>"
    elif function != "CallbackFunction":
        assert settings.validate_quality is True
        assert settings.image_transport == "presigned_url"
        assert settings.provider_base_url == "https://provider.example"
        assert settings.provider_secret_id == "<ProviderSecret>"
        assert settings.callback_url.endswith("/callback")
    else:
        assert settings.callback_secret_id == "<CallbackSecret>"
    if function == "PollerFunction":
        assert (settings.job_deadline_seconds, settings.result_grace_seconds, settings.poller_max_concurrency) == (7200, 120, 3)


def _env_json() -> dict:
    path = REPO_ROOT / "events" / "env.json"
    if not path.exists():
        pytest.skip("events/env.json not present yet")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("function", sorted(REQUIRED))
def test_sam_local_env_file_only_sets_declared_variables(resources, function):
    """`sam local invoke --env-vars` silently ignores variables the template does not declare."""
    overrides = _env_json()[function]
    declared = set(_variables(resources, function))
    assert set(overrides) <= declared, f"ignored by sam local: {sorted(set(overrides) - declared)}"


@pytest.mark.parametrize("function", sorted(REQUIRED))
def test_sam_local_env_file_resolves_every_resource_reference(resources, evaluator, function):
    """Values built from resources (table, bucket, secrets, API) do not exist locally; env.json must set them."""
    values = evaluator.evaluate(_variables(resources, function))
    from_resources = {
        name for name, value in values.items() if "<" in str(value)
    }
    missing = from_resources - set(_env_json()[function])
    assert not missing, f"{function}: env.json lacks {sorted(missing)}"


@pytest.mark.parametrize("function", sorted(REQUIRED))
def test_sam_local_env_template_names_every_declared_variable(resources, function):
    """events/env.json documents the file `ktp up` writes (<data-dir>/sam/env.json): the same keys."""
    assert set(_env_json()[function]) == set(_variables(resources, function))


def test_sdk_endpoint_is_declared_empty_for_sam_local(resources):
    """Declared so `sam local --env-vars` may set it; empty in AWS, where boto3 then takes the real endpoints."""
    for function in REQUIRED:
        assert _variables(resources, function)["AWS_ENDPOINT_URL"] == ""
