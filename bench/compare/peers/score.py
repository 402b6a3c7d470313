"""From what a client saw to per-utterance latencies and word errors, the same way for every system.

The final text of a session is aligned word by word (edit distance, after ``wer.normalize``) to
the known text of its utterances. An utterance is final when the last of the words aligned to it
became final; it first showed (its first partial) when the text on screen, final and partial,
first held a word aligned to it (or to a later one). Times are ``time.perf_counter`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.compare.peers.session import Snapshot
from voxrt.bench.wer import normalize

__all__ = ["UtteranceResult", "align", "committed_word_times", "score_session", "settled"]

_MATCH, _SUB, _DEL, _INS = "match", "sub", "del", "ins"


def committed_word_times(snapshots: list[Snapshot]) -> list[tuple[str, float]]:
    """Each word of the last committed text with the time it (in its final form) first arrived.

    Words past the prefix that two successive committed texts share take the later time, so a
    word finished across two messages counts from the second."""
    words: list[str] = []
    times: list[float] = []
    for snapshot in snapshots:
        current = normalize(snapshot.committed)
        common = 0
        while common < min(len(words), len(current)) and words[common] == current[common]:
            common += 1
        times = times[:common] + [snapshot.at] * (len(current) - common)
        words = current
    return list(zip(words, times, strict=True))


def align(ref: list[str], hyp: list[str]) -> list[tuple[str, int | None, int | None]]:
    """A minimal edit script turning ``ref`` into ``hyp``: ``(op, ref index, hyp index)`` in order,
    op one of match, sub, del (a ref word missing) and ins (an extra hyp word)."""
    rows, cols = len(ref) + 1, len(hyp) + 1
    cost = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        cost[i][0] = i
    for j in range(cols):
        cost[0][j] = j
    for i in range(1, rows):
        for j in range(1, cols):
            cost[i][j] = min(
                cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]), cost[i - 1][j] + 1, cost[i][j - 1] + 1
            )
    script: list[tuple[str, int | None, int | None]] = []
    i, j = len(ref), len(hyp)
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            i, j = i - 1, j - 1
            script.append((_MATCH if ref[i] == hyp[j] else _SUB, i, j))
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            i -= 1
            script.append((_DEL, i, None))
        else:
            j -= 1
            script.append((_INS, None, j))
    return script[::-1]


@dataclass(frozen=True)
class UtteranceResult:
    """One scored utterance: end of speech → final text and start of speech → first partial shown, in
    ms (None: never final / never shown), its word edits and reference word count, and its text."""

    final_ms: float | None
    first_partial_ms: float | None
    errors: int
    words: int
    hypothesis: str


@dataclass(frozen=True)
class _Attribution:
    """Final words attributed to utterances: per hyp word its utterance, per utterance its word
    edits, the hyp words aligned to its ref words, and whether its last ref word has one."""

    ref_label: list[int]
    hyp_label: list[int]
    errors: list[int]
    aligned: list[list[int]]
    ends_aligned: list[bool]


def _attribute(references: list[str], hyp_words: list[str]) -> _Attribution:
    ref_words: list[str] = []
    ref_label: list[int] = []
    for u, text in enumerate(references):
        words = normalize(text)
        ref_words += words
        ref_label += [u] * len(words)
    last_of = {u: i for i, u in enumerate(ref_label)}
    # each hyp word belongs to the utterance of its aligned ref word; an inserted one to the last
    # utterance before it (the first utterance at the start)
    hyp_label = [0] * len(hyp_words)
    errors = [0] * len(references)
    aligned: list[list[int]] = [[] for _ in references]
    ends_aligned = [False] * len(references)
    label = 0
    for op, i, j in align(ref_words, hyp_words):
        if i is not None:
            label = ref_label[i]
        if op != _MATCH:
            errors[label] += 1
        if j is not None:
            hyp_label[j] = label
            if op in (_MATCH, _SUB):
                aligned[label].append(j)
                ends_aligned[label] |= i == last_of[label]
    return _Attribution(ref_label, hyp_label, errors, aligned, ends_aligned)


def _first_shown(snapshots: list[Snapshot], references: list[str], starts: list[float]) -> list[float | None]:
    """Per utterance, the first snapshot at or after its start whose shown text (final + partial)
    has a word aligned to it or to a later one."""
    first: list[float | None] = [None] * len(starts)
    reached: dict[str, int] = {}  # shown text -> the last utterance it has an aligned word of
    for snapshot in snapshots:
        if all(at is not None for at in first):
            break
        shown = f"{snapshot.committed} {snapshot.partial}"
        if shown not in reached:
            found = _attribute(references, normalize(shown))
            reached[shown] = max((u for u, hits in enumerate(found.aligned) if hits), default=-1)
        for u, start in enumerate(starts):
            if first[u] is None and snapshot.at >= start and reached[shown] >= u:
                first[u] = snapshot.at
    return first


def settled(committed: str, references: list[str], scored: int) -> bool:
    """Whether the final text ``committed`` has reached the end of each of the first ``scored``
    utterances: its last word has a final counterpart, or final words of a later one follow."""
    found = _attribute(references, normalize(committed))
    return all(
        found.ends_aligned[u] or any(lab > u for lab in found.hyp_label)
        for u in range(min(scored, len(references)))
    )


def score_session(
    snapshots: list[Snapshot],
    references: list[str],
    speech_start_sent: list[float],
    speech_end_sent: list[float],
    scored: int,
) -> list[UtteranceResult]:
    """Score the first ``scored`` of a session's utterances.

    ``references`` are the texts of every utterance the session spoke (later ones give the scored
    ones a following utterance, as in continuous speech), ``speech_*_sent`` when the chunk holding
    each one's first / last voiced sample was sent.
    """
    committed = committed_word_times(snapshots)
    hyp_words = [word for word, _ in committed]
    found = _attribute(references, hyp_words)
    count = min(scored, len(references))
    first_shown = _first_shown(snapshots, references, speech_start_sent[:count])
    results = []
    for u in range(count):
        first = first_shown[u]
        final = max((committed[j][1] for j in found.aligned[u]), default=None)
        results.append(
            UtteranceResult(
                final_ms=None if final is None else 1000 * (final - speech_end_sent[u]),
                first_partial_ms=None if first is None else 1000 * (first - speech_start_sent[u]),
                errors=found.errors[u],
                words=found.ref_label.count(u),
                hypothesis=" ".join(w for w, lab in zip(hyp_words, found.hyp_label, strict=True) if lab == u),
            )
        )
    return results
