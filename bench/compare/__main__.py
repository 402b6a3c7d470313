"""``python -m bench.compare``: voxrt beside WhisperLive and WhisperLiveKit."""

import sys

from bench.compare.compare import main

sys.exit(main())
