"""voxrt: a self-hosted real-time voice AI server with OpenAI-compatible APIs."""

from importlib.metadata import version

__version__ = version("voxrt")
__all__ = ["__version__"]
