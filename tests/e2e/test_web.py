"""The browser UI in headless Chromium (Debian's package, driven by Playwright; nothing downloads a
browser): a WAV of known speech plays as the microphone, and the page must show its transcript and
the latency; in Talk mode it must play the spoken reply, show the conversation and its stage
breakdown, and stop the reply when the user speaks over it; microphone and server failures must
show in plain words, and the page must reconnect. Screenshots go to artifacts/."""

from __future__ import annotations

import base64
import json
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from playwright.sync_api import Browser, Page, Playwright, WebSocket, expect, sync_playwright

from tests.speech import RATE, speech_stream
from voxrt.audio import resample
from voxrt.audio.pcm import to_float32, to_int16
from voxrt.bench.corpus import SENTENCES, synthesize, write_wav
from voxrt.bench.server import ServerProcess, free_port, running_server
from voxrt.bench.wer import wer

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
KEY = "web-key"
FINALS = ".utterance:not(.provisional):not(.failed) .text"
SPOKEN = 5


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package.")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five sentences with 1.2 s pauses, after 2 s of silence (the file starts when the page opens
    the microphone, and the page connects after that)."""
    stream = speech_stream(gaps_ms=(1200,) * (SPOKEN - 1), lead_ms=2000, tail_ms=2500)
    path = tmp_path_factory.mktemp("web") / "speech.wav"
    write_wav(path, to_int16(stream.audio), RATE)
    return path


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("web-server")
    config = directory / "voxrt.yaml"
    # A reply's audio may run 5 s ahead of playback (1.5 by default): the page holds seconds of
    # it when the user speaks over it, so the test shows the page stopping playback on its own.
    conversation = {"audio_lead_ms": 5000}
    config.write_text(yaml.safe_dump({"auth": {"api_keys": [KEY]}, "conversation": conversation}))
    with running_server(directory / "server.log", config=config) as process:
        yield process


@contextmanager
def chromium(playwright: Playwright, audio: Path, loop: bool = False) -> Iterator[Browser]:
    """Chromium with ``audio`` as its microphone; the permission is granted per context."""
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={audio}{'' if loop else '%noloop'}",
    ]
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
    try:
        yield browser
    finally:
        browser.close()


def open_page(browser: Browser, url: str, microphone: bool = True, key: str = KEY) -> Page:
    context = browser.new_context(
        permissions=["microphone"] if microphone else [], viewport={"width": 1280, "height": 860}
    )
    page = context.new_page()
    page.goto(url)
    page.click("summary")  # the settings
    page.fill("#api-key", key)
    page.press("#api-key", "Tab")
    return page


def finals(page: Page) -> list[str]:
    return page.locator(FINALS).all_inner_texts()


def test_page_shows_the_transcript_and_latency_of_spoken_audio(
    playwright: Playwright, web_server: ServerProcess, speech_wav: Path
) -> None:
    with chromium(playwright, speech_wav) as browser:
        page = open_page(browser, web_server.base_url + "/")
        page.reload()  # the key stays for the browser tab's life
        page.keyboard.press("Tab")  # the Start button is first in the tab order, and a key press works it
        expect(page.locator("#start")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_have_text("Listening", timeout=15_000)
        # the meter moves (polled from here: wait_for_function evaluates strings, which the CSP forbids)
        level = page.locator("#level")
        deadline = time.monotonic() + 15
        while level.evaluate("meter => meter.value") <= 0.02:
            assert time.monotonic() < deadline, "the level meter never moved"
            time.sleep(0.05)
        expect(page.locator("#speaking")).to_have_text("Speaking", timeout=15_000)
        # Deltas show, provisional, before the utterance's completed text replaces them.
        page.wait_for_selector(".utterance.provisional .text:not(:empty)", timeout=30_000)
        expect(page.locator(FINALS)).to_have_count(SPOKEN, timeout=60_000)
        expect(page.locator("#lat-count")).to_have_text(str(SPOKEN), timeout=5_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-ui.png"))

        texts = finals(page)
        assert wer([" ".join(SENTENCES[:SPOKEN])], [" ".join(texts)]) <= 0.15, texts
        for figure in ("#lat-last", "#lat-p50", "#lat-p95"):
            assert re.fullmatch(r"\d+ ms", page.inner_text(figure)), figure
        assert page.inner_text("#announcer") == texts[-1]  # the screen-reader live region
        times = page.locator(".utterance time").all_inner_texts()
        assert times == sorted(times) and all(re.fullmatch(r"\d\d:\d\d\.\d", t) for t in times)

        with page.expect_download() as download:
            page.click("#download-srt")
        srt = Path(download.value.path()).read_text()
        blocks = srt.strip().split("\n\n")
        assert [block.splitlines()[2] for block in blocks] == texts
        cue = re.compile(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}")
        assert all(cue.fullmatch(block.splitlines()[1]) for block in blocks)

        page.click("#start")
        expect(page.locator("#status")).to_have_text("Stopped")


def test_vad_settings_reach_the_server(
    playwright: Playwright, web_server: ServerProcess, speech_wav: Path
) -> None:
    """With 2 s of silence to end an utterance, the five sentences 1.2 s apart are one utterance."""
    with chromium(playwright, speech_wav) as browser:
        page = open_page(browser, web_server.base_url + "/")
        page.focus("#silence")
        page.keyboard.press("End")  # the slider's maximum, from the keyboard
        expect(page.locator("#silence-value")).to_have_text("2000 ms")
        page.click("#start")
        expect(page.locator(FINALS)).to_have_count(1, timeout=60_000)
        assert wer([" ".join(SENTENCES[:SPOKEN])], finals(page)) <= 0.15, finals(page)


def test_denied_microphone_is_explained(
    playwright: Playwright, web_server: ServerProcess, speech_wav: Path
) -> None:
    with chromium(playwright, speech_wav) as browser:
        page = open_page(browser, web_server.base_url + "/", microphone=False)
        page.click("#start")
        expect(page.locator("#notice")).to_contain_text("Microphone permission denied")
        expect(page.locator("#start")).to_have_text("Start")
        page.screenshot(path=str(ARTIFACTS / "web-ui-denied.png"))


def test_wrong_key_is_explained(playwright: Playwright, web_server: ServerProcess, speech_wav: Path) -> None:
    with chromium(playwright, speech_wav) as browser:
        page = open_page(browser, web_server.base_url + "/", key="wrong")
        page.click("#start")
        expect(page.locator("#notice")).to_contain_text("Authentication refused")
        expect(page.locator("#status")).to_have_text("Stopped")


def test_websocket_url_follows_the_page_behind_a_tls_proxy(
    playwright: Playwright, web_server: ServerProcess, speech_wav: Path
) -> None:
    with chromium(playwright, speech_wav) as browser:
        page = open_page(browser, web_server.base_url + "/")
        url = page.evaluate(
            """async (page) => (await import("./static/connection.js"))
                .serverUrl("v1/realtime?intent=transcription", true, page).href""",
            "https://proxy.example/voxrt/",
        )
        assert url == "wss://proxy.example/voxrt/v1/realtime?intent=transcription"


def test_page_reconnects_when_the_server_returns(
    playwright: Playwright, tmp_path: Path, speech_wav: Path
) -> None:
    port = free_port()
    with chromium(playwright, speech_wav, loop=True) as browser:
        with running_server(tmp_path / "first.log", port=port) as server:
            page = open_page(browser, server.base_url + "/", key="")
            page.click("#start")
            expect(page.locator(FINALS)).to_have_count(1, timeout=30_000)
        expect(page.locator("#status")).to_have_text("Reconnecting…", timeout=10_000)
        expect(page.locator("#notice")).to_contain_text("Retrying in")
        page.screenshot(path=str(ARTIFACTS / "web-ui-reconnecting.png"))
        before = len(finals(page))
        with running_server(tmp_path / "second.log", port=port):
            expect(page.locator("#status")).to_have_text("Listening", timeout=30_000)
            expect(page.locator("#notice")).to_be_hidden()
            expect(page.locator(FINALS)).to_have_count(before + 1, timeout=30_000)


# -- Talk mode --

QUESTION = "Tell me about the planet Mars."
FOLLOW_UP = "What is the capital of France?"
INSTRUCTIONS = "You answer in great detail, in many long sentences."
# The follow-up starts this long after the question ends: by then the reply (asked for at length:
# 45 s of speech and more here) has been playing for a while even on a busy 2-core machine (its
# first audio came 4-9 s after the question here), past the server's 3 s echo guard.
FOLLOW_UP_AFTER_S = 15.0
OUTPUT_RATE = 24000  # the page asks for replies in 24 kHz PCM


@pytest.fixture(scope="module")
def talk_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spoken question, a pause in which its reply starts, and a second question over the reply."""

    def spoken(text: str) -> np.ndarray:
        samples, rate = synthesize(text, exact=True)
        return resample(to_float32(samples), rate, RATE)

    def silence(seconds: float) -> np.ndarray:
        return np.zeros(int(seconds * RATE), np.float32)

    audio = np.concatenate(
        [silence(2.5), spoken(QUESTION), silence(FOLLOW_UP_AFTER_S), spoken(FOLLOW_UP), silence(10)]
    )
    path = tmp_path_factory.mktemp("talk") / "talk.wav"
    write_wav(path, to_int16(audio), RATE)
    return path


