"""espeak-ng, the tiny formant fallback: the library and data from ``espeakng-loader`` (or the
system's ``libespeak-ng``), driven through ctypes. Robotic but instant and in 100+ languages."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from voxrt.audio.pcm import to_float32
from voxrt.config import ConfigError
from voxrt.runtime import PriorityPool
from voxrt.tts.base import OPENAI_VOICES, TTSEngine

__all__ = ["EspeakEngine"]

_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: Synth returns once the callback has had all audio
_RATE = 1  # espeakRATE, words per minute
_CHARS_UTF8 = 1
_DEFAULT_WPM = 175
_WPM_RANGE = (80, 450)
_FEMALE = "+f3"
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Voice(ctypes.Structure):
    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


# libespeak-ng holds one global synthesizer: one lock for every engine in the process.
_lock = threading.Lock()


def _library() -> tuple[str, str | None]:
    """The library and the directory holding ``espeak-ng-data`` (None: the library's default)."""
    try:
        import espeakng_loader
    except ImportError:
        found = ctypes.util.find_library("espeak-ng")
        if found is None:
            raise ConfigError(
                "tts.engine = 'espeak' needs espeak-ng: pip install 'voxrt[tts]' (espeakng-loader) "
                "or apt-get install espeak-ng"
            ) from None
        return found, None
    return espeakng_loader.get_library_path(), str(Path(espeakng_loader.get_data_path()).parent)


class EspeakEngine(TTSEngine):
    """espeak-ng voices by file name (``en-us``, ``en``, ``en-gb-x-rp``, ``de``, ...); ``en-us+f3`` is the
    female variant OpenAI's brighter voices map to. ``speed`` scales 175 words per minute."""

    name = "espeak"

    def __init__(self, default_voice: str | None = None, pool: PriorityPool | None = None) -> None:
        self._lib: ctypes.CDLL | None = None
        self._samples: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # kept referenced while the library may call it
        self.voices = ()
        self.sample_rate = 22050
        super().__init__(default_voice or "en-us", pool)

    def _load(self) -> None:
        path, data = _library()
        lib = ctypes.CDLL(path)
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_Synth.argtypes = (
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        )
        with _lock:
            rate = lib.espeak_Initialize(_SYNCHRONOUS, 200, data.encode() if data else None, 0)
            if rate <= 0:
                raise ConfigError(f"espeak-ng failed to start (library {path}, data {data})")
            lib.espeak_SetSynthCallback(self._callback)
            listed = lib.espeak_ListVoices(None)
        codes = []
        index = 0
        while listed[index]:  # voices by file name ("gmw/en-GB-x-rp" -> "en-gb-x-rp"), as espeak takes them
            identifier = listed[index].contents.identifier
            if identifier:
                codes.append(identifier.decode().rsplit("/", 1)[-1].lower())
            index += 1
        self.sample_rate = rate
        self.voices = tuple(dict.fromkeys(["en-us", "en-us" + _FEMALE, *sorted(codes)]))
        self._lib = lib

    def openai_voice_map(self) -> dict[str, str]:
        female = {"alloy", "coral", "nova", "sage", "shimmer", "ballad", "marin"}
        default = self.default_voice
        return {name: default + _FEMALE if name in female else default for name in OPENAI_VOICES}

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], count: int, events: int | None) -> int:
        if wav and count > 0:
            self._samples.append(to_float32(np.ctypeslib.as_array(wav, shape=(count,))))
        return 0  # 0: go on

    def _synthesize(self, text: str, voice: str, speed: float) -> Iterator[np.ndarray]:
        assert self._lib is not None
        wpm = int(min(max(_DEFAULT_WPM * speed, _WPM_RANGE[0]), _WPM_RANGE[1]))
        data = text.encode()
        with _lock:
            self._samples = []
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            self._lib.espeak_SetParameter(_RATE, wpm, 0)
            self._lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, _CHARS_UTF8, None, None)
            samples, self._samples = self._samples, []
        if samples:
            yield np.concatenate(samples)
