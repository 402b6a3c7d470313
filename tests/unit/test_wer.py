from __future__ import annotations

import pytest

from voxrt.bench.wer import normalize, wer


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("There are twelve apples.", ["there", "are", "12", "apples"]),
        ("There are 12 apples.", ["there", "are", "12", "apples"]),
        ("twenty-five", ["25"]),
        ("one thousand three hundred", ["1300"]),
        ("You're sure it's the colour?", ["you", "are", "sure", "it", "is", "the", "color"]),
        ("We won't, I'm afraid.", ["we", "will", "not", "i", "am", "afraid"]),
    ],
)
def test_normalize_english(text: str, words: list[str]) -> None:
    assert normalize(text) == words


def test_normalize_other_languages_drops_case_punctuation_and_accents() -> None:
    assert normalize("Contraseña incorrecta. ¡Trés!", "es") == ["contrasena", "incorrecta", "tres"]
    assert normalize("Vous êtes maintenant en ligne.", "fr") == ["vous", "etes", "maintenant", "en", "ligne"]


def test_wer_counts_substitutions_insertions_deletions() -> None:
    assert wer(["the cat sat"], ["the cat sat"]) == 0.0
    assert wer(["the cat sat"], ["the dog sat"]) == pytest.approx(1 / 3)
    assert wer(["the cat sat"], ["the cat"]) == pytest.approx(1 / 3)
    assert wer(["the cat sat"], ["the big cat sat down"]) == pytest.approx(2 / 3)
    assert wer(["a b", "c d e f"], ["a b", ""]) == pytest.approx(4 / 6)
    assert wer(["There are 12 apples."], ["there are twelve apples"]) == 0.0
    assert wer(["Please enter your password"], ["Please, enter your pass word."]) == pytest.approx(2 / 4)
