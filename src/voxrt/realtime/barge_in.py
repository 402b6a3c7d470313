"""When the user's speech cuts a reply short (barge-in), and what the reply keeps of itself.

Speech that starts during a reply interrupts it at once: its queued audio is dropped, generation
stops, and the assistant item keeps what the client had played (estimated from the audio sent and
when; the client's ``conversation.item.truncate`` replaces the estimate). Clients without echo
cancellation hear the reply in their own microphone, so for ``echo_guard_ms`` after a reply's
audio starts, speech interrupts only once it is recognised as words that are not mostly the
reply's own; an utterance that is the reply's echo is not the user's.
"""

from __future__ import annotations

import re
import time

from voxrt.config import ConversationSettings
from voxrt.realtime.protocol import Outbox
from voxrt.realtime.response import Response

__all__ = ["BargeIn"]

_ECHO_SHARE = 0.6  # an utterance whose words are mostly the reply's own is its echo
_WORD = re.compile(r"[a-z0-9']+")


class BargeIn:
    """One session's interruptions."""

    def __init__(self, settings: ConversationSettings, outbox: Outbox) -> None:
        self._guard_s = settings.echo_guard_ms / 1000
        self._estimate = settings.estimate_playback
        self._outbox = outbox
        self._suspects: dict[str, tuple[Response, str]] = {}  # item -> the reply it overlaps, words so far

    def speech_started(self, item_id: str, active: Response | None) -> None:
        """Speech began: interrupt ``active`` now, or, within its echo guard, once words are heard."""
        if active is None:
            return
        first = active.times.first_sent
        if first is not None and time.perf_counter() - first < self._guard_s:
            self._suspects[item_id] = (active, "")
            return
        self.interrupt(active, "turn_detected")

    def heard(self, item_id: str, text: str, final: bool) -> bool:
        """Words of an utterance (a partial's delta, or the final transcript): interrupts the reply
        it overlaps unless they are its echo. Returns whether the utterance is the reply's echo."""
        entry = self._suspects.get(item_id)
        if entry is None:
            return False
        response, so_far = entry
        text = text if final else so_far + text
        words = _WORD.findall(text.lower())
        reply = set(_WORD.findall((response.message.text or "").lower())) if response.message else set()
        echo = sum(word in reply for word in words) >= _ECHO_SHARE * len(words)  # no words: not speech
        if not echo and response.status == "in_progress":
            self.interrupt(response, "turn_detected")
        if final or not echo:
            del self._suspects[item_id]
        else:
            self._suspects[item_id] = (response, text)
        return echo

    def interrupt(self, response: Response, reason: str) -> None:
        """Cut ``response`` short at once: its queued output dropped, the item cut to what was heard."""
        self._outbox.discard(response.id)
        message = response.message
        audio = message is not None and message.content_type == "output_audio"
        if reason == "turn_detected" and self._estimate and audio:
            assert message is not None
            message.truncate(response.played_ms(time.perf_counter()), by_client=False)
        response.cancel(reason)
