"""Voxtral (Mistral's speech-understanding LLM) through transformers: transcription and audio Q&A.

Weights come from a local directory or a model id already in the local
Hugging Face cache; nothing is downloaded. Requests are built by the
processor's transcription path (mistral-common's tokenizer), audio over 30 s
is cut at pauses into pieces of at most 30 s (Voxtral's encoder window), and
every piece, from every session, goes through one ``Batcher``: decodes that
arrive together run as one left-padded ``generate``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.asr.base import ASREngine, Segment, TranscriptionOptions
from voxrt.asr.batcher import Batcher
from voxrt.audio.decode import SAMPLE_RATE
from voxrt.audio.pcm import wav_bytes
from voxrt.config import AsrSettings, ConfigError
from voxrt.errors import InvalidRequest, ModelNotReady
from voxrt.runtime.pool import Priority

__all__ = ["VOXTRAL_MINI", "VoxtralEngine", "resolve_voxtral_dir", "split_at_pauses"]

log = logging.getLogger(__name__)

VOXTRAL_MINI = "mistralai/Voxtral-Mini-3B-2507"
PIECE_S = 30.0  # Voxtral's encoder window: longer audio is decoded in pieces of at most this
_SEARCH_S = 5.0  # a cut goes at the quietest 100 ms of the last this-many seconds of a piece
_TOKENS_PER_S = 8  # generous (speech is ~3-4 tokens/s): a decode that starts looping stops early
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
_COMPILE_PROBE_TOKENS = 32


def resolve_voxtral_dir(settings: AsrSettings) -> tuple[Path, str]:
    """The transformers Voxtral directory and its model id; a model id is looked up in the local
    Hugging Face cache only.

    Raises:
        ConfigError: no such directory or cached model, or one without config, tokenizer or weights.
    """
    name = settings.model or VOXTRAL_MINI
    path = Path(name).expanduser()
    model_id = settings.model_id or path.name
    if not path.is_dir():
        if path.is_absolute() or name.startswith((".", "~")) or name.count("/") != 1:
            raise ConfigError(f"asr.model = {name!r}: no such directory.")
        from huggingface_hub import constants, snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            path = Path(snapshot_download(name, local_files_only=True))
            model_id = settings.model_id or name
        except LocalEntryNotFoundError:
            raise ConfigError(
                f"asr.model = {name!r}: not a directory, and not in the local Hugging Face cache "
                f"({constants.HF_HUB_CACHE}). voxrt never downloads weights: point asr.model at a "
                f"directory holding them (e.g. one made with `hf download {name} --local-dir DIR`)."
            ) from None
    config = path / "config.json"
    if not config.is_file():
        raise ConfigError(
            f"asr.model = {str(path)!r}: no config.json, not a transformers model directory (the "
            "consolidated.safetensors/params.json layout alone is vLLM's; serve it with asr.engine: remote)."
        )
    model_type = json.loads(config.read_text()).get("model_type")
    if model_type != "voxtral":
        raise ConfigError(f"asr.model = {str(path)!r}: a {model_type!r} model, not voxtral.")
    if not (path / "tekken.json").is_file():
        raise ConfigError(f"asr.model = {str(path)!r}: no tekken.json (Voxtral's mistral-common tokenizer).")
    if not any((path / f).is_file() for f in _WEIGHTS):
        raise ConfigError(f"asr.model = {str(path)!r}: no weights in it (looked for {', '.join(_WEIGHTS)}).")
    return path, model_id


def split_at_pauses(audio: np.ndarray, max_s: float = PIECE_S) -> list[tuple[int, int]]:
    """(start, end) samples of consecutive pieces of at most ``max_s`` covering ``audio``, each cut
    at the quietest 100 ms in the last few seconds before the limit."""
    longest, frame = int(max_s * SAMPLE_RATE), SAMPLE_RATE // 10
    search = min(int(_SEARCH_S * SAMPLE_RATE), longest // 2)
    pieces, start = [], 0
    while len(audio) - start > longest:
        low = start + longest - search
        frames = audio[low : low + search // frame * frame].reshape(-1, frame)
        cut = low + int(np.argmin(np.square(frames).mean(axis=1))) * frame + frame // 2
        pieces.append((start, cut))
        start = cut
    pieces.append((start, len(audio)))
    return pieces


@dataclass(frozen=True)
class _Prompt:
    """One tokenized request: prompt tokens, its audio features, and how to generate."""

    tokens: list[int]
    features: Any  # torch.Tensor (30 s chunks, mel bins, frames)
    max_new_tokens: int
    temperature: float


def _torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401  (checked here so the error names the extra)
    except ImportError as exc:
        raise ConfigError(
            f"asr.engine = 'voxtral' needs torch and transformers ({exc.name} is missing): "
            "pip install 'voxrt[voxtral]'."
        ) from None
    return torch


class VoxtralEngine(ASREngine):
    """Voxtral through transformers: bfloat16 on CUDA, float32 on CPU; batched across sessions."""

    def __init__(self, settings: AsrSettings) -> None:
        torch = _torch()
        self._dir, model_id = resolve_voxtral_dir(settings)
        device = settings.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            build = f"a CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build"
            raise ConfigError(
                f"asr.device = 'cuda': torch {torch.__version__} ({build}) sees no CUDA device. "
                "Use asr.device: cpu (slow) or auto, or run where a GPU is visible."
            )
        attn = settings.attn_implementation
        if attn == "auto":
            attn = "flash_attention_2" if device == "cuda" and find_spec("flash_attn") else "sdpa"
        elif attn == "flash_attention_2" and (device != "cuda" or not find_spec("flash_attn")):
            raise ConfigError(
                "asr.attn_implementation = 'flash_attention_2' needs CUDA and the flash-attn package; "
                "use sdpa or auto."
            )
        dtype = settings.dtype if settings.dtype != "auto" else "bfloat16" if device == "cuda" else "float32"
        super().__init__(model_id, max_parallel=settings.max_batch)
        self._settings = settings
        self.device, self.dtype, self.attn_implementation = device, dtype, attn
        self.compiled = False
        self._generate_kwargs: dict[str, Any] = {}
        self._model: Any = None
        self._processor: Any = None
        self._batcher: Batcher[_Prompt, list[int]] | None = None

    @property
    def batch_sizes(self) -> list[int]:
        """Sizes of the latest batches run (for benchmarks and tests)."""
        return list(self._batcher.batch_sizes) if self._batcher else []

    def applied_options(self, options: TranscriptionOptions) -> TranscriptionOptions:
        # Voxtral's transcription mode has no prompt slot and no word timings
        return replace(options, prompt=None, word_timestamps=False)

    def close(self) -> None:
        super().close()
        if self._batcher is not None:
            self._batcher.close()

    async def understand(
        self, audio: np.ndarray, instruction: str, *, max_new_tokens: int | None = None
    ) -> str:
        """Voxtral's answer to ``instruction`` about ``audio`` (float32 mono 16 kHz), through the chat
        template with an audio chunk, e.g. "What does the speaker ask?".

        Raises:
            ModelNotReady: called before ``load`` finished.
        """
        if not self.ready:
            raise ModelNotReady("The speech recognition model is still loading; retry shortly.")
        limit = max_new_tokens or self._settings.max_new_tokens
        started = time.perf_counter()
        job = self._pool.submit(Priority.FINAL, lambda: self._understand(audio, instruction, limit))
        answer: str = await asyncio.wrap_future(job)
        elapsed = time.perf_counter() - started
        log.debug("voxtral answered about %.2f s of audio in %.3f s", len(audio) / SAMPLE_RATE, elapsed)
        return answer

    def chat_tokens(
        self, chat: list[dict[str, Any]], max_new_tokens: int, temperature: float
    ) -> Iterator[int]:
        """The reply's token ids to a chat-template conversation (audio parts as base64 WAV), one
        forward pass per ``next`` with a KV cache (blocking; for a worker, one step per job).

        Each step holds inference mode only for itself: consecutive steps may run on other threads.
        """
        torch = _torch()
        assert self._model is not None, "load() first"
        inputs = self._processor.apply_chat_template(chat)
        features = inputs.get("input_features")
        step: dict[str, Any] = {"input_ids": inputs["input_ids"].to(self.device)}
        if features is not None:
            step["input_features"] = features.to(self.device, getattr(torch, self.dtype))
        for _ in range(max_new_tokens):
            with torch.inference_mode():
                out = self._model(**step, use_cache=True)
                logits = out.logits[0, -1].float()
                if temperature > 0:
                    token = int(torch.multinomial(torch.softmax(logits / temperature, -1), 1))
                else:
                    token = int(logits.argmax())
            if token == self._eos_id:
                return
            yield token
            step = {
                "input_ids": torch.tensor([[token]], device=self.device),
                "past_key_values": out.past_key_values,
            }

    def detokenize(self, tokens: list[int]) -> str:
        """Text of ``tokens``, special tokens left out."""
        return str(self._processor.tokenizer.decode(tokens, skip_special_tokens=True))

    def time_generate(self, audio: np.ndarray, new_tokens: int, batch: int = 1) -> float:
        """Seconds one ``generate`` takes for ``batch`` copies of ``audio``, each row held to exactly
        ``new_tokens`` tokens (blocking; for benchmarks: random weights stop anywhere otherwise)."""
        assert self._batcher is not None, "load() first"
        prompt = replace(self._transcription_prompt(audio, None, 0.0), max_new_tokens=new_tokens)
        started = time.perf_counter()
        self._generate([prompt] * batch, min_new_tokens=new_tokens)
        return time.perf_counter() - started

    # -- worker threads ---------------------------------------------------------------------

    def _load(self) -> None:
        torch = _torch()
        from transformers import AutoProcessor, VoxtralForConditionalGeneration

        self._processor = AutoProcessor.from_pretrained(str(self._dir), local_files_only=True)
        model = VoxtralForConditionalGeneration.from_pretrained(
            str(self._dir),
            local_files_only=True,
            dtype=getattr(torch, self.dtype),
            attn_implementation=self.attn_implementation,
        )
        self._model = model.to(self.device).eval()
        tokenizer = self._processor.tokenizer
        self._pad_id, self._eos_id = tokenizer.pad_token_id, tokenizer.eos_token_id
        self._batcher = Batcher(
            self._generate,
            max_batch=self._settings.max_batch,
            wait_s=self._settings.batch_wait_ms / 1000,
            key=lambda prompt: prompt.temperature,
            name="voxtral",
            on_batch=self._batch_ran,
        )
        if self._settings.compile:
            self._compile_if_faster()
        log.info("voxtral on %s, %s, %s attention", self.device, self.dtype, self.attn_implementation)

    def _decode(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> tuple[str | None, Iterator[Segment]]:
        language = options.language or self._settings.language
        return language, self._segments(audio, language, options.temperature)

    def _segments(self, audio: np.ndarray, language: str | None, temperature: float) -> Iterator[Segment]:
        """Pieces are submitted up to ``max_batch`` ahead, so one long file fills whole batches."""
        assert self._batcher is not None
        window: deque[tuple[int, int, Future[list[int]]]] = deque()
        emitted = 0
        try:
            for start, end in split_at_pauses(audio):
                with self._batcher.preparing():
                    prompt = self._transcription_prompt(audio[start:end], language, temperature)
                    window.append((start, end, self._batcher.submit(prompt)))
                if len(window) < self._settings.max_batch:
                    continue
                if (segment := self._segment(emitted, *window.popleft(), temperature)) is not None:
                    emitted += 1
                    yield segment
            while window:
                if (segment := self._segment(emitted, *window.popleft(), temperature)) is not None:
                    emitted += 1
                    yield segment
        finally:  # the caller stopped early: pieces not yet started are not run
            for *_, future in window:
                future.cancel()

    def _segment(
        self, index: int, start: int, end: int, future: Future[list[int]], temperature: float
    ) -> Segment | None:
        tokens = future.result()
        text = self._processor.tokenizer.decode(tokens, skip_special_tokens=True).strip()
        if not text:
            return None
        return Segment(
            id=index,
            start=start / SAMPLE_RATE,
            end=end / SAMPLE_RATE,
            text=" " + text,
            tokens=tuple(tokens),
            temperature=temperature,
        )

    def _transcription_prompt(self, audio: np.ndarray, language: str | None, temperature: float) -> _Prompt:
        from pydantic import ValidationError

        try:
            inputs = self._processor.apply_transcription_request(
                audio=[audio],
                model_id=self.model_id,
                language=language,
                sampling_rate=SAMPLE_RATE,
                format=["wav"],
            )
        except ValidationError:  # mistral-common takes ISO 639-1 codes only
            raise InvalidRequest(
                f"language {language!r}: not an ISO 639-1 language code.", param="language"
            ) from None
        budget = int(16 + _TOKENS_PER_S * math.ceil(len(audio) / SAMPLE_RATE))
        return _Prompt(
            tokens=inputs["input_ids"][0].tolist(),
            features=inputs["input_features"],
            max_new_tokens=min(self._settings.max_new_tokens, budget),
            temperature=temperature,
        )

    def _understand(self, audio: np.ndarray, instruction: str, max_new_tokens: int) -> str:
        assert self._batcher is not None
        content = [
            {"type": "audio", "base64": base64.b64encode(wav_bytes(audio, SAMPLE_RATE)).decode()},
            {"type": "text", "text": instruction},
        ]
        with self._batcher.preparing():
            inputs = self._processor.apply_chat_template([{"role": "user", "content": content}])
            prompt = _Prompt(inputs["input_ids"][0].tolist(), inputs["input_features"], max_new_tokens, 0.0)
            answer = self._batcher.submit(prompt)
        tokens = answer.result()
        return str(self._processor.tokenizer.decode(tokens, skip_special_tokens=True)).strip()

    def _generate(self, prompts: list[_Prompt], **extra: Any) -> list[list[int]]:
        """Batcher thread: one left-padded ``generate`` for all prompts; each row's new tokens, up to
        its end-of-sequence and within its own token budget."""
        torch = _torch()
        width = max(len(p.tokens) for p in prompts)
        ids = [[self._pad_id] * (width - len(p.tokens)) + p.tokens for p in prompts]
        mask = [[0] * (width - len(p.tokens)) + [1] * len(p.tokens) for p in prompts]
        features = torch.cat([p.features for p in prompts]).to(self.device, getattr(torch, self.dtype))
        temperature = prompts[0].temperature
        sampling = {"do_sample": True, "temperature": temperature} if temperature else {"do_sample": False}
        with torch.inference_mode():
            out = self._model.generate(
                input_ids=torch.tensor(ids, device=self.device),
                attention_mask=torch.tensor(mask, device=self.device),
                input_features=features,
                max_new_tokens=max(p.max_new_tokens for p in prompts),
                pad_token_id=self._pad_id,
                eos_token_id=self._eos_id,
                **sampling,
                **self._generate_kwargs,
                **extra,
            )
        rows: list[list[int]] = out[:, width:].tolist()
        return [_until(row, self._eos_id)[: p.max_new_tokens] for row, p in zip(rows, prompts, strict=True)]

    def _compile_if_faster(self) -> None:
        """Time a fixed-length decode eagerly and with torch.compile + a static cache; keep the faster."""
        from transformers import CompileConfig

        config = CompileConfig()
        if self.device != "cuda":
            config._compile_all_devices = True  # transformers compiles on CUDA only unless told
        compiled = {"cache_implementation": "static", "compile_config": config}
        probe = np.zeros(SAMPLE_RATE, np.float32)
        timings = {}
        for name, kwargs in (("eager", {}), ("compiled", compiled)):
            self._generate_kwargs = kwargs
            self.time_generate(probe, _COMPILE_PROBE_TOKENS)  # the first compiled call compiles
            timings[name] = min(self.time_generate(probe, _COMPILE_PROBE_TOKENS) for _ in range(3))
        self.compiled = timings["compiled"] < timings["eager"]
        self._generate_kwargs = compiled if self.compiled else {}
        log.info(
            "torch.compile: %.1f ms per decode compiled vs %.1f ms eager: keeping %s",
            1000 * timings["compiled"],
            1000 * timings["eager"],
            "compiled" if self.compiled else "eager",
        )


def _until(tokens: list[int], eos: int) -> list[int]:
    return tokens[: tokens.index(eos)] if eos in tokens else tokens
