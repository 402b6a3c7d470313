"""voxrt, WhisperLive and WhisperLiveKit on the same model, audio and machine."""
