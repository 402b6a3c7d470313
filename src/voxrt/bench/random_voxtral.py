"""A Voxtral with random weights and an offline tokenizer, saved as a transformers directory.

The tests' tiny model and the benchmark's full-size Voxtral-Mini-3B architecture
(``--random-weights``) both come from here, so speed can be measured and the
whole engine exercised without the real weights. The tokenizer is mistral-common's
bundled Tekken vocabulary made into a v7 tokenizer with Voxtral's audio special
tokens and audio settings; random weights emit arbitrary tokens from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

__all__ = ["SIZES", "build_random_voxtral", "write_tokenizer"]

Size = Literal["tiny", "mini-3b"]

_NUM_SPECIAL = 1000
# Voxtral's control tokens by id; the ids the transcription and chat templates use must match
_CONTROL = [
    *("<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]"),
    *("[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]", "[IMG_END]"),
    *("[PREFIX]", "[MIDDLE]", "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]"),
]
_SPECIAL = {
    **dict(enumerate(_CONTROL)),
    **{24: "[AUDIO]", 25: "[BEGIN_AUDIO]", 32: "[ARGS]", 33: "[CALL_ID]", 34: "[TRANSCRIBE]"},
}
_AUDIO = {
    "sampling_rate": 16000,
    "frame_rate": 12.5,
    "audio_encoding_config": {"num_mel_bins": 128, "hop_length": 160, "window_size": 400},
    "chunk_length_s": 30.0,
}

# (vocabulary size, audio encoder config, text decoder config). mini-3b is transformers' default
# VoxtralConfig, which is Voxtral-Mini-3B-2507's architecture.
SIZES: dict[str, tuple[int, dict[str, Any], dict[str, Any]]] = {
    "tiny": (
        2 * _NUM_SPECIAL,
        {"hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 2},
        {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 32,
        },
    ),
    "mini-3b": (131072, {}, {}),
}


def write_tokenizer(directory: Path, vocab_size: int) -> None:
    """``tekken.json`` (v7, Voxtral's audio tokens and settings) and ``processor_config.json``."""
    import mistral_common
    from transformers import VoxtralProcessor, WhisperFeatureExtractor
    from transformers.tokenization_mistral_common import MistralCommonBackend

    tekken = json.loads((Path(mistral_common.__file__).parent / "data" / "tekken_240911.json").read_text())
    regular = vocab_size - _NUM_SPECIAL
    tekken["vocab"] = tekken["vocab"][:regular]
    tekken["config"].update(
        version="v7",
        default_vocab_size=vocab_size,
        num_vocab_tokens=regular,
        default_num_special_tokens=_NUM_SPECIAL,
    )
    tekken["special_tokens"] = [
        {"rank": r, "token_str": _SPECIAL.get(r, f"<SPECIAL_{r}>"), "is_control": True}
        for r in range(_NUM_SPECIAL)
    ]
    tekken["audio"] = _AUDIO
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tekken.json").write_text(json.dumps(tekken))
    tokenizer = MistralCommonBackend.from_pretrained(str(directory), local_files_only=True)
    features = WhisperFeatureExtractor(feature_size=128)
    VoxtralProcessor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(str(directory))


def build_random_voxtral(
    directory: Path, size: Size = "tiny", *, seed: int = 0, device: str = "cpu", dtype: str = "float32"
) -> Path:
    """Save a random-weight Voxtral of ``size`` with its tokenizer in ``directory`` (kept if already
    there) and return it. The tiny model's weights are drawn wide (std 0.5) so its output depends
    on the audio."""
    import torch
    from transformers import VoxtralConfig, VoxtralForConditionalGeneration

    if (directory / "model.safetensors").is_file() or (directory / "model.safetensors.index.json").is_file():
        return directory
    vocab_size, audio, text = SIZES[size]
    config = VoxtralConfig(
        audio_config={"model_type": "voxtral_encoder", **audio},
        text_config={**text, "vocab_size": vocab_size},
        audio_token_id=24,
        projector_hidden_act="gelu",
    )
    if size == "tiny":
        config.audio_config.initializer_range = config.text_config.initializer_range = 0.5
    write_tokenizer(directory, vocab_size)
    torch.manual_seed(seed)
    with torch.device(device):
        model = VoxtralForConditionalGeneration._from_config(config, dtype=getattr(torch, dtype))
    model.generation_config.pad_token_id = 11
    model.save_pretrained(str(directory))
    return directory
