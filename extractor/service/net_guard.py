"""Outbound HTTP that cannot be aimed at internal addresses (SSRF protection).

Both image URLs and callback URLs come from clients. The check runs at *connect* time on the
resolved address, inside the transport, so DNS rebinding between a check and the connection
cannot slip past it; TLS still verifies the original host name.

The transport is built from public APIs only: an ``httpx.AsyncBaseTransport`` over an
``httpcore.AsyncConnectionPool`` whose ``network_backend`` is ours. ``verify_guard`` proves at
start-up that connections really go through that backend, so a library change that bypassed it
would stop the service instead of opening it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator
from urllib.parse import urlsplit

import httpcore
import httpx

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}

# IPv6 ranges refused whatever ``ipaddress`` calls them (Python 3.13 counts the first four as
# "global"). Each either embeds an IPv4 address that a translator or tunnel would reach for us
# (possibly a private one), or is a deprecated private range. A public IPv4 host is reached by
# its own address; nothing legitimate needs these forms.
REFUSED_IPV6_NETWORKS = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "64:ff9b::/96",  # NAT64 well-known prefix (RFC 6052)
        "64:ff9b:1::/48",  # NAT64 local-use prefix (RFC 8215)
        "::/96",  # IPv4-compatible addresses (deprecated, RFC 4291)
        "::ffff:0:0:0/96",  # SIIT IPv4-translated addresses (RFC 2765)
        "fec0::/10",  # site-local (deprecated, RFC 3879)
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
    )
)


class DestinationRefused(Exception):
    """A URL whose scheme or host the policy does not allow."""


class AddressRefused(httpcore.ConnectError):
    """Raised by the guarded network backend instead of connecting to a refused address."""


class GuardNotInPath(RuntimeError):
    """The start-up probe reached a refused address: the guard is not in the connection path."""


_NAT64, _COMPATIBLE, _SIIT = REFUSED_IPV6_NETWORKS[0], REFUSED_IPV6_NETWORKS[2], REFUSED_IPV6_NETWORKS[3]


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried in the low 32 bits of an IPv4-mapped, NAT64, SIIT or
    IPv4-compatible address; None for any other IPv6 address (``::`` and ``::1`` included)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or ip in _SIIT or (ip in _COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


class NetPolicy:
    """``allow_loopback`` is the service's ``--local`` mode: http:// and loopback addresses are
    accepted (and nothing else private). Otherwise only https:// to public addresses."""

    def __init__(self, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback

    def address_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:  # a dual-stack socket's view of an IPv4 peer: judge that
                return self._ip_allowed(ip.ipv4_mapped)
            if ip.is_loopback:
                return self.allow_loopback
            embedded = embedded_ipv4(ip)
            if embedded is not None and not self._ip_allowed(embedded, loopback=False):
                return False
            if any(ip in network for network in REFUSED_IPV6_NETWORKS):
                return False
        return self._ip_allowed(ip)

    def _ip_allowed(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, loopback: bool = True) -> bool:
        if ip.is_loopback:
            return loopback and self.allow_loopback
        return ip.is_global and not ip.is_multicast

    def check_url(self, url: str) -> None:
        """Static check of a URL (scheme, host form); addresses are checked again at connect."""
        try:
            parts = urlsplit(url)
            port = parts.port  # raises on a malformed port
        except ValueError:
            raise DestinationRefused("malformed URL") from None
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
            raise DestinationRefused("URL must be http(s) with a host and no credentials")
        if port == 0:
            raise DestinationRefused("invalid port")
        loopback_host = host in _LOOPBACK_NAMES or (_is_ip_literal(host) and self._loopback_literal(host))
        if parts.scheme == "http" and not (self.allow_loopback and loopback_host):
            raise DestinationRefused("only https:// URLs are accepted")
        if _is_ip_literal(host) and not self.address_allowed(host):
            raise DestinationRefused("address not allowed")
        if host in _LOOPBACK_NAMES and not self.allow_loopback:
            raise DestinationRefused("address not allowed")

    @staticmethod
    def _loopback_literal(host: str) -> bool:
        ip = ipaddress.ip_address(host)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip.is_loopback


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, refuses disallowed addresses, connects to the checked IP."""

    def __init__(self, policy: NetPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=timeout
            )
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve host: {type(exc).__name__}") from None
        addresses = [info[4][0] for info in infos]
        # Every address must pass: a name resolving to one public and one private address is refused.
        if not addresses or not all(self._policy.address_allowed(a) for a in addresses):
            raise AddressRefused("destination address not allowed")
        last_error: Exception | None = None
        for address in dict.fromkeys(addresses):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never used
        raise AddressRefused("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# httpcore's exceptions as httpx's, most specific first (the first match wins).
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core_error, httpx_error in _HTTPX_ERRORS:
            if isinstance(exc, core_error):
                raise httpx_error(str(exc)) from exc
        raise


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        with _as_httpx_errors():
            aclose = getattr(self._stream, "aclose", None)
            if aclose is not None:
                await aclose()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process, shared by every guarded client. Building one loads
    the CA bundle (18 ms of CPU, measured), and the serverless API builds a client per request."""
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport (public transport API) over an httpcore pool whose network backend is
    the guard; no proxy, so nothing can route around the address check."""

    def __init__(self, policy: NetPolicy, max_connections: int = 20) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_tls_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=response.status, headers=response.headers, stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


def guarded_client(policy: NetPolicy, timeout: float, max_connections: int = 20) -> httpx.AsyncClient:
    # trust_env=False: a proxy from the environment would bypass the address check entirely.
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, max_connections=max_connections),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )


# The probe's connect phase holds the guard's resolve, which runs in the event loop's thread pool: at
# 1 s, a start-up on a machine busy with test processes once timed out there, and the check failed
# closed on a guarded client (CI, 2026-12-07). The guard refuses before connecting, so only a slow
# resolve waits that long. The other phases stay short: an unguarded client that reached the
# listener waits out the read timeout before the check fails.
PROBE_CONNECT_SECONDS = 10.0
PROBE_TIMEOUT_SECONDS = 1.0


async def verify_guard(client: httpx.AsyncClient) -> None:
    """Fail closed unless ``client`` refuses a connection to a refused address through the guard.

    The probe aims at ``0.0.0.0`` (refused in every mode; on Linux a connection to it reaches
    local listeners) on the port of a listener of our own. It passes only if the request failed
    with the guard's own refusal and the listener saw no connection.
    """
    with contextlib.ExitStack() as cleanup:
        listener: socket.socket | None = cleanup.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            listener.setblocking(False)
            port = listener.getsockname()[1]
        except OSError:  # no loopback to listen on: the guard's own refusal must prove it alone
            listener, port = None, 9
        refused_by_guard = False
        try:
            await client.get(f"http://0.0.0.0:{port}/", timeout=httpx.Timeout(PROBE_TIMEOUT_SECONDS, connect=PROBE_CONNECT_SECONDS))
        except httpx.ConnectError as exc:
            refused_by_guard = isinstance(exc.__cause__, AddressRefused)
        except httpx.HTTPError:
            pass
        reached = False
        if listener is not None:
            try:
                connection, _ = listener.accept()
            except BlockingIOError:
                pass
            else:
                connection.close()
                reached = True
    if reached or not refused_by_guard:
        raise GuardNotInPath("outbound HTTP is not guarded: a probe to a refused address was not stopped")
