"""The text chunker: what engines are given to read, and where streamed text is cut."""

from __future__ import annotations

import pytest

from voxrt.tts.chunker import SentenceChunker, normalize, split_text, strip_markdown
from voxrt.tts.numbers import cardinal, expand, ordinal


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (40, "forty"),
        (99, "ninety-nine"),
        (100, "one hundred"),
        (1234, "one thousand two hundred thirty-four"),
        (1_000_005, "one million five"),
        (-3, "minus three"),
    ],
)
def test_cardinal(n: int, words: str) -> None:
    assert cardinal(n) == words


def test_ordinal() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 5, 12, 20, 21, 101)] == [
        "first",
        "second",
        "third",
        "fifth",
        "twelfth",
        "twentieth",
        "twenty-first",
        "one hundred first",
    ]


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("It costs $3.50.", "It costs three dollars and fifty cents."),
        ("It costs $1.", "It costs one dollar."),
        ("A £2 coin and €10", "A two pounds coin and ten euros"),
        ("They raised $2.5M", "They raised two point five million dollars"),
        ("Meet at 9:05 am", "Meet at nine oh five a m"),
        ("Meet at 10:30", "Meet at ten thirty"),
        ("Lunch at 12:00.", "Lunch at twelve o'clock."),
        ("the 21st floor", "the twenty-first floor"),
        ("About 50% of 1,234 items", "About fifty percent of one thousand two hundred thirty-four items"),
        ("pi is 3.14", "pi is three point one four"),
        ("In 1999 it was -7 degrees", "In nineteen ninety-nine it was minus seven degrees"),
        ("Dr. Lee met Mr. Smith", "Doctor Lee met Mister Smith"),
        ("Apples, pears, etc.", "Apples, pears, et cetera."),
        ("Fruit, e.g. apples", "Fruit, for example apples"),
        ("Room No. 5", "Room number five"),
        ("Salt & pepper", "Salt and pepper"),
    ],
)
def test_expand(text: str, spoken: str) -> None:
    assert " ".join(expand(text).split()) == spoken


def test_strip_markdown() -> None:
    text = (
        "# Heading\n\nSome **bold** and _italic_ text with a [link](https://x.example) and `code`.\n"
        "- first item\n- second item\n1. numbered\n> quoted\n\n```python\nprint('no')\n```\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n![a cat](cat.png) snake_case stays"
    )
    stripped = strip_markdown(text)
    for gone in ("#", "**", "_italic_", "](", "`", "- first", "1. numbered", "> quoted", "print", "|", "---"):
        assert gone not in stripped, gone
    for kept in ("Heading", "bold", "italic", "link", "code", "first item", "numbered", "quoted", "a cat"):
        assert kept in stripped, kept
    assert "snake_case" in stripped


def test_split_whole_text() -> None:
    text = "Hi. Dr. Smith arrived at 10:30, and it was 3.5 degrees outside. Yes! Then he left."
    chunks = split_text(text)
    assert chunks == [
        "Hi.",
        "Doctor Smith arrived at ten thirty, and it was three point five degrees outside.",
        "Yes! Then he left.",  # short sentences are joined after the first chunk
    ]


def test_first_chunk_ends_at_a_clause() -> None:
    chunks = split_text("Well, I have looked at the numbers carefully, and they add up. The rest is fine.")
    assert chunks[0] == "Well, I have looked at the numbers carefully,"
    assert chunks[1:] == ["and they add up. The rest is fine."]


def test_streamed_tokens_give_the_same_chunks_as_the_whole_text() -> None:
    text = (
        "Sure, here is the plan for tomorrow. First we meet at 9:00 am in room No. 4. "
        "Then we review the **budget**, which is $1,200 over.\n- Call Mrs. Jones\n- Book the 3rd room\n"
        "That is all for now! Any questions?"
    )
    chunker = SentenceChunker()
    streamed: list[str] = []
    for i in range(0, len(text), 3):  # as an LLM's tokens arrive
        streamed += chunker.push(text[i : i + 3])
    streamed += chunker.flush()
    assert streamed == split_text(text)
    assert streamed[0] == "Sure, here is the plan for tomorrow."
    assert "Call Missus Jones" in streamed
    assert "Book the third room" in streamed
    assert " ".join(streamed) == normalize(text.replace("\n- ", " "))


def test_first_chunk_can_end_after_a_few_words() -> None:
    """With ``first_max_words`` a streamed reply is spoken from its first words: the cut comes after
    the Nth word or the first later one of four letters or more (never after "the", "at" or a
    number), and only the first chunk is cut so."""
    text = "The museum opens at 10 am on Sundays and closes at 6 pm. Tickets cost $12 at the door."
    chunker = SentenceChunker(first_max_words=4)
    streamed: list[str] = []
    for word in text.split(" "):  # as an LLM's tokens arrive
        streamed += chunker.push(word + " ")
    streamed += chunker.flush()
    assert streamed == [
        "The museum opens at ten am on Sundays",
        "and closes at six pm. Tickets cost twelve dollars at the door.",
    ]
    chunker = SentenceChunker(first_max_words=4)
    assert chunker.push("Yes, it is open") == []  # the last word may go on ("opening")
    assert chunker.push(" today") == ["Yes, it is open"]
    assert SentenceChunker(first_max_words=4).push("Well, I have looked at the numbers, ") == [
        "Well, I have looked at the numbers,"  # a clause that ends is still where it ends
    ]


def test_nothing_is_emitted_before_a_boundary_is_certain() -> None:
    chunker = SentenceChunker()
    assert chunker.push("It costs 3.") == []  # may be 3.5: wait for the next character
    assert chunker.push("5 dollars. And") == ["It costs three point five dollars."]
    assert chunker.flush() == ["And"]


def test_unclosed_code_block_is_held_then_dropped() -> None:
    chunker = SentenceChunker()
    chunks = chunker.push("Run this command.\n```sh\nrm -rf build\n")
    chunks += chunker.push("make\n")
    assert chunks == ["Run this command."]
    assert chunker.flush() == []
    chunker = SentenceChunker()
    assert chunker.push("Before.\n```\ncode\n```\nAfter the code.\n") == ["Before.", "After the code."]


def test_long_text_without_boundaries_is_cut_at_a_space() -> None:
    chunker = SentenceChunker(max_chars=50)
    chunks = chunker.push("word " * 30)
    assert chunks and all(len(c) <= 50 for c in chunks)
    assert " ".join(chunks + chunker.flush()).split() == ["word"] * 30


def test_unspeakable_text_gives_no_chunks() -> None:
    assert split_text("...\n\n---\n**  **") == []
