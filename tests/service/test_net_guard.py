"""The SSRF guard: every refused IPv6 form, the transport on real sockets, the start-up self-check
and the httpx pin the guard was tested against."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import tomllib
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement

from extractor.service.app import create_app
from extractor.service.net_guard import (
    AddressRefused,
    DestinationRefused,
    GuardNotInPath,
    NetPolicy,
    embedded_ipv4,
    guarded_client,
    verify_guard,
)
from extractor.service.settings import ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[2]

# Addresses Python's ipaddress calls "global" but that a translator, tunnel or old site routing
# would take to an internal host; refused in both modes.
REFUSED_FORMS = [
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::808:808",  # NAT64 of a public address: the host is reached by its own address
    "::a00:1",  # IPv4-compatible 10.0.0.1
    "::7f00:1",  # IPv4-compatible 127.0.0.1
    "::808:808",
    "::ffff:0:a00:1",  # SIIT 10.0.0.1
    "::ffff:0:808:808",
    "fec0::1",  # site-local
    "feff:ffff::1",
]


@pytest.mark.parametrize("address", REFUSED_FORMS)
@pytest.mark.parametrize("local", [False, True])
def test_translated_and_site_local_ipv6_are_refused(address, local):
    policy = NetPolicy(allow_loopback=local)
    assert not policy.address_allowed(address)
    with pytest.raises(DestinationRefused):
        policy.check_url(f"https://[{address}]/image.jpg")


@pytest.mark.parametrize(
    "address, local, allowed",
    [
        ("::ffff:8.8.8.8", False, True),  # IPv4-mapped: judged as the IPv4 address it is
        ("::ffff:10.0.0.1", False, False),
        ("::ffff:127.0.0.1", False, False),
        ("::ffff:127.0.0.1", True, True),
        ("::1", True, True),
        ("::1", False, False),
        ("::", True, False),
        ("2606:4700:4700::1111", False, True),
    ],
)
def test_mapped_loopback_and_public_ipv6(address, local, allowed):
    assert NetPolicy(allow_loopback=local).address_allowed(address) is allowed


@pytest.mark.parametrize(
    "address, ipv4",
    [
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("64:ff9b::a01:203", "10.1.2.3"),
        ("::ffff:0:a01:203", "10.1.2.3"),
        ("::a01:203", "10.1.2.3"),
        ("::1", None),
        ("::", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_embedded_ipv4_is_decoded(address, ipv4):
    decoded = embedded_ipv4(ipaddress.IPv6Address(address))
    assert (str(decoded) if decoded else None) == ipv4


@pytest.mark.parametrize("address", REFUSED_FORMS)
def test_a_name_resolving_to_a_refused_form_is_refused_at_connect(monkeypatch, address):
    """DNS may answer with any of these forms (DNS64 does for NAT64): the connect-time check sees
    the resolved address and never opens the connection."""
    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    async def fetch() -> None:
        async with guarded_client(NetPolicy(allow_loopback=True), timeout=5) as client:
            await client.get("https://images.example.com/card.jpg")

    with pytest.raises(httpx.ConnectError, match="not allowed") as caught:
        asyncio.run(fetch())
    assert isinstance(caught.value.__cause__, AddressRefused)  # refused before any connect


def _listener() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    return server, server.getsockname()[1]


def test_guarded_transport_speaks_http_on_loopback_in_local_mode():
    """The transport is our own (public httpx/httpcore API): status, headers, streamed body and
    httpx's exception types all come through."""
    import threading

    server, port = _listener()

    def answer() -> None:
        connection, _ = server.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            body = b"x" * 70_000
            connection.sendall(
                b"HTTP/1.1 201 Created\r\nContent-Type: image/jpeg\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n\r\n" + body
            )

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()

    async def fetch() -> tuple[int, str, int]:
        async with guarded_client(NetPolicy(allow_loopback=True), timeout=5) as client:
            async with client.stream("GET", f"http://127.0.0.1:{port}/card") as response:
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                return response.status_code, response.headers["content-type"], size

    try:
        assert asyncio.run(fetch()) == (201, "image/jpeg", 70_000)
    finally:
        thread.join(5)
        server.close()

    async def read_timeout() -> None:
        silent, silent_port = _listener()  # accepts (backlog) but never answers
        try:
            async with guarded_client(NetPolicy(allow_loopback=True), timeout=0.2) as client:
                await client.get(f"http://127.0.0.1:{silent_port}/")
        finally:
            silent.close()

    with pytest.raises(httpx.ReadTimeout):
        asyncio.run(read_timeout())


