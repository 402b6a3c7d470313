"""Fetch audio from an http(s) URL for a network client, refusing internal addresses.

Every address a host name resolves to must be globally routable (not loopback,
private, link-local, reserved, ...) unless the host or network is allow-listed.
The name is resolved once and the connection goes to a checked address (the
Host header and TLS SNI still carry the name), so a DNS answer that changes
between the check and the connection (rebinding) never reaches the network.
Redirects are followed by hand, each hop resolved and checked; size and time are capped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx

from voxrt.errors import InvalidRequest, PayloadTooLarge, UrlNotAllowed

__all__ = ["fetch_url"]

_MAX_REDIRECTS = 3
_IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_Networks = list[ipaddress.IPv4Network | ipaddress.IPv6Network]


class _FetchFailed(InvalidRequest):
    code = "url_fetch_failed"


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _allowed(ip: _IP, networks: _Networks) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address are judged by that address
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.is_global or any(ip in net for net in networks)


def _parse_allowlist(allowlist: Sequence[str]) -> tuple[set[str], _Networks]:
    hosts: set[str] = set()
    networks: _Networks = []
    for entry in allowlist:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower())
    return hosts, networks


async def _resolve(host: str, port: int, networks: _Networks, trusted: bool) -> list[_IP]:
    """The addresses to connect to: every one the name resolves to, each checked unless trusted."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise _FetchFailed(f"Could not resolve the host {host!r}.", param="file") from None
    addresses: list[_IP] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not trusted and not _allowed(ip, networks):
            raise UrlNotAllowed(
                f"The URL's host {host!r} resolves to a non-public address ({ip}); "
                "such URLs are refused unless allow-listed (audio.url_allowlist).",
                param="file",
            )
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise _FetchFailed(f"Could not resolve the host {host!r}.", param="file")
    return addresses


async def fetch_url(url: str, *, allowlist: Sequence[str], max_bytes: int, timeout_s: float) -> bytes:
    """Download ``url`` and return its bytes.

    Raises:
        UrlNotAllowed: not http(s), or a host that is not public and not allow-listed.
        PayloadTooLarge: more than ``max_bytes``.
        InvalidRequest: unreachable, an HTTP error, too many redirects, or slower than ``timeout_s``.
    """
    try:
        async with asyncio.timeout(timeout_s), httpx.AsyncClient(trust_env=False) as client:
            return await _fetch(client, httpx.URL(url), *_parse_allowlist(allowlist), max_bytes)
    except TimeoutError:
        raise _FetchFailed(f"Fetching the URL took longer than {timeout_s:g} s.", param="file") from None
    except httpx.InvalidURL as exc:
        raise UrlNotAllowed(f"The URL is malformed: {exc}.", param="file") from None
    except httpx.HTTPError as exc:
        raise _FetchFailed(f"Could not fetch the URL: {exc}.", param="file") from None


async def _fetch(
    client: httpx.AsyncClient, url: httpx.URL, hosts: set[str], networks: _Networks, max_bytes: int
) -> bytes:
    for _ in range(_MAX_REDIRECTS + 1):
        if url.scheme not in ("http", "https") or not url.host:
            raise UrlNotAllowed("Only http and https URLs are accepted.", param="file")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await _resolve(url.host, port, networks, trusted=url.host.lower() in hosts)
        async with _connect(client, url, addresses) as response:
            if response.is_redirect:
                url = url.join(response.headers.get("location", ""))
                continue
            if response.status_code != 200:
                raise _FetchFailed(f"Fetching the URL failed with HTTP {response.status_code}.", param="file")
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise PayloadTooLarge(f"The audio at the URL is larger than {max_bytes} bytes.", param="file")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise PayloadTooLarge(
                        f"The audio at the URL is larger than {max_bytes} bytes.", param="file"
                    )
            return bytes(body)
    raise _FetchFailed(f"The URL redirected more than {_MAX_REDIRECTS} times.", param="file")


@asynccontextmanager
async def _connect(
    client: httpx.AsyncClient, url: httpx.URL, addresses: list[_IP]
) -> AsyncIterator[httpx.Response]:
    """GET ``url`` from the first of ``addresses`` that accepts a connection, never re-resolving it."""
    headers = {"Host": url.netloc.decode("ascii")}
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    for k, ip in enumerate(addresses):
        request = client.build_request(
            "GET", url.copy_with(host=str(ip)), headers=headers, extensions=extensions
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectError:
            if k == len(addresses) - 1:
                raise
            continue
        try:
            yield response
        finally:
            await response.aclose()
        return
