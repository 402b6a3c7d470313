"""A remote recognizer: any OpenAI-compatible ``/v1/audio/transcriptions`` server (vLLM serving
Voxtral, another voxrt, a hosted API) decodes each utterance.

Requests go out from the engine's worker threads over one pooled HTTP client.
Connection errors, timeouts and 5xx answers are retried a bounded number of
times with exponential backoff; what still fails becomes an ``UpstreamError``
(REST: 502, or 504 on a timeout; realtime: a ``...transcription.failed`` event),
and the server and its sessions carry on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np

from voxrt.asr.base import ASREngine, Segment, TranscriptionOptions, Word
from voxrt.asr.voxtral import VOXTRAL_MINI
from voxrt.audio.decode import SAMPLE_RATE
from voxrt.audio.pcm import wav_bytes
from voxrt.config import AsrSettings, ConfigError
from voxrt.errors import UpstreamError, UpstreamTimeout

__all__ = ["RemoteEngine"]

log = logging.getLogger(__name__)


class RemoteEngine(ASREngine):
    """Posts each decode to ``{asr.remote_url}/audio/transcriptions``."""

    def __init__(self, settings: AsrSettings) -> None:
        if not settings.remote_url:
            raise ConfigError(
                "asr.remote_url is required with asr.engine = 'remote' (e.g. http://127.0.0.1:8001/v1)."
            )
        self._url = settings.remote_url.rstrip("/") + "/audio/transcriptions"
        self._host = urlsplit(self._url).netloc
        self._model_name = settings.model or VOXTRAL_MINI  # what the documented vLLM command serves
        super().__init__(settings.model_id or self._model_name, max_parallel=settings.remote_max_concurrency)
        self._settings = settings
        self._client: httpx.Client | None = None
        self._verbose_json = True  # until the server refuses it (vLLM may): then json, one segment

    def load(self, warmup: bool = True) -> None:
        # No warm-up: it would send audio at start, and a server that is down then must not keep
        # voxrt from serving (each request reports it instead).
        super().load(warmup=False)

    def _load(self) -> None:
        s = self._settings
        key = s.remote_api_key.get_secret_value() if s.remote_api_key else None
        self._client = httpx.Client(
            timeout=httpx.Timeout(s.remote_timeout_s, connect=s.remote_connect_timeout_s),
            limits=httpx.Limits(
                max_connections=s.remote_max_concurrency, max_keepalive_connections=s.remote_max_concurrency
            ),
            headers={"Authorization": f"Bearer {key}"} if key else None,
        )

    def close(self) -> None:
        super().close()
        if self._client is not None:
            self._client.close()

    def _decode(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> tuple[str | None, Iterator[Segment]]:
        language = options.language or self._settings.language
        verbose = options.timestamps and self._verbose_json
        fields: dict[str, Any] = {
            "model": self._model_name,
            "response_format": "verbose_json" if verbose else "json",
            "temperature": str(options.temperature),
        }
        if language:
            fields["language"] = language
        if options.prompt:
            fields["prompt"] = options.prompt
        if options.word_timestamps:
            fields["timestamp_granularities[]"] = ["word", "segment"]
        wav = wav_bytes(audio, SAMPLE_RATE)
        try:
            body = self._post(wav, fields)
        except UpstreamError as exc:
            if not verbose or exc.code != "upstream_rejected":
                raise
            log.info("the transcription server refused verbose_json; asking json (no timings) from now on")
            self._verbose_json = False
            body = self._post(wav, {**fields, "response_format": "json"})
        try:
            segments = _segments(body, len(audio) / SAMPLE_RATE)
        except (KeyError, TypeError, ValueError):
            raise UpstreamError("The transcription server's segments are malformed.") from None
        detected = body.get("language")
        return language or (detected if isinstance(detected, str) else None), iter(segments)

    def _post(self, wav: bytes, fields: dict[str, Any]) -> dict[str, Any]:
        """The server's JSON answer, after at most ``remote_retries`` retries.

        Raises:
            UpstreamError: unreachable, a 4xx answer, a 5xx answer on the last try, or not a transcription.
            UpstreamTimeout: no answer in time on the last try.
        """
        assert self._client is not None
        s = self._settings
        tries = s.remote_retries + 1
        for attempt in range(tries):
            if attempt:
                time.sleep(s.remote_backoff_s * 2 ** (attempt - 1))
            try:
                response = self._client.post(
                    self._url, data=fields, files={"file": ("audio.wav", wav, "audio/wav")}
                )
            except httpx.TimeoutException as exc:
                error: UpstreamError = UpstreamTimeout(
                    f"The transcription server at {self._host} did not answer in time ({type(exc).__name__})."
                )
            except httpx.TransportError as exc:
                error = UpstreamError(
                    f"The transcription server at {self._host} could not be reached ({type(exc).__name__}).",
                    code="upstream_unavailable",
                )
            else:
                status = response.status_code
                if status < 400:
                    return _json(response)
                detail = f"HTTP {status}: {_message(response)}"
                if status < 500:  # retrying a refused request would only be refused again
                    code = "upstream_auth_failed" if status in (401, 403) else "upstream_rejected"
                    raise UpstreamError(
                        f"The transcription server at {self._host} refused the request ({detail}).", code=code
                    )
                error = UpstreamError(f"The transcription server at {self._host} failed ({detail}).")
            log.warning("remote transcription try %d of %d failed: %s", attempt + 1, tries, error.message)
        raise error


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise UpstreamError("The transcription server's answer is not a transcription (no 'text').")
    return body


def _message(response: httpx.Response) -> str:
    """The error message of an OpenAI-shaped (or vLLM-shaped) error body, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else body.get("message")
        if isinstance(message, str):
            return message[:500]
    return str(body)[:200]


def _segments(body: dict[str, Any], duration: float) -> list[Segment]:
    """Segments of a verbose_json answer (words placed in the segment they start in), or one segment
    over the whole audio for a plain json answer."""
    raw = body.get("segments")
    if not isinstance(raw, list) or not raw:
        text = str(body["text"]).strip()
        return [Segment(id=0, start=0.0, end=duration, text=" " + text)] if text else []
    words = [
        Word(float(w["start"]), float(w["end"]), " " + str(w["word"]).strip(), float(w.get("probability", 1)))
        for w in body.get("words") or []
    ]
    segments = []
    for index, seg in enumerate(raw):
        start, end = float(seg["start"]), float(seg["end"])
        last = index == len(raw) - 1
        mine = tuple(w for w in words if start <= w.start and (w.start < end or last))
        segments.append(
            Segment(
                id=index,
                start=start,
                end=end,
                text=" " + str(seg["text"]).strip(),
                tokens=tuple(int(t) for t in seg.get("tokens") or ()),
                avg_logprob=float(seg.get("avg_logprob", 0.0)),
                compression_ratio=float(seg.get("compression_ratio", 0.0)),
                no_speech_prob=float(seg.get("no_speech_prob", 0.0)),
                words=mine,
            )
        )
    return segments
