"""API keys: ``Authorization: Bearer KEY``, compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import Request

from voxrt.errors import Unauthorized
from voxrt.server.state import state

__all__ = ["key_from_headers", "require_api_key"]


def key_from_headers(authorization: str | None) -> str | None:
    """The key in an ``Authorization: Bearer KEY`` header, if there is one."""
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def is_valid(key: str | None, keys: list[str]) -> bool:
    """Whether ``key`` is one of ``keys``; with no keys configured everyone may pass."""
    if not keys:
        return True
    if key is None:
        return False
    # compare against every key so the time taken does not reveal which one matched
    matches = [hmac.compare_digest(key.encode(), k.encode()) for k in keys]
    return any(matches)


async def require_api_key(request: Request) -> None:
    """FastAPI dependency for every /v1 route.

    Raises:
        Unauthorized: keys are configured and the request has none or a wrong one.
    """
    keys = state(request).api_keys
    key = key_from_headers(request.headers.get("authorization"))
    if not is_valid(key, keys):
        message = "Missing API key: send 'Authorization: Bearer KEY'." if key is None else "Invalid API key."
        raise Unauthorized(message)
