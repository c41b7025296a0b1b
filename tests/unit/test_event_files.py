"""events/*.json stay usable: env.json configures every function, events have the shapes S3/HTTP API send."""

import json

import pytest

from ktp_pipeline.settings import Settings, known_variables

from .conftest import EVENTS, load_event



@pytest.mark.parametrize("function", ["SubmitFunction", "CallbackFunction", "PollerFunction"])
def test_env_json_configures_each_function(function):
    env = json.loads((EVENTS / "env.json").read_text())[function]
    assert set(env) <= known_variables(), sorted(set(env) - known_variables())
    assert all(isinstance(v, str) for v in env.values())  # sam local wants strings
    settings = Settings.from_env(env)
    if function == "CallbackFunction":
        assert settings.callback_secret_id
    else:
        assert settings.provider_secret_id
        assert settings.callback_url


def test_s3_put_event_key_exercises_decoding():
    key = load_event("s3_put.json")["Records"][0]["s3"]["object"]["key"]
    assert "+" in key
    assert "%2B" in key
    assert "%C3%BC" in key  # space, literal plus, non-ASCII


@pytest.mark.parametrize("name", ["callback_success.json", "callback_failure.json", "callback_bad_auth.json"])
def test_callback_events_are_http_api_v2_posts(name):
    event = load_event(name)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /callback"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert json.loads(event["body"])["data"]["reference_id"]


def test_failure_event_carries_fail_on_1():
    assert json.loads(load_event("callback_failure.json")["body"])["error_code"] == "FAIL_ON_1"


def test_poller_event_is_a_scheduled_event():
    event = load_event("poller_schedule.json")
    assert event["detail-type"] == "Scheduled Event"
