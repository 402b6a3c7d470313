"""A live ``voxrt serve`` process on loopback, shared by the end-to-end tests of a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from voxrt.bench.server import ServerProcess, running_server

API_KEY = "e2e-key"
MAX_UPLOAD = 2_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("server")
    config = directory / "voxrt.yaml"
    config.write_text(
        yaml.safe_dump({"auth": {"api_keys": [API_KEY]}, "limits": {"max_upload_bytes": MAX_UPLOAD}})
    )
    with running_server(directory / "server.log", config=config) as process:
        yield process


RT_KEY = "rt-key"
RT_MAX_SESSIONS = 3
RT_MAX_MESSAGE = 200_000
RT_IDLE_S = 4


@pytest.fixture(scope="module")
def realtime_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A live server with small realtime limits, so the tests can reach them."""
    directory = tmp_path_factory.mktemp("realtime")
    config = directory / "voxrt.yaml"
    limits = {
        "max_sessions": RT_MAX_SESSIONS,
        "max_message_bytes": RT_MAX_MESSAGE,
        "idle_timeout_s": RT_IDLE_S,
        # the slow-reader test floods a session with bad events; read at the default 250 a second
        # they would take minutes to fill the socket buffers before the server sees a slow reader
        "max_messages_per_s": 100_000,
    }
    config.write_text(yaml.safe_dump({"auth": {"api_keys": [RT_KEY]}, "realtime": limits}))
    with running_server(directory / "server.log", config=config) as process:
        yield process
