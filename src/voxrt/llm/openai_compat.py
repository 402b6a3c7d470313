"""Any OpenAI-compatible chat server (vLLM, llama.cpp's server, Ollama, Mistral's API): streaming
``POST {llm.base_url}/chat/completions`` over one pooled async HTTP client.

A connection error, a timeout or a 5xx answer is retried with exponential backoff, but only before
the first token: a reply the user has started to hear is never restarted. What still fails becomes
an ``UpstreamError`` (``UpstreamTimeout`` for a timeout). Leaving a reply early closes its
connection, which tells the server to stop generating.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any
from urllib.parse import urlsplit

import httpx

from voxrt.config import ConfigError, LlmSettings
from voxrt.errors import UpstreamError, UpstreamTimeout
from voxrt.llm.base import ChatMessage, Delta, Responder, ResponseOptions, Usage
from voxrt.llm.chunks import ChunkParser

__all__ = ["OpenAICompatResponder"]

log = logging.getLogger(__name__)


class OpenAICompatResponder(Responder):
    """Streams chat completions from ``llm.base_url``."""

    def __init__(self, settings: LlmSettings) -> None:
        if not settings.base_url:
            raise ConfigError(
                "llm.base_url is required with llm.engine = 'openai_compat' (e.g. http://127.0.0.1:8080/v1)."
            )
        if not settings.model:
            raise ConfigError(
                "llm.model is required with llm.engine = 'openai_compat': the model the server serves."
            )
        super().__init__(settings.model)
        self._settings = settings
        self._url = settings.base_url.rstrip("/") + "/chat/completions"
        self._host = urlsplit(self._url).netloc
        self._client: httpx.AsyncClient | None = None
        self._stream_usage = True  # until the server refuses stream_options: then usage is counted here

    def _load(self) -> None:
        # No request at start: a server that is down must not keep voxrt from serving (each reply
        # reports it instead). The client is made on first use, on the loop that uses it.
        pass

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            s = self._settings
            key = s.api_key.get_secret_value() if s.api_key else None
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(s.read_timeout_s, connect=s.connect_timeout_s),
                limits=httpx.Limits(max_connections=s.max_parallel, max_keepalive_connections=s.max_parallel),
                headers={"Authorization": f"Bearer {key}"} if key else None,
            )
        return self._client

    def _body(self, messages: list[ChatMessage], options: ResponseOptions) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_id,
            "messages": [message.to_openai() for message in messages],
            "stream": True,
            "temperature": options.temperature,
            "max_tokens": options.max_output_tokens,
        }
        if self._stream_usage:
            body["stream_options"] = {"include_usage": True}
        if options.tools:
            body["tools"] = list(options.tools)
        if options.tool_choice is not None:
            body["tool_choice"] = options.tool_choice
        return body

    async def _stream(
        self, messages: list[ChatMessage], options: ResponseOptions, usage: Usage
    ) -> AsyncGenerator[Delta, None]:
        s = self._settings
        tries, attempt = s.retries + 1, 0
        while True:
            started = False
            try:
                async with aclosing(self._request(messages, options, usage)) as deltas:
                    async for delta in deltas:
                        started = True
                        yield delta
                return
            except _UsageRefused:
                log.info("the chat server refused stream_options; counting tokens here from now on")
                self._stream_usage = False
                continue
            except httpx.TimeoutException as exc:
                error: UpstreamError = UpstreamTimeout(
                    f"The chat server at {self._host} did not answer in time ({type(exc).__name__})."
                )
            except httpx.TransportError as exc:
                error = UpstreamError(
                    f"The chat server at {self._host} could not be reached or dropped the connection "
                    f"({type(exc).__name__}).",
                    code="upstream_unavailable",
                )
            except _ServerFailed as exc:
                error = exc.error
            attempt += 1
            if started or attempt == tries:  # no retry once the user has heard part of the reply
                raise error
            log.warning("chat completion try %d of %d failed: %s", attempt, tries, error.message)
            await asyncio.sleep(s.backoff_s * 2 ** (attempt - 1))

    async def _request(
        self, messages: list[ChatMessage], options: ResponseOptions, usage: Usage
    ) -> AsyncGenerator[Delta, None]:
        """One streaming request.

        Raises:
            _ServerFailed: a 5xx answer (worth a retry).
            _UsageRefused: a 4xx answer that names stream_options (asked again without it).
            UpstreamError: any other 4xx answer, an error object or a malformed chunk in the stream.
        """
        body = self._body(messages, options)
        async with self._http().stream("POST", self._url, json=body) as response:
            if response.status_code >= 400:
                await response.aread()
                if (
                    response.status_code < 500
                    and "stream_options" in body
                    and "stream_options" in response.text
                ):
                    raise _UsageRefused
                raise self._refused(response)
            parser = ChunkParser(usage)
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue  # SSE comments, event names and blank separators
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    chunk = None
                if not isinstance(chunk, dict):
                    raise UpstreamError(f"The chat server at {self._host} sent a malformed chunk.")
                for delta in parser.feed(chunk):
                    yield delta
            for delta in parser.finish():
                yield delta

    def _refused(self, response: httpx.Response) -> Exception:
        status = response.status_code
        detail = f"HTTP {status}: {_message(response)}"
        if status >= 500:
            return _ServerFailed(UpstreamError(f"The chat server at {self._host} failed ({detail})."))
        code = "upstream_auth_failed" if status in (401, 403) else "upstream_rejected"
        return UpstreamError(f"The chat server at {self._host} refused the request ({detail}).", code=code)


class _UsageRefused(Exception):
    """The server does not know ``stream_options`` (older servers)."""


class _ServerFailed(Exception):
    """A 5xx answer: worth a retry."""

    def __init__(self, error: UpstreamError) -> None:
        super().__init__(error.message)
        self.error = error


def _message(response: httpx.Response) -> str:
    """The message of an OpenAI-shaped error body, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        message = (
            error.get("message") if isinstance(error, dict) else body.get("message") or body.get("detail")
        )
        if isinstance(message, str):
            return message[:500]
    return str(body)[:200]
