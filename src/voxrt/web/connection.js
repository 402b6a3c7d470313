// One realtime session over /v1/realtime (transcription or conversation), the same protocol as
// any client, that reconnects with backoff when the server goes away.

const BACKOFF_S = [0.5, 1, 2, 4, 8, 10];
const MAX_BUFFERED_BYTES = 1 << 20; // past this the network is not keeping up: drop audio

/**
 * URL of a server path, relative to the page (so a reverse proxy may mount voxrt under a prefix),
 * ws:// or wss:// for a WebSocket as the page is http:// or https://.
 */
export function serverUrl(path, websocket = false, page = document.baseURI) {
  const url = new URL(path, page);
  if (websocket) url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url;
}

function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export class Connection {
  /**
   * `path` is the session's WebSocket path, relative to the page. onEvent(event) gets every server
   * event; onState({state, message, retryInS}) gets "connecting", "live", "retrying", "failed" and
   * "stopped"; onModels(models) the server's GET /v1/models list on each connect.
   */
  constructor({ path, apiKey, session, onEvent, onState, onModels = () => {} }) {
    this.path = path;
    this.apiKey = apiKey;
    this.session = session;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onModels = onModels;
    this.socket = null;
    this.live = false;
    this.stopped = false;
    this.attempt = 0;
    this.retryReason = null;
    this.timer = null;
  }

  start() {
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, "stopped by the user");
    this.onState({ state: "stopped" });
  }

  /** New session settings: sent at once when live, and on every reconnect. */
  update(session) {
    this.session = session;
    if (this.live) this.send({ type: "session.update", session });
  }

  sendAudio(pcm) {
    if (!this.live || this.socket.bufferedAmount > MAX_BUFFERED_BYTES) return false;
    this.send({ type: "input_audio_buffer.append", audio: toBase64(pcm) });
    return true;
  }

  send(event) {
    this.socket.send(JSON.stringify(event));
  }

  async connect() {
    if (this.stopped) return;
    this.onState({ state: "connecting" });
    // A plain request first: a browser can't read why a WebSocket handshake failed.
    const headers = this.apiKey ? { Authorization: `Bearer ${this.apiKey}` } : {};
    let response;
    try {
      response = await fetch(serverUrl("v1/models"), { headers, cache: "no-store" });
    } catch {
      return this.retry("Cannot reach the voxrt server.");
    }
    if (this.stopped) return;
    if (response.status === 401) {
      this.stopped = true;
      const message = this.apiKey
        ? "Authentication refused: the API key was not accepted."
        : "Authentication refused: this server needs an API key (Settings).";
      return this.onState({ state: "failed", message });
    }
    if (!response.ok) return this.retry(`The server answered HTTP ${response.status}.`);
    try {
      this.onModels((await response.json()).data ?? []);
    } catch {
      // the list only fills the voice menu: a session works without it
    }
    if (this.stopped) return;
    this.open();
  }

  open() {
    const protocols = ["realtime"];
    if (this.apiKey) protocols.push(`openai-insecure-api-key.${this.apiKey}`);
    const socket = new WebSocket(serverUrl(this.path, true), protocols);
    this.socket = socket;
    this.retryReason = null;
    socket.onmessage = (message) => this.receive(JSON.parse(message.data));
    socket.onclose = () => {
      const wasLive = this.live;
      this.live = false;
      if (this.stopped || socket !== this.socket) return;
      this.retry(this.retryReason || (wasLive ? "The connection to the server was lost." : "Cannot reach the voxrt server."));
    };
  }

  receive(event) {
    if (event.type === "session.created") {
      this.live = true;
      this.attempt = 0;
      this.send({ type: "session.update", session: this.session });
      this.onState({ state: "live" });
    } else if (event.type === "error" && event.error?.code === "session_limit_reached") {
      this.retryReason = "The server is at its session limit.";
    } else if (event.type === "error" && event.error?.code === "model_not_ready") {
      this.retryReason = "The server is still loading its models.";
    } else if (event.type === "error" && event.error?.code === "conversation_unavailable") {
      this.stopped = true; // retrying would not help: the server has no language model
      this.onState({ state: "failed", message: event.error.message });
    }
    this.onEvent(event);
  }

  retry(reason) {
    if (this.stopped) return;
    const retryInS = BACKOFF_S[Math.min(this.attempt, BACKOFF_S.length - 1)];
    this.attempt += 1;
    this.onState({ state: "retrying", message: reason, retryInS });
    this.timer = setTimeout(() => this.connect(), retryInS * 1000);
  }
}
