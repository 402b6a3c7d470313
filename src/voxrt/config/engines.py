"""The engine sections of voxrt's settings: speech recognition, language model, speech synthesis."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from voxrt.config.sections import Section

__all__ = ["AsrSettings", "LlmSettings", "TtsSettings"]


class AsrSettings(Section):
    engine: Literal["faster_whisper", "voxtral", "remote"] = Field(
        "faster_whisper",
        description="Speech recognizer: faster_whisper (CTranslate2 Whisper), voxtral (Voxtral through "
        "transformers, voxrt[voxtral] extra), remote (an OpenAI-compatible transcription server).",
    )
    model: str | None = Field(
        None,
        description="faster_whisper: a CTranslate2 Whisper model directory (empty: the embedded tiny.en). "
        "voxtral: a transformers Voxtral directory, or a model id already in the local Hugging Face cache "
        "(empty: mistralai/Voxtral-Mini-3B-2507; never downloaded). remote: the model name sent to the "
        "server (empty: mistralai/Voxtral-Mini-3B-2507).",
    )
    model_id: str | None = Field(
        None, description="Model name shown in /v1/models. Empty: derived from the model."
    )
    device: Literal["cpu", "cuda", "auto"] = Field(
        "cpu", description="Where inference runs; auto: CUDA when a device is visible. Voxtral wants cuda."
    )
    compute_type: str = Field(
        "int8",
        description="CTranslate2 compute type: int8, int8_float16, float16, float32, default.",
    )
    cpu_threads: int = Field(0, ge=0, le=256, description="Threads per decode; 0 lets CTranslate2 choose.")
    num_workers: int = Field(
        2,
        ge=1,
        le=16,
        description="Threads of the one inference pool all CPU inference shares (faster_whisper decodes, "
        "each holding cpu_threads threads, speech synthesis, llama_cpp tokens, decoding uploads); with 2 "
        "or more, one never takes REST work, so a live final never waits behind an upload.",
    )
    beam_size: int = Field(1, ge=1, le=10, description="Beam width; 1 is greedy decoding, the fastest.")
    language: str | None = Field(
        None,
        description="Default language code when a request names none. Empty: detect (multilingual models).",
    )
    temperature_fallback: bool = Field(
        False,
        description="Retry failed decodes at higher temperatures (can cost seconds on short audio).",
    )
    condition_on_previous_text: bool = Field(
        False,
        description="Feed each 30 s window's text into the next. Off: greedy decoding of long audio "
        "can otherwise loop on one sentence.",
    )
    unpadded_encoder: bool = Field(
        True,
        description="Encode audio shorter than 30 s without padding it to Whisper's 30 s window "
        "(when no timestamps are needed: realtime, REST json/text). Several times faster on short audio.",
    )
    min_encoder_s: float = Field(
        20.0,
        ge=1.0,
        le=30.0,
        description="With unpadded_encoder, REST json/text audio is still padded with silence to at least "
        "this length (and 3 s past its end). Shorter windows read real speech worse (10 s: +2.6 WER "
        "points against the 30 s window; 20 s: level with it) and make Whisper repeat itself.",
    )
    realtime_min_encoder_s: float = Field(
        15.0,
        ge=1.0,
        le=30.0,
        description="min_encoder_s for realtime finals, where latency counts: 15 s read real speech "
        "0.2 WER points worse than the 30 s window, for about half the decode time of 20 s.",
    )
    partial_min_encoder_s: float = Field(
        10.0,
        ge=1.0,
        le=30.0,
        description="min_encoder_s for realtime partials, which the final decode replaces: cheaper, "
        "a little less accurate.",
    )
    warmup: bool = Field(True, description="Run one decode at start so the first request is not slow.")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="voxtral: weight and activation type; auto: bfloat16 on CUDA, float32 on CPU."
    )
    attn_implementation: Literal["auto", "sdpa", "flash_attention_2", "eager"] = Field(
        "auto",
        description="voxtral: attention kernel; auto: FlashAttention-2 on CUDA when flash-attn is "
        "installed, else PyTorch SDPA.",
    )
    compile: bool = Field(
        False,
        description="voxtral: torch.compile the decoder with a static KV cache. At load both are timed "
        "and the compiled decoder is kept only if it is faster (logged).",
    )
    max_batch: int = Field(
        8,
        ge=1,
        le=64,
        description="voxtral: most decode requests (from all sessions) run together in one padded batch.",
    )
    batch_wait_ms: float = Field(
        20.0,
        ge=0,
        le=1000,
        description="voxtral: how long a batch about to run waits for requests still being prepared "
        "(a lone request never waits).",
    )
    max_new_tokens: int = Field(
        448,
        ge=1,
        le=8192,
        description="voxtral: most tokens generated per 30 s piece of audio (and per audio question).",
    )
    remote_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s]+",
        description="remote: base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8001/v1; "
        "audio goes to {remote_url}/audio/transcriptions.",
    )
    remote_api_key: SecretStr | None = Field(
        None, description="remote: API key sent as Authorization: Bearer (or env VOXRT_ASR__REMOTE_API_KEY)."
    )
    remote_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="remote: longest wait for one answer, in seconds."
    )
    remote_connect_timeout_s: float = Field(
        3.0, gt=0, le=300, description="remote: longest wait to connect, in seconds."
    )
    remote_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="remote: retries after a connection error, a timeout or a 5xx answer (others fail "
        "at once).",
    )
    remote_backoff_s: float = Field(
        0.25, ge=0, le=60, description="remote: wait before the first retry; doubles for each next one."
    )
    remote_max_concurrency: int = Field(
        16, ge=1, le=1024, description="remote: most requests in flight to the server at once."
    )


class LlmSettings(Section):
    engine: Literal["llama_cpp", "openai_compat", "voxtral", "none"] = Field(
        "llama_cpp",
        description="Responder: llama_cpp (a GGUF model in process, voxrt[llm] extra), openai_compat (any "
        "OpenAI-compatible chat server: vLLM, llama.cpp, Ollama, Mistral), voxtral (the loaded Voxtral "
        "recognizer answers from the user's audio; needs asr.engine: voxtral), none (no language model: "
        "a transcription and speech server, conversations refused; the embedded model's memory saved).",
    )
    model: str | None = Field(
        None,
        description="llama_cpp: a GGUF file (empty: the embedded SmolLM2-135M-Instruct, demo grade). "
        "openai_compat: the model name the server serves (required).",
    )
    instructions: str = Field(
        "You are a helpful voice assistant. Answer in one or two short, plain sentences.",
        description="System prompt, kept at the start of every conversation.",
    )
    temperature: float = Field(0.2, ge=0.0, le=2.0, description="Sampling temperature; 0 is greedy.")
    max_output_tokens: int = Field(256, ge=1, le=32768, description="Most tokens in one reply.")
    memory_turns: int = Field(
        20,
        ge=1,
        le=1000,
        description="Most past turns (a user message and its replies) kept; oldest go first.",
    )
    memory_tokens: int = Field(
        1536,
        ge=64,
        le=1_000_000,
        description="Most tokens of conversation kept, system prompt included; oldest turns go first.",
    )
    threads: int = Field(
        1,
        ge=0,
        le=256,
        description="llama_cpp: threads per generation (0: all cores). More speed up an idle machine; on a "
        "busy one llama.cpp's threads spin waiting for each other (on a loaded 2-core machine 2 threads "
        "made ~2-4 tokens/s where 1 made 34-66).",
    )
    context_tokens: int = Field(
        2048, ge=256, le=131072, description="llama_cpp: context window per conversation, in tokens."
    )
    max_parallel: int = Field(
        8,
        ge=1,
        le=64,
        description="llama_cpp: replies generated at once (one model context each, ~65 MB with SmolLM2); "
        "more wait for one to finish. openai_compat: most requests in flight.",
    )
    base_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s]+",
        description="openai_compat: base URL of the API, e.g. http://127.0.0.1:8080/v1; requests go to "
        "{base_url}/chat/completions.",
    )
    api_key: SecretStr | None = Field(
        None, description="openai_compat: API key sent as Authorization: Bearer (or env VOXRT_LLM__API_KEY)."
    )
    connect_timeout_s: float = Field(
        3.0, gt=0, le=300, description="openai_compat: longest wait to connect, in seconds."
    )
    read_timeout_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="openai_compat: longest wait for the first token, and between two tokens, in seconds.",
    )
    retries: int = Field(
        2,
        ge=0,
        le=10,
        description="openai_compat: retries after a connection error, a timeout or a 5xx answer, only "
        "before the first token (a reply already heard is not restarted).",
    )
    backoff_s: float = Field(
        0.25,
        ge=0,
        le=60,
        description="openai_compat: wait before the first retry; doubles for each next one.",
    )


class TtsSettings(Section):
    engine: Literal["auto", "piper", "kokoro", "espeak", "none"] = Field(
        "auto",
        description="Speech synthesizer: piper (fast, voxrt[tts]), kokoro (quality, voxrt[kokoro] + "
        "`voxrt setup kokoro`), espeak (tiny, robotic), none (no speech). auto: piper when installed, "
        "else espeak when installed, else none.",
    )
    model: Path | None = Field(
        None,
        description="piper: a voice .onnx (its .onnx.json beside it); kokoro: a Kokoro v1.0 ONNX file. "
        "Empty: the packaged voice / model.",
    )
    voice: str | None = Field(
        None,
        description="Default voice (and what OpenAI's names map to when the engine has no match). "
        "Empty: piper's model, kokoro af_heart, espeak en-us.",
    )
    kokoro_voices: Path | None = Field(
        None,
        description="kokoro: the .npz voices file `voxrt setup kokoro` builds. Empty: "
        "$VOXRT_CACHE or ~/.cache/voxrt, kokoro/voices-kokoro-js-1.2.1.npz.",
    )
    threads: int = Field(1, ge=1, le=64, description="Threads per synthesis (onnxruntime intra-op).")
    device: Literal["cpu", "cuda", "auto"] = Field(
        "cpu", description="kokoro: where it runs; cuda/auto need onnxruntime-gpu."
    )
    warmup: bool = Field(True, description="Synthesize one word at start so the first request is not slow.")
