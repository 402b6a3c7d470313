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
