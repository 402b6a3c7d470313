"""Log set-up: text or one JSON object per line, each record tagged with its realtime session.

Transcripts are user data: voxrt logs event names, sizes and ids, and text only when
``logging.log_transcripts`` is on.
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar

from voxrt.config import LoggingSettings

__all__ = ["configure_logging", "session_id"]

# The realtime session a log record belongs to: set by the realtime route; tasks it starts inherit it.
session_id: ContextVar[str | None] = ContextVar("voxrt_session_id", default=None)
_EXTRA_IDS = ("item_id", "response_id")
_CHATTY = ("faster_whisper", "httpx", "mistral_common")  # one line per request at INFO


class _SessionTag(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        sid = session_id.get()
        record.session = f" [{sid}]" if sid else ""
        record.session_id = sid
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, session_id, item_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("session_id", *_EXTRA_IDS):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: LoggingSettings) -> None:
    """Send the root logger's records to stderr in ``settings.format``, at ``settings.level``."""
    handler = logging.StreamHandler()
    handler.addFilter(_SessionTag())
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s%(session)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if settings.level == "DEBUG" else logging.WARNING)
