"""The segmenter: a per-session state machine that cuts a stream of audio into utterances.

Audio goes in with ``push`` (float32 mono 16 kHz, any length); events come out
as ``SpeechStarted`` / ``SpeechStopped``, always in that alternating order.

Semantics:

* Times are integer milliseconds of audio since the session started (or was
  last ``reset``), the scale of ``audio_ms``; not wall-clock time.
* Frames are classified by the VAD stream in one batch per ``push``. A frame
  is voiced when its probability is ``>= threshold``; once speech may have
  begun (a candidate or an open utterance), a frame stays voiced down to
  ``threshold - 0.15`` (hysteresis, like Silero's negative threshold; never
  below 0.01). For webrtc/energy, whose probabilities sit near 0 or 1, this
  makes no difference.
* A candidate starts at the first voiced frame. Its voiced frames are counted,
  across gaps shorter than ``silence_duration_ms``; once they reach
  ``min_speech_duration_ms``, ``SpeechStarted`` is emitted. A candidate that
  meets ``silence_duration_ms`` of silence first is dropped without any event,
  so noise bursts and clicks never emit anything. ``audio_start_ms`` is
  back-dated to the first voiced frame minus ``prefix_padding_ms``, but not
  below 0 or the ``audio_end_ms`` of the previous utterance.
* An utterance ends once ``silence_duration_ms`` of unvoiced frames follow its
  last voiced frame (``max_silence_ms`` when given: semantic turn detection
  holds utterances open through pauses, while candidates keep the shorter gap).
  ``SpeechStopped.audio_end_ms`` is the end of that last voiced frame (the end
  of speech, from which ``endpoint_ms`` is measured), not the moment the
  silence window closed. ``SpeechStopped.audio`` is the utterance from
  ``audio_start_ms`` to ``audio_end_ms`` plus up to ``trailing_pad_ms`` of the
  audio after it (word endings the VAD called silence).
* ``max_utterance_s``: once an utterance is longer than 80% of it, any unvoiced
  frame ends it (a cut at the next pause, ``forced=False``). If it would grow
  past the limit, it is cut hard at the start of the frame that would cross
  it (``forced=True``, no trailing pad: the audio after the cut belongs to the
  next utterance), and since that frame is voiced a new utterance starts at
  the cut point at once (a new ``SpeechStarted``, no prefix padding).
* ``flush`` ends an open utterance as at a pause; a candidate that has not
  reached ``min_speech_duration_ms`` is dropped. A partial frame left over
  from ``push`` is never classified, but it may serve as trailing pad.
* Only the open utterance (or the prefix-padding window while silent) and the
  unclassified tail are kept: memory does not grow with session length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np

from voxrt.audio.decode import SAMPLE_RATE
from voxrt.config import VadSettings
from voxrt.vad.base import VADStream

__all__ = ["Segmenter", "SegmenterEvent", "SpeechStarted", "SpeechStopped"]

# Once in speech, a frame stays voiced down to threshold - HYSTERESIS (Silero's neg_threshold).
HYSTERESIS = 0.15
_MIN_OFF_THRESHOLD = 0.01
# Past this share of max_utterance_s, the first pause ends the utterance, before a hard cut is needed.
PAUSE_CUT_FRACTION = 0.8
_SAMPLES_PER_MS = SAMPLE_RATE // 1000
# Smallest history allocation; trimmed history is reallocated down to this size after long utterances.
_MIN_CAPACITY = SAMPLE_RATE // 2


@dataclass(frozen=True)
class SpeechStarted:
    """Speech began at ``audio_start_ms`` (prefix padding included)."""

    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    """Speech ended at ``audio_end_ms``; ``audio`` is the utterance (float32, 16 kHz)."""

    audio_end_ms: int
    audio: np.ndarray = field(repr=False, compare=False)
    forced: bool = False


SegmenterEvent: TypeAlias = SpeechStarted | SpeechStopped


class _History:
    """Samples ``[start, end)`` of the session (absolute sample indices) in a growable array."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._buf = np.zeros(_MIN_CAPACITY, np.float32)
        self.start = 0
        self._len = 0

    @property
    def end(self) -> int:
        return self.start + self._len

    @property
    def capacity(self) -> int:
        return len(self._buf)

    def append(self, samples: np.ndarray) -> None:
        needed = self._len + len(samples)
        if needed > len(self._buf):
            grown = np.empty(max(needed, 2 * len(self._buf)), np.float32)
            grown[: self._len] = self._buf[: self._len]
            self._buf = grown
        self._buf[self._len : needed] = samples
        self._len = needed

    def view(self, begin: int, end: int) -> np.ndarray:
        """Samples ``[begin, end)``, absolute; a view, valid until the next append or trim."""
        return self._buf[begin - self.start : end - self.start]

    def trim(self, before: int) -> None:
        """Drop the samples before absolute index ``before``."""
        drop = min(before - self.start, self._len)
        if drop <= 0:
            return
        keep = self._len - drop
        if len(self._buf) > max(4 * keep, 2 * _MIN_CAPACITY):
            # Give back the memory of a long utterance once it is over.
            smaller = np.empty(max(2 * keep, _MIN_CAPACITY), np.float32)
            smaller[:keep] = self._buf[drop : self._len]
            self._buf = smaller
        else:
            self._buf[:keep] = self._buf[drop : self._len]
        self.start += drop
        self._len = keep


