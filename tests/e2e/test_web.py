"""The browser UI in headless Chromium (Debian's package, driven by Playwright; nothing downloads a
browser): a WAV of known speech plays as the microphone, and the page must show its transcript and
the latency; microphone and server failures must show in plain words, and the page must reconnect.
Screenshots go to artifacts/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.speech import RATE, speech_stream
from voxrt.audio.pcm import to_int16
from voxrt.bench.corpus import SENTENCES, write_wav
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
    config.write_text(yaml.safe_dump({"auth": {"api_keys": [KEY]}}))
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
