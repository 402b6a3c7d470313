"""Turn detection with the real models: Smart Turn on Piper speech, and a question spoken with a
hesitation in the middle through a transcription session on tiny.en, server_vad against
semantic_vad."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from voxrt.asr import ASREngine, create_asr_engine
from voxrt.bench.turns import PAUSED_QUESTION, QUESTIONS, paused_question, speak, stream_question
from voxrt.config import Settings, load_settings
from voxrt.vad import VADModel, create_vad
from voxrt.vad.smart_turn import SmartTurn

pytestmark = pytest.mark.integration

RATE = 16000


def _silence(ms: int) -> np.ndarray:
    return np.zeros(ms * RATE // 1000, np.float32)


@pytest.fixture(scope="module")
def smart_turn() -> SmartTurn:
    return SmartTurn()


@pytest.fixture(scope="module")
def models() -> Iterator[tuple[Settings, ASREngine, VADModel]]:
    settings = load_settings()
    engine = create_asr_engine(settings.asr)
    engine.load()
    yield settings, engine, create_vad("silero")
    engine.close()


def test_the_model_file_is_read_from_pipecat_ai_without_importing_pipecat() -> None:
    code = (
        "import sys; from voxrt.vad.smart_turn import SmartTurn; model = SmartTurn(); "
        "assert model.model_path.name == 'smart-turn-v3.2-cpu.onnx', model.model_path; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pipecat'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_smart_turn_tells_a_hesitation_from_a_finished_question(smart_turn: SmartTurn) -> None:
    audio = paused_question()
    pause = int(np.flatnonzero(audio == 0)[0])  # "What is the weather like in" | "Paris tomorrow?"
    head = np.concatenate([_silence(300), audio[:pause], _silence(300)])
    whole = np.concatenate([_silence(300), audio, _silence(300)])
    assert smart_turn.probability(head) < 0.1
    assert smart_turn.probability(whole) > 0.9
    assert speak(PAUSED_QUESTION).size < audio.size  # the pause was stretched, not added
    finished = [smart_turn.probability(np.concatenate([speak(q), _silence(300)])) for q in QUESTIONS[:4]]
    assert min(finished) > 0.5, finished


@pytest.mark.parametrize(
    ("turn_detection", "turns"),
    [
        ({"type": "server_vad", "silence_duration_ms": 500}, [{"weather"}, {"tomorrow"}]),
        # (tiny.en hears this "Paris" as "pairs", cut or not.) low: an 8 s longest wait, so a turn
        # committed within the 2 s of silence was the model's call
        ({"type": "semantic_vad", "eagerness": "low"}, [{"weather", "tomorrow"}]),
    ],
)
def test_a_question_with_a_hesitation_is_one_turn_only_for_semantic_vad(
    models: tuple[Settings, ASREngine, VADModel],
    smart_turn: SmartTurn,
    turn_detection: dict[str, str | int],
    turns: list[set[str]],
) -> None:
    settings, engine, vad = models
    audio = paused_question()
    result = asyncio.run(
        stream_question(settings, engine, vad, smart_turn, turn_detection, audio, 2000, speed=2.0)
    )
    assert result.committed == len(turns)
    words = [
        set("".join(c for c in t.lower() if c.isalpha() or c == " ").split()) for t in result.transcripts
    ]
    assert all(expected <= heard for expected, heard in zip(turns, words, strict=True)), result.transcripts
    assert result.delay_ms is not None and result.delay_ms < 2000
