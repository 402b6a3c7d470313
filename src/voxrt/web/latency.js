// The latency panel: the server-measured numbers of each utterance (the
// voxrt.metrics event), rolling p50/p95, and a bar chart of the last ones.

const WINDOW = 100; // utterances in the rolling percentiles
const BARS = 30; // utterances in the chart

/** Nearest-rank percentile of a list of numbers. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const ms = (value) => (value === null || value === undefined ? "–" : `${Math.round(value)} ms`);

export class LatencyPanel {
  constructor({ last, p50, p95, count, endpoint, decode, canvas }) {
    this.fields = { last, p50, p95, count, endpoint, decode };
    this.canvas = canvas;
    this.turns = [];
  }

  add(metrics) {
    if (metrics.asr_final_ms === null) return; // a manual commit has no end of speech to time from
    this.turns.push(metrics);
    if (this.turns.length > WINDOW) this.turns.shift();
    const finals = this.turns.map((turn) => turn.asr_final_ms);
    const f = this.fields;
    f.last.textContent = ms(metrics.asr_final_ms);
    f.endpoint.textContent = ms(metrics.endpoint_ms);
    f.decode.textContent = ms(metrics.decode_ms);
    f.p50.textContent = ms(percentile(finals, 50));
    f.p95.textContent = ms(percentile(finals, 95));
    f.count.textContent = String(this.turns.length);
    this.draw();
  }

  clear() {
    this.turns = [];
    for (const field of Object.values(this.fields)) field.textContent = "–";
    this.draw();
  }

  draw() {
    const canvas = this.canvas;
    const scale = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    canvas.width = width * scale;
    canvas.height = height * scale;
    const g = canvas.getContext("2d");
    g.scale(scale, scale);
    g.clearRect(0, 0, width, height);
    const turns = this.turns.slice(-BARS);
    if (turns.length === 0) return;
    const top = Math.max(500, ...turns.map((t) => t.asr_final_ms)) * 1.15;
    const y = (value) => height - 16 - (value / top) * (height - 24);
    const slot = (width - 40) / BARS;
    const style = getComputedStyle(canvas);
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = style.getPropertyValue("--muted");
    g.fillText(`${Math.round(top)} ms`, 0, 10);
    g.fillText("0", 0, height - 16);
    turns.forEach((turn, i) => {
      const x = 40 + i * slot;
      const w = Math.max(2, slot - 3);
      // The endpoint share (waiting for the silence window) under the rest (decoding, sending).
      const endpoint = Math.min(turn.endpoint_ms ?? 0, turn.asr_final_ms);
      g.fillStyle = style.getPropertyValue("--endpoint");
      g.fillRect(x, y(endpoint), w, y(0) - y(endpoint));
      g.fillStyle = style.getPropertyValue("--accent");
      g.fillRect(x, y(turn.asr_final_ms), w, y(endpoint) - y(turn.asr_final_ms));
    });
    const p50 = percentile(this.turns.map((t) => t.asr_final_ms), 50);
    g.strokeStyle = style.getPropertyValue("--text");
    g.setLineDash([4, 4]);
    g.beginPath();
    g.moveTo(40, y(p50));
    g.lineTo(width, y(p50));
    g.stroke();
  }
}
