/**
 * Recordings played back in this browser only: the "Recordings" panel lists
 * /recordings.json; opening one reads its index (/playback/NAME) and then fetches one frame
 * at a time (/playback/NAME/I, the same binary message as a live /stream?raw=1 frame) as
 * the clock (playback-clock.js) wants them, one request in flight at most. Each frame goes
 * through main.js's showFrame like a live one, so hover temperatures, the plot, markers and
 * readouts work unchanged; while a recording is open main.js leaves live frames aside
 * (`playback.active`). Nothing is sent to the daemon: other viewers notice nothing.
 */
import { counters } from "./counters.js";
import { fetchJson } from "./fetch-json.js";
import { PlaybackClock } from "./playback-clock.js";
import { session } from "./session.js";
import { refreshStatus } from "./status.js";
import { ui } from "./ui.js";
import { parseFrameMessage } from "./wire.js";

const MIN_TICK_MS = 10;
const MAX_TICK_MS = 250; // the position text moves on at least this often while playing

const player = {
  showFrame: null, // (frame) => void, from main.js
  clip: null, // the open recording's index (/playback/NAME), or null: live
  clock: null,
  shownIndex: -1, // the frame last fetched
  loading: false, // a frame request is in flight
  timer: null,
};

/** Whether a recording is open (live frames are then left aside). */
export const playback = {
  get active() {
    return player.clip !== null;
  },
};

function playbackUrl(name, index) {
  const base = `playback/${encodeURIComponent(name)}`;
  return index === undefined ? base : `${base}/${index}`;
}

/** List the recordings (newest first) as buttons that open them. */
async function listRecordings() {
  const listing = await fetchJson("recordings.json");
  const entries = (listing && listing.recordings) || [];
  ui.recordingsEmpty.hidden = entries.length > 0;
  ui.recordingList.replaceChildren(...entries.map(recordingItem));
}

function recordingItem(entry) {
  const item = document.createElement("li");
  const open = document.createElement("button");
  open.type = "button";
  open.dataset.name = entry.name;
  open.title = entry.name;
  open.textContent = new Date(entry.start * 1000).toLocaleString();
  open.addEventListener("click", () => openRecording(entry.name));
  const about = document.createElement("span");
  about.className = "recording-about";
  about.textContent = `${entry.duration.toFixed(1)} s, ${entry.frames} frames`;
  item.append(open, about);
  return item;
}

/** Open a recording and play it from its start. */
async function openRecording(name) {
  const clip = await fetchJson(playbackUrl(name));
  if (!clip || !clip.frames) {
    ui.recordingsEmpty.hidden = false;
    ui.recordingsEmpty.textContent = `Cannot play ${name}.`;
    return;
  }
  closeRecording();
  player.clip = clip;
  player.clock = new PlaybackClock(clip.times);
  player.clock.setSpeed(Number(ui.playSpeed.value), performance.now());
  session.playback = clip.name;
  ui.playName.textContent = clip.name;
  ui.timeline.max = String(player.clock.durationS);
  ui.player.hidden = false;
  player.clock.play(performance.now());
  tick();
}

/** Back to live: forget the recording; the next live frame is shown. */
function closeRecording() {
  clearTimeout(player.timer);
  player.clip = null;
  player.clock = null;
  player.shownIndex = -1;
  session.playback = null;
  ui.player.hidden = true;
  refreshStatus();
}

/** Fetch the frame due now if it is not the one shown, show the position, plan the next tick. */
function tick() {
  clearTimeout(player.timer);
  const { clock } = player;
  if (!clock) return;
  const nowMs = performance.now();
  if (clock.playing && clock.ended(nowMs)) clock.pause(nowMs);
  const index = clock.frame(nowMs);
  if (index !== player.shownIndex && !player.loading) fetchFrame(index);
  showPosition(nowMs);
  if (clock.playing) {
    const waitMs = Math.min(Math.max(clock.msToNextFrame(nowMs), MIN_TICK_MS), MAX_TICK_MS);
    player.timer = setTimeout(tick, waitMs);
  }
}

/** Fetch frame `index` of the open recording and show it (unless closed meanwhile). */
async function fetchFrame(index) {
  const { name } = player.clip;
  player.loading = true;
  player.shownIndex = index; // a frame that fails is not asked for again at once
  try {
    const response = await fetch(playbackUrl(name, index), { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const frame = parseFrameMessage(await response.arrayBuffer());
    if (player.clip && player.clip.name === name) {
      counters.playbackFrames += 1;
      player.showFrame(frame);
    }
  } catch (err) {
    counters.playbackErrors += 1;
    console.error(`viewer: frame ${index} of ${name}`, err);
  } finally {
    player.loading = false;
    tick();
  }
}

function showPosition(nowMs) {
  const { clock } = player;
  const positionS = clock.position(nowMs);
  if (document.activeElement !== ui.timeline) ui.timeline.value = String(positionS);
  ui.playTime.textContent = `${positionS.toFixed(1)} / ${clock.durationS.toFixed(1)} s`;
  ui.playToggle.textContent = clock.playing ? "Pause" : "Play";
  ui.playToggle.setAttribute("aria-pressed", String(clock.playing));
}

function togglePlay() {
  const nowMs = performance.now();
  if (player.clock.playing) player.clock.pause(nowMs);
  else player.clock.play(nowMs);
  tick();
}

function seek() {
  player.clock.seek(Number(ui.timeline.value), performance.now());
  tick();
}

function changeSpeed() {
  if (player.clock) player.clock.setSpeed(Number(ui.playSpeed.value), performance.now());
  tick();
}

/** Wire the panel; `showFrame(frame)` shows a parsed frame message as main.js shows live ones. */
export function wirePlayback(showFrame) {
  player.showFrame = showFrame;
  ui.recordingsPanel.addEventListener("toggle", () => {
    if (ui.recordingsPanel.open) listRecordings();
  });
  ui.recordingsRefresh.addEventListener("click", listRecordings);
  ui.playToggle.addEventListener("click", togglePlay);
  ui.timeline.addEventListener("input", seek);
  ui.playSpeed.addEventListener("change", changeSpeed);
  ui.playLive.addEventListener("click", closeRecording);
}
