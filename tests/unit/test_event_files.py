"""events/*.json stay usable: env.json configures every function, events have the shapes S3/HTTP API send."""

import json

import pytest

from ktp_pipeline.settings import Settings

from .conftest import EVENTS, load_event

KNOWN_ENV = {
    "JOBS_TABLE_NAME", "JOBS_PENDING_INDEX", "UPLOAD_BUCKET_NAME", "PROVIDER_BASE_URL", "PROVIDER_SECRET_ID",
    "CALLBACK_SECRET_ID", "CALLBACK_URL", "VALIDATE_QUALITY", "IMAGE_TRANSPORT", "JOB_DEADLINE_SECONDS",
    "RESULT_GRACE_SECONDS", "RETENTION_DAYS", "PENDING_SHARDS", "POLLER_MAX_CONCURRENCY",
    "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL",
}


@pytest.mark.parametrize("function", ["SubmitFunction", "CallbackFunction", "PollerFunction"])
def test_env_json_configures_each_function(function):
    env = json.loads((EVENTS / "env.json").read_text())[function]
    assert set(env) <= KNOWN_ENV
    assert all(isinstance(v, str) for v in env.values())  # sam local wants strings
    settings = Settings.from_env(env)
    if function == "CallbackFunction":
        assert settings.callback_secret_id
    else:
        assert settings.provider_secret_id and settings.upload_bucket_name


def test_s3_put_event_key_exercises_decoding():
    key = load_event("s3_put.json")["Records"][0]["s3"]["object"]["key"]
    assert "+" in key and "%2B" in key and "%C3%BC" in key  # space, literal plus, non-ASCII


@pytest.mark.parametrize("name", ["callback_success.json", "callback_failure.json", "callback_bad_auth.json"])
def test_callback_events_are_http_api_v2_posts(name):
    event = load_event(name)
    assert event["version"] == "2.0" and event["routeKey"] == "POST /callback"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert json.loads(event["body"])["data"]["reference_id"]


def test_failure_event_carries_fail_on_1():
    assert json.loads(load_event("callback_failure.json")["body"])["error_code"] == "FAIL_ON_1"


def test_poller_event_is_a_scheduled_event():
    event = load_event("poller_schedule.json")
    assert event["detail-type"] == "Scheduled Event"