class Segmenter:
    """Turns one session's audio into utterances; see the module docstring for the exact rules.

    ``options`` are used as given and kept as ``self.options``; thresholds in
    samples are fixed at construction.
    """

    def __init__(
        self, vad: VADStream, frame_samples: int, options: VadSettings, *, max_silence_ms: int | None = None
    ) -> None:
        """
        Raises:
            ValueError: ``frame_samples`` is not positive or differs from the stream's.
        """
        if frame_samples <= 0:
            raise ValueError(f"frame_samples must be positive, got {frame_samples}")
        if vad.frame_samples != frame_samples:
            raise ValueError(
                f"the VAD stream classifies {vad.frame_samples}-sample frames, not {frame_samples}"
            )
        self.options = options
        self._vad = vad
        self._frame = frame_samples
        self._on = options.threshold
        self._off = min(self._on, max(self._on - HYSTERESIS, _MIN_OFF_THRESHOLD))
        self._prefix = options.prefix_padding_ms * _SAMPLES_PER_MS
        self._min_speech = options.min_speech_duration_ms * _SAMPLES_PER_MS
        self._gap = options.silence_duration_ms * _SAMPLES_PER_MS  # ends a candidate
        self._silence = (max_silence_ms or options.silence_duration_ms) * _SAMPLES_PER_MS  # ends speech
        self._max = int(options.max_utterance_s * SAMPLE_RATE)
        self._pause_cut = int(PAUSE_CUT_FRACTION * self._max)
        self._pad = options.trailing_pad_ms * _SAMPLES_PER_MS
        self._history = _History()
        self._clear_state()

    def _clear_state(self) -> None:
        self._next = 0  # absolute index of the first sample not yet classified
        self._floor = 0  # end of the previous utterance: no later start goes below it
        self._candidate: int | None = None  # first voiced sample of speech not yet confirmed
        self._voiced = 0  # voiced samples counted for the candidate
        self._start: int | None = None  # start of the open utterance (prefix included)
        self._last_voiced_end = 0

    @property
    def in_speech(self) -> bool:
        """Whether an utterance is open (``SpeechStarted`` sent, ``SpeechStopped`` not yet)."""
        return self._start is not None

    @property
    def trailing_silence_ms(self) -> float:
        """How long the open utterance has been unvoiced, in ms; 0 when none is open."""
        if self._start is None:
            return 0.0
        return (self._next - self._last_voiced_end) / _SAMPLES_PER_MS

    @property
    def speech_end_ms(self) -> float | None:
        """End of the last voiced frame of the open utterance, in ms; ``None`` when none is open."""
        return None if self._start is None else self._last_voiced_end / _SAMPLES_PER_MS

    @property
    def audio_ms(self) -> float:
        """Audio pushed since creation or the last ``reset``, in ms."""
        return self._history.end / _SAMPLES_PER_MS

    def utterance_audio(self) -> np.ndarray:
        """A copy of the open utterance so far, prefix padding included; empty when none is open."""
        if self._start is None:
            return np.zeros(0, np.float32)
        return self._history.view(self._start, self._history.end).copy()

    def settled_audio(self) -> np.ndarray | None:
        """The open utterance as ``SpeechStopped`` would carry it if the silence window closed now
        (speech plus ``trailing_pad_ms``); ``None`` while less than the pad has followed the speech.

        Lets a caller start decoding at silence onset, before the utterance is known to be over.
        """
        if self._start is None or self._next - self._last_voiced_end < self._pad:
            return None
        return self._history.view(self._start, self._last_voiced_end + self._pad).copy()

    def push(self, audio: np.ndarray) -> list[SegmenterEvent]:
        """Add audio and classify every complete frame in one VAD call.

        Args:
            audio: float32 mono samples at 16 kHz, any length.

        Returns:
            The events these frames caused, in order.

        Raises:
            ValueError: ``audio`` is not one-dimensional.
        """
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"expected mono audio (one dimension), got shape {samples.shape}")
        self._history.append(samples)
        count = (self._history.end - self._next) // self._frame
        events: list[SegmenterEvent] = []
        if count:
            frames = self._history.view(self._next, self._next + count * self._frame)
            probs = self._vad.probabilities(frames.reshape(count, self._frame))
            for prob in probs.tolist():
                self._step(prob, events)
                self._next += self._frame
        self._trim()
        return events

    def flush(self) -> list[SegmenterEvent]:
        """End of stream: close the open utterance, if any; drop an unconfirmed candidate.

        Returns:
            ``[SpeechStopped]`` if an utterance was open, else ``[]``.
        """
        self._candidate = None
        events: list[SegmenterEvent] = []
        if self._start is not None:
            end = self._last_voiced_end
            events.append(self._stop(end, min(end + self._pad, self._history.end), forced=False))
        self._trim()
        return events

    def reset(self) -> None:
        """Drop all audio and state, VAD state included; times restart at 0."""
        self._vad.reset()
        self._history.clear()
        self._clear_state()

    def _step(self, prob: float, events: list[SegmenterEvent]) -> None:
        """Advance the state machine by the frame starting at ``self._next``."""
        begin, end = self._next, self._next + self._frame
        if self._start is not None:
            if prob >= self._off:
                if end - self._start > self._max:
                    events.append(self._stop(begin, begin, forced=True))
                    self._open(begin, events)
                self._last_voiced_end = end
            elif end - self._last_voiced_end >= self._silence or end - self._start > self._pause_cut:
                last = self._last_voiced_end
                events.append(self._stop(last, min(last + self._pad, end), forced=False))
            return
        voiced = prob >= (self._on if self._candidate is None else self._off)
        if self._candidate is None:
            if not voiced:
                return
            self._candidate, self._voiced = begin, 0
        if voiced:
            self._voiced += self._frame
            self._last_voiced_end = end
            if self._voiced >= self._min_speech:
                self._open(max(self._candidate - self._prefix, self._floor), events)
        elif end - self._last_voiced_end >= self._gap:
            self._candidate = None

    def _open(self, start: int, events: list[SegmenterEvent]) -> None:
        self._start, self._candidate = start, None
        events.append(SpeechStarted(audio_start_ms=start // _SAMPLES_PER_MS))

    def _stop(self, audio_end: int, until: int, forced: bool) -> SpeechStopped:
        assert self._start is not None
        audio = self._history.view(self._start, until).copy()
        self._start, self._floor = None, audio_end
        return SpeechStopped(audio_end_ms=audio_end // _SAMPLES_PER_MS, audio=audio, forced=forced)

    def _trim(self) -> None:
        """Keep only what a future event may still need."""
        if self._start is not None:
            keep = self._start
        elif self._candidate is not None:
            keep = max(self._candidate - self._prefix, self._floor)
        else:
            keep = max(self._next - self._prefix, self._floor)
        self._history.trim(min(keep, self._next))