# Installed by the test, not the page (CSP does not apply to Playwright's evaluate): records each
# update of the playback node's counters, and when each user turn's bubble appears (the page adds it
# in its speech_started handler, the task that stops playback), on the page's clock. Readings from
# Python would be as late as the machine is busy.
PROBE = """() => {
  const probe = { counters: [], userTurns: [] };
  const speaker = document.getElementById("speaker");
  const read = () => [performance.now(), Number(speaker.dataset.playedMs), Number(speaker.dataset.audibleMs)];
  const counted = new MutationObserver(() => probe.counters.push(read()));
  counted.observe(speaker, { attributeFilter: ["data-played-ms"] });
  new MutationObserver((records) => {
    for (const node of records.flatMap((record) => [...record.addedNodes])) {
      if (node.classList.contains("user")) probe.userTurns.push(performance.now());
    }
  }).observe(document.getElementById("chat"), { childList: true });
  probe.counters.push(read());
  window.talkProbe = probe;
}"""


def js_round(value: float) -> int:
    """JavaScript's Math.round: halves go up (Python's round goes to even)."""
    return math.floor(value + 0.5)


class Frames:
    """The events the page sends and receives on its realtime WebSocket, each with when it passed
    (``time.monotonic``), as the browser's network layer saw them: nothing in the page is changed."""

    def __init__(self, page: Page) -> None:
        self.sent: list[tuple[float, dict[str, Any]]] = []
        self.received: list[tuple[float, dict[str, Any]]] = []
        page.on("websocket", self._socket)

    def _socket(self, socket: WebSocket) -> None:
        if "/v1/realtime" in socket.url:
            socket.on("framesent", lambda payload: self._add(self.sent, payload))
            socket.on("framereceived", lambda payload: self._add(self.received, payload))

    @staticmethod
    def _add(into: list[tuple[float, dict[str, Any]]], payload: str | bytes) -> None:
        event = json.loads(payload)
        if event["type"] != "input_audio_buffer.append":
            into.append((time.monotonic(), event))

    def of(self, kind: str, sent: bool = False) -> list[tuple[float, dict[str, Any]]]:
        return [(t, e) for t, e in (self.sent if sent else self.received) if e["type"] == kind]


