"""LocalAgreement: the words two consecutive hypotheses of a growing utterance agree on."""

from __future__ import annotations

__all__ = ["common_prefix"]


def common_prefix(a: list[str], b: list[str]) -> list[str]:
    """The words two hypotheses share from the start (compared without case or punctuation);
    the words of ``b`` are kept, since the newer decode spells them best."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if _bare(x) != _bare(y):
            break
        n += 1
    return b[:n]


def _bare(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalnum())
