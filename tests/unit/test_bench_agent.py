"""``voxrt bench agent``'s arithmetic: the stage breakdown adds up to the measured voice-to-voice
latency, and incomplete turns are left out rather than counted as zero."""

from __future__ import annotations

import pytest

from voxrt.bench.agent import STAGES, SessionResult, Turn, breakdown, summarize


def _turn(v2v_ms: float | None = 1500.0) -> Turn:
    turn = Turn("Why is the sky blue?", speech_end_at=100.0)
    turn.first_audio_at = None if v2v_ms is None else 100.0 + v2v_ms / 1000
    turn.user_metrics = {"endpoint_ms": 520.0, "asr_final_ms": 700.0}
    turn.reply_metrics = {"llm_ttft_ms": 110.0, "first_chunk_ms": 400.0, "tts_ttfb_ms": 150.0}
    return turn


def test_the_stages_add_up_to_voice_to_voice() -> None:
    stages = breakdown(_turn())
    assert stages is not None and tuple(stages) == STAGES
    assert stages == pytest.approx(
        {"endpoint": 520, "asr": 180, "llm_ttft": 110, "first_chunk": 290, "tts_ttfb": 150, "send": 250}
    )
    assert sum(stages.values()) == pytest.approx(1500)


def test_unanswered_turns_have_no_breakdown_and_count_as_unanswered() -> None:
    assert breakdown(_turn(None)) is None
    row = summarize(2, [SessionResult(turns=[_turn(), _turn(None)]), SessionResult(turns=[_turn(2500.0)])])
    assert (row["turns"], row["answered"]) == (3, 2)
    assert row["voice_to_voice_ms"]["p50"] == pytest.approx(2000, abs=1)
    assert row["stages_ms"]["send"]["p50"] == pytest.approx(750, abs=1)
