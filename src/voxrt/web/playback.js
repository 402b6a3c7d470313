// Reply playback: 16-bit PCM deltas into an AudioWorklet queue, in an AudioContext running at the
// session's output rate (the browser resamples to the device). Knows how much of each item was
// played, so an interrupted reply can be cut to what the user heard.

export class Playback {
  /**
   * Create it inside a click handler (browsers start audio only after a user gesture), then
   * `await open()`. onProgress({playing, level, playedMs, audibleMs}) follows the playback: audio
   * played in all, and how much of it carried sound.
   */
  constructor(rate, onProgress) {
    this.rate = rate;
    this.onProgress = onProgress;
    this.context = new AudioContext({ sampleRate: rate, latencyHint: "interactive" });
    this.node = null;
    this.items = new Map(); // item id -> {receivedFrames, playedFrames, ended, cut}
    this.stopping = []; // the pending stop()s, answered in order by the worklet
  }

  async open() {
    await this.context.audioWorklet.addModule(new URL("./playback-worklet.js", import.meta.url));
    this.node = new AudioWorkletNode(this.context, "pcm-playback", {
      numberOfInputs: 0,
      outputChannelCount: [1],
    });
    this.node.port.onmessage = ({ data }) => this.heard(data);
    this.node.connect(this.context.destination);
  }

  item(id) {
    let item = this.items.get(id);
    if (!item) {
      item = { receivedFrames: 0, playedFrames: 0, ended: false, cut: false };
      this.items.set(id, item);
    }
    return item;
  }

  /** Queue an audio delta (ArrayBuffer of little-endian int16) of an item; dropped once it is cut. */
  push(id, pcm) {
    const item = this.item(id);
    if (item.cut || !this.node) return;
    const int16 = new Int16Array(pcm);
    const samples = new Float32Array(int16.length);
    for (let i = 0; i < int16.length; i++) samples[i] = int16[i] / 0x8000;
    item.receivedFrames += samples.length;
    this.node.port.postMessage({ type: "audio", item: id, samples }, [samples.buffer]);
  }

  /** The item's audio is complete (its output_audio.done). */
  end(id) {
    this.item(id).ended = true;
  }

  receivedMs(id) {
    return ((this.items.get(id)?.receivedFrames ?? 0) * 1000) / this.rate;
  }

  /**
   * Silence now and drop what is queued. Resolves to [{id, playedMs}] for each item cut short (its
   * audio not all played, or more of it still to come); later deltas of those items are dropped.
   */
  stop() {
    const cut = [...this.items.entries()].filter(
      ([, item]) => !item.cut && (!item.ended || item.playedFrames < item.receivedFrames),
    );
    for (const [, item] of cut) item.cut = true;
    if (!this.node) return Promise.resolve([]);
    return new Promise((resolve) => {
      const answer = () => cut.map(([id, item]) => ({ id, playedMs: (item.playedFrames * 1000) / this.rate }));
      this.stopping.push(() => resolve(answer()));
      this.node.port.postMessage({ type: "stop" });
    });
  }

  heard(data) {
    for (const [id, frames] of data.played) this.item(id).playedFrames = frames;
    const playedMs = (data.playedFrames * 1000) / this.rate;
    const audibleMs = (data.audibleFrames * 1000) / this.rate;
    if (data.type === "stopped") {
      this.onProgress({ playing: false, level: 0, playedMs, audibleMs });
      this.stopping.shift()?.();
    } else {
      this.onProgress({ playing: data.playing, level: data.level, playedMs, audibleMs });
    }
  }

  close() {
    this.node?.port.close();
    this.context.close();
  }
}
