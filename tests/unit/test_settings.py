import pytest
from ktp_pipeline.settings import Settings
from pydantic import ValidationError


def test_defaults_from_minimal_env():
    s = Settings.from_env({"JOBS_TABLE_NAME": "jobs"})
    assert s.jobs_pending_index == "pending-by-next-check"
    assert s.job_deadline_seconds == 3600 and s.result_grace_seconds == 300
    assert s.pending_shards == 4 and s.poller_max_concurrency == 8
    assert s.image_transport == "base64" and s.validate_quality is False


def test_values_are_parsed_and_empty_means_default():
    s = Settings.from_env({"JOBS_TABLE_NAME": "jobs", "VALIDATE_QUALITY": "true", "IMAGE_TRANSPORT": "presigned_url",
                           "PENDING_SHARDS": "8", "PROVIDER_BASE_URL": "https://api.example/", "RETENTION_DAYS": ""})
    assert s.validate_quality is True and s.image_transport == "presigned_url" and s.pending_shards == 8
    assert s.provider_base_url == "https://api.example" and s.retention_days == 30


@pytest.mark.parametrize("env", [{}, {"JOBS_TABLE_NAME": "t", "IMAGE_TRANSPORT": "ftp"},
                                 {"JOBS_TABLE_NAME": "t", "PENDING_SHARDS": "0"}])
def test_invalid_configuration_fails_fast(env):
    with pytest.raises(ValidationError):
        Settings.from_env(env)
