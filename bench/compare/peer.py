"""``python -m bench.compare.peer NAME``: install one peer, serve it, or stream to it alone.

    python -m bench.compare.peer whisperlive              # install (first run), serve, 1 session, stop
    python -m bench.compare.peer whisperlive --sessions 2
    python -m bench.compare.peer whisperlivekit --serve   # keep serving until Ctrl-C
    python -m bench.compare.peer whisperlivekit --install-only

The server always runs on 127.0.0.1 in a process group of its own, stopped on exit or failure.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from bench.compare.compare import main as compare_main
from bench.compare.peers import SYSTEMS
from bench.compare.peers.system import StartOptions, model_dir
from voxrt.bench.corpus import write_corpus

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """By default install the peer (first run), start its server on loopback, stream ``--sessions``
    sessions of corpus speech to it in its own protocol, print the figures and stop it; ``--serve``
    keeps it serving until Ctrl-C; ``--install-only``."""
    parser = argparse.ArgumentParser(prog="python -m bench.compare.peer", description=main.__doc__)
    parser.add_argument("name", choices=[n for n in SYSTEMS if n != "voxrt"])
    parser.add_argument("--sessions", type=int, default=1, help="concurrent sessions")
    parser.add_argument("--utterances", type=int, default=5, help="scored per session")
    parser.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS")
    parser.add_argument("--peers-dir", type=Path, default=Path("bench-results/peers"))
    parser.add_argument("--output-dir", type=Path, help="default: bench-results/peers/NAME-run")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--serve", action="store_true", help="serve on loopback until Ctrl-C")
    action.add_argument("--install-only", action="store_true", help="create the venv and stop")
    args = parser.parse_args(argv)
    name = args.name
    system = SYSTEMS[name]
    args.output_dir = args.output_dir or Path(f"bench-results/peers/{name}-run")
    if args.install_only:
        from bench.compare.peers import whisperlive, whisperlivekit

        print({"whisperlive": whisperlive, "whisperlivekit": whisperlivekit}[name].install(args.peers_dir))
        return 0
    if args.serve:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
        args.output_dir.mkdir(parents=True, exist_ok=True)
        options = StartOptions(
            log_path=args.output_dir / "server.log",
            model_dir=model_dir(),
            threads=args.threads,
            silence_ms=500,
            max_sessions=max(args.sessions, 4),
            warmup_wav=write_corpus(Path("bench-results/corpus"))[0].path.resolve(),
            peers_dir=args.peers_dir.resolve(),
        )
        with system.start(options) as server:
            print(f"{system.name} {system.version()} at {server.ws_base}{system.protocol(options).path}")
            print(f"log: {options.log_path}; Ctrl-C stops it")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print("stopping")
        return 0
    return compare_main(
        [
            "--systems",
            name,
            "--sweep",
            str(args.sessions),
            "--repeats",
            "1",
            "--utterances",
            str(args.utterances),
            "--threads",
            str(args.threads),
            "--peers-dir",
            str(args.peers_dir),
            "--output-dir",
            str(args.output_dir),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
