"""What every model shares: one priority order for CPU work, and blocking iterators run off the loop.

The registry of a server's models is ``voxrt.runtime.models.Models``, imported from its module: it
builds the engines, which import this package.
"""

from voxrt.runtime.offload import iterate
from voxrt.runtime.pool import Priority, PriorityPool

__all__ = ["Priority", "PriorityPool", "iterate"]
