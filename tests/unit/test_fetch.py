"""fetch_url against a local HTTP server: allow-listing, redirects, size and time limits.

Nothing here connects anywhere but 127.0.0.1: the refusals are checked with any
outgoing request made to fail the test, and with a short timeout as a safety net.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import anyio
import httpx
import pytest

from voxrt.audio.fetch import fetch_url
from voxrt.errors import InvalidRequest, PayloadTooLarge, UrlNotAllowed, VoxrtError

SPEECH = b"RIFF" + bytes(range(256)) * 40
LIMIT = 64 * 1024
BIG = b"\0" * (4 * LIMIT)


class _Handler(BaseHTTPRequestHandler):
    port = 0  # set once the server is bound
    requests = 0  # GETs received
    hosts: ClassVar[list[str]] = []  # their Host headers

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        _Handler.requests += 1
        _Handler.hosts.append(self.headers.get("Host", ""))
        if self.path == "/speech.wav":
            self._send(200, SPEECH)
        elif self.path == "/big":
            self._send(200, BIG)
        elif self.path == "/big-unsized":  # no Content-Length: the body ends when the connection closes
            self.send_response(200)
            self.end_headers()
            for start in range(0, len(BIG), 4096):
                self.wfile.write(BIG[start : start + 4096])
        elif self.path == "/slow":
            time.sleep(3)
            self._send(200, SPEECH)
        elif self.path == "/redirect-private":
            self._send(302, headers={"Location": f"http://127.0.0.1:{self.port}/speech.wav"})
        elif self.path == "/redirect-malformed":
            self._send(302, headers={"Location": "http://[::1"})
        else:
            self._send(500 if self.path == "/500" else 404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client hangs up on /big and /slow on purpose


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = _Server(("127.0.0.1", 0), _Handler)
    _Handler.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any request that gets as far as sending fails the test."""

    async def send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        raise AssertionError(f"fetch_url sent a request to {request.url}")

    monkeypatch.setattr(httpx.AsyncClient, "send", send)


def _fetch(
    url: str, *, allowlist: Sequence[str] = (), max_bytes: int = LIMIT, timeout_s: float = 2.0
) -> bytes:
    return asyncio.run(fetch_url(url, allowlist=allowlist, max_bytes=max_bytes, timeout_s=timeout_s))


def _fails(url: str, error: type[VoxrtError] = InvalidRequest, **kwargs: Any) -> VoxrtError:
    with pytest.raises(error) as info:
        _fetch(url, **kwargs)
    return info.value


@pytest.mark.usefixtures("no_connect")
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/audio.wav",
        "http://127.1/",
        "http://2130706433/",
        "http://localhost/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "https://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[64:ff9b::a00:1]/",  # NAT64 form of 10.0.0.1
        "http://[2002:7f00:1::]/",  # 6to4 form of 127.0.0.1
    ],
)
def test_internal_addresses_are_refused_before_connecting(url):
    error = _fails(url, UrlNotAllowed, timeout_s=0.5)
    assert error.status == 400
    assert error.code == "url_not_allowed"


@pytest.mark.usefixtures("no_connect")
@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.wav", "gopher://127.0.0.1/"])
def test_non_http_schemes_are_refused(url):
    assert _fails(url, UrlNotAllowed, timeout_s=0.5).code == "url_not_allowed"


@pytest.mark.usefixtures("no_connect")
def test_an_allowlisted_network_does_not_admit_other_internal_addresses(port):
    _fails(f"http://127.0.0.1:{port}/speech.wav", UrlNotAllowed, allowlist=["10.0.0.0/8", "example.com"])


@pytest.mark.parametrize("allowlist", [["127.0.0.1"], ["127.0.0.0/8"], ["LocalHost"]])
def test_allowlisted_host_or_network_is_fetched(port, allowlist):
    host = "localhost" if allowlist == ["LocalHost"] else "127.0.0.1"
    assert _fetch(f"http://{host}:{port}/speech.wav", allowlist=allowlist) == SPEECH


def test_redirect_to_a_non_allowlisted_internal_address_is_refused(port):
    # localhost is trusted by name; the redirect target 127.0.0.1 is neither named nor in a network.
    error = _fails(f"http://localhost:{port}/redirect-private", UrlNotAllowed, allowlist=["localhost"])
    assert error.code == "url_not_allowed"


