// The transcript: one row per utterance, provisional while deltas stream, final
// when the completed text arrives; exported as plain text or SubRip.

function clock(ms, separator = ".") {
  const total = Math.max(0, Math.round(ms));
  const h = Math.floor(total / 3600000);
  const m = Math.floor(total / 60000) % 60;
  const s = Math.floor(total / 1000) % 60;
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  const fraction = separator === "," ? pad(total % 1000, 3) : String(Math.floor((total % 1000) / 100));
  return `${h ? `${pad(h)}:` : separator === "," ? "00:" : ""}${pad(m)}:${pad(s)}${separator}${fraction}`;
}

export class Transcript {
  constructor(list, announcer) {
    this.list = list;
    this.announcer = announcer;
    this.items = new Map();
    this.offsetMs = 0; // where the current session's audio clock starts, after reconnects
  }

  item(id) {
    let item = this.items.get(id);
    if (!item) {
      const row = document.createElement("li");
      row.className = "utterance provisional";
      row.innerHTML = '<time></time><span class="text"></span><span class="turn-ms"></span>';
      this.list.append(row);
      item = { row, startMs: null, endMs: null, text: "", final: false };
      this.items.set(id, item);
    }
    return item;
  }

  started(id, audioStartMs) {
    const item = this.item(id);
    item.startMs = this.offsetMs + audioStartMs;
    item.row.querySelector("time").textContent = clock(item.startMs);
    this.scroll();
  }

  stopped(id, audioEndMs) {
    this.item(id).endMs = this.offsetMs + audioEndMs;
  }

  delta(id, text) {
    const item = this.item(id);
    if (item.final) return;
    item.text += text;
    this.render(item);
  }

  completed(id, text) {
    const item = this.item(id);
    item.text = text.trim();
    item.final = true;
    item.row.classList.remove("provisional");
    this.render(item);
    if (item.text) this.announcer.textContent = item.text;
  }

  failed(id, message) {
    const item = this.item(id);
    item.final = true;
    item.row.classList.replace("provisional", "failed");
    item.row.querySelector(".text").textContent = `(not transcribed: ${message})`;
  }

  latency(id, asrFinalMs) {
    const item = this.items.get(id);
    if (item) item.row.querySelector(".turn-ms").textContent = `${Math.round(asrFinalMs)} ms`;
  }

  render(item) {
    item.row.querySelector(".text").textContent = item.text;
    this.scroll();
  }

  scroll() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  clear() {
    this.items.clear();
    this.list.replaceChildren();
  }

  finals() {
    return [...this.items.values()].filter((item) => item.final && item.text);
  }

  asText() {
    return this.finals()
      .map((item) => (item.startMs === null ? item.text : `[${clock(item.startMs)}] ${item.text}`))
      .join("\n");
  }

  asSrt() {
    return this.finals()
      .map((item, i) => {
        const start = item.startMs ?? 0;
        const end = item.endMs ?? start;
        return `${i + 1}\n${clock(start, ",")} --> ${clock(end, ",")}\n${item.text}\n`;
      })
      .join("\n");
  }
}