@pytest.mark.parametrize("local", [False, True])
def test_self_check_passes_for_the_guarded_client(local):
    async def check() -> None:
        async with guarded_client(NetPolicy(allow_loopback=local), timeout=5) as client:
            await verify_guard(client)

    asyncio.run(check())


def test_self_check_passes_when_the_resolver_is_slow(monkeypatch):
    """A busy machine's resolver (the event loop's thread pool) is no reason to fail closed."""
    loop = asyncio.new_event_loop()
    loop_type = type(loop)
    loop.close()
    resolve = loop_type.getaddrinfo

    async def slow_getaddrinfo(self, *args, **kwargs):
        await asyncio.sleep(1.5)
        return await resolve(self, *args, **kwargs)

    monkeypatch.setattr(loop_type, "getaddrinfo", slow_getaddrinfo)

    async def check() -> None:
        async with guarded_client(NetPolicy(allow_loopback=True), timeout=5) as client:
            await verify_guard(client)

    asyncio.run(check())


def test_self_check_fails_closed_without_the_guard():
    """A plain client reaches the probe's listener; one that fails for another reason (here a
    transport that raises ConnectError itself) is not proof of the guard either."""

    async def check(client: httpx.AsyncClient) -> None:
        async with client:
            await verify_guard(client)

    with pytest.raises(GuardNotInPath):
        asyncio.run(check(httpx.AsyncClient(trust_env=False)))

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("destination address not allowed", request=request)

    with pytest.raises(GuardNotInPath):
        asyncio.run(check(httpx.AsyncClient(transport=httpx.MockTransport(refuse))))


def test_self_check_fails_when_the_refused_address_was_reached_anyway():
    """A refusal that comes after a connection was made is no guard: the probe's listener notices."""

    class ConnectsThenRefuses(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            with socket.create_connection(("127.0.0.1", request.url.port)):
                pass
            raise httpx.ConnectError("destination address not allowed") from AddressRefused("late")

    async def check() -> None:
        async with httpx.AsyncClient(transport=ConnectsThenRefuses()) as client:
            await verify_guard(client)

    with pytest.raises(GuardNotInPath):
        asyncio.run(check())


def test_service_refuses_to_start_when_the_guard_is_bypassed(monkeypatch, tmp_path):
    """If outbound HTTP were unguarded (e.g. an httpx release that ignores our backend), the
    service's start-up fails instead of fetching arbitrary URLs."""
    monkeypatch.setattr(
        "extractor.service.app.guarded_client", lambda policy, timeout, **kwargs: httpx.AsyncClient(trust_env=False)
    )
    app = create_app(ServiceSettings(data_dir=tmp_path, sandbox=True, local=True))

    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(GuardNotInPath):
        asyncio.run(start())


def test_service_starts_with_the_guard(tmp_path):
    app = create_app(ServiceSettings(data_dir=tmp_path, sandbox=True, local=True))

    async def start() -> bool:
        async with app.router.lifespan_context(app):
            return app.state.service.sender is not None

    assert asyncio.run(start())


def test_httpx_range_is_the_tested_series():
    """The guard depends on httpx's transport API; the allowed range admits only the pinned series."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = next(Requirement(d) for d in project["project"]["dependencies"] if Requirement(d).name == "httpx")
    pins = {}
    for path in ("requirements-dev.txt", "layers/pipeline/requirements.txt"):
        for line in (REPO_ROOT / path).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("httpx=="):
                pins[path] = line.split("==", 1)[1]
    assert set(pins.values()) == {"0.28.1"}, pins
    assert declared.specifier.contains("0.28.1")
    assert not declared.specifier.contains("0.29.0")
    assert not declared.specifier.contains("0.27.2")


def test_guarded_clients_share_one_verifying_tls_context(monkeypatch):
    # The serverless API builds a guarded client per request; each new TLS context would load the
    # CA bundle again (18 ms of CPU).
    from extractor.service import net_guard

    built = []
    real = httpx.create_ssl_context
    monkeypatch.setattr(httpx, "create_ssl_context", lambda **options: built.append(options) or real(**options))
    net_guard._tls_context.cache_clear()
    try:
        clients = [guarded_client(NetPolicy(allow_loopback=False), timeout=1.0) for _ in range(3)]
        assert len(built) == 1
        assert built[0] == {"trust_env": False}
        context = net_guard._tls_context()
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname
        for client in clients:
            asyncio.run(client.aclose())
    finally:
        net_guard._tls_context.cache_clear()
