"""Per-application submit throttling (extractor/service/throttle.py): the shared decision and the
in-memory token bucket, on an injected clock."""

from __future__ import annotations

import argparse
import asyncio
import json

import pytest

from extractor.serverless.config import parse_applications
from extractor.service import cli
from extractor.service.errors import ContractError, ErrorCode
from extractor.service.settings import AppCredentials, ServiceSettings, parse_app_rate
from extractor.service.throttle import SubmitRate, TokenBuckets, check_submit_rate, submit_rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(coro):
    return asyncio.run(coro)


def test_rate_is_the_applications_own_else_the_default_and_zero_is_unlimited():
    settings = ServiceSettings(submit_rate=5, submit_burst=10)
    plain = AppCredentials(app_id="a", api_key="k")
    assert submit_rate(settings, plain) == SubmitRate(5, 10)
    assert submit_rate(settings, plain.model_copy(update={"submit_rate": 1.5, "submit_burst": 2})) == SubmitRate(1.5, 2)
    assert submit_rate(settings, plain.model_copy(update={"submit_rate": 0})) is None
    assert submit_rate(ServiceSettings(submit_rate=0), plain) is None
    assert submit_rate(ServiceSettings(), plain) == SubmitRate(20, 50)  # the documented default


def test_bucket_admits_a_burst_then_refills_at_the_rate():
    clock = Clock()
    buckets = TokenBuckets(clock)
    rate = SubmitRate(per_second=2.0, burst=3)
    # 0.0 = admitted; otherwise the seconds until the next token.
    assert [run(buckets.admit("a", rate)) for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]
    clock.now += 0.25  # half a token: still refused, a quarter second to go
    assert run(buckets.admit("a", rate)) == 0.25
    clock.now += 0.25  # one whole token
    assert run(buckets.admit("a", rate)) == 0.0
    assert run(buckets.admit("a", rate)) == 0.5
    clock.now += 60  # a long pause refills to the burst, never beyond it
    assert [run(buckets.admit("a", rate)) for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


def test_bucket_is_per_application():
    clock = Clock()
    buckets = TokenBuckets(clock)
    rate = SubmitRate(per_second=1.0, burst=2)
    assert [run(buckets.admit("a", rate)) > 0 for _ in range(3)] == [False, False, True]
    assert [run(buckets.admit("b", rate)) > 0 for _ in range(3)] == [False, False, True]


def test_retry_after_is_whole_seconds_and_never_zero():
    from extractor.service.throttle import retry_after_header

    assert retry_after_header(0.01) == {"Retry-After": "1"}
    assert retry_after_header(1.0) == {"Retry-After": "1"}
    assert retry_after_header(99.2) == {"Retry-After": "100"}


def test_windows_hold_a_burst_and_average_the_rate():
    rate = SubmitRate(per_second=4.0, burst=10)
    assert rate.window_seconds == 2.5
    assert rate.window(0.0) == rate.window(2.49) == 0
    assert rate.window(2.5) == 1
    assert rate.window_end(1) == 5.0


def test_over_the_rate_is_a_429_too_many_requests():
    clock = Clock()
    buckets = TokenBuckets(clock)
    settings = ServiceSettings(submit_rate=1, submit_burst=1)
    app = AppCredentials(app_id="a", api_key="k")
    run(check_submit_rate(buckets, settings, app))
    with pytest.raises(ContractError) as refused:
        run(check_submit_rate(buckets, settings, app))
    assert refused.value.status == 429
    assert refused.value.body() == {"message": refused.value.message, "error_code": ErrorCode.TOO_MANY_REQUESTS.value}
    # Unlimited applications never touch the throttle.
    run(check_submit_rate(None, settings, app))
    for _ in range(5):
        run(check_submit_rate(buckets, settings, app.model_copy(update={"submit_rate": 0})))


def test_app_rate_specs():
    assert parse_app_rate("app-one=2.5:7") == ("app-one", 2.5, 7)
    assert parse_app_rate("app-one=0") == ("app-one", 0.0, None)
    for bad in ("app-one", "=3", "app-one=x", "app-one=1:y"):
        with pytest.raises(ValueError):
            parse_app_rate(bad)


def _serve_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_serve_options_set_the_default_and_each_applications_rate(monkeypatch):
    for name in ("KTP_SERVE_SUBMIT_RATE", "KTP_SERVE_SUBMIT_BURST", "KTP_SERVE_APP_RATES", "KTP_SERVE_APPS"):
        monkeypatch.delenv(name, raising=False)
    settings = cli.build_settings(_serve_args(
        "--app", "a:k", "--app", "b:k2", "--submit-rate", "3", "--submit-burst", "4", "--app-rate", "a=0.5:2",
    ))
    assert (settings.submit_rate, settings.submit_burst) == (3, 4)
    assert submit_rate(settings, settings.app("a")) == SubmitRate(0.5, 2)
    assert submit_rate(settings, settings.app("b")) == SubmitRate(3, 4)
    with pytest.raises(ValueError):
        cli.build_settings(_serve_args("--app", "a:k", "--app-rate", "nobody=1"))
    with pytest.raises(ValueError):
        cli.build_settings(_serve_args("--app", "a:k", "--app-rate", "a=-1"))


def test_serverless_applications_carry_their_own_rate():
    apps = parse_applications(json.dumps({"applications": [
        {"app_id": "a", "api_key": "k", "submit_rate": 1, "submit_burst": 3}, {"app_id": "b", "api_key": "k2"},
    ]}))
    settings = ServiceSettings(apps=apps)
    assert submit_rate(settings, settings.app("a")) == SubmitRate(1, 3)
    assert submit_rate(settings, settings.app("b")) == SubmitRate(20, 50)
