"""Function timeouts agree with the layer's own time budgets (imported, so drift fails here)."""

from __future__ import annotations

import pytest


def _default_provider_client():
    import httpx

    provider_client = pytest.importorskip("ktp_pipeline.provider_client", reason="layer not present yet")
    http = httpx.Client(timeout=provider_client.DEFAULT_TIMEOUT)
    return provider_client.ProviderClient("https://provider.invalid", lambda: None, http)


def _worst_case_provider_call_seconds() -> float:
    return _default_provider_client().worst_case_seconds()


def test_submit_outlives_a_worst_case_provider_call_but_not_its_claim(resources):
    backoff = pytest.importorskip("ktp_pipeline.backoff", reason="layer not present yet")
    timeout = resources["SubmitFunction"]["Properties"]["Timeout"]
    assert timeout > _worst_case_provider_call_seconds()
    # A submitter still running when its claim expires would race the poller's resubmission.
    assert timeout < backoff.SUBMIT_CLAIM_SECONDS


def test_poller_keeps_its_stop_margin_inside_the_timeout(resources):
    poller = pytest.importorskip("ktp_pipeline.poller", reason="layer not present yet")
    timeout_ms = resources["PollerFunction"]["Properties"]["Timeout"] * 1000
    margin_ms = poller.stop_margin_ms_for(_default_provider_client())
    # The last item taken still finishes in time, and at least a minute is left for taking items.
    assert margin_ms > _worst_case_provider_call_seconds() * 1000
    assert timeout_ms - margin_ms >= 60_000


def test_callback_answers_inside_the_http_api_integration_limit(resources):
    assert resources["CallbackFunction"]["Properties"]["Timeout"] < 30  # HTTP API integrations time out at 30 s
