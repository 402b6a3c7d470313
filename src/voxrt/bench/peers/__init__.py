"""voxrt beside its peers: WhisperLive and WhisperLiveKit, each installed in a pinned virtualenv of
its own, served on loopback from the same CTranslate2 model directory, and spoken to in its own
protocol. ``voxrt bench compare`` (``voxrt.bench.compare``) runs them in turn."""

from voxrt.bench.peers.system import System
from voxrt.bench.peers.voxrt_system import VOXRT
from voxrt.bench.peers.whisperlive import WHISPERLIVE
from voxrt.bench.peers.whisperlivekit import WHISPERLIVEKIT

__all__ = ["SYSTEMS", "System"]

SYSTEMS: dict[str, System] = {"voxrt": VOXRT, "whisperlive": WHISPERLIVE, "whisperlivekit": WHISPERLIVEKIT}
