import pytest
from ktp_pipeline.settings import Settings
from pydantic import ValidationError


def test_defaults_from_minimal_env():
    s = Settings.from_env({"JOBS_TABLE_NAME": "jobs"})
    assert s.jobs_pending_index == "pending-by-next-check"
    assert s.job_deadline_seconds == 3600
    assert s.result_grace_seconds == 300
    assert s.pending_shards == 4
    assert s.poller_max_concurrency == 8
    assert s.image_transport == "base64"
    assert s.validate_quality is False


def test_values_are_parsed_and_empty_means_default():
    s = Settings.from_env({"JOBS_TABLE_NAME": "jobs", "VALIDATE_QUALITY": "true", "IMAGE_TRANSPORT": "presigned_url",
                           "PENDING_SHARDS": "8", "PROVIDER_BASE_URL": "https://api.example/", "RETENTION_DAYS": ""})
    assert s.validate_quality is True
    assert s.image_transport == "presigned_url"
    assert s.pending_shards == 8
    assert s.provider_base_url == "https://api.example"
    assert s.retention_days == 30


@pytest.mark.parametrize("env", [{}, {"JOBS_TABLE_NAME": "t", "IMAGE_TRANSPORT": "ftp"},
                                 {"JOBS_TABLE_NAME": "t", "PENDING_SHARDS": "0"}])
def test_invalid_configuration_fails_fast(env):
    with pytest.raises(ValidationError):
        Settings.from_env(env)


def test_each_field_is_read_from_its_upper_case_variable():
    names = Settings.env_names()
    assert names["jobs_table_name"] == "JOBS_TABLE_NAME"
    assert names["first_check_seconds"] == "FIRST_CHECK_SECONDS"
    assert set(names.values()) == {name.upper() for name in Settings.model_fields}


def test_first_check_seconds_defaults_to_a_minute_and_can_be_shortened():
    assert Settings.from_env({"JOBS_TABLE_NAME": "t"}).first_check_seconds == 60
    assert Settings.from_env({"JOBS_TABLE_NAME": "t", "FIRST_CHECK_SECONDS": "2"}).first_check_seconds == 2


def test_to_env_round_trips():
    s = Settings(jobs_table_name="t", validate_quality=True, pending_shards=6, first_check_seconds=1)
    env = s.to_env()
    assert env["VALIDATE_QUALITY"] == "true"
    assert env["PENDING_SHARDS"] == "6"
    assert Settings.from_env(env) == s


def test_unknown_setting_names_are_refused():
    with pytest.raises(ValidationError):
        Settings(jobs_table_name="t", upload_bucket_name="b")


def test_variables_that_are_not_settings_are_ignored():
    assert Settings.from_env({"JOBS_TABLE_NAME": "t", "UPLOAD_BUCKET_NAME": "b"}).jobs_table_name == "t"


@pytest.mark.parametrize("seconds", [60, 5])
def test_submitter_schedules_the_first_check_from_the_setting(stack, handlers, monkeypatch, seconds):
    from ktp_pipeline import wiring

    from .conftest import FakeContext, make_image

    if seconds != 60:
        monkeypatch.setenv(Settings.env_names()["first_check_seconds"], str(seconds))
    wiring.reset()
    event = stack.s3_event("incoming/first-check.jpg", make_image())
    [outcome] = handlers["submit"].lambda_handler(event, FakeContext())["outcomes"]
    item = stack.item(outcome["reference_id"])
    assert item["status"] == "SUBMITTED"
    assert item["next_check_at"] - item["submitted_epoch"] == seconds


def test_backoff_first_steps_are_settings_with_the_old_defaults():
    defaults = Settings.from_env({"JOBS_TABLE_NAME": "t"})
    assert defaults.poll_base_seconds == 30
    assert defaults.retry_base_seconds == 60
    short = Settings.from_env({"JOBS_TABLE_NAME": "t", "POLL_BASE_SECONDS": "2", "RETRY_BASE_SECONDS": "3"})
    assert short.poll_base_seconds == 2
    assert short.retry_base_seconds == 3


def test_submitter_backs_off_a_transient_failure_from_the_retry_setting(stack, handlers, monkeypatch):
    from ktp_pipeline import wiring

    from .conftest import FakeContext, error_reply, make_image

    monkeypatch.setenv(Settings.env_names()["retry_base_seconds"], "2")
    wiring.reset()
    stack.provider.submit_reply = error_reply(503, None)
    event = stack.s3_event("incoming/retry-setting.jpg", make_image())
    [outcome] = handlers["submit"].lambda_handler(event, FakeContext())["outcomes"]
    item = stack.item(outcome["reference_id"])
    assert item["status"] == "RETRY"
    # Half fixed, half jittered: between 1 and 2 s after the attempt (the default would be 30-60 s).
    assert item["next_check_at"] - item["created_epoch"] <= 3

