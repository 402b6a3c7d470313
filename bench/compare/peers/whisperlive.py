"""WhisperLive (collabora/WhisperLive) as a compared system: its faster_whisper backend on the same
CTranslate2 model directory, and its own WebSocket protocol.

Protocol (``whisper_live/client.py``): the client sends a JSON options message, waits for
``SERVER_READY``, then binary audio frames, and ``END_OF_AUDIO`` at the end. The server re-decodes
the audio since the last completed segment and sends the last segments each time: a segment with
``completed: true`` is final; the last one, not completed, is the partial text. A segment is
completed when a later segment follows it in a decode, or when the same text has come back more
than ``same_output_threshold`` times. Completed segments are kept as the official client keeps
them: only one starting at or after the end of the last kept one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.compare.peers.session import Protocol
from bench.compare.peers.system import Server, StartOptions, System, ensure_venv, peer_server, wait_for_port

__all__ = ["PACKAGES", "PEER", "WHISPERLIVE", "WhisperLiveProtocol", "install"]

PEER = "whisper-live==0.10.0"
# what its server imports on the faster_whisper path, at the versions its metadata asks for where it
# pins one; torch only because whisper_live.server imports it (the CPU wheel, never a CUDA build)
PACKAGES = [
    "torch==2.13.0",
    "faster-whisper==1.2.0",
    "tokenizers==0.20.3",
    "numpy<2.5",
    "requests",
    "scipy",
    "websockets",
    "fastapi",
    "uvicorn",
    "python-multipart",
]
_REPORT = ["whisper-live", "faster-whisper", "ctranslate2", "torch", "onnxruntime", "websockets"]
SAME_OUTPUT_THRESHOLD = 10  # the official client's default


class WhisperLiveProtocol(Protocol):
    path = "/"

    def __init__(self, silence_ms: int = 500) -> None:
        self._uid = str(uuid.uuid4())
        self._silence_ms = silence_ms
        self._kept: list[dict[str, Any]] = []

    def hello(self) -> list[str | bytes]:
        # the official client's defaults, but 16-bit audio (the server's audio_format option) and the
        # VAD silence of the other systems
        options = {
            "uid": self._uid,
            "language": "en",
            "task": "transcribe",
            "model": "tiny.en",
            "use_vad": True,
            "send_last_n_segments": 10,
            "no_speech_thresh": 0.45,
            "clip_audio": False,
            "same_output_threshold": SAME_OUTPUT_THRESHOLD,
            "enable_translation": False,
            "audio_format": "int16",
            "vad_parameters": {"threshold": 0.5, "min_silence_duration_ms": self._silence_ms},
        }
        return [json.dumps(options)]

    def ready(self, event: dict[str, Any]) -> bool:
        if event.get("status") in ("ERROR", "WAIT"):
            raise RuntimeError(f"WhisperLive refused the session: {event}")
        return event.get("message") == "SERVER_READY"

    def audio(self, pcm: bytes) -> bytes:
        return pcm

    def end(self) -> bytes:
        return b"END_OF_AUDIO"

    def error(self, event: dict[str, Any]) -> str | None:
        return str(event.get("message")) if event.get("status") == "ERROR" else None

    def update(self, event: dict[str, Any]) -> tuple[str, str] | None:
        segments = event.get("segments")
        if not isinstance(segments, list) or not segments:
            return None
        for segment in segments:
            if segment.get("completed") and (
                not self._kept or float(segment["start"]) >= float(self._kept[-1]["end"])
            ):
                self._kept.append(segment)
        last = segments[-1]
        partial = "" if last.get("completed") else str(last.get("text", "")).strip()
        return " ".join(str(s.get("text", "")).strip() for s in self._kept), partial


def install(root: Path) -> dict[str, str]:
    """Create (first time) WhisperLive's virtualenv under ``root``; the versions in it."""
    return ensure_venv(root, "whisperlive", PEER, PACKAGES, _REPORT).versions


@contextmanager
def _start(options: StartOptions) -> Iterator[Server]:
    env = ensure_venv(options.peers_dir, "whisperlive", PEER, PACKAGES, _REPORT)
    launcher = Path(__file__).with_name("whisperlive_launcher.py")

    def command(port: int) -> list[str]:
        return [
            str(env.python),
            str(launcher),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--faster_whisper_custom_model_path",
            str(options.model_dir),
            "--omp_num_threads",
            str(options.threads),
            "--max_clients",
            str(options.max_sessions),
            "--max_connection_time",
            "3600",
        ]

    def ready(port: int, process: Any) -> None:
        wait_for_port(port, process, options.log_path, timeout_s=120)

    run_env = {"OMP_NUM_THREADS": str(options.threads)}
    with peer_server(command, options.log_path, run_env, ready) as server:
        yield server


def _settings(options: StartOptions) -> dict[str, Any]:
    return {
        "server": "TranscriptionServer.run(backend='faster_whisper', single_model=True), as run_server.py",
        "model": "--faster_whisper_custom_model_path (the same directory), int8 on CPU (int8_float32)",
        "decoding": "beam 5, temperature fallback 0.0-1.0, conditioned on previous text (hard-coded)",
        "threads": f"--omp_num_threads {options.threads}",
        "vad": f"faster-whisper's Silero filter per decode, threshold 0.5, "
        f"min_silence_duration_ms {options.silence_ms}; it does not end utterances",
        "final": f"segments with completed: true (a later segment, or {SAME_OUTPUT_THRESHOLD}+ repeats)",
        "partial": "the last segment, not completed",
        "protocol": "WhisperLive JSON options, binary int16 16 kHz frames, END_OF_AUDIO",
    }


def _version() -> str:
    return PEER.split("==")[1]


WHISPERLIVE = System(
    name="WhisperLive",
    version=_version,
    start=_start,
    protocol=lambda options: WhisperLiveProtocol(options.silence_ms),
    settings=_settings,
)
