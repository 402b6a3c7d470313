"""voxrt beside its peers: WhisperLive and WhisperLiveKit, each installed in a pinned virtualenv of
its own, served on loopback from the same CTranslate2 model directory, and spoken to in its own
protocol. ``python -m bench.compare`` runs them in turn."""

from bench.compare.peers.system import System
from bench.compare.peers.voxrt_system import VOXRT
from bench.compare.peers.whisperlive import WHISPERLIVE
from bench.compare.peers.whisperlivekit import WHISPERLIVEKIT

__all__ = ["SYSTEMS", "System"]

SYSTEMS: dict[str, System] = {"voxrt": VOXRT, "whisperlive": WHISPERLIVE, "whisperlivekit": WHISPERLIVEKIT}
