// The conversation as chat bubbles: the user's turns (provisional while their transcript streams)
// and the assistant's replies, whose text streams in as it is spoken. An interrupted reply shows
// the words the user did not hear struck through.

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

export class Chat {
  constructor(list, announcer) {
    this.list = list;
    this.announcer = announcer;
    this.bubbles = new Map(); // item id -> {row, text, meta, role}
  }

  bubble(id, role) {
    let bubble = this.bubbles.get(id);
    if (!bubble) {
      const row = document.createElement("li");
      row.className = `bubble ${role}${role === "user" ? " provisional" : ""}`;
      row.dataset.item = id;
      const text = document.createElement("p");
      text.className = "text";
      const meta = document.createElement("div");
      meta.className = "meta";
      row.append(text, meta);
      this.list.append(row);
      bubble = { row, text, meta, role, playedMs: null };
      this.bubbles.set(id, bubble);
      this.scroll();
    }
    return bubble;
  }

  // -- the user's turns --

  userStarted(id) {
    this.bubble(id, "user");
  }

  userDelta(id, delta) {
    const bubble = this.bubble(id, "user");
    if (!bubble.row.classList.contains("provisional")) return;
    bubble.text.textContent += delta;
    this.scroll();
  }

  userCompleted(id, transcript) {
    const text = transcript.trim();
    if (!text) return this.remove(id); // noise, not words: no turn
    const bubble = this.bubble(id, "user");
    bubble.row.classList.remove("provisional");
    bubble.text.textContent = text;
    this.announcer.textContent = text;
    this.scroll();
  }

  userFailed(id, message) {
    const bubble = this.bubble(id, "user");
    bubble.row.classList.replace("provisional", "failed");
    bubble.text.textContent = `(not transcribed: ${message})`;
  }

  remove(id) {
    this.bubbles.get(id)?.row.remove();
    this.bubbles.delete(id);
  }

  // -- the assistant's replies --

  assistantStarted(id) {
    this.bubble(id, "assistant").row.classList.add("streaming");
  }

  /** A piece of the reply's text; `atMs` is where its audio starts in the reply (null: text only). */
  assistantDelta(id, delta, atMs = null) {
    const bubble = this.bubble(id, "assistant");
    const span = document.createElement("span");
    span.textContent = delta;
    if (atMs !== null) span.dataset.atMs = String(Math.round(atMs));
    // text that comes after the interruption was never heard
    if (bubble.playedMs !== null && atMs !== null && atMs >= bubble.playedMs) span.classList.add("unheard");
    bubble.text.append(span);
    this.scroll();
  }

  /** The reply has ended: `status` as in response.done. */
  assistantDone(id, status) {
    const bubble = this.bubbles.get(id);
    if (!bubble) return;
    bubble.row.classList.remove("streaming");
    if (status !== "completed") bubble.row.classList.add(status);
    if (status === "completed") this.announcer.textContent = bubble.text.textContent;
  }

  /** The user spoke over the reply after `playedMs` of it: what came later was not heard. */
  interrupted(id, playedMs) {
    const bubble = this.bubbles.get(id);
    if (!bubble) return;
    bubble.playedMs = playedMs;
    bubble.row.classList.add("interrupted");
    for (const span of bubble.text.children) {
      if (Number(span.dataset.atMs) >= playedMs) span.classList.add("unheard");
    }
    const note = document.createElement("span");
    note.className = "note";
    note.textContent = `interrupted after ${seconds(playedMs)}`;
    bubble.meta.append(note);
  }

  /** Show `element` (the turn's latency) under a reply. */
  attach(id, element) {
    this.bubbles.get(id)?.meta.prepend(element);
    this.scroll();
  }

  notice(text) {
    const row = document.createElement("li");
    row.className = "chat-notice";
    row.textContent = text;
    this.list.append(row);
    this.scroll();
  }

  scroll() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  clear() {
    this.bubbles.clear();
    this.list.replaceChildren();
  }

  asText() {
    return [...this.bubbles.values()]
      .filter((b) => !b.row.classList.contains("provisional"))
      .map((b) => `${b.role === "user" ? "You" : "Assistant"}: ${b.text.textContent.trim()}`)
      .join("\n");
  }
}
