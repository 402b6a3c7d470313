"""WhisperLive (collabora/WhisperLive) beside voxrt: install it in its own pinned virtualenv, serve it on
loopback from voxrt's tiny.en CTranslate2 directory, and stream corpus speech to it in its own
protocol. Run with voxrt's python (`make test` or `make serve` creates .venv):

    .venv/bin/python bench/peers/whisperlive.py   # install (first run), serve, stream 1 session, stop
    .venv/bin/python bench/peers/whisperlive.py --sessions 2
    .venv/bin/python bench/peers/whisperlive.py --serve   # keep serving until Ctrl-C
    .venv/bin/python bench/peers/whisperlive.py --install-only

The server always runs on 127.0.0.1 in a process group of its own, stopped on exit or failure.
`voxrt bench compare` runs this peer, the other one and voxrt in one go.
"""

import sys

from voxrt.bench.peers.cli import main

if __name__ == "__main__":
    sys.exit(main("whisperlive"))
