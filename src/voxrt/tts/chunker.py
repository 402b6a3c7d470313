"""Text to speakable chunks: markdown stripped, numbers and abbreviations spelled out, split at
sentence and clause boundaries as the text streams in, the first chunk short so the first audio
comes early.

Rule-based (no sentence tokenizer data to download).
"""

from __future__ import annotations

import re

from voxrt.tts.numbers import NO_BREAK, expand

__all__ = ["SentenceChunker", "normalize", "split_text", "strip_markdown"]

_FENCE = "```"
_CODE_BLOCK = re.compile(r"```.*?```", re.S)
_LINE_RULES = (
    (re.compile(r"^\s{0,3}#{1,6}\s+", re.M), ""),  # headings
    (re.compile(r"^\s*>\s?", re.M), ""),  # block quotes
    (re.compile(r"^\s*[-*+]\s+", re.M), ""),  # bullets
    (re.compile(r"^\s*\d{1,3}[.)]\s+", re.M), ""),  # numbered items
    (re.compile(r"^\s*\|?(\s*:?-{3,}:?\s*\|)+\s*:?-*:?\s*$", re.M), ""),  # table separator rows
    (re.compile(r"^\s*([-*_]\s*){3,}$", re.M), ""),  # horizontal rules
    (re.compile(r"^\s*\|(.*)\|\s*$", re.M), r"\1"),  # the outer bars of table rows
)
_INLINE_RULES = (
    (_CODE_BLOCK, " "),  # code blocks are not read out
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: their alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: their text
    (re.compile(r"<[^<>\n]+>"), ""),  # HTML tags
    (re.compile(r"\*\*|__|~~|[*`]"), ""),  # emphasis, inline code
    (re.compile(r"(?<!\w)_+|_+(?!\w)"), ""),  # _emphasis_ but not snake_case
    (re.compile(r"\s*\|\s*"), ", "),  # table cells
)


def strip_markdown(text: str) -> str:
    """``text`` without markdown syntax: headings, bullets, emphasis, links (their text stays),
    tables (cells become a list), HTML tags, and fenced code blocks (dropped, not read)."""
    for pattern, replacement in _INLINE_RULES[:4]:
        text = pattern.sub(replacement, text)
    for pattern, replacement in _LINE_RULES:
        text = pattern.sub(replacement, text)
    for pattern, replacement in _INLINE_RULES[4:]:
        text = pattern.sub(replacement, text)
    return text.strip()


def normalize(text: str) -> str:
    """``text`` ready for an engine: markdown stripped, numbers, money, times and abbreviations
    spelled out, whitespace collapsed."""
    return " ".join(expand(strip_markdown(text)).split())


# Where a sentence may end: terminal punctuation (with closing quotes or brackets) before a space.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s)|\n")
_CLAUSE_END = re.compile(r"[,;:\u2014\u2013](?=\s)")  # comma, semicolon, colon, em and en dash
_WORD = re.compile(r"\S+")
_CUT_AFTER = re.compile(r"\W*[^\W\d_]{4,}\W*")  # a word of four letters or more, no digits
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


def _is_abbreviation(text: str) -> bool:
    """Whether the full stop that ends ``text`` belongs to an abbreviation or an initial."""
    match = _WORD_BEFORE.search(text)
    if match is None:
        return False
    word = match.group(1)
    return word.lower() in NO_BREAK or (len(word) == 1 and word.isupper())


def _speakable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


class SentenceChunker:
    """Streamed text in (``push``), speakable chunks out, in order.

    The first chunk ends at the first clause boundary (comma, colon, dash) after
    ``first_min_chars``, or, with ``first_max_words`` above 0, after that many words when no boundary came
    sooner (at the first word from there that is neither a number, whose unit may follow, nor a
    short word such as "the" or "at", which leans on the next); later ones at sentence ends or line
    breaks, short sentences joined until ``min_chars``. A run of text with no boundary is cut at a
    space before ``max_chars``.
    """

    def __init__(
        self,
        first_min_chars: int = 20,
        min_chars: int = 40,
        max_chars: int = 300,
        first_max_words: int = 0,
    ) -> None:
        self.first_min_chars = first_min_chars
        self.first_max_words = first_max_words
        self.min_chars = min_chars
        self.max_chars = max_chars
        self._buffer = ""
        self._first = True

    def push(self, text: str) -> list[str]:
        """Add text; returns the chunks it completed (normalized, never empty)."""
        self._buffer += text
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """The end of the text: returns the chunks still held (an unclosed code block is dropped)."""
        chunks = self._drain(final=True)
        self._buffer = ""
        return chunks

    def _drain(self, final: bool) -> list[str]:
        chunks: list[str] = []
        self._buffer = _CODE_BLOCK.sub("\n", self._buffer)
        while True:
            end = self._boundary(final)
            if end is None:
                return chunks
            raw, self._buffer = self._buffer[:end], self._buffer[end:]
            chunk = normalize(raw)
            if _speakable(chunk):
                chunks.append(chunk)
                self._first = False

    def _readable(self) -> str:
        """The part of the buffer outside an unclosed code fence (held until it closes)."""
        opening = self._buffer.find(_FENCE)  # closed blocks are already gone
        return self._buffer if opening < 0 else self._buffer[:opening]

    def _boundary(self, final: bool) -> int | None:
        """Where the next chunk ends in the buffer, or None to wait for more text."""
        text = self._readable()
        if not text:
            return None
        if self._first:
            for match in _CLAUSE_END.finditer(text):
                if match.end() >= self.first_min_chars:
                    end = self._sentence_end(text, match.end())
                    return match.end() if end is None else end
        end = self._sentence_end(text, len(text), 0 if self._first else self.min_chars)
        if end is not None:
            return end
        if self._first and self.first_max_words and (cut := self._word_cut(text)) is not None:
            return cut
        if final:
            return len(self._buffer) if text == self._buffer else len(text)
        if len(text) > self.max_chars:
            cut = text.rfind(" ", 0, self.max_chars)
            return cut if cut > 0 else self.max_chars
        return None

    def _word_cut(self, text: str) -> int | None:
        """The end of the ``first_max_words``-th word, or of the first later one of more than three
        letters, once a space follows it; or None."""
        for count, match in enumerate(_WORD.finditer(text), start=1):
            complete = match.end() < len(text)  # a space follows: the word is whole
            if count >= self.first_max_words and complete and _CUT_AFTER.fullmatch(match.group()):
                return match.end()
        return None

    def _sentence_end(self, text: str, limit: int, min_chars: int = 0) -> int | None:
        """The first sentence end at or after ``min_chars`` (a line break at any length) and not
        past ``limit``, or None."""
        for match in _SENTENCE_END.finditer(text, 0, limit + 1):
            if match.end() > limit:
                break
            if match.group() == "\n":
                if _speakable(text[: match.start()]):
                    return match.end()
                continue
            if match.end() < min_chars or _is_abbreviation(text[: match.end()]):
                continue
            return match.end()
        return None


def split_text(text: str, first_min_chars: int = 20, min_chars: int = 40) -> list[str]:
    """A whole text as speakable chunks (what ``SentenceChunker`` gives for it pushed at once)."""
    chunker = SentenceChunker(first_min_chars=first_min_chars, min_chars=min_chars)
    return chunker.push(text) + chunker.flush()