def test_redirect_to_an_allowlisted_address_is_followed(port):
    url = f"http://localhost:{port}/redirect-private"
    assert _fetch(url, allowlist=["localhost", "127.0.0.1"]) == SPEECH


def test_body_of_exactly_max_bytes_is_accepted(port):
    assert _fetch(f"http://127.0.0.1:{port}/speech.wav", allowlist=["127.0.0.1"], max_bytes=len(SPEECH))


@pytest.mark.parametrize("path", ["/big", "/big-unsized", "/speech.wav"])
def test_oversized_body_is_refused(port, path):
    max_bytes = len(SPEECH) - 1 if path == "/speech.wav" else LIMIT
    error = _fails(
        f"http://127.0.0.1:{port}{path}", PayloadTooLarge, allowlist=["127.0.0.1"], max_bytes=max_bytes
    )
    assert error.status == 413
    assert error.code == "payload_too_large"


def test_slow_server_times_out(port):
    start = time.monotonic()
    error = _fails(f"http://127.0.0.1:{port}/slow", allowlist=["127.0.0.1"], timeout_s=0.5)
    elapsed = time.monotonic() - start

    assert error.status == 400
    assert error.code == "url_fetch_failed"
    assert "0.5 s" in error.message
    assert elapsed < 2.0


@pytest.mark.parametrize("path", ["/500", "/missing"])
def test_http_error_status_fails(port, path):
    error = _fails(f"http://127.0.0.1:{port}{path}", allowlist=["127.0.0.1"])
    assert error.status == 400
    assert error.code == "url_fetch_failed"
    assert path.strip("/").replace("missing", "404") in error.message


def test_unresolvable_host_fails():
    error = _fails("http://nonexistent.invalid/a.wav", timeout_s=2.0)
    assert error.code == "url_fetch_failed"
    assert "nonexistent.invalid" in error.message


@pytest.mark.usefixtures("no_connect")
def test_malformed_url_is_a_client_error():
    error = _fails("http://[::1", timeout_s=0.5)
    assert error.status == 400 and error.code == "url_not_allowed"


def test_malformed_redirect_location_is_a_fetch_failure(port):
    error = _fails(f"http://127.0.0.1:{port}/redirect-malformed", allowlist=["127.0.0.1"])
    assert error.code == "url_fetch_failed"


PUBLIC_IP = "93.184.215.14"  # globally routable; never really connected to here


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``rebind.test`` resolves to a public address the first time, to 127.0.0.1 after that.

    Connections to the public address fail at once (nothing leaves the machine); the list
    records every host a TCP connection was opened to.
    """
    real_getaddrinfo = socket.getaddrinfo
    real_connect = anyio.connect_tcp
    answers = iter([PUBLIC_IP])
    connected: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("rebind.test", b"rebind.test"):  # anyio passes the name IDNA-encoded
            host = next(answers, "127.0.0.1")
        return real_getaddrinfo(host, port, *args, **kwargs)

    async def connect_tcp(remote_host: Any, remote_port: int, **kwargs: Any) -> Any:
        connected.append(str(remote_host))
        if str(remote_host) == PUBLIC_IP:
            raise OSError("no connection leaves the test machine")
        return await real_connect(remote_host, remote_port, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(anyio, "connect_tcp", connect_tcp)
    return connected


def test_dns_rebinding_never_reaches_the_internal_address(port, rebinding_dns):
    _Handler.requests = 0
    with pytest.raises(VoxrtError) as info:
        _fetch(f"http://rebind.test:{port}/speech.wav")

    assert _Handler.requests == 0, "the GET reached 127.0.0.1"
    assert info.value.code == "url_fetch_failed"
    assert rebinding_dns == [PUBLIC_IP], "the connection went to an address other than the checked one"


def test_the_checked_address_is_connected_with_the_host_header_kept(port, monkeypatch):
    real_getaddrinfo = socket.getaddrinfo
    resolved: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        resolved.append(name)
        return real_getaddrinfo("127.0.0.1" if name == "audio.test" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    _Handler.hosts = []
    assert _fetch(f"http://audio.test:{port}/speech.wav", allowlist=["127.0.0.1"]) == SPEECH

    assert resolved.count("audio.test") == 1
    assert _Handler.hosts == [f"audio.test:{port}"]
