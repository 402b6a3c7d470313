"""Server-sent events, as OpenAI's streamed REST responses send them."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["sse_event"]


def sse_event(data: dict[str, Any]) -> str:
    """One ``data:`` event carrying ``data`` as JSON."""
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"
