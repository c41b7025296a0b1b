"""Environment variables: the names fixed in the pipeline conventions, wired to the right parameters/resources."""

from __future__ import annotations

import json

import pytest
from template_tools import REPO_ROOT, IntrinsicEvaluator

CONVENTION_NAMES = {
    "JOBS_TABLE_NAME",
    "JOBS_PENDING_INDEX",
    "UPLOAD_BUCKET_NAME",
    "PROVIDER_BASE_URL",
    "PROVIDER_SECRET_ID",
    "CALLBACK_SECRET_ID",
    "CALLBACK_URL",
    "VALIDATE_QUALITY",
    "IMAGE_TRANSPORT",
    "JOB_DEADLINE_SECONDS",
    "RESULT_GRACE_SECONDS",
    "RETENTION_DAYS",
    "PENDING_SHARDS",
    "POLLER_MAX_CONCURRENCY",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}

COMMON = {
    "JOBS_TABLE_NAME",
    "JOBS_PENDING_INDEX",
    "RETENTION_DAYS",
    "PENDING_SHARDS",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
}
PROVIDER_SIDE = {"UPLOAD_BUCKET_NAME", "PROVIDER_BASE_URL", "PROVIDER_SECRET_ID", "CALLBACK_URL", "VALIDATE_QUALITY", "IMAGE_TRANSPORT"}
REQUIRED = {
    "SubmitFunction": COMMON | PROVIDER_SIDE,
    "CallbackFunction": COMMON | {"CALLBACK_SECRET_ID"},
    "PollerFunction": COMMON | PROVIDER_SIDE | {"JOB_DEADLINE_SECONDS", "RESULT_GRACE_SECONDS", "POLLER_MAX_CONCURRENCY"},
}

# Variable -> the template parameter it carries.
FROM_PARAMETER = {
    "PROVIDER_BASE_URL": "ProviderBaseUrl",
    "VALIDATE_QUALITY": "ValidateQuality",
    "IMAGE_TRANSPORT": "ImageTransport",
    "JOB_DEADLINE_SECONDS": "JobDeadlineSeconds",
    "RESULT_GRACE_SECONDS": "ResultGraceSeconds",
    "RETENTION_DAYS": "ResultRetentionDays",
    "PENDING_SHARDS": "PendingShards",
    "POLLER_MAX_CONCURRENCY": "PollerMaxConcurrency",
    "POWERTOOLS_LOG_LEVEL": "LogLevel",
}


def _variables(resources, function):
    return resources[function]["Properties"]["Environment"]["Variables"]


@pytest.mark.parametrize("function", sorted(REQUIRED))
def test_names_follow_the_conventions(resources, function):
    names = set(_variables(resources, function))
    assert names <= CONVENTION_NAMES, f"unknown variables {sorted(names - CONVENTION_NAMES)}"
    assert REQUIRED[function] <= names, f"missing {sorted(REQUIRED[function] - names)}"


@pytest.mark.parametrize("function", sorted(REQUIRED))
def test_values_come_from_the_right_parameters_and_resources(resources, function):
    variables = _variables(resources, function)
    for name, parameter in FROM_PARAMETER.items():
        if name in variables:
            assert variables[name] == {"Ref": parameter}, name
    assert variables["JOBS_TABLE_NAME"] == {"Ref": "JobsTable"}
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "KtpPipeline"
    index_names = {i["IndexName"] for i in resources["JobsTable"]["Properties"]["GlobalSecondaryIndexes"]}
    assert variables["JOBS_PENDING_INDEX"] in index_names
    if "PROVIDER_SECRET_ID" in variables:
        assert variables["PROVIDER_SECRET_ID"] == {"Ref": "ProviderSecret"}
    if "CALLBACK_SECRET_ID" in variables:
        assert variables["CALLBACK_SECRET_ID"] == {"Ref": "CallbackSecret"}


def test_secrets_never_travel_in_environment_variables(resources, evaluator):
    for function in REQUIRED:
        values = evaluator.evaluate(_variables(resources, function)).values()
        assert not any("REPLACE_WITH" in str(v) or "password" in str(v).lower() for v in values)


@pytest.mark.parametrize("function", sorted(REQUIRED))
def test_layer_settings_parse_what_the_template_sets(cfn, function):
    """The layer reads these variables; a value it cannot parse would crash every cold start."""
    settings_module = pytest.importorskip("ktp_pipeline.settings", reason="layer settings not present yet")
    parameters = {"ValidateQuality": "true", "ImageTransport": "presigned_url", "JobDeadlineSeconds": "7200",
                  "ResultGraceSeconds": "120", "ResultRetentionDays": "45", "PendingShards": "6",
                  "PollerMaxConcurrency": "3", "ProviderBaseUrl": "https://provider.example/"}
    env = IntrinsicEvaluator(cfn, parameters).evaluate(_variables(cfn["Resources"], function))
    settings = settings_module.Settings.from_env(env)
    assert settings.jobs_table_name == "<JobsTable>"
    assert settings.jobs_pending_index == "pending-by-next-check"
    assert settings.retention_days == 45
    assert settings.pending_shards == 6
    if function != "CallbackFunction":
        assert settings.validate_quality is True
        assert settings.image_transport == "presigned_url"
        assert settings.provider_base_url == "https://provider.example"
        assert settings.provider_secret_id == "<ProviderSecret>"
        assert settings.callback_url.endswith("/callback")
        assert settings.upload_bucket_name
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
        name for name, value in values.items() if "<" in str(value) or name == "UPLOAD_BUCKET_NAME"
    }
    missing = from_resources - set(_env_json()[function])
    assert not missing, f"{function}: env.json lacks {sorted(missing)}"
