"""In-process unit tests of the service's building blocks (no server)."""

from __future__ import annotations

import argparse
import asyncio

import httpx
import pytest

from extractor.service import sandbox
from extractor.service.auth import verify_credentials
from extractor.service.callbacks import backoff_delay, basic_auth_header
from extractor.service.cli import build_settings, register
from extractor.service.errors import ContractError
from extractor.service.images import decode_base64_image
from extractor.service.net_guard import DestinationRefused, NetPolicy, guarded_client
from extractor.service.settings import AppCredentials, ServiceSettings


@pytest.mark.parametrize(
    "url, local, allowed",
    [
        ("https://example.com/cb", False, True),
        ("http://example.com/cb", False, False),
        ("http://127.0.0.1:9000/cb", False, False),
        ("http://127.0.0.1:9000/cb", True, True),
        ("http://localhost:9000/cb", True, True),
        ("http://[::1]:9000/cb", True, True),
        ("http://example.com/cb", True, False),  # --local opens loopback only
        ("https://10.0.0.1/cb", True, False),
        ("https://192.168.1.1/cb", False, False),
        ("https://169.254.169.254/", False, False),
        ("https://[::ffff:10.0.0.1]/", False, False),
        ("https://0.0.0.0/", False, False),
        ("https://user:pw@example.com/", False, False),
        ("https://example.com:0/", False, False),
        ("https://example.com:99999/", False, False),
        ("file:///etc/passwd", True, False),
    ],
)
def test_net_policy_urls(url, local, allowed):
    policy = NetPolicy(allow_loopback=local)
    if allowed:
        policy.check_url(url)
    else:
        with pytest.raises(DestinationRefused):
            policy.check_url(url)


def test_guarded_transport_checks_resolved_addresses():
    """A name that resolves to a refused address is refused at connect time (DNS rebinding)."""

    async def fetch() -> None:
        async with guarded_client(NetPolicy(allow_loopback=False), timeout=5) as client:
            await client.get("http://localhost:1/")

    with pytest.raises(httpx.ConnectError, match="not allowed"):
        asyncio.run(fetch())


def test_app_credentials_parse_and_never_print_secrets():
    app = AppCredentials.parse("id1:key1:user:pa:ss")
    assert (app.app_id, app.api_key, app.callback_user, app.callback_password) == ("id1", "key1", "user", "pa:ss")
    assert "key1" not in repr(app)
    assert "pa:ss" not in str(app)
    assert AppCredentials.parse("id2:key2").callback_user is None
    for bad in ("justone", "a:b:c", ":key", "id:"):
        with pytest.raises(ValueError):
            AppCredentials.parse(bad)
    with pytest.raises(ValueError):
        ServiceSettings(apps=(AppCredentials.parse("x:1"), AppCredentials.parse("x:2")))


def test_verify_credentials():
    settings = ServiceSettings(apps=(AppCredentials.parse("a:ka"), AppCredentials.parse("b:kb")))
    assert verify_credentials(settings, "b", "kb").app_id == "b"
    assert verify_credentials(settings, "a", "kb") is None
    assert verify_credentials(settings, None, None) is None
    assert verify_credentials(settings, "a", "ka\u00e9") is None


def test_base64_variants():
    assert decode_base64_image("aGVsbG8=") == b"hello"
    assert decode_base64_image("aGVs\nbG8") == b"hello"  # line breaks, missing padding
    assert decode_base64_image("data:image/png;base64,aGVsbG8=") == b"hello"
    assert decode_base64_image("-_-_") == b"\xfb\xff\xbf"  # URL-safe alphabet
    for bad in ("hello world", "a", "====", "data:image/png;base64,"):
        with pytest.raises(ContractError) as info:
            decode_base64_image(bad)
        assert info.value.code == "INVALID_PAYLOAD_IMAGE_MISSING"


def test_backoff_doubles_and_caps():
    settings = ServiceSettings(callback_backoff_seconds=2, callback_max_backoff_seconds=10)
    assert [backoff_delay(settings, n) for n in range(1, 6)] == [2, 4, 8, 10, 10]
    assert basic_auth_header("u", "p:w") == "Basic dTpwOnc="


