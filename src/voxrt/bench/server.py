"""Run ``voxrt serve`` as a real process on loopback, for the benchmarks and the end-to-end tests."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["ServerProcess", "add_server_env_argument", "free_port", "running_server"]


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def add_server_env_argument(parser: argparse.ArgumentParser, example: str) -> None:
    """``--server-env KEY=VALUE`` (repeatable): variables for the benchmarked server's environment,
    parsed to ``(key, value)`` pairs in ``args.server_env``; ``example`` goes in the help."""
    parser.add_argument(
        "--server-env",
        type=_env_pair,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"environment of the server process (repeatable), e.g. {example}",
    )


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    return key, value


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def realtime_url(self) -> str:
        """The server's ``/v1/realtime`` transcription endpoint."""
        return self.base_url.replace("http", "ws", 1) + "/v1/realtime?intent=transcription"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_server(
    log_path: Path,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 120.0,
    port: int | None = None,
) -> Iterator[ServerProcess]:
    """Start ``voxrt serve`` on ``port`` (default: a free one) of loopback, wait for /ready, stop it
    on exit.

    Raises:
        RuntimeError: the server exited or was not ready within ``timeout_s``.
    """
    port = port or free_port()
    cmd = [sys.executable, "-m", "voxrt.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if config is not None:
        cmd += ["--config", str(config)]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VOXRT_")}
    full_env.update(env or {})
    with log_path.open("wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    server = ServerProcess(process, f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"voxrt serve exited with {process.returncode}:\n{server.log()}")
            try:
                if httpx.get(f"{server.base_url}/ready", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"voxrt serve not ready after {timeout_s:g} s:\n{server.log()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
