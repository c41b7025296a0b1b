"""Fetching an image given by URL: guarded destination, streamed size cap, timeout, few redirects."""

from __future__ import annotations

import asyncio

import httpx

from extractor.service.errors import ContractError, ErrorCode
from extractor.service.images import MAX_IMAGE_BYTES
from extractor.service.net_guard import DestinationRefused, NetPolicy


async def fetch_image(client: httpx.AsyncClient, policy: NetPolicy, url: str, timeout: float, max_redirects: int) -> bytes:
    """Download at most 5 MB from ``url``; the whole exchange is bounded by ``timeout``.

    Errors map to the contract: a refused or unreachable URL, or a non-2xx answer, is an image we
    cannot fetch (INVALID_PAYLOAD_IMAGE_FORMAT); more than 5 MB is INVALID_PAYLOAD_IMAGE_SIZE.
    """
    try:
        return await asyncio.wait_for(_fetch(client, policy, url, max_redirects), timeout=timeout)
    except TimeoutError:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_FORMAT, "Image URL timed out") from None


async def _fetch(client: httpx.AsyncClient, policy: NetPolicy, url: str, max_redirects: int) -> bytes:
    for _ in range(max_redirects + 1):
        try:
            policy.check_url(url)
        except DestinationRefused:
            raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_FORMAT, "Image URL is not allowed") from None
        try:
            async with client.stream("GET", url, headers={"Accept": "image/jpeg, image/png"}) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        break
                    url = str(response.url.join(location))
                    continue
                if not response.is_success:
                    raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_FORMAT, "Image URL did not answer 2xx")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
                    raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_SIZE, "Image is larger than 5 MB")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_IMAGE_BYTES:
                        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_SIZE, "Image is larger than 5 MB")
                if not body:
                    raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_FORMAT, "Image URL returned no data")
                return bytes(body)
        except httpx.HTTPError:
            raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_FORMAT, "Image URL cannot be fetched") from None
        except httpx.InvalidURL:
            raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_FORMAT, "Image URL is not allowed") from None
    raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_FORMAT, "Image URL redirected too often")
