/**
 * What the page says about the stream, re-evaluated on every event and a 250 ms tick: the
 * status pill (connected, retry countdown, a server error for 5 s), the overlay
 * (connecting, paused, "No signal" after 3 s without a frame), fps and frame age.
 */
import { counters } from "./counters.js";
import { session } from "./session.js";
import { ui } from "./ui.js";

const NO_SIGNAL_AFTER_MS = 3000;
const FPS_WINDOW_MS = 2000;
const TICK_MS = 250;
const ERROR_SHOWN_MS = 5000; // how long a server error stays in the status line
const CLOCK_SKEW_LIMIT_S = 2.0; // |frame age| above this while frames flow: clocks differ

/** Frames per second over a sliding window of display times. */
class RateMeter {
  constructor(windowMs) {
    this.windowMs = windowMs;
    this.times = [];
  }

  add(nowMs) {
    this.times.push(nowMs);
    this.trim(nowMs);
  }

  trim(nowMs) {
    while (this.times.length && nowMs - this.times[0] > this.windowMs) this.times.shift();
  }

  rate(nowMs) {
    this.trim(nowMs);
    const n = this.times.length;
    if (n < 2) return 0;
    const spanMs = Math.max(nowMs - this.times[0], this.times[n - 1] - this.times[0]);
    return ((n - 1) * 1000) / spanMs;
  }
}

const clock = {
  lastFrameMs: null, // performance.now() of the last frame received
  ageS: null, // age of the frame on screen when it was shown
  retryAtMs: null, // performance.now() of the next connection attempt
  errorTimer: null,
  rate: new RateMeter(FPS_WINDOW_MS),
};

function showStatus(kind, text) {
  ui.status.dataset.state = kind;
  ui.status.textContent = text;
}

function showOverlay(text) {
  ui.overlay.hidden = !text;
  if (text) ui.overlay.textContent = text;
}

function showAge(ageS) {
  if (ageS === null) {
    ui.age.textContent = "–";
    ui.age.title = "";
    return;
  }
  const text = Math.abs(ageS) < 10 ? `${Math.round(ageS * 1000)} ms` : `${ageS.toFixed(0)} s`;
  const skewed = Math.abs(ageS) > CLOCK_SKEW_LIMIT_S;
  ui.age.textContent = skewed ? `${text} (clocks differ?)` : text;
  ui.age.title = skewed
    ? "Frames keep arriving, so this much age most likely means the camera's clock and this device's clock disagree."
    : "Time since the frame was captured";
}

function showRetryCountdown(nowMs) {
  const leftS = Math.max(0, (clock.retryAtMs - nowMs) / 1000);
  showStatus("disconnected",
    leftS > 0 ? `disconnected, retrying in ${leftS.toFixed(1)} s` : "disconnected, retrying…");
}

/** What the overlay says now, or "" to hide it. */
function overlayText(nowMs) {
  if (session.playback) return ""; // a recording plays whatever live does
  if (!counters.connected) return counters.connects ? "Disconnected, reconnecting…" : "Connecting…";
  if (session.state.running === false) return "Paused";
  if (clock.lastFrameMs === null) return "Waiting for frames…";
  const silentMs = nowMs - clock.lastFrameMs;
  if (silentMs > NO_SIGNAL_AFTER_MS) return `No signal (no frame for ${Math.floor(silentMs / 1000)} s)`;
  return "";
}

/** Update everything that depends on the clock: fps, frame age, overlay, retry countdown. */
export function refreshStatus() {
  const nowMs = performance.now();
  const fps = clock.rate.rate(nowMs);
  ui.fps.textContent = fps ? fps.toFixed(1) : "–";
  showAge(counters.connected && clock.lastFrameMs !== null && clock.ageS !== null ? clock.ageS : null);
  showOverlay(overlayText(nowMs));
  if (!counters.connected && clock.retryAtMs !== null) showRetryCountdown(nowMs);
}

/** Say "connecting…" and start the tick. */
export function startStatus() {
  showStatus("connecting", "connecting…");
  refreshStatus();
  setInterval(refreshStatus, TICK_MS);
}

export function showConnected() {
  clock.lastFrameMs = null;
  showStatus("connected", "connected");
  refreshStatus();
}

/** The socket closed; the next attempt is `retryMs` away. */
export function showDisconnected(retryMs) {
  clock.retryAtMs = performance.now() + retryMs;
  refreshStatus();
}

export function noteFrameReceived() {
  clock.lastFrameMs = performance.now();
}

/**
 * A frame reached the screen: it counts for fps, and its capture time gives the frame age
 * (none for a recording's frame).
 */
export function noteFrameShown(header) {
  clock.rate.add(performance.now());
  clock.ageS = header.playback ? null : Date.now() / 1000 - header.timestamp;
  refreshStatus();
}

/** Show a command's error in the status line for a few seconds, then "connected" again. */
export function showServerError(error) {
  showStatus("error", `server: ${error}`);
  clearTimeout(clock.errorTimer);
  clock.errorTimer = setTimeout(() => {
    if (counters.connected) showStatus("connected", "connected");
  }, ERROR_SHOWN_MS);
}
