"""The models one server runs: built from the settings, loaded and warmed in the background, shared
by every session and request, closed at shutdown.

``vad`` and ``asr`` are always there. ``tts`` is None when ``tts.engine`` resolves to none.
``llm`` is None when ``llm.engine`` is none or cannot be used as configured (its package or model is
not installed, a setting it needs is missing, voxtral without the Voxtral recognizer);
``llm_unavailable`` keeps why, so that a conversation can be refused with the reason.

The recognizer (faster_whisper), the synthesizer and the llama_cpp responder run in one
``PriorityPool`` of ``asr.num_workers`` threads, so one priority order (finals > TTS > LLM >
partials > REST) covers all CPU inference; decoding uploads and the REST VAD gate queue there too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from voxrt.asr import ASREngine, create_asr_engine
from voxrt.config import ConfigError, Settings
from voxrt.llm import Responder, create_responder
from voxrt.runtime.pool import PriorityPool
from voxrt.tts import TTSEngine, create_tts_engine, resolve_engine
from voxrt.vad import VADModel, create_vad
from voxrt.vad.smart_turn import EndOfTurnModel, load_smart_turn

__all__ = ["Models"]

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT_S = 10.0


class Models:
    """Every model the configuration names, and the inference pool they share."""

    def __init__(
        self,
        settings: Settings,
        *,
        asr: ASREngine | None = None,
        tts: TTSEngine | None = None,
        llm: Responder | None = None,
    ) -> None:
        """Build each model, not loaded yet (``start_loading``); ``asr``, ``tts`` and ``llm`` stand
        in for the configured ones (tests pass fakes, which keep pools of their own).

        Raises:
            ConfigError: the recognizer or the synthesizer is unusable as configured.
            RuntimeError: the VAD engine's package or model file is missing.
        """
        self.settings = settings
        self.pool = PriorityPool(settings.asr.num_workers, name="inference")
        self.load_error: str | None = None  # the first load that failed, as "Type: message"
        self.llm_unavailable: str | None = None  # why ``llm`` is None
        self._loading: list[asyncio.Task[None]] = []  # held: the loop keeps only weak references
        try:
            self.vad: VADModel = create_vad(settings.vad.engine)  # tens of ms: built, not loaded later
            # Smart Turn, semantic_vad's end-of-turn model (~50 ms); None where pipecat-ai is missing
            self.end_of_turn: EndOfTurnModel | None = load_smart_turn()
            self.asr: ASREngine = asr or create_asr_engine(settings.asr, self.pool)
            if tts is None and resolve_engine(settings.tts) is not None:
                tts = create_tts_engine(settings.tts, pool=self.pool)
            self.tts: TTSEngine | None = tts
            self.llm: Responder | None = llm or self._responder()
        except BaseException:
            self.pool.shutdown()
            raise

    def _responder(self) -> Responder | None:
        if self.settings.llm.engine == "none":
            self.llm_unavailable = "llm.engine is none."
            return None
        try:
            return create_responder(self.settings.llm, self.asr, self.pool)
        except ConfigError as exc:
            self.llm_unavailable = str(exc)
            log.warning("no language model, conversations are refused: %s", exc)
            return None

    @property
    def ready(self) -> bool:
        """Whether every model is loaded and warmed up."""
        return self.asr.ready and all(m.ready for m in (self.tts, self.llm) if m is not None)

    def start_loading(self) -> None:
        """Load and warm up every model in worker threads, in the background (call it on the event
        loop): ``ready`` turns True once all are, ``load_error`` says what failed."""
        s = self.settings
        asr, tts, llm = self.asr, self.tts, self.llm
        recognizer: list[Callable[[], None]] = [lambda: asr.load(s.asr.warmup)]
        chains = [recognizer]
        if tts is not None:
            chains.append([lambda: tts.load(s.tts.warmup)])
        if llm is not None and s.llm.engine == "voxtral":
            recognizer.append(llm.load)  # it answers with the recognizer's model: after it, never beside
        elif llm is not None:
            chains.append([llm.load])
        for chain in chains:
            task = asyncio.create_task(asyncio.to_thread(_run, chain))
            task.add_done_callback(self._loaded)
            self._loading.append(task)

    def _loaded(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or (exc := task.exception()) is None:
            return
        log.error("loading a model failed: %s: %s", type(exc).__name__, exc)
        if self.load_error is None:
            self.load_error = f"{type(exc).__name__}: {exc}"

    def pending(self) -> int:
        """Inference jobs queued and not started: in the shared pool, and in the recognizer's own
        when it keeps one (voxtral, remote)."""
        pools = {id(pool): pool for pool in (self.pool, self.asr.pool)}
        return sum(pool.pending() for pool in pools.values())

    async def aclose(self) -> None:
        """Stop inference and release every model: the jobs already queued finish and the pool's
        workers are joined (bounded: native code still running at interpreter exit can abort the
        process), then each model closes, the recognizer last (voxtral's responder runs on its
        model). A model that fails to close is logged, not raised."""
        await asyncio.to_thread(self.pool.shutdown, _CLOSE_TIMEOUT_S)
        if self.llm is not None:
            try:
                await self.llm.aclose()
            except Exception:
                log.exception("closing the language model failed")
        for close in ([self.tts.close] if self.tts is not None else []) + [self.asr.close]:
            try:
                await asyncio.to_thread(close)
            except Exception:
                log.exception("closing a model failed")


def _run(steps: list[Callable[[], None]]) -> None:
    for step in steps:
        step()
