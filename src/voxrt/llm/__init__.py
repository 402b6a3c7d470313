"""Language-model responders: the agent's reply to the conversation so far."""

from voxrt.asr.base import ASREngine
from voxrt.config import ConfigError, LlmSettings
from voxrt.llm.base import (
    ChatMessage,
    Delta,
    LLMMetrics,
    LLMStream,
    Responder,
    ResponseOptions,
    ToolCall,
    Usage,
)
from voxrt.llm.memory import Conversation
from voxrt.runtime import PriorityPool

__all__ = [
    "ChatMessage",
    "Conversation",
    "Delta",
    "LLMMetrics",
    "LLMStream",
    "Responder",
    "ResponseOptions",
    "ToolCall",
    "Usage",
    "create_responder",
]


def create_responder(
    settings: LlmSettings, asr: ASREngine | None = None, pool: PriorityPool | None = None
) -> Responder:
    """The responder named by ``llm.engine``, not yet loaded; ``asr`` is the server's recognizer
    (``voxtral`` answers with it); ``pool`` is the server's one inference pool, where llama_cpp
    generates (without one it makes its own; voxtral keeps its own: it runs on the recognizer's
    model and device).

    Raises:
        ConfigError: the engine's package or model is missing or unusable, or voxtral without a
            Voxtral recognizer.
    """
    if settings.engine == "openai_compat":
        from voxrt.llm.openai_compat import OpenAICompatResponder

        return OpenAICompatResponder(settings)
    if settings.engine == "voxtral":
        from voxrt.asr.voxtral import VoxtralEngine
        from voxrt.llm.voxtral import VoxtralResponder

        if not isinstance(asr, VoxtralEngine):
            raise ConfigError(
                "llm.engine = 'voxtral' answers with the Voxtral recognizer: set asr.engine: voxtral."
            )
        return VoxtralResponder(asr)
    from voxrt.llm.llama_cpp import LlamaCppResponder

    return LlamaCppResponder(settings, pool)
