"""Chat servers on loopback for the tests of the openai_compat responder and of conversations that
use it: llama.cpp's own OpenAI-compatible server (``python -m llama_cpp.server``, a separate process
serving the bundled SmolLM2 GGUF), and ``ChatStub``, a mock at the network edge that answers each
request with the next scripted reply (an HTTP status, recorded SSE lines, or silence)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from voxrt.bench.server import free_port
from voxrt.llm.llama_cpp import resolve_gguf

__all__ = ["RECORDED_TOOL_CALL", "ChatStub", "recorded_tool_call", "running_llama_server", "sse_text"]

# What llama_cpp.server 0.3.36 (chatml-function-calling, SmolLM2) streamed for a forced tool call,
# recorded with curl: each piece repeats the name and id, and no usage chunk comes.
RECORDED_TOOL_CALL = Path(__file__).parent / "data" / "llama_server_tool_call.sse"


def recorded_tool_call() -> list[str]:
    """The recorded SSE lines of a ``get_weather`` call with ``{ "city": "Paris" }``."""
    return RECORDED_TOOL_CALL.read_text().splitlines()


def sse_text(*pieces: str) -> list[str]:
    """SSE lines of a chat completion streaming ``pieces`` as content, then ``[DONE]``."""
    lines = []
    for piece in pieces:
        chunk = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}}]}
        lines += [f"data: {json.dumps(chunk)}", ""]
    return [*lines, "data: [DONE]", ""]


@contextmanager
def running_llama_server(log: Path) -> Iterator[str]:
    """llama.cpp's server on loopback with the bundled SmolLM2 and its tool-calling prompt for
    ChatML models (``chatml-function-calling``); yields its base URL, stops it on exit."""
    port = free_port()
    command = [
        *(sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_gguf(None))),
        *("--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"),
        *("--chat_format", "chatml-function-calling", "--model_alias", "smollm2"),
    ]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "llama_cpp.server did not start: " + log.read_text()[-3000:]
            try:
                if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base_url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


class ChatStub:
    """A chat server on loopback answering each request with the next scripted reply:
    ``("status", code | (code, message))``, ``("sse", (lines, stall_after | None))`` or
    ``("hang", seconds)``; a request past the script gets a 500. ``bodies`` holds the requests."""

    def __init__(self) -> None:
        self.replies: list[tuple[str, Any]] = []
        self.bodies: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                stub.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                reply: tuple[str, Any] = stub.replies.pop(0) if stub.replies else ("status", 500)
                kind, value = reply
                try:
                    if kind == "hang":  # accepts, then says nothing for longer than any test waits
                        time.sleep(value)
                    elif kind == "status":
                        status, message = value if isinstance(value, tuple) else (value, f"stub says {value}")
                        data = json.dumps({"error": {"message": message}}).encode()
                        self._send(status, "application/json", data)
                    else:  # "sse": the lines, optionally stalling before the end
                        lines, stall_after = value
                        self._send(200, "text/event-stream", None)
                        for n, line in enumerate(lines):
                            if n == stall_after:
                                time.sleep(5)
                                return
                            self.wfile.write(line.encode() + b"\n")
                            self.wfile.flush()
                except OSError:  # the client gave up
                    pass

            def _send(self, status: int, kind: str, data: bytes | None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header(
                    "Content-Length" if data else "Connection", str(len(data)) if data else "close"
                )
                self.end_headers()
                if data:
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def script(self, *replies: tuple[str, Any]) -> None:
        """Answer the next requests with ``replies``, in order; forget the requests seen so far."""
        self.replies, self.bodies = list(replies), []

    def close(self) -> None:
        self.server.shutdown()
