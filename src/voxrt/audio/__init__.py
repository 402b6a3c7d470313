"""Audio input: decoding, resampling and fetching."""

from voxrt.audio.decode import SAMPLE_RATE, decode_audio, decode_base64, resample

__all__ = ["SAMPLE_RATE", "decode_audio", "decode_base64", "resample"]
