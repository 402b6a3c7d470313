"""GET /metrics after real traffic: the Prometheus series agree with what clients were sent, and
count the turns of a session that asked for no ``voxrt.metrics`` events (``?metrics=false``)."""

from __future__ import annotations

import asyncio
import io

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import API_KEY
from tests.speech import pcm16, speech_stream
from voxrt.audio.pcm import wav_bytes
from voxrt.bench.realtime_client import RealtimeClient
from voxrt.bench.server import ServerProcess

pytestmark = pytest.mark.e2e


def _samples(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text  # no API key: scrapers send none
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_agree_with_the_traffic(server: ServerProcess) -> None:
    speech = speech_stream(gaps_ms=(1200,), lead_ms=500, tail_ms=1500)
    auth = {"Authorization": f"Bearer {API_KEY}"}
    url = f"{server.base_url}/v1/audio/transcriptions"
    wav = wav_bytes(speech.audio, 16000)
    for _ in range(2):
        reply = httpx.post(url, headers=auth, files={"file": ("a.wav", io.BytesIO(wav))}, timeout=60)
        assert reply.status_code == 200
    bad = httpx.post(url, headers=auth, files={"file": ("a.wav", io.BytesIO(b"not audio"))}, timeout=60)
    assert bad.status_code == 400
    code = bad.json()["error"]["code"]

    async def session(query: str = "") -> list[dict[str, object]]:
        client = await RealtimeClient.open(server.realtime_url + query, API_KEY)
        await client.stream(pcm16(speech.audio), 24000, speed=4.0)
        await client.wait_for("conversation.item.input_audio_transcription.completed", 2, timeout=60)
        await client.send({"type": "no.such.event"})
        await client.wait_for("error")  # after every event of the turns, metrics included
        await client.close()
        return [e for _, e in client.events]

    events = asyncio.run(session())
    turns = [e for e in events if e["type"] == "voxrt.metrics"]
    unasked = asyncio.run(session("&metrics=false"))
    assert len(turns) == 2 and not [e for e in unasked if e["type"] == "voxrt.metrics"]
    partials = sum(len(e["asr_partial_ms"]) for e in turns)  # type: ignore[arg-type,misc]

    samples = _samples(server.base_url)
    route = (("route", "/v1/audio/transcriptions"),)
    assert samples[("voxrt_http_requests_total", (("method", "POST"), *route, ("status", "200")))] == 2
    assert samples[("voxrt_http_requests_total", (("method", "POST"), *route, ("status", "400")))] == 1
    assert samples[("voxrt_http_request_seconds_count", route)] == 3
    assert samples[("voxrt_asr_final_seconds_count", ())] == 4  # sent or not, every turn counts
    assert samples[("voxrt_endpoint_seconds_count", ())] == 4
    assert samples[("voxrt_asr_partial_seconds_count", ())] >= partials
    assert samples[("voxrt_utterances_total", (("outcome", "completed"),))] == 4
    assert samples[("voxrt_errors_total", (("code", code),))] == 1
    assert samples[("voxrt_errors_total", (("code", "unknown_event"),))] >= 1
    assert samples[("voxrt_realtime_sessions", ())] == 0
    assert samples[("process_resident_memory_bytes", ())] > 50e6
    assert ("voxrt_inference_queue_depth", ()) in samples
