// The page: wires the microphone and the realtime connection to the controls and, by mode, to the
// transcript and its latency (Transcribe) or to the conversation, reply playback and turn latency
// (Talk).

import { Chat } from "./chat.js";
import { Connection } from "./connection.js";
import { LatencyPanel } from "./latency.js";
import { MicrophoneError, openMicrophone } from "./microphone.js";
import { Playback } from "./playback.js";
import { Talk } from "./talk.js";
import { Transcript } from "./transcript.js";
import { TurnLatency } from "./turns.js";

const RATE = 24000; // audio/pcm at the rate OpenAI's Realtime API specifies, both ways
const CHUNK_MS = 40;
const SAVED = ["language", "threshold", "silence", "voice", "instructions"]; // kept in localStorage
const TICKED = ["echo", "processing"];
// Errors the connection explains itself (retrying, or stopping with a notice).
const HANDLED = ["session_limit_reached", "model_not_ready", "conversation_unavailable"];

const $ = (id) => document.getElementById(id);
const ui = {
  start: $("start"),
  status: $("status"),
  notice: $("notice"),
  level: $("level"),
  speaking: $("speaking"),
  speaker: $("speaker"),
  modes: [...document.querySelectorAll('input[name="mode"]')],
  language: $("language"),
  threshold: $("threshold"),
  silence: $("silence"),
  echo: $("echo"),
  processing: $("processing"),
  voice: $("voice"),
  instructions: $("instructions"),
  apiKey: $("api-key"),
};
const transcript = new Transcript($("transcript"), $("announcer"));
const latency = new LatencyPanel({
  last: $("lat-last"),
  p50: $("lat-p50"),
  p95: $("lat-p95"),
  count: $("lat-count"),
  endpoint: $("lat-endpoint"),
  decode: $("lat-decode"),
  canvas: $("chart"),
});
const chat = new Chat($("chat"), $("announcer"));
const turns = new TurnLatency({
  last: $("v2v-last"),
  p50: $("v2v-p50"),
  p95: $("v2v-p95"),
  count: $("v2v-count"),
  endpoint: $("stage-endpoint"),
  asr: $("stage-asr"),
  llm: $("stage-llm"),
  tts: $("stage-tts"),
  other: $("stage-other"),
});

let running = null; // {talking, context, playback, talk, closeMicrophone, connection, samplesSent}

const talkMode = () => ui.modes.find((input) => input.checked)?.value === "talk";

function sessionConfig(talking) {
  const input = {
    format: { type: "audio/pcm", rate: RATE },
    transcription: { language: ui.language.value || null },
    turn_detection: {
      type: "server_vad",
      threshold: Number(ui.threshold.value),
      silence_duration_ms: Number(ui.silence.value),
    },
  };
  if (!talking) return { type: "transcription", audio: { input } };
  const session = { type: "realtime", audio: { input, output: { format: { type: "audio/pcm", rate: RATE } } } };
  if (ui.voice.value) session.audio.output.voice = ui.voice.value;
  const instructions = ui.instructions.value.trim();
  if (instructions) session.instructions = instructions;
  return session;
}

function showStatus(text, kind) {
  ui.status.textContent = text;
  ui.status.className = `status ${kind}`;
}

function showNotice(text, kind = "error") {
  ui.notice.hidden = !text;
  ui.notice.textContent = text || "";
  ui.notice.className = `notice ${kind}`;
}

function showMode() {
  const talking = talkMode();
  document.body.classList.toggle("talk", talking);
  $("mode-title").textContent = talking ? "talk" : "live transcription";
}

function setSpeaking(on) {
  ui.speaking.textContent = on ? "Speaking" : "Silent";
  ui.speaking.classList.toggle("on", on);
}

function onState({ state, message, retryInS }) {
  if (state === "connecting") showStatus("Connecting…", "connecting");
  if (state === "live") {
    showStatus("Listening", "live");
    showNotice(null);
  }
  if (state === "retrying") {
    showStatus("Reconnecting…", "retrying");
    showNotice(`${message} Retrying in ${retryInS} s…`, "info");
    setSpeaking(false);
    running?.playback?.stop(); // the rest of a reply from a session that is gone
  }
  if (state === "failed") {
    stop();
    showStatus("Stopped", "failed");
    showNotice(message);
  }
}

function onEvent(event) {
  switch (event.type) {
    case "input_audio_buffer.speech_started":
      setSpeaking(true);
      break;
    case "input_audio_buffer.speech_stopped":
      setSpeaking(false);
      break;
    case "error":
      if (!HANDLED.includes(event.error?.code)) showNotice(`The server reported an error: ${event.error?.message}`);
      break;
  }
  if (!running) return;
  if (running.talk) running.talk.handle(event);
  else transcribed(event);
}

function transcribed(event) {
  switch (event.type) {
    case "session.created":
      transcript.offsetMs = (running.samplesSent / RATE) * 1000;
      break;
    case "input_audio_buffer.speech_started":
      transcript.started(event.item_id, event.audio_start_ms);
      break;
    case "input_audio_buffer.speech_stopped":
      transcript.stopped(event.item_id, event.audio_end_ms);
      break;
    case "conversation.item.input_audio_transcription.delta":
      transcript.delta(event.item_id, event.delta);
      break;
    case "conversation.item.input_audio_transcription.completed":
      transcript.completed(event.item_id, event.transcript);
      break;
    case "conversation.item.input_audio_transcription.failed":
      transcript.failed(event.item_id, event.error?.message || "unknown error");
      break;
    case "voxrt.metrics":
      latency.add(event);
      transcript.latency(event.item_id, event.asr_final_ms);
      break;
  }
}

