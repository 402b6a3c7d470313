"""WhisperLiveKit (QuentinFuxa/WhisperLiveKit) as a compared system: its faster-whisper backend with
the LocalAgreement policy on the same CTranslate2 model directory, and its ``/asr`` WebSocket.

Protocol (``basic_server.py``, ``--pcm-input``): the server sends ``{"type": "config"}``; the
client sends raw 16 kHz s16le PCM as binary frames and an empty frame at the end. Every message is
the whole state: ``lines`` (committed text, final: LocalAgreement commits the words two successive
decodes agree on, and decodes once more when its Silero VAC hears silence) and
``buffer_transcription`` (decoded but not committed: the partial text). After the end, the server
commits what is left and sends ``{"type": "ready_to_stop"}``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.compare.peers.session import Protocol
from bench.compare.peers.system import Server, StartOptions, System, ensure_venv, peer_server

__all__ = ["PACKAGES", "PEER", "WHISPERLIVEKIT", "WhisperLiveKitProtocol", "install"]

PEER = "whisperlivekit==0.2.26"
# what basic_server imports for the faster-whisper backend (its metadata's lower bounds); torch
# because its VAD module imports it (the CPU wheel), librosa to read the warm-up file
PACKAGES = [
    "torch==2.13.0",
    "faster-whisper==1.2.1",
    "fastapi>=0.141.1",
    "starlette>=1.3.1",
    "python-multipart>=0.0.31",
    "uvicorn",
    "websockets",
    "soundfile",
    "librosa",
    "tiktoken",
    "numba",
    "tqdm",
]
_REPORT = ["whisperlivekit", "faster-whisper", "ctranslate2", "torch", "onnxruntime", "uvicorn"]
VAC_SILENCE_MS = 100  # FixedVADIterator's min_silence_duration_ms; no option changes it


class WhisperLiveKitProtocol(Protocol):
    path = "/asr?language=en"

    def __init__(self) -> None:
        self._stopped = False

    def hello(self) -> list[str | bytes]:
        return []

    def ready(self, event: dict[str, Any]) -> bool:
        if event.get("type") == "error":
            raise RuntimeError(f"WhisperLiveKit refused the session: {event.get('error')}")
        return event.get("type") == "config"

    def audio(self, pcm: bytes) -> bytes:
        return pcm

    def end(self) -> bytes:
        return b""

    def error(self, event: dict[str, Any]) -> str | None:
        return str(event["error"]) if event.get("error") else None

    def update(self, event: dict[str, Any]) -> tuple[str, str] | None:
        if event.get("type") == "ready_to_stop":
            self._stopped = True
            return None
        lines = event.get("lines")
        if not isinstance(lines, list):
            return None
        committed = " ".join(str(line["text"]).strip() for line in lines if line.get("text"))
        return committed, str(event.get("buffer_transcription", "")).strip()

    def finished(self, utterances: int) -> bool:
        return self._stopped


def install(root: Path) -> dict[str, str]:
    """Create (first time) WhisperLiveKit's virtualenv under ``root``; the versions in it."""
    return ensure_venv(root, "whisperlivekit", PEER, PACKAGES, _REPORT).versions


@contextmanager
def _start(options: StartOptions) -> Iterator[Server]:
    env = ensure_venv(options.peers_dir, "whisperlivekit", PEER, PACKAGES, _REPORT)
    server_bin = env.python.with_name("whisperlivekit-server")

    def command(port: int) -> list[str]:
        return [
            str(server_bin),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend",
            "faster-whisper",
            "--backend-policy",
            "localagreement",
            "--model_dir",
            str(options.model_dir),
            "--lan",
            "en",
            "--pcm-input",
            "--warmup-file",
            str(options.warmup_wav),
        ]

    def ready(port: int, process: Any) -> None:
        deadline = 180.0
        start = time.monotonic()
        while time.monotonic() - start < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"whisperlivekit-server exited with {process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).json().get("ready"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"whisperlivekit-server not ready after {deadline:g} s")

    with peer_server(command, options.log_path, {"OMP_NUM_THREADS": str(options.threads)}, ready) as server:
        yield server


def _settings(options: StartOptions) -> dict[str, Any]:
    return {
        "server": "whisperlivekit-server --backend faster-whisper --backend-policy localagreement "
        "--pcm-input",
        "model": "--model_dir (the same directory); compute_type 'auto' = int8_float32 here",
        "decoding": "beam 5, word timestamps, conditioned on previous text (hard-coded)",
        "threads": f"OMP_NUM_THREADS={options.threads}",
        "vad": f"Silero VAC, threshold 0.5, min_silence_duration_ms {VAC_SILENCE_MS} (fixed; no option)",
        "final": "text in 'lines' (committed by LocalAgreement)",
        "partial": "buffer_transcription",
        "protocol": "/asr WebSocket, binary s16le 16 kHz frames, empty frame at the end",
    }


def _version() -> str:
    return PEER.split("==")[1]


WHISPERLIVEKIT = System(
    name="WhisperLiveKit",
    version=_version,
    start=_start,
    protocol=lambda _: WhisperLiveKitProtocol(),
    settings=_settings,
)
