from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from voxrt.bench.accuracy import subtitle_text
from voxrt.bench.realspeech import load_manifest, prompts


def _tree(root: Path, lang: str, voice: str, lines: list[str], wavs: list[str]) -> Path:
    doc = root / f"usr/share/doc/asterisk-core-sounds-{lang}"
    doc.mkdir(parents=True)
    with gzip.open(doc / f"core-sounds-{lang}.txt.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")
    sounds = root / "usr/share/asterisk/sounds" / voice
    for name in wavs:
        (sounds / name).parent.mkdir(parents=True, exist_ok=True)
        (sounds / name).write_bytes(b"RIFF")
    return root


def test_prompts_keep_faithful_transcripts_only(tmp_path: Path) -> None:
    lines = [
        "; Core Asterisk Sounds in English",
        "",
        "agent-pass: Please enter your password followed by the pound key.",
        "activated: Activated.",  # one word
        "beep: [this is a simple beep tone]",  # a note, not speech
        'spy-iax2: IAX (note: does not say "2")',
        "dictate/both_help: press * to toggle pause, press # to enter a new dictation filename",
        "no-wav: There is no recording of this prompt.",
    ]
    wavs = ["agent-pass.wav", "activated.wav", "beep.wav", "spy-iax2.wav", "dictate/both_help.wav"]
    entries = prompts("en", _tree(tmp_path, "en", "en_US_f_Allison", lines, wavs))
    assert [(e.audio.name, e.text) for e in entries] == [
        ("agent-pass.wav", "Please enter your password followed by the pound key."),
        ("both_help.wav", "press star to toggle pause, press pound to enter a new dictation filename"),
    ]
    assert {(e.lang, e.source) for e in entries} == {("en", "asterisk-en")}


def test_prompts_in_other_languages_drop_digits_and_keys(tmp_path: Path) -> None:
    lines = [
        "agent-pass: Por favor ingrese su contrasena seguida por la tecla de numero",
        "conf-adminmenu: Presione 1 para silenciar su linea",
        "dictate/help: presione * para pausar la grabacion",
    ]
    wavs = ["agent-pass.wav", "conf-adminmenu.wav", "dictate/help.wav"]
    entries = prompts("es", _tree(tmp_path, "es", "es_MX_f_Allison", lines, wavs))
    assert [e.audio.name for e in entries] == ["agent-pass.wav"]
    with pytest.raises(ValueError, match="no real-speech set"):
        prompts("de", tmp_path)


def test_load_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "mine.jsonl"
    manifest.write_text(
        '{"audio": "a.wav", "text": "hello there"}\n\n{"audio": "/x/b.wav", "text": "hi", "lang": "fr"}\n'
    )
    first, second = load_manifest(manifest)
    assert (first.audio, first.text, first.lang, first.source) == (
        tmp_path / "a.wav",
        "hello there",
        "en",
        "mine",
    )
    assert (second.audio, second.lang) == (Path("/x/b.wav"), "fr")
    manifest.write_text('{"audio": "a.wav"}\n')
    with pytest.raises(ValueError, match=r"mine.jsonl:1"):
        load_manifest(manifest)


def test_subtitle_text() -> None:
    srt = "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n2\n00:00:02,500 --> 00:00:04,000\nAll good.\n"
    vtt = (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n00:00:02.500 --> 00:00:04.000\nAll good.\n"
    )
    assert subtitle_text(srt) == subtitle_text(vtt) == "Hello there. All good."
