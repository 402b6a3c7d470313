// Runs on the audio thread: plays queued reply audio (float samples at the context's rate, which is
// the session's output rate), counts the frames of each item it has played, and drops everything
// queued the moment it is told to stop.

const REPORT_S = 0.025; // how often the page hears how far playback has got
const AUDIBLE = 1 / 1024; // a render quantum whose peak passes this (-60 dBFS) carried sound

class PcmPlayback extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = []; // {item, samples, offset}
    this.played = new Map(); // item -> frames played since the last stop
    this.playedFrames = 0; // frames of queued audio played, all session
    this.audibleFrames = 0; // frames of the render quanta that carried sound, all session
    this.sumSquares = 0;
    this.sinceReport = 0;
    this.playing = false;
    this.port.onmessage = ({ data }) => {
      if (data.type === "audio") this.queue.push({ item: data.item, samples: data.samples, offset: 0 });
      if (data.type === "stop") this.stop();
    };
  }

  stop() {
    this.queue = [];
    this.playing = false;
    this.port.postMessage({ type: "stopped", ...this.counters() });
    this.played.clear();
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    let filled = 0;
    let peak = 0;
    while (filled < out.length && this.queue.length > 0) {
      const head = this.queue[0];
      const n = Math.min(out.length - filled, head.samples.length - head.offset);
      for (let i = 0; i < n; i++) {
        const sample = head.samples[head.offset + i];
        out[filled + i] = sample;
        peak = Math.max(peak, Math.abs(sample));
        this.sumSquares += sample * sample;
      }
      this.played.set(head.item, (this.played.get(head.item) ?? 0) + n);
      head.offset += n;
      filled += n;
      if (head.offset === head.samples.length) this.queue.shift();
    }
    out.fill(0, filled);
    this.playedFrames += filled;
    if (peak > AUDIBLE) this.audibleFrames += filled;
    if (filled > 0) {
      this.playing = true;
      this.sinceReport += out.length;
      if (this.sinceReport >= REPORT_S * sampleRate) this.report(this.queue.length > 0);
    } else if (this.playing) {
      this.report(false); // ran dry: the page learns that nothing is playing
    }
    return true;
  }

  counters() {
    return { played: [...this.played], playedFrames: this.playedFrames, audibleFrames: this.audibleFrames };
  }

  report(playing) {
    const level = Math.sqrt(this.sumSquares / Math.max(this.sinceReport, 1));
    this.port.postMessage({ type: "progress", ...this.counters(), level, playing });
    this.playing = playing;
    this.sinceReport = 0;
    this.sumSquares = 0;
  }
}

registerProcessor("pcm-playback", PcmPlayback);