def test_sandbox_result_ids():
    assert sandbox.parse_result_id("REFERENCE_ID_KTP_BD_V") == ("KTP_BD", True)
    assert sandbox.parse_result_id("REFERENCE_ID_NO_KTP_DETECTED") == ("NO_KTP_DETECTED", False)
    assert sandbox.parse_result_id("REFERENCE_ID_IMAGE_SIZE_EXCEED_LIMIT") is None
    assert sandbox.parse_result_id("REFERENCE_ID_KTP_") is None
    assert sandbox.parse_result_id("OTHER_KTP") is None


def _parse(argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_cli_reads_environment_and_options_win(monkeypatch, tmp_path):
    monkeypatch.setenv("KTP_SERVE_PORT", "9123")
    monkeypatch.setenv("KTP_SERVE_WORKERS", "3")
    monkeypatch.setenv("KTP_SERVE_APPS", "a:ka, b:kb:u:p")
    monkeypatch.setenv("KTP_SERVE_LOCAL", "1")
    monkeypatch.setenv("KTP_SERVE_SANDBOX", "true")
    monkeypatch.setenv("KTP_SERVE_QUOTA", "5")
    monkeypatch.setenv("KTP_SERVE_RETENTION_HOURS", "1.5")
    monkeypatch.setenv("KTP_SERVE_DATA_DIR", str(tmp_path))
    settings = build_settings(_parse([]))
    assert (settings.port, settings.workers, settings.quota, settings.retention_hours) == (9123, 3, 5, 1.5)
    assert settings.local
    assert settings.sandbox
    assert settings.data_dir == tmp_path
    assert [a.app_id for a in settings.apps] == ["a", "b"]
    assert settings.app("b").callback_password == "p"
    settings = build_settings(_parse(["--port", "9200", "--app", "c:kc"]))
    assert settings.port == 9200
    assert [a.app_id for a in settings.apps] == ["c"]


def test_unexpected_exception_is_a_contract_500_without_details(tmp_path):
    from extractor.service.app import create_app

    settings = ServiceSettings(data_dir=tmp_path, sandbox=True, apps=(AppCredentials.parse("a:k"),))
    app = create_app(settings)

    async def broken(*args, **kwargs):
        raise RuntimeError("secret detail 3171011708900000")

    async def scenario() -> httpx.Response:
        async with app.router.lifespan_context(app):
            app.state.service.store.get_job = broken
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
                return await client.get(
                    "/ktp/id/extract-async/result", params={"reference_id": "some-ref-1"},
                    headers={"App-ID": "a", "API-Key": "k"},
                )

    response = asyncio.run(scenario())
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error", "error_code": "INTERNAL_SERVER_ERROR"}


def test_store_file_is_owner_only(tmp_path):
    import stat

    from extractor.service.store import Store

    async def scenario() -> None:
        store = Store(tmp_path / "db.sqlite3")
        await store.open()
        await store.insert_job("a", "ref-000001", False, None, "/nonexistent", quota=None)
        await store.close()

    asyncio.run(scenario())
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path.name


def test_callback_loop_survives_a_store_failure(monkeypatch):
    """A failing store read is logged and retried; deliveries continue afterwards."""
    from extractor.service import callbacks

    monkeypatch.setattr(callbacks, "LOOP_ERROR_BACKOFF_SECONDS", 0.01)
    delivery = callbacks.Delivery(id=1, app_id="a", reference_id="ref-000001", url="https://example.com/cb",
                                  body_json="{}", state="pending", attempts=0, next_attempt_at=0.0)

    class FlakyStore:
        def __init__(self) -> None:
            self.calls = 0
            self.recorded: list[tuple] = []

        async def due_deliveries(self, limit, exclude):
            self.calls += 1
            if self.calls == 1:
                raise OSError("disk I/O error")
            return [] if self.recorded or 1 in exclude else [delivery]

        async def next_delivery_at(self, exclude):
            return None

        async def record_attempt(self, *args):
            self.recorded.append(args)
            return 1

    store = FlakyStore()
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(204)))
    settings = ServiceSettings(apps=(AppCredentials.parse("a:k:u:p"),))

    async def scenario() -> None:
        sender = callbacks.CallbackSender(settings, store, client)
        task = asyncio.create_task(sender.run())
        for _ in range(200):
            if store.recorded:
                break
            sender.notify()
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()

    asyncio.run(scenario())
    assert store.calls >= 2
    assert store.recorded
    assert store.recorded[0][:4] == (1, 204, None, True)
