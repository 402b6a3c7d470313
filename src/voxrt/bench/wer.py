"""Word error rate after Whisper's standard text normalisers (the ``whisper-normalizer`` package).

English: lower case, no punctuation, numbers as digits ("twelve" -> "12"),
contractions expanded ("you're" -> "you are"), British spellings made American
("colour" -> "color"), fillers dropped. Other languages: lower case, no
punctuation, no diacritics (some transcripts are written without accents).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

__all__ = ["edits", "normalize", "wer"]


@cache
def _normalizer(english: bool) -> Callable[[str], str]:
    try:
        from whisper_normalizer.basic import BasicTextNormalizer
        from whisper_normalizer.english import EnglishTextNormalizer
    except ImportError as exc:
        raise RuntimeError("WER needs the whisper-normalizer package: pip install 'voxrt[bench]'") from exc
    normalizer: Callable[[str], str] = (
        EnglishTextNormalizer() if english else BasicTextNormalizer(remove_diacritics=True)
    )
    return normalizer


def normalize(text: str, language: str = "en") -> list[str]:
    """The words of ``text`` after the standard normaliser for ``language`` (a code such as en, fr)."""
    return _normalizer(language.lower().startswith("en"))(text).split()


def edits(reference: list[str], hypothesis: list[str]) -> int:
    """Word edits (substitutions, insertions, deletions) turning ``reference`` into ``hypothesis``."""
    row = list(range(len(hypothesis) + 1))
    for i, rw in enumerate(reference, 1):
        prev, row[0] = row[0], i
        for j, hw in enumerate(hypothesis, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (rw != hw))
    return row[len(hypothesis)]


def wer(references: list[str], hypotheses: list[str], language: str = "en") -> float:
    """Corpus word error rate: word edits over reference words, both sides normalised."""
    errors = words = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        r = normalize(ref, language)
        errors += edits(r, normalize(hyp, language))
        words += len(r)
    return errors / max(words, 1)
