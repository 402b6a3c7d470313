"""Live processes on loopback, each shared by the end-to-end tests of a module: ``voxrt serve``
(with small limits, or with the embedded conversation models), llama.cpp's server, a chat stub."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from tests.e2e.chat_servers import ChatStub, running_llama_server
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


CONVERSATION_KEY = "conv-key"


@pytest.fixture(scope="module")
def conversation_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A live server on the embedded defaults: tiny.en, Silero, SmolLM2 through llama.cpp, Piper."""
    directory = tmp_path_factory.mktemp("conversation")
    config = directory / "voxrt.yaml"
    config.write_text(yaml.safe_dump({"auth": {"api_keys": [CONVERSATION_KEY]}}))
    with running_server(directory / "server.log", config=config) as process:
        yield process


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama.cpp's server on loopback with the bundled SmolLM2; its base URL."""
    with running_llama_server(tmp_path_factory.mktemp("llama-server") / "server.log") as base_url:
        yield base_url


@pytest.fixture(scope="module")
def chat_stub() -> Iterator[ChatStub]:
    stub = ChatStub()
    yield stub
    stub.close()
