"""Fetch audio from an http(s) URL for a network client, refusing internal addresses.

Every address a host name resolves to must be globally routable (not loopback,
private, link-local, reserved, ...) unless the host or network is allow-listed;
the address actually connected to is checked again, so a DNS answer that
changes between the check and the connection (rebinding) is caught too.
Redirects are followed by hand, each hop checked; size and time are capped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence

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


async def _check_host(host: str, port: int, networks: _Networks) -> None:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise _FetchFailed(f"Could not resolve the host {host!r}.", param="file") from None
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not _allowed(ip, networks):
            raise UrlNotAllowed(
                f"The URL's host {host!r} resolves to a non-public address ({ip}); "
                "such URLs are refused unless allow-listed (audio.url_allowlist).",
                param="file",
            )


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
        trusted = url.host.lower() in hosts
        if not trusted:
            await _check_host(url.host, url.port or (443 if url.scheme == "https" else 80), networks)
        async with client.stream("GET", url) as response:
            stream = response.extensions.get("network_stream")
            peer = stream.get_extra_info("server_addr") if stream is not None else None
            if peer and not trusted:
                ip = ipaddress.ip_address(str(peer[0]).split("%")[0])
                if not _allowed(ip, networks):
                    raise UrlNotAllowed(f"The URL connected to a non-public address ({ip}).", param="file")
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
