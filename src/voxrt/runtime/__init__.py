"""What every model shares: one priority order for CPU work, and blocking iterators run off the loop."""

from voxrt.runtime.offload import iterate
from voxrt.runtime.pool import Priority, PriorityPool

__all__ = ["Priority", "PriorityPool", "iterate"]
