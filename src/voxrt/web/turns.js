// Voice-to-voice latency of a conversation: each turn's stages as a stacked bar (from the two
// voxrt.metrics events of a turn: the user's and the reply's), and voice_to_voice p50/p95.

import { percentile } from "./latency.js";

// In the order they happen, from the end of the user's speech to the reply's first audio.
export const STAGES = [
  { key: "endpoint", label: "endpoint" }, // the silence window that ends the turn
  { key: "asr", label: "ASR final" }, // the rest of the final transcript
  { key: "llm", label: "LLM first token" },
  { key: "tts", label: "TTS first audio" },
  { key: "other", label: "first sentence, queues" }, // what voice_to_voice holds beyond the above
];
const MIN_SCALE_MS = 1000;

const ms = (value) => (value === null || value === undefined ? "–" : `${Math.round(value)} ms`);

/** The stages of a turn in ms (null where unknown) and its voice_to_voice_ms. */
export function stages(user, reply) {
  const endpoint = user?.endpoint_ms ?? null;
  const final = user?.asr_final_ms ?? null;
  const parts = {
    endpoint,
    asr: final === null ? null : Math.max(0, final - (endpoint ?? 0)),
    llm: reply.llm_ttft_ms ?? null,
    tts: reply.tts_ttfb_ms ?? null,
    other: null,
  };
  const total = reply.voice_to_voice_ms ?? null;
  if (total !== null) {
    const known = (final ?? 0) + (parts.llm ?? 0) + (parts.tts ?? 0);
    parts.other = Math.max(0, total - known);
  }
  return { parts, total };
}

export class TurnLatency {
  constructor({ last, p50, p95, count, endpoint, asr, llm, tts, other }) {
    this.fields = { last, p50, p95, count, endpoint, asr, llm, tts, other };
    this.totals = [];
    this.bars = []; // {element, total}: rescaled together, so turns compare at a glance
  }

  /** Record a turn; returns its stacked bar, to show under the reply. */
  add(user, reply) {
    const { parts, total } = stages(user, reply);
    if (total !== null) this.totals.push(total);
    const f = this.fields;
    f.last.textContent = ms(total);
    f.p50.textContent = ms(percentile(this.totals, 50));
    f.p95.textContent = ms(percentile(this.totals, 95));
    f.count.textContent = String(this.totals.length);
    for (const stage of STAGES) f[stage.key].textContent = ms(parts[stage.key]);
    const element = bar(parts, total);
    const width = total ?? Object.values(parts).reduce((sum, value) => sum + (value ?? 0), 0);
    this.bars.push({ element, total: width });
    this.rescale();
    return element;
  }

  rescale() {
    const top = Math.max(MIN_SCALE_MS, ...this.bars.map((b) => b.total));
    for (const { element, total } of this.bars) {
      element.querySelector(".stage-track").style.width = `${(100 * total) / top}%`;
    }
  }

  clear() {
    this.totals = [];
    this.bars = [];
    for (const field of Object.values(this.fields)) field.textContent = "–";
  }
}

function bar(parts, total) {
  const element = document.createElement("div");
  element.className = "stages";
  const described = STAGES.filter((s) => parts[s.key] !== null).map((s) => `${s.label} ${ms(parts[s.key])}`);
  element.setAttribute("role", "img");
  element.setAttribute("aria-label", `voice to voice ${ms(total)}: ${described.join(", ")}`);
  element.title = described.join("\n");
  const track = document.createElement("div");
  track.className = "stage-track";
  const sum = STAGES.reduce((acc, s) => acc + (parts[s.key] ?? 0), 0);
  for (const stage of STAGES) {
    if (!parts[stage.key]) continue;
    const segment = document.createElement("span");
    segment.className = `stage ${stage.key}`;
    segment.dataset.ms = String(Math.round(parts[stage.key]));
    segment.style.width = `${(100 * parts[stage.key]) / sum}%`;
    track.append(segment);
  }
  const area = document.createElement("div"); // the track's width is a share of this
  area.append(track);
  const label = document.createElement("span");
  label.className = "stage-total";
  label.textContent = `voice to voice ${ms(total)}`;
  element.append(area, label);
  return element;
}
