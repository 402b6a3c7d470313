from __future__ import annotations

import pytest

from voxrt.bench.wer import normalize, wer


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("There are 12 apples.", ["there", "are", "twelve", "apples"]),
        ("twenty-five", ["twenty", "five"]),
        ("25", ["twenty", "five"]),
        ("1,300", ["one", "thousand", "three", "hundred"]),
        ("platform number 4.", ["platform", "number", "four"]),
    ],
)
def test_normalize(text: str, words: list[str]) -> None:
    assert normalize(text) == words


def test_wer_counts_substitutions_insertions_deletions() -> None:
    assert wer(["the cat sat"], ["the cat sat"]) == 0.0
    assert wer(["the cat sat"], ["the dog sat"]) == pytest.approx(1 / 3)
    assert wer(["the cat sat"], ["the cat"]) == pytest.approx(1 / 3)
    assert wer(["the cat sat"], ["the big cat sat down"]) == pytest.approx(2 / 3)
    assert wer(["a b", "c d e f"], ["a b", ""]) == pytest.approx(4 / 6)
    assert wer(["There are 12 apples."], ["there are twelve apples"]) == 0.0
