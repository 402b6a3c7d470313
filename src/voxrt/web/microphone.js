// Microphone capture: getUserMedia into an AudioWorklet that hands back 16-bit
// PCM at the session's rate.

const MESSAGES = {
  NotAllowedError:
    "Microphone permission denied. Allow this page to use the microphone (the icon in the " +
    "address bar) and press Start again.",
  SecurityError: "Microphone permission denied by the browser's settings for this page.",
  NotFoundError: "No microphone found. Connect one and press Start again.",
  OverconstrainedError: "No microphone found that supports the requested settings.",
  NotReadableError: "The microphone is in use by another program or could not be opened.",
};

export class MicrophoneError extends Error {}

/** Why the microphone could not be opened, in plain words. */
export function describeMicrophoneError(error) {
  return MESSAGES[error.name] || `The microphone could not be opened: ${error.message}`;
}

/**
 * Opens the microphone. `context` must be created in the click handler (browsers
 * only start audio after a user gesture). Echo cancellation is on unless
 * `echoCancellation` is false (a reply played aloud would otherwise be heard as the
 * user speaking); `processing` adds noise suppression and automatic gain. Calls
 * onChunk(ArrayBuffer of int16, level 0..1) every chunkMs. Returns a function that
 * closes everything.
 *
 * Throws MicrophoneError with a plain message when the device can't be opened.
 */
export async function openMicrophone(context, { rate, chunkMs, echoCancellation = true, processing, onChunk }) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new MicrophoneError(
      "This browser allows the microphone only on secure pages: open voxrt over https:// or on localhost.",
    );
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        channelCount: 1,
        echoCancellation,
        noiseSuppression: processing,
        autoGainControl: processing,
      },
    });
  } catch (error) {
    throw new MicrophoneError(describeMicrophoneError(error));
  }
  await context.audioWorklet.addModule(new URL("./worklet.js", import.meta.url));
  const source = context.createMediaStreamSource(stream);
  // No outputs: a sink node is still rendered, and nothing reaches the speakers.
  const node = new AudioWorkletNode(context, "pcm-capture", {
    numberOfOutputs: 0,
    processorOptions: { targetRate: rate, chunkMs },
  });
  node.port.onmessage = (event) => onChunk(event.data.pcm, event.data.level);
  source.connect(node);
  return () => {
    node.port.onmessage = null;
    source.disconnect();
    for (const track of stream.getTracks()) track.stop();
  };
}
