"""``voxrt``: serve | transcribe | say | voices | setup | talk | config | bench."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.asr import ASREngine, Segment, Transcription, TranscriptionOptions, create_asr_engine
from voxrt.asr.formats import RESPONSE_FORMATS, render
from voxrt.audio import SAMPLE_RATE, decode_audio
from voxrt.config import ConfigError, Settings, example_yaml, load_settings, settings_yaml
from voxrt.errors import VoxrtError
from voxrt.logs import configure_logging
from voxrt.runtime.memory import bound_native_caches

__all__ = ["main"]

EXIT_CONFIG = 2


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _settings(args: argparse.Namespace, overrides: dict[str, Any] | None = None) -> Settings:
    settings = load_settings(args.config, overrides)
    configure_logging(settings.logging)
    return settings


def _serve(args: argparse.Namespace) -> int:
    bound_native_caches()  # before any model loads or worker thread starts
    import uvicorn

    from voxrt.server import create_app
    from voxrt.server.http import header_timeout_protocol
    from voxrt.server.process import DrainingServer

    server: dict[str, Any] = {}
    if args.host is not None:
        server["host"] = args.host
    if args.port is not None:
        server["port"] = args.port
    settings = _settings(args, {"server": server} if server else None)
    host = settings.server.host
    if not _is_loopback(host) and not settings.auth.keys() and not settings.auth.allow_anonymous:
        raise ConfigError(
            f"server.host = {host!r}: binding a non-loopback address needs API keys "
            "(auth.api_keys or auth.api_key_file), or auth.allow_anonymous: true to serve without them."
        )
    app = create_app(settings)
    shown = f"[{host}]" if ":" in host else host
    print(f"voxrt: browser UI at http://{shown}:{settings.server.port}/", file=sys.stderr, flush=True)
    config = uvicorn.Config(
        app,
        host=host,
        port=settings.server.port,
        log_level=settings.logging.level.lower(),
        log_config=None,  # uvicorn's loggers go through voxrt's handler (text or JSON)
        # a message a little over the limit gets an error event from voxrt; far over, a 1009 close
        ws_max_size=2 * settings.realtime.max_message_bytes,
        http=header_timeout_protocol(settings.server.header_timeout_s),  # slowloris: headers have a deadline
        timeout_graceful_shutdown=5,  # after the drain: requests still running get this long
    )
    DrainingServer(config, app).run()
    return 0


def _transcribe(args: argparse.Namespace) -> int:
    bound_native_caches()  # many files of many lengths
    settings = _settings(args)
    engine = create_asr_engine(settings.asr)
    engine.load(warmup=False)
    options = TranscriptionOptions(
        language=args.language,
        prompt=args.prompt,
        word_timestamps=args.format == "verbose_json" and args.word_timestamps,
        timestamps=args.format in ("verbose_json", "srt", "vtt"),
    )
    failed = 0
    for path in args.files:
        try:
            audio = decode_audio(path.read_bytes())
        except (OSError, VoxrtError) as exc:
            print(f"voxrt: {path}: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
            failed += 1
            continue
        result = _with_progress(engine, audio, options, args.quiet)
        body = render(result, args.format)
        text = json.dumps(body, indent=2, ensure_ascii=False) + "\n" if isinstance(body, dict) else body
        if args.output_dir:
            args.output_dir.mkdir(parents=True, exist_ok=True)
            suffix = (
                "json" if args.format.endswith("json") else "txt" if args.format == "text" else args.format
            )
            (args.output_dir / f"{path.stem}.{suffix}").write_text(text)
        else:
            if len(args.files) > 1:
                print(f"==> {path} <==")
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
    engine.close()
    return 1 if failed else 0


def _with_progress(
    engine: ASREngine, audio: np.ndarray, options: TranscriptionOptions, quiet: bool
) -> Transcription:
    """Decode with a progress bar on stderr for audio longer than 30 s."""
    from tqdm import tqdm

    duration = round(len(audio) / SAMPLE_RATE, 1)
    with tqdm(
        total=duration,
        disable=quiet or duration < 30,
        desc="transcribing",
        bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s audio [{elapsed}<{remaining}]",
    ) as bar:
        done = 0.0

        def advance(segment: Segment) -> None:
            nonlocal done
            bar.update(segment.end - done)
            done = segment.end

        result = asyncio.run(engine.transcribe(audio, options, on_segment=advance))
        bar.update(duration - done)
    return result


def _say(args: argparse.Namespace) -> int:
    from voxrt.tts.cli import say

    overrides = {"tts": {"engine": args.engine}} if args.engine else None
    return say(args, _settings(args, overrides))


def _voices(args: argparse.Namespace) -> int:
    from voxrt.tts.cli import voices

    overrides = {"tts": {"engine": args.engine}} if args.engine else None
    return voices(_settings(args, overrides))


def _setup(args: argparse.Namespace) -> int:
    from voxrt.tts.cli import setup_kokoro

    return setup_kokoro(_settings(args))


def _talk(args: argparse.Namespace) -> int:
    from voxrt.talk import run

    return run(args, dict(os.environ))


def _config(args: argparse.Namespace) -> int:
    if args.action == "example":
        sys.stdout.write(example_yaml())
    else:
        sys.stdout.write(settings_yaml(load_settings(args.config)))
    return 0


# voxrt bench NAME: the module that holds its ``add_arguments`` and ``run``, imported only when used
_BENCHES = {
    "transcribe": ("voxrt.bench.transcribe", "REST throughput vs direct"),
    "stream": ("voxrt.bench.stream", "realtime latency and capacity"),
    "engine": ("voxrt.bench.engine", "one recognizer: latency and tokens/s"),
    "accuracy": ("voxrt.bench.accuracy", "WER of each path on real speech"),
    "llm": ("voxrt.bench.llm", "the configured responder: time to first token and tokens/s"),
    "tts": ("voxrt.bench.tts", "speech synthesis: first audio and RTF per engine"),
    "soak": ("voxrt.bench.soak", "many sessions for a long time: growth and failures"),
    "agent": ("voxrt.bench.agent", "conversations: voice-to-voice latency by stage, barge-in"),
    "turns": ("voxrt.bench.turns", "end-of-turn delay of server_vad and semantic_vad on spoken questions"),
}


def _bench(args: argparse.Namespace) -> int:
    module = importlib.import_module(_BENCHES[args.bench][0])
    return int(module.run(args, _settings(args)))


def _parser(argv: list[str]) -> argparse.ArgumentParser:
    """The command line; a benchmark's own options are added only when ``argv`` runs one."""
    parser = argparse.ArgumentParser(prog="voxrt", description="Self-hosted real-time voice AI server.")
    parser.add_argument("--version", action="version", version=f"voxrt {_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="YAML config file (default: $VOXRT_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the server")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.set_defaults(func=_serve)

    tr = sub.add_parser("transcribe", parents=[common], help="transcribe audio files")
    tr.add_argument("files", nargs="+", type=Path, metavar="FILE")
    tr.add_argument("--format", "-f", choices=RESPONSE_FORMATS, default="text")
    tr.add_argument("--language", help="language code, e.g. en")
    tr.add_argument("--prompt", help="text to condition the decode on")
    tr.add_argument("--word-timestamps", action="store_true", help="words in verbose_json")
    tr.add_argument("--output-dir", "-o", type=Path, help="write FILE.<format> here instead of stdout")
    tr.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    tr.set_defaults(func=_transcribe)

    from voxrt.tts.cli import add_say_arguments

    say = sub.add_parser("say", parents=[common], help="speak text to an audio file (or play it)")
    add_say_arguments(say)
    say.set_defaults(func=_say)
    voices = sub.add_parser("voices", parents=[common], help="list the voices of the TTS engine")
    voices.add_argument("--engine", choices=["piper", "kokoro", "espeak"], help="default: tts.engine")
    voices.set_defaults(func=_voices)
    setup = sub.add_parser("setup", parents=[common], help="one-off set-up steps (before serving)")
    setup.add_argument("what", choices=["kokoro"], help="kokoro: voices file from npm kokoro-js, model")
    setup.set_defaults(func=_setup)

    from voxrt.talk import add_arguments as add_talk_arguments

    talk = sub.add_parser("talk", help="talk with a running server through the microphone and speaker")
    add_talk_arguments(talk)
    talk.set_defaults(func=_talk)

    cfg = sub.add_parser("config", parents=[common], help="show the effective config or an example")
    cfg.add_argument("action", choices=["show", "example"])
    cfg.set_defaults(func=_config)

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    for name, (module, text) in _BENCHES.items():
        bench_parser = bench_sub.add_parser(name, parents=[common], help=text)
        if argv[:2] == ["bench", name]:
            importlib.import_module(module).add_arguments(bench_parser)
    bench.set_defaults(func=_bench)
    return parser


def _version() -> str:
    import voxrt

    return voxrt.__version__


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser(argv).parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"voxrt: {exc}", file=sys.stderr)
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