def test_talk_mode_plays_the_reply_and_stops_it_when_the_user_speaks(
    playwright: Playwright, web_server: ServerProcess, talk_wav: Path
) -> None:
    with chromium(playwright, talk_wav) as browser:
        page = open_page(browser, web_server.base_url + "/")
        frames = Frames(page)
        page.check('input[name="mode"][value="talk"]')
        page.fill("#instructions", INSTRUCTIONS)
        page.evaluate(PROBE)
        page.click("#start")
        expect(page.locator("#status")).to_have_text("Listening", timeout=15_000)
        expect(page.locator('input[name="mode"][value="transcribe"]')).to_be_disabled()
        # The voice menu lists the server's voices; one chosen before the assistant speaks is used.
        voice = page.locator("#voice option").nth(1).get_attribute("value")
        assert voice
        page.select_option("#voice", voice)

        deadline = time.monotonic() + 150
        while len([e for _, e in frames.of("voxrt.metrics") if e.get("response_id")]) < 2:
            assert time.monotonic() < deadline, [e["type"] for _, e in frames.received[-30:]]
            page.wait_for_timeout(50)

        updates = [e["session"] for _, e in frames.of("session.update", sent=True)]
        assert updates[0]["instructions"] == INSTRUCTIONS
        assert updates[-1]["audio"]["output"]["voice"] == voice
        assert frames.of("session.updated")[-1][1]["session"]["audio"]["output"]["voice"] == voice

        # The reply was played: the node output seconds of sound before the user spoke again.
        audio = frames.of("response.output_audio.delta")
        barge_at = next(t for t, _ in frames.of("input_audio_buffer.speech_started") if t > audio[0][0])
        reply = audio[0][1]["item_id"]
        probe = page.evaluate("() => window.talkProbe")
        heard_at = probe["userTurns"][1]  # the follow-up's speech_started, on the page's clock
        counters = probe["counters"]  # (page clock, ms played, ms of it that carried sound)
        before = [c for c in counters if c[0] <= heard_at][-1]
        assert before[2] >= 1000, f"only {before[2]} ms of sound played before the follow-up"
        # ... and stopped within 200 ms of speech_started: what it played after the last update of
        # its counters before the event (an upper bound), by 1 s later (the follow-up is still
        # being spoken then: no new reply yet).
        stopped_at, stopped_audible = [c[1:] for c in counters if c[0] <= heard_at + 1000][-1]
        assert stopped_at - before[1] <= 200, (before, stopped_at)

        # The truncate says how much of the reply was played, which is less than it had received.
        truncates = [e for _, e in frames.of("conversation.item.truncate", sent=True)]
        assert [(e["item_id"], e["content_index"]) for e in truncates] == [(reply, 0)]
        played_ms = truncates[0]["audio_end_ms"]
        assert abs(played_ms - stopped_at) <= 2  # all the node played before the next reply
        received_ms = sum(
            1000 * len(base64.b64decode(e["delta"])) / 2 / OUTPUT_RATE
            for t, e in audio
            if e["item_id"] == reply and t <= barge_at
        )
        assert played_ms + 200 < received_ms, (played_ms, received_ms)  # it would have played on
        assert [e["audio_end_ms"] for _, e in frames.of("conversation.item.truncated")] == [played_ms]
        first_done = frames.of("response.done")[0][1]["response"]
        assert (first_done["status"], first_done["status_details"]["reason"]) == (
            "cancelled",
            "turn_detected",
        )

        # The conversation: both turns as bubbles, the interrupted reply marked, each reply with its
        # stage breakdown as the server measured it, and voice-to-voice p50/p95.
        expect(page.locator("#chat .bubble.assistant .stages")).to_have_count(2, timeout=10_000)
        bubbles = page.locator("#chat .bubble")
        roles = [c.split()[1] for c in bubbles.evaluate_all("rows => rows.map(r => r.className)")]
        assert roles == ["user", "assistant", "user", "assistant"]
        asked = page.locator("#chat .bubble.user .text").all_inner_texts()
        assert wer([QUESTION], [asked[0]]) <= 0.15 and wer([FOLLOW_UP], [asked[1]]) <= 0.15, asked
        answers = page.locator("#chat .bubble.assistant")
        assert all(text.strip() for text in answers.locator(".text").all_inner_texts())
        expect(answers.nth(0)).to_have_class(re.compile(r"\binterrupted\b"))
        expect(answers.nth(0).locator(".note")).to_have_text(f"interrupted after {played_ms / 1000:.1f} s")
        metrics = [e for _, e in frames.of("voxrt.metrics")]
        for turn in range(2):
            reply_metrics = [e for e in metrics if e.get("response_id")][turn]
            user_metrics = next(
                e for e in metrics if e["item_id"] == reply_metrics["item_id"] and not e.get("response_id")
            )
            bar = answers.nth(turn).locator(".stages")
            stage = {
                key: int(bar.locator(f".stage.{key}").get_attribute("data-ms") or -1)
                for key in ("endpoint", "llm", "tts")
            }
            assert stage == {
                "endpoint": js_round(user_metrics["endpoint_ms"]),
                "llm": js_round(reply_metrics["llm_ttft_ms"]),
                "tts": js_round(reply_metrics["tts_ttfb_ms"]),
            }
            assert bar.locator(".stage.asr").count() == 1
            expect(bar.locator(".stage-total")).to_have_text(
                f"voice to voice {js_round(reply_metrics['voice_to_voice_ms'])} ms"
            )
        expect(page.locator("#v2v-count")).to_have_text("2")
        for figure in ("#v2v-p50", "#v2v-p95", "#stage-endpoint", "#stage-llm", "#stage-tts"):
            assert re.fullmatch(r"\d+ ms", page.inner_text(figure)), figure
        # the second reply plays too
        while page.locator("#speaker").evaluate("m => Number(m.dataset.audibleMs)") <= stopped_audible:
            assert time.monotonic() < deadline + 10, "the second reply was not played"
            page.wait_for_timeout(50)

        page.click("summary")  # settings closed, for the picture
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-ui-talk.png"))
        page.click("#start")
        expect(page.locator("#status")).to_have_text("Stopped")


def test_talk_on_a_server_without_a_language_model_is_explained(
    playwright: Playwright, tmp_path: Path, speech_wav: Path
) -> None:
    config = tmp_path / "voxrt.yaml"
    config.write_text(yaml.safe_dump({"llm": {"engine": "voxtral"}}))  # needs asr.engine voxtral: none
    with (
        running_server(tmp_path / "server.log", config=config) as server,
        chromium(playwright, speech_wav) as browser,
    ):
        page = open_page(browser, server.base_url + "/", key="")
        page.check('input[name="mode"][value="talk"]')
        page.click("#start")
        expect(page.locator("#notice")).to_contain_text("Conversation sessions need a language model")
        expect(page.locator("#status")).to_have_text("Stopped")
        expect(page.locator("#start")).to_have_text("Start")
        page.check('input[name="mode"][value="transcribe"]')  # the rest of the server works
        page.click("#start")
        expect(page.locator("#status")).to_have_text("Listening", timeout=15_000)
