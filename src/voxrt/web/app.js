// The page: wires the microphone, the realtime connection, the transcript and
// the latency panel to the controls.

import { Connection } from "./connection.js";
import { LatencyPanel } from "./latency.js";
import { MicrophoneError, openMicrophone } from "./microphone.js";
import { Transcript } from "./transcript.js";

const RATE = 24000; // audio/pcm at the rate OpenAI's Realtime API specifies
const CHUNK_MS = 40;

const $ = (id) => document.getElementById(id);
const ui = {
  start: $("start"),
  status: $("status"),
  notice: $("notice"),
  level: $("level"),
  speaking: $("speaking"),
  language: $("language"),
  threshold: $("threshold"),
  silence: $("silence"),
  processing: $("processing"),
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

let running = null; // {context, closeMicrophone, connection, samplesSent}

function sessionConfig() {
  return {
    type: "transcription",
    audio: {
      input: {
        format: { type: "audio/pcm", rate: RATE },
        transcription: { language: ui.language.value || null },
        turn_detection: {
          type: "server_vad",
          threshold: Number(ui.threshold.value),
          silence_duration_ms: Number(ui.silence.value),
        },
      },
    },
  };
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
  }
  if (state === "failed") {
    stop();
    showStatus("Stopped", "failed");
    showNotice(message);
  }
}

function onEvent(event) {
  switch (event.type) {
    case "session.created":
      transcript.offsetMs = (running.samplesSent / RATE) * 1000;
      break;
    case "input_audio_buffer.speech_started":
      transcript.started(event.item_id, event.audio_start_ms);
      setSpeaking(true);
      break;
    case "input_audio_buffer.speech_stopped":
      transcript.stopped(event.item_id, event.audio_end_ms);
      setSpeaking(false);
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
    case "error":
      if (!["session_limit_reached", "model_not_ready"].includes(event.error?.code)) {
        showNotice(`The server reported an error: ${event.error?.message}`);
      }
      break;
  }
}

function onChunk(pcm, level) {
  ui.level.value = Math.min(1, level * 5);
  if (running?.connection.sendAudio(pcm)) running.samplesSent += pcm.byteLength / 2;
}

async function start() {
  showNotice(null);
  // Created inside the click: browsers start audio only after a user gesture.
  const context = new AudioContext();
  running = { context, closeMicrophone: null, connection: null, samplesSent: 0 };
  ui.start.textContent = "Stop";
  ui.start.classList.add("stop");
  showStatus("Opening the microphone…", "connecting");
  try {
    running.closeMicrophone = await openMicrophone(context, {
      rate: RATE,
      chunkMs: CHUNK_MS,
      processing: ui.processing.checked,
      onChunk,
    });
  } catch (error) {
    stop();
    showStatus("Stopped", "failed");
    showNotice(error instanceof MicrophoneError ? error.message : String(error));
    return;
  }
  if (!running) return; // stopped while the permission prompt was open
  running.connection = new Connection({
    apiKey: ui.apiKey.value.trim(),
    session: sessionConfig(),
    onEvent,
    onState,
  });
  running.connection.start();
}

function stop() {
  if (!running) return;
  const { context, closeMicrophone, connection } = running;
  running = null;
  connection?.stop();
  closeMicrophone?.();
  context.close();
  ui.start.textContent = "Start";
  ui.start.classList.remove("stop");
  ui.level.value = 0;
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

function showSettings() {
  $("threshold-value").textContent = ui.threshold.value;
  $("silence-value").textContent = `${ui.silence.value} ms`;
}

// Sent when a control is let go, not on every step of a slider drag (each resets the VAD).
function settingsChanged() {
  for (const key of ["language", "threshold", "silence"]) localStorage.setItem(`voxrt.${key}`, ui[key].value);
  localStorage.setItem("voxrt.processing", ui.processing.checked ? "1" : "0");
  running?.connection?.update(sessionConfig());
}

for (const key of ["language", "threshold", "silence"]) {
  ui[key].value = localStorage.getItem(`voxrt.${key}`) ?? ui[key].value;
  ui[key].addEventListener("input", showSettings);
  ui[key].addEventListener("change", settingsChanged);
}
ui.processing.checked = localStorage.getItem("voxrt.processing") !== "0";
ui.processing.addEventListener("change", settingsChanged);
ui.apiKey.value = sessionStorage.getItem("voxrt.apiKey") ?? "";
ui.apiKey.addEventListener("change", () => sessionStorage.setItem("voxrt.apiKey", ui.apiKey.value.trim()));
showSettings();

ui.start.addEventListener("click", () => (running ? stop() : start()));
$("copy").addEventListener("click", async (event) => {
  try {
    await navigator.clipboard.writeText(transcript.asText());
    event.target.textContent = "Copied";
  } catch {
    event.target.textContent = "Copy failed";
  }
  setTimeout(() => (event.target.textContent = "Copy"), 1500);
});
$("download-txt").addEventListener("click", () => download(transcript.asText(), "txt", "text/plain"));
$("download-srt").addEventListener("click", () => download(transcript.asSrt(), "srt", "application/x-subrip"));
$("clear").addEventListener("click", () => {
  transcript.clear();
  latency.clear();
});
