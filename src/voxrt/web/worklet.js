// Runs on the audio thread: mixes the microphone to mono, resamples it from the
// AudioContext's rate to the session's rate, and posts 16-bit PCM chunks with
// their RMS level to the page.

class PcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, chunkMs } = options.processorOptions;
    // Input samples per output sample. Linear interpolation, no low-pass: the
    // context runs at 44.1 or 48 kHz and speech carries little energy above the
    // 8 or 12 kHz Nyquist of the session rate.
    this.step = sampleRate / targetRate;
    // Where the next output sample falls, in input samples from the start of the
    // current block; -1 is the last sample of the previous block.
    this.position = 0;
    this.previous = 0;
    this.chunkSize = Math.round((targetRate * chunkMs) / 1000);
    this.chunk = new Int16Array(this.chunkSize);
    this.filled = 0;
    this.sumSquares = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (channels.length === 0) return true;
    const n = channels[0].length;
    const mono = new Float32Array(n);
    for (const channel of channels) {
      for (let i = 0; i < n; i++) mono[i] += channel[i] / channels.length;
    }
    let t = this.position;
    while (t < n - 1) {
      let sample;
      if (t < 0) {
        sample = this.previous + (mono[0] - this.previous) * (t + 1);
      } else {
        const i = Math.floor(t);
        sample = mono[i] + (mono[i + 1] - mono[i]) * (t - i);
      }
      this.push(sample);
      t += this.step;
    }
    this.position = t - n;
    this.previous = mono[n - 1];
    return true;
  }

  push(sample) {
    const clamped = Math.max(-1, Math.min(1, sample));
    this.chunk[this.filled++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    this.sumSquares += clamped * clamped;
    if (this.filled === this.chunkSize) {
      const level = Math.sqrt(this.sumSquares / this.chunkSize);
      this.port.postMessage({ pcm: this.chunk.buffer, level }, [this.chunk.buffer]);
      this.chunk = new Int16Array(this.chunkSize);
      this.filled = 0;
      this.sumSquares = 0;
    }
  }
}

registerProcessor("pcm-capture", PcmCapture);
