"""``voxrt talk``: a conversation with a voxrt server from a terminal, through a microphone and a
speaker (PortAudio, via ``sounddevice``: ``pip install 'voxrt[talk]'``).

The microphone goes to the server as 24 kHz 16-bit PCM in 40 ms blocks; the reply's audio plays as
it arrives. When the server hears speech during a reply, playback stops at once and the server is
told how much of the reply was played (``conversation.item.truncate``), as the browser's Talk mode
does. There is no echo cancellation: use headphones, or the reply may interrupt itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from voxrt.bench.realtime_client import append_event

__all__ = ["Playback", "add_arguments", "converse", "run"]

RATE = 24000
BLOCK = RATE * 40 // 1000  # samples per microphone block


class Playback:
    """Reply audio waiting to be played. The speaker ``pull``s it as it plays (in PortAudio's
    thread); ``stop`` drops what is left and says how much of each reply was heard."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, np.ndarray]] = deque()
        self._played: dict[str, int] = {}  # item -> samples played, while it is in progress
        self._ended: set[str] = set()  # items whose last audio has arrived
        self._cut: set[str] = set()  # items stopped: audio of them still arriving is dropped

    def push(self, item_id: str, pcm: bytes) -> None:
        with self._lock:
            if item_id not in self._cut:
                self._played.setdefault(item_id, 0)
                self._queue.append((item_id, np.frombuffer(pcm, np.int16)))

    def end(self, item_id: str) -> None:
        """All of ``item_id``'s audio has arrived."""
        with self._lock:
            if item_id in self._cut:
                self._cut.discard(item_id)  # nothing more of it will arrive
            elif item_id in self._played:
                self._ended.add(item_id)
                self._forget_played()

    def pull(self, frames: int) -> np.ndarray:
        """The next ``frames`` samples to play (silence where nothing is queued)."""
        out = np.zeros(frames, np.int16)
        filled = 0
        with self._lock:
            while filled < frames and self._queue:
                item_id, samples = self._queue[0]
                take = min(frames - filled, len(samples))
                out[filled : filled + take] = samples[:take]
                filled += take
                self._played[item_id] += take
                if take == len(samples):
                    self._queue.popleft()
                else:
                    self._queue[0] = (item_id, samples[take:])
            self._forget_played()
        return out

    def stop(self) -> list[tuple[str, int]]:
        """Silence now; each reply that was still playing, with the milliseconds of it played."""
        with self._lock:
            self._queue.clear()
            cut = [(item_id, 1000 * samples // RATE) for item_id, samples in self._played.items()]
            self._cut.update(item_id for item_id, _ in cut)
            self._played.clear()
            return cut

    def _forget_played(self) -> None:
        queued = {item_id for item_id, _ in self._queue}
        for item_id in [i for i in self._played if i in self._ended and i not in queued]:
            del self._played[item_id]  # heard to the end: nothing to truncate
            self._ended.discard(item_id)


async def converse(
    url: str,
    session: dict[str, Any],
    microphone: AsyncIterator[bytes],
    playback: Playback,
    say: Callable[[str], None],
    key: str | None = None,
) -> None:
    """Talk with the server at ``url`` (its ``/v1/realtime``) until ``microphone`` ends: its blocks
    go out as ``input_audio_buffer.append``; replies go to ``playback``; what was said, by whom,
    and each reply's voice-to-voice latency go to ``say``, a line at a time.

    Raises:
        RuntimeError: the server refused the session.
        OSError, websockets.exceptions.WebSocketException: the connection failed.
    """
    headers = {"Authorization": f"Bearer {key}"} if key else None
    url = f"{url}/v1/realtime?metrics=true"
    async with connect(url, additional_headers=headers, max_size=None, close_timeout=1) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": session}))
        reader = asyncio.create_task(_read(ws, playback, say))
        try:
            async for block in microphone:
                if reader.done():
                    break
                await ws.send(append_event(block))
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        if reader.done() and not reader.cancelled() and (error := reader.exception()) is not None:
            raise error


async def _read(ws: Any, playback: Playback, say: Callable[[str], None]) -> None:
    reply: list[str] = []  # the reply being spoken, as its transcript arrives
    ready = False
    async for message in ws:
        event = json.loads(message)
        match event.get("type"):
            case "session.updated":
                ready = True
                say("(listening: speak, and stop to hear the answer; Ctrl-C ends)")
            case "input_audio_buffer.speech_started":
                for item_id, played_ms in playback.stop():
                    await ws.send(json.dumps({"type": "conversation.item.truncate", "item_id": item_id,
                                              "content_index": 0, "audio_end_ms": played_ms}))  # fmt: skip
            case "conversation.item.truncated":
                say(f"(interrupted after {event['audio_end_ms'] / 1000:.1f} s)")
            case "conversation.item.input_audio_transcription.completed":
                say(f"you:   {event['transcript'].strip()}")
            case "response.output_audio.delta":
                playback.push(event["item_id"], base64.b64decode(event["delta"]))
            case "response.output_audio.done":
                playback.end(event["item_id"])
            case "response.output_audio_transcript.delta":
                reply.append(event["delta"])
            case "response.done":
                if text := "".join(reply).strip():
                    say(f"voxrt: {text}")
                reply.clear()
            case "voxrt.metrics" if event.get("voice_to_voice_ms") is not None:
                say(f"(voice to voice {event['voice_to_voice_ms']:.0f} ms)")
            case "error":
                if not ready:  # the session was refused
                    raise RuntimeError(event["error"]["message"])
                say(f"(error: {event['error']['message']})")
    say(f"(the server closed the connection{': ' + ws.close_reason if ws.close_reason else ''})")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="ws://127.0.0.1:8000", help="the server (default: local)")
    parser.add_argument("--api-key", help="the server's API key (default: $VOXRT_API_KEY)")
    parser.add_argument("--voice", help="the reply's voice (default: the server's)")
    parser.add_argument("--instructions", help="the system prompt (default: the server's)")
    parser.add_argument(
        "--turn-detection", choices=["server_vad", "semantic_vad"], default="server_vad", help="end of turn"
    )
    parser.add_argument("--input-device", help="microphone, by number or name (default: the system's)")
    parser.add_argument("--output-device", help="speaker, by number or name (default: the system's)")
    parser.add_argument("--list-devices", action="store_true", help="list the audio devices and exit")


def run(args: argparse.Namespace, environ: dict[str, str]) -> int:
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:  # OSError: the PortAudio library itself is missing
        print(
            f"voxrt talk needs PortAudio and sounddevice ({exc}): pip install 'voxrt[talk]', "
            "and on Debian/Ubuntu apt install libportaudio2.",
            file=sys.stderr,
        )
        return 1
    if args.list_devices:
        print(sd.query_devices())
        return 0
    session: dict[str, Any] = {
        "type": "realtime",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": RATE},
                "turn_detection": {"type": args.turn_detection},
            },
            "output": {"format": {"type": "audio/pcm", "rate": RATE}},
        },
    }
    if args.voice:
        session["audio"]["output"]["voice"] = args.voice
    if args.instructions:
        session["instructions"] = args.instructions
    playback = Playback()
    url = args.url.replace("http", "ws", 1) if args.url.startswith("http") else args.url
    try:
        with _speaker(sd, playback, _device(args.output_device)):
            asyncio.run(
                converse(url.rstrip("/"), session, _microphone(sd, _device(args.input_device)), playback,
                         print, args.api_key or environ.get("VOXRT_API_KEY"))
            )  # fmt: skip
    except KeyboardInterrupt:
        return 0
    except (OSError, RuntimeError, WebSocketException, sd.PortAudioError) as exc:
        print(f"voxrt talk: {exc}", file=sys.stderr)
        return 1
    return 0


def _device(name: str | None) -> int | str | None:
    return int(name) if name is not None and name.isdigit() else name


@contextmanager
def _speaker(sd: Any, playback: Playback, device: int | str | None) -> Iterator[None]:
    def play(outdata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        outdata[:, 0] = playback.pull(frames)

    with sd.OutputStream(samplerate=RATE, channels=1, dtype="int16", device=device, callback=play):
        yield


async def _microphone(sd: Any, device: int | str | None) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    blocks: asyncio.Queue[bytes] = asyncio.Queue(maxsize=250)  # 10 s: a stalled connection drops audio

    def keep(block: bytes) -> None:
        if not blocks.full():
            blocks.put_nowait(block)

    def heard(indata: Any, _frames: int, _time: Any, _status: Any) -> None:
        loop.call_soon_threadsafe(keep, bytes(indata))

    with sd.RawInputStream(
        samplerate=RATE, blocksize=BLOCK, channels=1, dtype="int16", device=device, callback=heard
    ):
        while True:
            yield await blocks.get()
