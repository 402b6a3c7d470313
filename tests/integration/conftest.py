"""In-process app fixtures: the real tiny.en engine behind starlette's TestClient."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from voxrt.config import load_settings
from voxrt.server import create_app

API_KEY = "test-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@contextmanager
def serve_in_process(overrides: dict[str, Any]) -> Iterator[TestClient]:
    """An app built from ``overrides``, entered (lifespan run) and ready."""
    app = create_app(load_settings(overrides=overrides))
    with TestClient(app) as client:
        deadline = time.monotonic() + 60
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, client.get("/ready").json()
            time.sleep(0.05)
        yield client


@pytest.fixture(scope="module")
def make_client() -> Callable[[dict[str, Any]], Any]:
    return serve_in_process
