"""Start WhisperLive's server as its ``run_server.py`` does (the PyPI wheel ships no such script).

Run by the python of WhisperLive's own virtualenv, not voxrt's: it imports only ``whisper_live``.
Like upstream, ``--omp_num_threads`` sets OMP_NUM_THREADS unless the environment already does, and
one model is shared by every connection (``single_model``) when a custom model path is given.
"""

from __future__ import annotations

import argparse
import os


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", "-p", type=int, default=9090)
    parser.add_argument("--faster_whisper_custom_model_path", "-fw", required=True)
    parser.add_argument("--omp_num_threads", "-omp", type=int, default=1)
    parser.add_argument("--max_clients", type=int, default=4)
    parser.add_argument("--max_connection_time", type=int, default=600)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.omp_num_threads))

    from whisper_live.server import TranscriptionServer

    TranscriptionServer().run(
        args.host,
        port=args.port,
        backend="faster_whisper",
        faster_whisper_custom_model_path=args.faster_whisper_custom_model_path,
        single_model=True,
        max_clients=args.max_clients,
        max_connection_time=args.max_connection_time,
    )


if __name__ == "__main__":
    main()