function onChunk(pcm, level) {
  ui.level.value = Math.min(1, level * 5);
  if (running?.connection?.sendAudio(pcm)) running.samplesSent += pcm.byteLength / 2;
}

// The reply's level, and (for tests and the curious) how much audio the playback node has played.
function onPlayback({ playing, level, playedMs, audibleMs }) {
  ui.speaker.value = playing ? Math.min(1, level * 3) : 0;
  ui.speaker.dataset.playedMs = String(Math.round(playedMs));
  ui.speaker.dataset.audibleMs = String(Math.round(audibleMs));
}

// The voice menu: the speech engine's voices from GET /v1/models (and the one chosen before).
function onModels(models) {
  const voices = models.find((model) => Array.isArray(model.voices))?.voices ?? [];
  const chosen = ui.voice.value;
  const options = [new Option("Server default", ""), ...voices.map((voice) => new Option(voice, voice))];
  if (chosen && !voices.includes(chosen)) options.push(new Option(chosen, chosen));
  ui.voice.replaceChildren(...options);
  ui.voice.value = chosen;
}

async function start() {
  showNotice(null);
  const talking = talkMode();
  // Created inside the click: browsers start audio only after a user gesture.
  const context = new AudioContext();
  const playback = talking ? new Playback(RATE, onPlayback) : null;
  const session = { talking, context, playback, talk: null, closeMicrophone: null, connection: null, samplesSent: 0 };
  running = session;
  ui.start.textContent = "Stop";
  ui.start.classList.add("stop");
  for (const input of ui.modes) input.disabled = true;
  showStatus("Opening the microphone…", "connecting");
  try {
    const close = await openMicrophone(context, {
      rate: RATE,
      chunkMs: CHUNK_MS,
      echoCancellation: ui.echo.checked,
      processing: ui.processing.checked,
      onChunk,
    });
    if (running !== session) return close(); // stopped while the permission prompt was open
    session.closeMicrophone = close;
    await playback?.open();
  } catch (error) {
    stop();
    showStatus("Stopped", "failed");
    showNotice(error instanceof MicrophoneError ? error.message : String(error));
    return;
  }
  if (running !== session) return;
  const connection = new Connection({
    // metrics=true: the per-turn voxrt.metrics events the latency panel draws (off by default in
    // conversations, whose SDK clients take unknown events for errors)
    path: talking ? "v1/realtime?metrics=true" : "v1/realtime?intent=transcription",
    apiKey: ui.apiKey.value.trim(),
    session: sessionConfig(talking),
    onEvent,
    onState,
    onModels,
  });
  session.connection = connection;
  if (talking) {
    const send = (event) => connection.live && connection.send(event);
    session.talk = new Talk({ chat, turns, playback, send });
  }
  connection.start();
}

function stop() {
  if (!running) return;
  const { context, playback, closeMicrophone, connection } = running;
  running = null;
  connection?.stop();
  closeMicrophone?.();
  context.close();
  playback?.close();
  ui.start.textContent = "Start";
  ui.start.classList.remove("stop");
  for (const input of ui.modes) input.disabled = false;
  ui.level.value = 0;
  ui.speaker.value = 0;
  setSpeaking(false);
  showStatus("Stopped", "idle");
}

function download(text, extension, type) {
  const stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, "");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = `voxrt-transcript-${stamp}.${extension}`;
  link.click();
  URL.revokeObjectURL(link.href);
}

async function copy(button, text) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Copy failed";
  }
  setTimeout(() => (button.textContent = "Copy"), 1500);
}

function showSettings() {
  $("threshold-value").textContent = ui.threshold.value;
  $("silence-value").textContent = `${ui.silence.value} ms`;
}

// Sent when a control is let go, not on every step of a slider drag (each resets the VAD).
function settingsChanged() {
  for (const key of SAVED) localStorage.setItem(`voxrt.${key}`, ui[key].value);
  for (const key of TICKED) localStorage.setItem(`voxrt.${key}`, ui[key].checked ? "1" : "0");
  running?.connection?.update(sessionConfig(running.talking));
}

for (const key of SAVED) {
  const saved = localStorage.getItem(`voxrt.${key}`);
  if (key === "voice" && saved) ui.voice.append(new Option(saved, saved));
  ui[key].value = saved ?? ui[key].value;
  ui[key].addEventListener("input", showSettings);
  ui[key].addEventListener("change", settingsChanged);
}
for (const key of TICKED) {
  ui[key].checked = localStorage.getItem(`voxrt.${key}`) !== "0";
  ui[key].addEventListener("change", settingsChanged);
}
ui.apiKey.value = sessionStorage.getItem("voxrt.apiKey") ?? "";
ui.apiKey.addEventListener("change", () => sessionStorage.setItem("voxrt.apiKey", ui.apiKey.value.trim()));
const savedMode = localStorage.getItem("voxrt.mode");
for (const input of ui.modes) {
  input.checked = savedMode ? input.value === savedMode : input.checked;
  input.addEventListener("change", () => {
    localStorage.setItem("voxrt.mode", input.value);
    showMode();
  });
}
showSettings();
showMode();

ui.start.addEventListener("click", () => (running ? stop() : start()));
$("copy").addEventListener("click", (event) => copy(event.target, transcript.asText()));
$("download-txt").addEventListener("click", () => download(transcript.asText(), "txt", "text/plain"));
$("download-srt").addEventListener("click", () => download(transcript.asSrt(), "srt", "application/x-subrip"));
$("clear").addEventListener("click", () => {
  transcript.clear();
  latency.clear();
});
$("copy-chat").addEventListener("click", (event) => copy(event.target, chat.asText()));
$("clear-chat").addEventListener("click", () => {
  chat.clear();
  turns.clear();
});
