/*
 * Thermal camera viewer: shows the daemon's /stream WebSocket (docs/protocol.md §5.2, protocol 1).
 * This module only wires the others together. Data flows one way:
 *
 *   connection.js: /config.json ─► "config" (controls.js: AGC modes, limits; FFC button; raw
 *        │         or not) ─► WebSocket /stream
 *        │         (?raw=1 when config.raw, unless the page has ?raw=0; reconnects 0.5 s → 5 s)
 *        ├─ binary message ─► wire.js parseFrameMessage() ─► {header, jpeg, raw} ─► "frame"
 *        │     ├─► pointer.js      newest raw frame ─► temperature under the pointer
 *        │     ├─► plot-history.js ─► plot.js (60 s, at most 10 points a second)
 *        │     └─► decoder.js      blob URL → <img>, one decode at a time ─► "shown":
 *        │           readouts.js, scale-bar.js labels, markers.js, status.js (fps, frame age)
 *        └─ text message ─► hello / state ─► session.state ─► "state": controls.js, scale-bar.js
 *                         ─► error         ─► status.js line; commands.js asks for the token
 *        "shown" also ─► regions.js (each region's live value); "state" ─► regions.js (the
 *        regions drawn and listed, alarmed ones highlighted), alarms.js (the alarm banner)
 *   controls.js, markers.js, plot.js, saving.js, regions.js ◄─ the user ─► commands.js ─► connection.js
 *   status.js: a 250 ms tick ─► fps, frame age, overlay ("No signal" after 3 s without a frame)
 *   playback.js: "Recordings" panel ─► /playback/NAME/I (the same binary message) ─► showFrame,
 *         as a live frame is shown; while a recording is open live frames are left aside
 *
 * Shared by many: bus.js (events, `viewer.on`), session.js (config, state, frame on screen),
 * counters.js (what the page received and showed, `window.viewerStats`), prefs.js,
 * units.js (°C/°F), ui.js (elements).
 *
 * `window.viewer`: `send({cmd: ...})` sends a command (with the control token once one is
 * known); `on(name, fn)` subscribes to the bus.js events; `state`, `config`, `shownHeader`;
 * `parseFrameMessage`, `drawScaleBar`, `plotColours` for the tests.
 */
import { showAlarms } from "./alarms.js";
import { emit, on } from "./bus.js";
import { CommandSender } from "./commands.js";
import { Connection } from "./connection.js";
import {
  buildControls, foldControlsOnSmallScreens, loadPalettes, showFfcButton, syncControls,
  wireControls,
} from "./controls.js";
import { counters } from "./counters.js";
import { FrameDecoder } from "./decoder.js";
import { showMarkers, wireMarkerToggle } from "./markers.js";
import { playback, wirePlayback } from "./playback.js";
import { plotColours, recordPlotSample, schedulePlot, startPlotRedraws } from "./plot.js";
import { keepRawFrame, refreshPointerValue, wirePointer } from "./pointer.js";
import { showFrameInfo, showFrameKind, showMeta, showStats } from "./readouts.js";
import { showRegions, showRegionValues, wireRegions } from "./regions.js";
import { wireSaving } from "./saving.js";
import { drawScaleBar, followColormap, showScaleLabels } from "./scale-bar.js";
import { session } from "./session.js";
import {
  noteFrameReceived, noteFrameShown, refreshStatus, showConnected, showDisconnected,
  showServerError, startStatus,
} from "./status.js";
import { ui } from "./ui.js";
import { parseFrameMessage } from "./wire.js";

window.viewerStats = counters;

const decoder = new FrameDecoder(ui.image, onFrameShown);
const connection = new Connection({
  onOpen: onConnected,
  onClose: onDisconnected,
  onText: onTextMessage,
  onBinary: onFrameMessage,
});
const commands = new CommandSender(connection);
const send = (command) => commands.send(command);

function onConnected() {
  counters.connected = true;
  counters.connects += 1;
  showConnected();
  emit("connection", { connected: true });
}

function onDisconnected(retryMs) {
  const wasConnected = counters.connected;
  counters.connected = false;
  if (wasConnected) emit("connection", { connected: false });
  showDisconnected(retryMs);
}

function onTextMessage(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    counters.parseErrors += 1;
    return;
  }
  if (message.type === "hello") applyState(message.state || {});
  else if (message.type === "state") applyState(message);
  else if (message.type === "error") onServerError(String(message.error));
}

function applyState(update) {
  const { type, ...fields } = update;
  session.state = { ...session.state, ...fields };
  emit("state", session.state);
  refreshStatus();
}

function onServerError(error) {
  counters.serverErrors += 1;
  showServerError(error);
  emit("error", error);
}

function onFrameMessage(buffer) {
  let frame;
  try {
    frame = parseFrameMessage(buffer);
  } catch {
    counters.parseErrors += 1;
    return;
  }
  counters.framesReceived += 1;
  counters.lastSeq = frame.header.seq;
  counters.lastHeader = frame.header;
  noteFrameReceived();
  if (!playback.active) showFrame(frame); // while a recording plays, live frames wait
}

/** Show a parsed frame message, live or from a recording: every reader, then the screen. */
function showFrame(frame) {
  emit("frame", frame);
  decoder.push(frame.jpeg, frame.header);
}

/** Everything that shows a header's values (again after a change of units). */
function showHeader(header) {
  showFrameKind({ hasStats: Boolean(header.stats), unit: header.unit });
  showStats(header);
  showScaleLabels(header);
  showFrameInfo(header);
  showMeta(header.meta);
  showMarkers(header);
  showRegionValues(header);
}

function onFrameShown(header) {
  counters.framesShown += 1;
  session.shownHeader = header;
  showHeader(header);
  emit("shown", header);
  noteFrameShown(header);
}

function onConfig(config) {
  session.config = config;
  buildControls(config);
  showFfcButton(config);
  if (!counters.lastHeader) showFrameKind({ hasStats: Boolean(config.raw), unit: "C" });
}

function onUnitsChanged() {
  if (session.shownHeader) showHeader(session.shownHeader);
  syncControls(session.state);
  showAlarms(session.state);
  refreshPointerValue();
  schedulePlot();
}

on("config", onConfig);
on("frame", keepRawFrame);
on("frame", ({ header }) => recordPlotSample(header));
on("state", followColormap);
on("state", syncControls);
on("state", showRegions);
on("state", showAlarms);
on("error", (error) => {
  syncControls(session.state); // undo what the refused command's control shows
  commands.onServerError(error);
});
on("units", onUnitsChanged);

window.viewer = {
  on,
  send,
  get state() {
    return session.state;
  },
  get config() {
    return session.config;
  },
  get shownHeader() {
    return session.shownHeader;
  },
  parseFrameMessage,
  drawScaleBar,
  plotColours,
};

wirePointer();
wireControls(send);
wireMarkerToggle();
wireRegions(send);
wireSaving(decoder);
wirePlayback(showFrame);
foldControlsOnSmallScreens();
startStatus();
startPlotRedraws();
loadPalettes();
connection.connect();
