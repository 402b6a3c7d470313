"""The pure parts of ``voxrt bench stream``: statistics, capacity, matching, speech edges, scripts."""

from __future__ import annotations

import os

import numpy as np
import pytest

from voxrt.bench.stream import capacity, match_items, percentiles
from voxrt.bench.stream_client import LEAD_MS, RATE, Clip, build_script, process_cpu_s, speech_span
from voxrt.cli import _parser


def test_percentiles_of_known_values() -> None:
    assert percentiles([float(v) for v in range(101)]) == {"count": 101, "p50": 50.0, "p95": 95.0}


def test_percentiles_of_nothing() -> None:
    assert percentiles([]) == {"count": 0, "p50": None, "p95": None}


def test_capacity_is_the_last_count_of_the_passing_run() -> None:
    assert capacity({1: 600.0, 2: 900.0, 4: 1500.0, 8: 2500.0}) == 4
    # a pass above a failure is noise, not capacity
    assert capacity({1: 600.0, 2: 1600.0, 4: 1400.0}) == 1
    assert capacity({1: 1501.0}) is None
    assert capacity({1: 700.0, 2: None}) == 1  # a count with no transcript at all fails
    assert capacity({}) is None


def test_match_items_one_to_one() -> None:
    utterances = [(500.0, 2500.0), (3700.0, 6000.0)]
    items = [(200.0, 2800.0), (3400.0, 6300.0)]
    assert match_items(utterances, items) == ([[0], [1]], [])


def test_match_items_split_missed_and_stray() -> None:
    utterances = [(500.0, 2500.0), (3700.0, 6000.0), (7200.0, 9000.0)]
    items = [(200.0, 1200.0), (1500.0, 2800.0), (3000.0, 3300.0), (7000.0, 9300.0)]
    assigned, stray = match_items(utterances, items)
    assert assigned == [[0, 1], [], [3]]
    assert stray == [2]


def test_speech_span_finds_first_and_last_sample_above_the_edge() -> None:
    audio = np.zeros(100, np.float32)
    assert speech_span(audio) is None
    audio[[10, 40, 70]] = [0.02, -0.5, -0.011]
    audio[90] = 0.01  # not above the edge
    assert speech_span(audio) == (10, 70)


def test_build_script_places_utterances_after_lead_and_pauses() -> None:
    clips = [
        Clip("one", np.ones(1000, "<i2"), (100, 899)),
        Clip("two", np.ones(2000, "<i2"), (0, 1999)),
    ]
    script = build_script(clips, 3, 1, pause_ms=100)
    lead, pause = LEAD_MS * RATE // 1000, 100 * RATE // 1000
    assert script.texts == ["two", "one", "two"]
    assert script.spans == [
        (lead, lead + 1999),
        (lead + 2000 + pause + 100, lead + 2000 + pause + 899),
        (lead + 3000 + 2 * pause, lead + 3000 + 2 * pause + 1999),
    ]
    assert len(script.pcm) == 2 * (lead + 5000 + 3 * pause)


def test_process_cpu_s() -> None:
    if not os.path.exists("/proc/self/stat"):
        pytest.skip("no /proc")
    used = process_cpu_s(os.getpid())
    assert used is not None and used > 0
    assert process_cpu_s(2**31) is None


def test_cli_parses_bench_stream() -> None:
    argv = ["bench", "stream", "--sweep", "4,1,2", "--server-env", "VOXRT_A=b=c", "--server-env", "X=1"]
    args = _parser(argv).parse_args(argv)
    assert args.bench == "stream"
    assert args.sweep == [1, 2, 4]
    assert args.server_env == [("VOXRT_A", "b=c"), ("X", "1")]
    assert (args.sessions, args.utterances, args.pause_ms, args.chunk_ms) == (1, 10, 1200, 40)


@pytest.mark.parametrize("bad", [["--sweep", "0,1"], ["--sweep", "a"], ["--server-env", "NOVALUE"]])
def test_cli_refuses_bad_options(bad: list[str]) -> None:
    with pytest.raises(SystemExit):
        _parser(["bench", "stream", *bad]).parse_args(["bench", "stream", *bad])
