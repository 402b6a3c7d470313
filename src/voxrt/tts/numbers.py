"""Numbers, money, times and abbreviations spelled out as words, so every engine reads them alike.

Rule-based and English only; nothing here loads data at run time.
"""

from __future__ import annotations

import re

__all__ = ["cardinal", "expand", "ordinal"]

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _below_thousand(n: int) -> str:
    words = []
    if n >= 100:
        words.append(f"{_ONES[n // 100]} hundred")
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n or not words:
        words.append(_ONES[n])
    return " ".join(words)


def cardinal(n: int) -> str:
    """``n`` in words: ``1234`` -> ``one thousand two hundred thirty-four``."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n >= 10**15:
        return " ".join(_ONES[int(d)] for d in str(n))
    words = []
    for value, name in _SCALES:
        if n >= value:
            words.append(f"{_below_thousand(n // value)} {name}")
            n %= value
    if n or not words:
        words.append(_below_thousand(n))
    return " ".join(words)


def ordinal(n: int) -> str:
    """``n`` as an ordinal: ``21`` -> ``twenty-first``."""
    words = cardinal(n)
    head, sep, last = words.rpartition("-") if "-" in words.split()[-1] else words.rpartition(" ")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def _year(n: int) -> str:
    high, low = divmod(n, 100)
    if low == 0:
        return f"{cardinal(high)} hundred"
    return f"{cardinal(high)} {'oh ' + cardinal(low) if low < 10 else cardinal(low)}"


def _digits(text: str) -> str:
    return " ".join(_ONES[int(d)] for d in text)


def _number(text: str) -> str:
    """A number as written (``1,234.5``, ``1999``, ``007``) in words."""
    whole, _, frac = text.replace(",", "").partition(".")
    if len(whole) > 1 and whole.startswith("0"):
        spoken = _digits(whole)
    elif not frac and len(whole) == 4 and 1100 <= int(whole) <= 1999 and "," not in text:
        spoken = _year(int(whole))
    else:
        spoken = cardinal(int(whole or "0"))
    return spoken + (f" point {_digits(frac)}" if frac else "")


_CURRENCIES = {"$": ("dollar", "cent"), "€": ("euro", "cent"), "£": ("pound", "penny")}
_MAGNITUDES = {"k": "thousand", "m": "million", "b": "billion", "bn": "billion", "trillion": "trillion"}


def _plural(word: str, n: float) -> str:
    if n == 1:
        return word
    return "pence" if word == "penny" else word + "s"


def _money(match: re.Match[str]) -> str:
    sign, symbol, amount, magnitude = match.group(1, 2, 3, 4)
    unit, sub = _CURRENCIES[symbol]
    prefix = "minus " if sign else ""
    plain = amount.replace(",", "")
    if magnitude:
        scale = _MAGNITUDES[magnitude.lower().strip()]
        return f"{prefix}{_number(amount)} {scale} {_plural(unit, 2)}"
    whole, _, cents = plain.partition(".")
    units = int(whole or "0")
    spoken = f"{prefix}{cardinal(units)} {_plural(unit, units)}"
    if cents and int(cents[:2].ljust(2, "0")):
        value = int(cents[:2].ljust(2, "0"))
        spoken += f" and {cardinal(value)} {_plural(sub, value)}"
    return spoken


def _time(match: re.Match[str]) -> str:
    hours, minutes, meridiem = int(match.group(1)), int(match.group(2)), match.group(3)
    if minutes == 0:
        spoken = f"{cardinal(hours)} o'clock" if not meridiem else cardinal(hours)
    elif minutes < 10:
        spoken = f"{cardinal(hours)} oh {cardinal(minutes)}"
    else:
        spoken = f"{cardinal(hours)} {cardinal(minutes)}"
    if meridiem:
        spoken += " " + " ".join(meridiem.lower().replace(".", ""))
    return spoken


_ABBREVIATIONS = {
    "dr": "doctor",
    "mr": "mister",
    "mrs": "missus",
    "ms": "miz",
    "prof": "professor",
    "st": "saint",
    "jr": "junior",
    "sr": "senior",
    "vs": "versus",
    "etc": "et cetera",
    "approx": "approximately",
    "dept": "department",
    "min": "minutes",
    "mins": "minutes",
    "hr": "hours",
    "hrs": "hours",
    "sec": "seconds",
    "secs": "seconds",
}
# Abbreviations that end with a full stop but never end a sentence (the chunker reads this too).
NO_BREAK = frozenset(
    {"dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr", "vs", "approx", "dept", "no", "e.g", "i.e"}
)
_UNITS = {"%": "percent", "km": "kilometers", "kg": "kilograms", "cm": "centimeters", "mm": "millimeters"}
_SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "°": " degrees "}

_MONEY = re.compile(r"(-)?([$€£])(\d[\d,]*(?:\.\d+)?)(\s?(?:[kKmMbB]n?|trillion)\b)?")
_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)(?:\s?([aApP]\.?[mM]\.?))?(?!\d)")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_UNIT = re.compile(r"(\d)\s?(%|km|kg|cm|mm)(?![A-Za-z])")
_NUMBER = re.compile(r"(?<![\w.])(-)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?!\w)")
_ABBREVIATION = re.compile(r"\b([A-Za-z]+)\.(?=\s|$)")
_LATIN = (
    (re.compile(r"\be\.g\.(?=\W|$)", re.I), "for example"),
    (re.compile(r"\bi\.e\.(?=\W|$)", re.I), "that is"),
)
_NUMBER_SIGN = re.compile(r"\b[Nn]o\.\s?(?=\d)")


def _abbreviation(match: re.Match[str]) -> str:
    word = match.group(1)
    spoken = _ABBREVIATIONS.get(word.lower())
    if spoken is None:
        return match.group(0)
    if word.lower() == "etc":  # "etc." usually ends its sentence: keep the stop
        return spoken + "."
    return spoken.capitalize() if word[0].isupper() else spoken


def expand(text: str) -> str:
    """``text`` with money, times, ordinals, numbers, units, common abbreviations and symbols
    spelled out: ``Dr. Lee paid $3.50 at 9:05 am`` -> ``Doctor Lee paid three dollars and fifty cents
    at nine oh five a m``."""
    for pattern, spoken in _LATIN:
        text = pattern.sub(spoken, text)
    text = _NUMBER_SIGN.sub("number ", text)
    text = _MONEY.sub(_money, text)
    text = _TIME.sub(_time, text)
    text = _ORDINAL.sub(lambda m: ordinal(int(m.group(1))), text)
    text = _UNIT.sub(lambda m: f"{m.group(1)} {_UNITS[m.group(2)]}", text)
    text = _NUMBER.sub(
        lambda m: ("minus " if m.group(1) else "") + _number(m.group(2) + (m.group(3) or "")), text
    )
    text = _ABBREVIATION.sub(_abbreviation, text)
    for symbol, spoken in _SYMBOLS.items():
        text = text.replace(symbol, spoken)
    return re.sub(r"[ \t]{2,}", " ", text)
