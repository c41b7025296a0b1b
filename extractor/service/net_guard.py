"""Outbound HTTP that cannot be aimed at internal addresses (SSRF protection).

Both image URLs and callback URLs come from clients. The check runs at *connect* time on the
resolved address, inside the transport, so DNS rebinding between a check and the connection
cannot slip past it; TLS still verifies the original host name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


class DestinationRefused(Exception):
    """A URL whose scheme or host the policy does not allow."""


class NetPolicy:
    """``allow_loopback`` is the service's ``--local`` mode: http:// and loopback addresses are
    accepted (and nothing else private). Otherwise only https:// to public addresses."""

    def __init__(self, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback

    def address_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_loopback:
            return self.allow_loopback
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
        loopback_host = host in _LOOPBACK_NAMES or _is_loopback_literal(host)
        if parts.scheme == "http" and not (self.allow_loopback and loopback_host):
            raise DestinationRefused("only https:// URLs are accepted")
        if _is_ip_literal(host) and not self.address_allowed(host):
            raise DestinationRefused("address not allowed")
        if host in _LOOPBACK_NAMES and not self.allow_loopback:
            raise DestinationRefused("address not allowed")


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback_literal(host: str) -> bool:
    return _is_ip_literal(host) and ipaddress.ip_address(host).is_loopback


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
            raise httpcore.ConnectError("destination address not allowed")
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
        raise httpcore.ConnectError("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx transport whose connections go through the guarded backend.

    httpx does not expose httpcore's ``network_backend``, so the pool is rebuilt with it; the
    request/response mapping and error translation of AsyncHTTPTransport stay as they are.
    """

    def __init__(self, policy: NetPolicy, max_connections: int = 20) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(policy),
        )


def guarded_client(policy: NetPolicy, timeout: float, max_connections: int = 20) -> httpx.AsyncClient:
    # trust_env=False: a proxy from the environment would bypass the address check entirely.
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, max_connections=max_connections),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )
