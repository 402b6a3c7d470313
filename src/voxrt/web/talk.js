// Talk mode: a conversation session's events into chat bubbles, played audio and turn latency.
// Barge-in: the moment the server hears speech, playback stops and the server is told how much of
// the reply was played (conversation.item.truncate), so the reply keeps only what was heard.

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

export class Talk {
  /** send(event) sends a client event; chat, turns and playback show and play the conversation. */
  constructor({ chat, turns, playback, send }) {
    this.chat = chat;
    this.turns = turns;
    this.playback = playback;
    this.send = send;
    this.userMetrics = new Map(); // user item -> its voxrt.metrics, until its reply's arrive
    this.replies = new Map(); // response id -> the assistant item it speaks
    this.sessions = 0;
  }

  handle(event) {
    const chat = this.chat;
    switch (event.type) {
      case "session.created":
        if (this.sessions++ > 0) chat.notice("Reconnected: a new conversation starts here.");
        break;
      case "input_audio_buffer.speech_started":
        this.interrupt();
        chat.userStarted(event.item_id);
        break;
      case "conversation.item.input_audio_transcription.delta":
        chat.userDelta(event.item_id, event.delta);
        break;
      case "conversation.item.input_audio_transcription.completed":
        chat.userCompleted(event.item_id, event.transcript);
        break;
      case "conversation.item.input_audio_transcription.failed":
        chat.userFailed(event.item_id, event.error?.message || "unknown error");
        break;
      case "conversation.item.deleted": // e.g. the reply's own echo, not something the user said
        chat.remove(event.item_id);
        break;
      case "response.output_item.added":
        if (event.item.type === "message") {
          this.replies.set(event.response_id, event.item.id);
          chat.assistantStarted(event.item.id);
        }
        break;
      case "response.output_audio_transcript.delta": // just before the audio it speaks
        chat.assistantDelta(event.item_id, event.delta, this.playback.receivedMs(event.item_id));
        break;
      case "response.output_text.delta":
        chat.assistantDelta(event.item_id, event.delta);
        break;
      case "response.output_audio.delta":
        this.playback.push(event.item_id, fromBase64(event.delta));
        break;
      case "response.output_audio.done":
        this.playback.end(event.item_id);
        break;
      case "response.done":
        for (const item of event.response.output) chat.assistantDone(item.id, event.response.status);
        break;
      case "voxrt.metrics":
        this.metrics(event);
        break;
    }
  }

  metrics(event) {
    if (!event.response_id) {
      this.userMetrics.set(event.item_id, event); // the user's turn: endpoint_ms, asr_final_ms
      return;
    }
    const user = this.userMetrics.get(event.item_id);
    this.userMetrics.delete(event.item_id);
    const reply = this.replies.get(event.response_id);
    this.replies.delete(event.response_id);
    const bar = this.turns.add(user, event);
    if (reply) this.chat.attach(reply, bar);
  }

  /** The user speaks: silence the reply now, then cut it to what was played. */
  async interrupt() {
    for (const { id, playedMs } of await this.playback.stop()) {
      const audioEndMs = Math.floor(playedMs);
      this.send({ type: "conversation.item.truncate", item_id: id, content_index: 0, audio_end_ms: audioEndMs });
      this.chat.interrupted(id, audioEndMs);
    }
  }
}
