"""Function timeouts agree with the layer's own time budgets (imported, so drift fails here)."""

from __future__ import annotations

import inspect

import pytest


def _worst_case_provider_call_seconds() -> float:
    provider_client = pytest.importorskip("ktp_pipeline.provider_client", reason="layer not present yet")
    timeout = provider_client.DEFAULT_TIMEOUT
    defaults = inspect.signature(provider_client.ProviderClient.__init__).parameters
    attempts = defaults["max_attempts"].default
    per_attempt = timeout.connect + timeout.write + timeout.read + timeout.pool
    return attempts * per_attempt + (attempts - 1) * defaults["backoff_cap"].default


def test_submit_outlives_a_worst_case_provider_call_but_not_its_claim(resources):
    backoff = pytest.importorskip("ktp_pipeline.backoff", reason="layer not present yet")
    timeout = resources["SubmitFunction"]["Properties"]["Timeout"]
    assert timeout > _worst_case_provider_call_seconds()
    # A submitter still running when its claim expires would race the poller's resubmission.
    assert timeout < backoff.SUBMIT_CLAIM_SECONDS


def test_poller_keeps_its_stop_margin_inside_the_timeout(resources):
    poller = pytest.importorskip("ktp_pipeline.poller", reason="layer not present yet")
    timeout_ms = resources["PollerFunction"]["Properties"]["Timeout"] * 1000
    assert poller.STOP_MARGIN_MS < timeout_ms / 2


def test_callback_answers_inside_the_http_api_integration_limit(resources):
    assert resources["CallbackFunction"]["Properties"]["Timeout"] < 30  # HTTP API integrations time out at 30 s
