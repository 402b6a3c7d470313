"""Prometheus series for ``GET /metrics``, fed by what the server sends and answers.

Realtime figures are taken from the events as they are handed to the socket (the ``voxrt.metrics``
event of each utterance, ``completed`` / ``failed``, ``error``), so ``/metrics`` and the events a
client sees can never disagree; REST figures from a middleware around every HTTP request. Names
follow DESIGN.md's latency vocabulary, in seconds as Prometheus expects (``asr_final_ms`` ->
``voxrt_asr_final_seconds``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Metrics", "RequestMetrics"]

_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)  # asr.max_batch is at most 64
# voxrt.metrics event field -> histogram name and help
_TURN_FIELDS = {
    "endpoint_ms": ("voxrt_endpoint_seconds", "Last voiced sample to the end of the utterance decided."),
    "asr_final_ms": ("voxrt_asr_final_seconds", "End of speech to the final transcript sent."),
    "asr_partial_ms": ("voxrt_asr_partial_seconds", "Audio time to the first partial covering it."),
    "decode_ms": ("voxrt_decode_seconds", "Time the final decode of an utterance took."),
    "llm_ttft_ms": ("voxrt_llm_ttft_seconds", "A reply's start to the language model's first token."),
    "tts_ttfb_ms": ("voxrt_reply_tts_ttfb_seconds", "A reply's first speakable chunk to its first audio."),
    "voice_to_voice_ms": (
        "voxrt_voice_to_voice_seconds",
        "End of user speech to the first reply audio sent.",
    ),
}


class Metrics:
    """Every series of one app, in a registry of its own (tests build many apps in one process)."""

    def __init__(self, queue_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, open fds, CPU
        r = self.registry
        self.sessions = Gauge("voxrt_realtime_sessions", "Realtime sessions open now.", registry=r)
        self.sessions_rejected = Counter(
            "voxrt_realtime_sessions_rejected",
            "Realtime sessions refused, by reason.",
            ["reason"],
            registry=r,
        )
        self.utterances = Counter(
            "voxrt_utterances", "Utterances transcribed, by outcome.", ["outcome"], registry=r
        )
        self.responses = Counter(
            "voxrt_responses", "Conversation replies, by how they ended.", ["status"], registry=r
        )
        self.interruptions = Counter(
            "voxrt_interruptions", "Replies cut short by the user's speech (barge-in).", registry=r
        )
        self.errors = Counter(
            "voxrt_errors", "Errors sent to clients (REST and realtime), by code.", ["code"], registry=r
        )
        self.requests = Counter(
            "voxrt_http_requests", "HTTP requests answered.", ["route", "method", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "voxrt_http_request_seconds", "Time to answer an HTTP request.", ["route"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.turn = {
            field: Histogram(name, text, buckets=_LATENCY_BUCKETS, registry=r)
            for field, (name, text) in _TURN_FIELDS.items()
        }
        self.tts_ttfb = Histogram(
            "voxrt_tts_ttfb_seconds", "Speech synthesis: request to its first audio.", ["engine"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.tts_audio = Counter(
            "voxrt_tts_audio_seconds", "Speech synthesized, in seconds of audio.", ["engine"], registry=r
        )
        self.tts_busy = Counter(
            "voxrt_tts_synthesis_seconds", "Time spent synthesizing (over audio seconds: RTF).", ["engine"],
            registry=r,
        )  # fmt: skip
        depth = Gauge("voxrt_inference_queue_depth", "Inference jobs queued, not started.", registry=r)
        depth.set_function(queue_depth)
        self.batch_size = Histogram(
            "voxrt_inference_batch_size",
            "Decode requests run together in one model call (recognizers that batch across sessions).",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )

    def synthesized(self, engine: str, ttfb_ms: float, audio_s: float, elapsed_s: float) -> None:
        """Count one speech synthesis (``POST /v1/audio/speech``)."""
        self.tts_ttfb.labels(engine).observe(ttfb_ms / 1000)
        self.tts_audio.labels(engine).inc(audio_s)
        self.tts_busy.labels(engine).inc(elapsed_s)

    def event_sent(self, event: dict[str, Any]) -> None:
        """Count a realtime server event handed to the socket."""
        kind = event.get("type")
        if kind == "voxrt.metrics":
            for field, histogram in self.turn.items():
                values = event.get(field)
                for value in values if isinstance(values, list) else [values]:
                    if value is not None:
                        histogram.observe(value / 1000)
        elif kind == "conversation.item.input_audio_transcription.completed":
            self.utterances.labels("completed").inc()
        elif kind == "conversation.item.input_audio_transcription.failed":
            self.utterances.labels("failed").inc()
        elif kind == "response.done":
            response = event.get("response", {})
            self.responses.labels(str(response.get("status"))).inc()
            if (response.get("status_details") or {}).get("reason") == "turn_detected":
                self.interruptions.inc()
        elif kind == "error":
            self.errors.labels(str(event.get("error", {}).get("code") or "unknown")).inc()


class RequestMetrics:
    """ASGI middleware: every HTTP request counted by route template, method and status, and timed."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = _route(scope)
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.request_seconds.labels(route).observe(time.perf_counter() - started)


def _route(scope: Scope) -> str:
    """The matched route's path template, which the router leaves in the scope (bounded label
    values, unlike raw paths), or "other"."""
    return str(getattr(scope.get("route"), "path", "other"))
