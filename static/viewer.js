/*
 * Thermal camera viewer: shows the daemon's /stream WebSocket (INTERFACE.md, protocol 1).
 *
 * Data flow, one direction:
 *
 *   config.json ─► streamUrl() ─► Connection (WebSocket, reconnects with back-off 0.5 s → 5 s;
 *        │                         ?raw=1 for sources with raw pixels)
 *        binary message ─► parseFrameMessage() ─► {header, jpeg, raw}  ─► "frame"
 *             ├─► newest raw frame kept ─► temperature under the pointer
 *             ├─► plot history (60 s, at most 10 points a second)
 *             └─► FrameDecoder: blob URL → <img>; one decode at a time, only the newest
 *                 pending frame kept; the previous URL is revoked once the new one has loaded
 *                 ─► "shown": readouts, scale bar labels, markers, meta list
 *        text message  ─► hello / state ─► viewer.state ─► "state": controls, scale bar colours
 *                      ─► error         ─► status line; a token refusal asks for the token
 *   /colormaps.json ─► palette selector;  /colormap.json?name= ─► scale bar (cached per name)
 *   a 250 ms tick ─► fps, frame age, "no signal" overlay after 3 s without a frame
 *
 * Everything talks through a small event bus, exposed as `window.viewer`:
 * `viewer.send({cmd: ...})` sends a command (with the control token once one is known),
 * `viewer.on(name, fn)` subscribes to "frame" ({header, jpeg, raw}, every frame received),
 * "shown" (header of the frame now on screen), "state" (the acquisition state),
 * "connection" ({connected}), "config" (/config.json), "error" (a server error message)
 * and "units" ("C" or "F", the temperature unit chosen on this page).
 *
 * Temperatures travel in degrees C everywhere (headers, state, commands); the °F choice
 * only changes what is displayed and how typed range values are read.
 *
 * Tests read `window.viewerStats`.
 */
"use strict";

(() => {
  const NO_SIGNAL_AFTER_MS = 3000;
  const RECONNECT_FIRST_MS = 500;
  const RECONNECT_MAX_MS = 5000;
  const FPS_WINDOW_MS = 2000;
  const TICK_MS = 250;
  const CONNECT_TIMEOUT_MS = 5000; // a handshake that hangs longer is abandoned and retried
  const ERROR_SHOWN_MS = 5000; // how long a server error stays in the status line
  const CLOCK_SKEW_LIMIT_S = 2.0; // |frame age| above this while frames flow: clocks differ
  const SAVE_URL_LIFETIME_MS = 10000; // a download's object URL is revoked after this

  const RAW_SOURCES = new Set(["lepton", "simulated", "replay", "zmq"]); // frames with pixels
  const FFC_SOURCES = new Set(["lepton", "simulated"]); // sources that take {"cmd":"ffc"}
  const TOKEN_REFUSED = "this command needs the control token"; // the server's error text
  const TOKEN_KEY = "thermal-viewer.control-token"; // sessionStorage
  const PREFS_KEY = "thermal-viewer.prefs"; // localStorage: units, markers, plotted series

  // Palettes listed first in the selector, when the server knows them; the rest follow in
  // the server's order. Only names: the colours always come from /colormap.json.
  const THERMAL_FIRST = ["ironbow", "rainbow", "white-hot", "black-hot", "inferno", "magma",
    "plasma", "viridis", "cividis", "turbo", "gray"];

  const PLOT_WINDOW_MS = 60000;
  const PLOT_MIN_STEP_MS = 100; // at most 10 points a second: ≤ 600 points per series
  const PLOT_GAP_MS = 2000; // a longer gap between two points breaks the line
  const PLOT_MAX_META = 16; // numeric meta fields recorded at most
  const PLOT_REDRAW_MS = 500;
  const PLOT_BACKGROUND = "#14161b";
  const STAT_SERIES = [ // [key, label, colour]
    ["max", "max", "#ff4d4d"],
    ["mean", "mean", "#3ecf6e"],
    ["center", "centre", "#f5d742"],
    ["min", "min", "#4da3ff"],
  ];
  const META_COLOURS = ["#d77bff", "#38e0d8", "#ff9a3c", "#ff7bb0", "#a0e060", "#b0b0b0"];

  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $("status"),
    view: $("view"),
    image: $("frame"),
    frameBox: $("frame-box"),
    overlay: $("overlay"),
    scaleBar: $("scale-bar"),
    scaleMin: $("scale-min"),
    scaleMax: $("scale-max"),
    min: $("t-min"),
    max: $("t-max"),
    mean: $("t-mean"),
    center: $("t-center"),
    fps: $("fps"),
    age: $("age"),
    seq: $("seq"),
    source: $("source"),
    size: $("size"),
    colormap: $("colormap"),
    clients: $("clients"),
    meta: $("meta"),
    markers: { min: $("marker-min"), max: $("marker-max"), center: $("marker-center") },
    cursor: $("cursor"),
    cursorValue: $("cursor-value"),
    cursorPos: $("cursor-pos"),
    controls: $("controls"),
    runToggle: $("run-toggle"),
    ffc: $("ffc"),
    palette: $("palette"),
    agc: $("agc"),
    rangeField: $("range-field"),
    rangeLow: $("range-low"),
    rangeHigh: $("range-high"),
    rangeUnit: $("range-unit"),
    clipField: $("clip-field"),
    clip: $("clip"),
    unitsC: $("units-c"),
    unitsF: $("units-f"),
    showMarkers: $("show-markers"),
    saveJpeg: $("save-jpeg"),
    savePng: $("save-png"),
    saveNpy: $("save-npy"),
    fullscreen: $("fullscreen"),
    plotBox: $("plot-box"),
    plotSeries: $("plot-series"),
    plot: $("plot"),
  };

  const stats = {
    framesReceived: 0,
    framesShown: 0,
    framesSkipped: 0, // replaced while waiting for the decoder
    decodeErrors: 0,
    parseErrors: 0,
    rawFrames: 0, // frames that came with raw pixels
    lastSeq: null,
    connected: false,
    lastHeader: null,
    connects: 0,
    tokenPrompts: 0,
    serverErrors: 0,
    plotPoints: 0, // points per series held by the plot now
    plotDraws: 0,
  };
  window.viewerStats = stats;

  // ---- small event bus, the extension point of every feature ----------------------------------

  const listeners = new Map();

  function on(name, fn) {
    if (!listeners.has(name)) listeners.set(name, []);
    listeners.get(name).push(fn);
  }

  function emit(name, value) {
    for (const fn of listeners.get(name) || []) {
      try {
        fn(value);
      } catch (err) {
        console.error(`viewer: "${name}" listener failed`, err);
      }
    }
  }

  // ---- preferences (this browser only) ---------------------------------------------------------

  /** Stored preferences: {units: "C"|"F", markers: bool, plot: [series keys]}. */
  function loadPrefs() {
    const defaults = { units: "C", markers: true, plot: ["max", "mean", "center", "min"] };
    try {
      return { ...defaults, ...JSON.parse(localStorage.getItem(PREFS_KEY) || "{}") };
    } catch {
      return defaults; // storage disabled or garbled
    }
  }

  function savePrefs() {
    try {
      localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
    } catch {
      // storage disabled: the choice lasts until the page is closed
    }
  }

  const prefs = loadPrefs();

  // ---- units and formatting --------------------------------------------------------------------

  /** Degrees C to the chosen display unit. */
  function celsiusToDisplay(celsius) {
    return prefs.units === "F" ? (celsius * 9) / 5 + 32 : celsius;
  }

  /** A number typed in the chosen display unit, back to degrees C. */
  function displayToCelsius(value) {
    return prefs.units === "F" ? ((value - 32) * 5) / 9 : value;
  }

  function temperatureSymbol() {
    return prefs.units === "F" ? "°F" : "°C";
  }

  /** Text for a value in a frame's unit: "C" (shown in °C or °F, 0.1) or counts (integer). */
  function formatValue(value, unit) {
    if (typeof value !== "number" || !Number.isFinite(value)) return "–";
    if (unit === "C") return `${celsiusToDisplay(value).toFixed(1)}${temperatureSymbol()}`;
    return `${Math.round(value)}${unit ? ` ${unit}` : ""}`;
  }

  /** A raw pixel as {value, unit}: centikelvin/decikelvin to degrees C, counts unchanged. */
  function rawPixelValue(pixel, rawUnit) {
    if (rawUnit === "centikelvin") return { value: pixel / 100 - 273.15, unit: "C" };
    if (rawUnit === "decikelvin") return { value: pixel / 10 - 273.15, unit: "C" };
    return { value: pixel, unit: "counts" };
  }

  /** A meta field named like "fpa_temp_c" holds degrees C. */
  function isCelsiusField(name) {
    return /_c$/i.test(name);
  }

  /** Label and text of one meta field ("fpa_temp_c" → "fpa temp", "31.2°C"). */
  function formatMeta(name, value) {
    if (typeof value === "number" && isCelsiusField(name)) {
      return { label: name.replace(/_c$/i, "").replace(/_/g, " "), text: formatValue(value, "C") };
    }
    const text = typeof value === "number" ? String(Math.round(value * 100) / 100) : String(value);
    return { label: name.replace(/_/g, " "), text };
  }

  // ---- wire format ---------------------------------------------------------------------------

  const utf8 = new TextDecoder();

  /** Split a /stream binary message into {header, jpeg, raw}; throws on a short message. */
  function parseFrameMessage(buffer) {
    const view = new DataView(buffer);
    const headerLength = view.getUint32(0, false);
    const header = JSON.parse(utf8.decode(new Uint8Array(buffer, 4, headerLength)));
    const jpegStart = 4 + headerLength;
    const jpegEnd = jpegStart + header.jpeg_size;
    if (header.type !== "frame" || !(jpegEnd <= buffer.byteLength)) {
      throw new Error(`bad frame message (${buffer.byteLength} bytes)`);
    }
    const jpeg = new Uint8Array(buffer, jpegStart, header.jpeg_size);
    const raw = jpegEnd < buffer.byteLength ? buffer.slice(jpegEnd) : null;
    return { header, jpeg, raw };
  }

  // ---- connection ----------------------------------------------------------------------------

  /** GET a JSON document; null when the daemon does not answer or says no. */
  async function fetchJson(url) {
    try {
      const response = await fetch(url, { cache: "no-store" });
      return response.ok ? await response.json() : null;
    } catch {
      return null;
    }
  }

  /** Whether to ask for raw pixels: yes for thermal sources, unless the page has ?raw=0. */
  function wantsRaw(config) {
    const flag = new URLSearchParams(location.search).get("raw");
    if (flag === "0" || flag === "1") return flag === "1";
    return RAW_SOURCES.has(config.source);
  }

  /** The WebSocket URL: this page's host name, the configured port and path. */
  function streamUrl(config) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let host = location.hostname; // an IPv6 literal comes with its brackets: "[::1]"
    if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
    const port = config.ws_port || location.port;
    const path = config.ws_path || "/stream";
    const query = wantsRaw(config) ? "?raw=1" : "";
    return `${scheme}//${host}${port ? `:${port}` : ""}${path}${query}`;
  }

  /** One WebSocket at a time; reconnects by itself with exponential back-off. */
  class Connection {
    constructor(handlers) {
      this.handlers = handlers; // {onBinary, onText, onOpen, onClose(retryMs)}
      this.config = null;
      this.socket = null;
      this.retryMs = RECONNECT_FIRST_MS;
    }

    async connect() {
      this.config = (await fetchJson("config.json")) || this.config;
      if (!this.config) {
        this.scheduleRetry();
        return;
      }
      emit("config", this.config);
      let socket;
      try {
        socket = new WebSocket(streamUrl(this.config));
      } catch (err) {
        console.error("viewer: cannot open the WebSocket", err);
        this.scheduleRetry();
        return;
      }
      socket.binaryType = "arraybuffer";
      const giveUp = setTimeout(() => socket.close(), CONNECT_TIMEOUT_MS);
      socket.onopen = () => {
        clearTimeout(giveUp);
        this.retryMs = RECONNECT_FIRST_MS;
        this.handlers.onOpen();
      };
      socket.onmessage = (event) => {
        if (typeof event.data === "string") this.handlers.onText(event.data);
        else this.handlers.onBinary(event.data);
      };
      socket.onclose = () => {
        clearTimeout(giveUp);
        if (this.socket === socket) this.scheduleRetry();
      };
      this.socket = socket;
    }

    scheduleRetry() {
      this.socket = null;
      const delay = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
      this.handlers.onClose(delay);
      setTimeout(() => this.connect(), delay);
    }

    /** Send a command object; false when not connected. */
    send(command) {
      if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
      this.socket.send(JSON.stringify(command));
      return true;
    }
  }

  // ---- decoding: one JPEG at a time, newest pending wins ---------------------------------------

  class FrameDecoder {
    constructor(image, onShown) {
      this.image = image;
      this.onShown = onShown; // (header) => void, once the frame is on screen
      this.shownUrl = null;
      this.shownBlob = null; // the JPEG on screen, for "Save picture"
      this.loading = null; // {url, blob, header} being decoded
      this.pending = null; // {jpeg, header} waiting for the decoder
      image.addEventListener("load", () => this.finish(true));
      image.addEventListener("error", () => this.finish(false));
    }

    push(jpeg, header) {
      if (this.pending) stats.framesSkipped += 1;
      this.pending = { jpeg, header };
      if (!this.loading) this.startNext();
    }

    startNext() {
      const next = this.pending;
      this.pending = null;
      if (!next) return;
      const blob = new Blob([next.jpeg], { type: "image/jpeg" });
      const url = URL.createObjectURL(blob);
      this.loading = { url, blob, header: next.header };
      this.image.src = url;
    }

    finish(ok) {
      const done = this.loading;
      if (!done) return;
      this.loading = null;
      if (ok) {
        if (this.shownUrl) URL.revokeObjectURL(this.shownUrl);
        this.shownUrl = done.url;
        this.shownBlob = done.blob;
        this.onShown(done.header);
      } else {
        URL.revokeObjectURL(done.url);
        stats.decodeErrors += 1;
      }
      this.startNext();
    }
  }

  // ---- measurements ----------------------------------------------------------------------------

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

  // ---- readouts --------------------------------------------------------------------------------

  /** Which kind of frames these are: body classes that hide what a source does not have. */
  function showFrameKind({ hasStats, unit }) {
    document.body.classList.toggle("no-stats", !hasStats); // file, tcp: no temperatures
    document.body.classList.toggle("no-celsius", !hasStats || unit !== "C"); // counts
  }

  function showStats(header) {
    const s = header.stats || {};
    ui.min.textContent = formatValue(s.min, header.unit);
    ui.max.textContent = formatValue(s.max, header.unit);
    ui.mean.textContent = formatValue(s.mean, header.unit);
    ui.center.textContent = formatValue(s.center, header.unit);
  }

  /** Label the scale bar's ends: the AGC range the colours span, else the frame's min/max. */
  function showScaleLabels(header) {
    const s = header.stats || {};
    const agc = header.agc || {};
    const low = typeof agc.low === "number" ? agc.low : s.min;
    const high = typeof agc.high === "number" ? agc.high : s.max;
    ui.scaleMin.textContent = formatValue(low, header.unit);
    ui.scaleMax.textContent = formatValue(high, header.unit);
    ui.scaleBar.title = agc.mode ? `AGC: ${agc.mode}` : "";
  }

  /** Extra values the source attaches (header.meta, {name: number|string}), one line each. */
  function showMeta(meta) {
    const entries = Object.entries(meta || {});
    const keys = entries.map(([name]) => name).join("\n");
    if (ui.meta.dataset.keys !== keys) {
      ui.meta.dataset.keys = keys;
      ui.meta.replaceChildren(...entries.map(([name]) => metaItem(name)));
    }
    entries.forEach(([name, value], i) => {
      const item = ui.meta.children[i];
      const { label, text } = formatMeta(name, value);
      item.firstChild.textContent = label;
      item.lastChild.textContent = text;
    });
  }

  function metaItem(name) {
    const item = document.createElement("div");
    item.dataset.name = name;
    item.append(document.createElement("dt"), document.createElement("dd"));
    return item;
  }

  function showFrameInfo(header) {
    ui.seq.textContent = String(header.seq);
    ui.source.textContent = header.source || "–";
    ui.size.textContent = `${header.width} × ${header.height}`;
    if (header.width > 0 && header.height > 0) {
      ui.frameBox.style.setProperty("--aspect", String(header.width / header.height));
    }
  }

  /** Frame age in seconds: now minus the capture time in the header. */
  function frameAge(header) {
    return Date.now() / 1000 - header.timestamp;
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

  function showStatus(kind, text) {
    ui.status.dataset.state = kind;
    ui.status.textContent = text;
  }

  function showOverlay(text) {
    ui.overlay.hidden = !text;
    if (text) ui.overlay.textContent = text;
  }

  // ---- colour scale bar: the server's own lookup tables ----------------------------------------

  const lutCache = new Map(); // colormap name -> Promise of Uint8Array(768) RGB, or null

  /** The 256 RGB entries of a colormap from /colormap.json (once per name); null if unknown. */
  function fetchLut(name) {
    if (!lutCache.has(name)) {
      const request = fetchJson(`colormap.json?name=${encodeURIComponent(name)}`).then((body) => {
        if (!body || typeof body.lut !== "string") {
          lutCache.delete(name); // unknown today; the daemon may know it after an upgrade
          return null;
        }
        return hexToBytes(body.lut);
      });
      lutCache.set(name, request);
    }
    return lutCache.get(name);
  }

  function hexToBytes(hex) {
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
    return bytes;
  }

  /** Paint a 256-entry RGB table across the bar, one column per entry. */
  function paintLut(canvas, lut) {
    const context = canvas.getContext("2d");
    const entries = lut.length / 3;
    const image = context.createImageData(entries, canvas.height);
    for (let y = 0; y < canvas.height; y += 1) {
      for (let i = 0; i < entries; i += 1) {
        const at = (y * entries + i) * 4;
        image.data.set(lut.subarray(i * 3, i * 3 + 3), at);
        image.data[at + 3] = 255;
      }
    }
    canvas.width = entries;
    context.putImageData(image, 0, 0);
  }

  let wantedColormap = null;

  /** Draw the bar for a colormap name; resolves true once drawn (false: superseded, unknown). */
  async function drawScaleBar(colormap) {
    wantedColormap = colormap;
    ui.colormap.textContent = colormap || "–";
    const lut = await fetchLut(colormap);
    if (!lut || wantedColormap !== colormap) return false;
    paintLut(ui.scaleBar, lut);
    ui.scaleBar.dataset.colormap = colormap;
    return true;
  }

  // ---- markers: min, max and centre on the image -----------------------------------------------

  /** The raw frame's size in pixels {cols, rows}, from the header, the config or the JPEG. */
  function rawSize(header) {
    if (header.raw) return { cols: header.raw.cols, rows: header.raw.rows };
    const config = connection.config || {};
    if (config.width && config.height) return { cols: config.width, rows: config.height };
    const scale = viewer.state.scale || 1;
    return { cols: header.width / scale, rows: header.height / scale };
  }

  /** Put one marker at raw pixel [x, y] (its centre), as a percentage of the image box. */
  function placeMarker(marker, position, size, label) {
    const [x, y] = position;
    const left = ((x + 0.5) / size.cols) * 100;
    const top = ((y + 0.5) / size.rows) * 100;
    marker.style.left = `${left}%`;
    marker.style.top = `${top}%`;
    marker.classList.toggle("flip-x", left > 65);
    marker.classList.toggle("flip-y", top < 12); // label below the marker
    marker.classList.toggle("raise", top > 88); // label above it
    marker.firstChild.textContent = label;
    marker.hidden = false;
  }

  function showMarkers(header) {
    const s = header.stats;
    const visible = Boolean(prefs.markers && s && s.min_pos && s.max_pos);
    for (const marker of Object.values(ui.markers)) marker.hidden = !visible;
    if (!visible) return;
    const size = rawSize(header);
    const centre = [(size.cols - 1) / 2, (size.rows - 1) / 2];
    placeMarker(ui.markers.min, s.min_pos, size, formatValue(s.min, header.unit));
    placeMarker(ui.markers.max, s.max_pos, size, formatValue(s.max, header.unit));
    placeMarker(ui.markers.center, centre, size, formatValue(s.center, header.unit));
  }

  // ---- temperature under the pointer (mouse, pen or finger) -------------------------------------

  const pointer = {
    raw: null, // {info: header.raw, pixels: DataView} of the newest frame with raw data
    at: null, // {x, y} raw pixel under the pointer, or null
    client: null, // {x, y} pointer position in the frame box, CSS pixels
  };

  function keepRawFrame({ header, raw }) {
    if (!raw || !header.raw) return;
    stats.rawFrames += 1;
    pointer.raw = { info: header.raw, pixels: new DataView(raw) };
    if (pointer.at) showPointerValue();
  }

  /** Where the picture is drawn inside the <img> (object-fit: contain), in client pixels. */
  function contentRect(image) {
    const box = image.getBoundingClientRect();
    const ratio = image.naturalWidth && image.naturalHeight
      ? image.naturalWidth / image.naturalHeight : box.width / box.height;
    const width = Math.min(box.width, box.height * ratio);
    const height = width / ratio;
    return { left: box.left + (box.width - width) / 2, top: box.top + (box.height - height) / 2,
      width, height };
  }

  /** The raw pixel {x, y} under a client position, or null outside the picture. */
  function pixelAt(clientX, clientY, info) {
    const rect = contentRect(ui.image);
    const fx = (clientX - rect.left) / rect.width;
    const fy = (clientY - rect.top) / rect.height;
    if (!(fx >= 0 && fx < 1 && fy >= 0 && fy < 1)) return null;
    return { x: Math.floor(fx * info.cols), y: Math.floor(fy * info.rows) };
  }

  function onPointer(event) {
    if (!pointer.raw) return;
    const at = pixelAt(event.clientX, event.clientY, pointer.raw.info);
    if (!at) {
      hidePointerValue();
      return;
    }
    const box = ui.frameBox.getBoundingClientRect();
    pointer.at = at;
    pointer.client = { x: event.clientX - box.left, y: event.clientY - box.top };
    ui.cursor.classList.toggle("touch", event.pointerType !== "mouse");
    showPointerValue();
  }

  function onPointerLeave(event) {
    if (event.pointerType === "mouse") hidePointerValue(); // a finger's value stays put
  }

  function hidePointerValue() {
    pointer.at = null;
    ui.cursor.hidden = true;
  }

  /** Show the newest raw frame's value at the pointer's pixel, next to the pointer. */
  function showPointerValue() {
    const { info, pixels } = pointer.raw;
    const { x, y } = pointer.at;
    if (x >= info.cols || y >= info.rows) return;
    const { value, unit } = rawPixelValue(pixels.getUint16((y * info.cols + x) * 2, true), info.unit);
    ui.cursorValue.textContent = formatValue(value, unit);
    ui.cursorPos.textContent = `(${x}, ${y})`;
    const box = ui.frameBox.getBoundingClientRect();
    ui.cursor.style.left = `${pointer.client.x}px`;
    ui.cursor.style.top = `${pointer.client.y}px`;
    ui.cursor.classList.toggle("flip-x", pointer.client.x > box.width * 0.65);
    ui.cursor.classList.toggle("flip-y", pointer.client.y < 48);
    ui.cursor.hidden = false;
  }

  // ---- commands and the control token ----------------------------------------------------------

  const token = {
    memory: "", // the token when sessionStorage is unavailable
    lastCommand: null, // the last command sent, resent once after the token is given
    askedFor: null, // the command we already asked the token for (never ask twice for one)
  };

  function storedToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || "";
    } catch {
      return token.memory || "";
    }
  }

  function storeToken(value) {
    token.memory = value;
    try {
      sessionStorage.setItem(TOKEN_KEY, value);
    } catch {
      // storage disabled: kept in memory for this page
    }
  }

  /** Send a command, with the control token when one is known; false when not connected. */
  function sendCommand(command) {
    token.lastCommand = command;
    const secret = storedToken();
    return connection.send(secret ? { ...command, token: secret } : command);
  }

  /** The server refused a command for want of the token: ask once, then resend it. */
  function onTokenRefused() {
    const command = token.lastCommand;
    if (!command || token.askedFor === command) return;
    token.askedFor = command;
    stats.tokenPrompts += 1;
    const given = window.prompt("This camera needs its control token (Control_Token) to change settings:", "");
    if (!given) return;
    storeToken(given.trim());
    sendCommand(command);
  }

  // ---- controls: reflect the shared state, send commands ---------------------------------------

  /** Fill the palette selector: favourite thermal palettes first, then the rest. */
  function fillPalettes(names) {
    const known = new Set(names);
    const first = THERMAL_FIRST.filter((name) => known.has(name));
    const rest = names.filter((name) => !first.includes(name));
    ui.palette.replaceChildren(optionGroup("Thermal", first), optionGroup("More", rest));
    showPaletteChoice(viewer.state.colormap);
  }

  function optionGroup(label, names) {
    const group = document.createElement("optgroup");
    group.label = label;
    group.append(...names.map((name) => new Option(name, name)));
    return group;
  }

  /** Select a palette name, adding it when the list does not have it (e.g. "magma_r"). */
  function showPaletteChoice(name) {
    if (!name) return;
    if (![...ui.palette.options].some((option) => option.value === name)) {
      const groups = ui.palette.querySelectorAll("optgroup");
      (groups[groups.length - 1] || ui.palette).append(new Option(name, name));
    }
    ui.palette.value = name;
  }

  /** A typed number, or null when the box is empty or not a number. */
  function inputNumber(input) {
    const value = input.value.trim() === "" ? NaN : Number(input.value);
    return Number.isFinite(value) ? value : null;
  }

  /** Set an input's value unless the user is typing in it. */
  function setInputValue(input, value) {
    if (document.activeElement === input) return;
    input.value = value;
  }

  /** Whether fixed ranges are temperatures (degrees C on the wire) or counts. */
  function rangeIsCelsius() {
    const header = stats.lastHeader;
    return !header || header.unit === "C";
  }

  function rangeToDisplay(value) {
    const shown = rangeIsCelsius() ? celsiusToDisplay(value) : value;
    return String(Math.round(shown * 10) / 10);
  }

  function rangeFromDisplay(value) {
    return rangeIsCelsius() ? Math.round(displayToCelsius(value) * 100) / 100 : value;
  }

  function showAgcFields(mode) {
    ui.rangeField.hidden = mode !== "fixed";
    ui.clipField.hidden = mode !== "percentile";
  }

  /** Make every control show the shared state (called on every state message). */
  function syncControls(state) {
    const running = state.running !== false;
    ui.runToggle.textContent = running ? "Stop" : "Start";
    ui.runToggle.setAttribute("aria-pressed", String(!running));
    showPaletteChoice(state.colormap);
    if (state.agc) ui.agc.value = state.agc;
    showAgcFields(ui.agc.value);
    if (Array.isArray(state.range)) {
      setInputValue(ui.rangeLow, rangeToDisplay(state.range[0]));
      setInputValue(ui.rangeHigh, rangeToDisplay(state.range[1]));
    }
    if (typeof state.clip_percent === "number") setInputValue(ui.clip, String(state.clip_percent));
    ui.rangeUnit.textContent = rangeIsCelsius() ? temperatureSymbol() : "counts";
    if (typeof state.clients === "number") ui.clients.textContent = String(state.clients);
  }

  /** The fixed range to send, in wire units: the typed one, else the range now on screen. */
  function chosenRange() {
    const low = inputNumber(ui.rangeLow);
    const high = inputNumber(ui.rangeHigh);
    if (low !== null && high !== null && low < high) {
      return [rangeFromDisplay(low), rangeFromDisplay(high)];
    }
    const agc = (stats.lastHeader && stats.lastHeader.agc) || {};
    if (typeof agc.low === "number" && typeof agc.high === "number") {
      return [agc.low, Math.max(agc.high, agc.low + 1)];
    }
    return null;
  }

  function onAgcChosen() {
    const mode = ui.agc.value;
    showAgcFields(mode);
    if (mode !== "fixed") {
      sendCommand({ cmd: "set", agc: mode });
      return;
    }
    const range = chosenRange();
    if (!range) return; // nothing to go on yet: the user types a range
    ui.rangeLow.value = rangeToDisplay(range[0]);
    ui.rangeHigh.value = rangeToDisplay(range[1]);
    sendCommand({ cmd: "set", agc: "fixed", range });
  }

  function onRangeTyped() {
    const low = inputNumber(ui.rangeLow);
    const high = inputNumber(ui.rangeHigh);
    const valid = low !== null && high !== null && low < high;
    ui.rangeLow.setCustomValidity(valid ? "" : "low must be below high");
    if (valid) {
      sendCommand({ cmd: "set", agc: "fixed", range: [rangeFromDisplay(low), rangeFromDisplay(high)] });
    }
  }

  function onClipTyped() {
    const clip = inputNumber(ui.clip);
    if (clip !== null) sendCommand({ cmd: "set", clip_percent: clip });
  }

  function onUnitsChosen(units) {
    prefs.units = units;
    savePrefs();
    emit("units", units);
  }

  /** Show the controls a source has: FFC only for a Lepton, raw downloads only with raw data. */
  function showSourceControls(config) {
    ui.ffc.hidden = !FFC_SOURCES.has(config.source);
    if (!stats.lastHeader) showFrameKind({ hasStats: RAW_SOURCES.has(config.source), unit: "C" });
  }

  function wireControls() {
    ui.runToggle.addEventListener("click", () =>
      sendCommand({ cmd: viewer.state.running === false ? "start" : "stop" }));
    ui.ffc.addEventListener("click", () => sendCommand({ cmd: "ffc" }));
    ui.palette.addEventListener("change", () => sendCommand({ cmd: "set", colormap: ui.palette.value }));
    ui.agc.addEventListener("change", onAgcChosen);
    ui.rangeLow.addEventListener("change", onRangeTyped);
    ui.rangeHigh.addEventListener("change", onRangeTyped);
    ui.clip.addEventListener("change", onClipTyped);
    ui.unitsC.addEventListener("change", () => onUnitsChosen("C"));
    ui.unitsF.addEventListener("change", () => onUnitsChosen("F"));
    ui.showMarkers.addEventListener("change", () => {
      prefs.markers = ui.showMarkers.checked;
      savePrefs();
      if (viewer.shownHeader) showMarkers(viewer.shownHeader);
    });
    ui.unitsF.checked = prefs.units === "F";
    ui.unitsC.checked = prefs.units !== "F";
    ui.showMarkers.checked = prefs.markers;
  }

  // ---- saving pictures and raw frames; full screen ---------------------------------------------

  /** "thermal-20240131-142501" in local time, for download names. */
  function fileStem(date = new Date()) {
    const pad = (n) => String(n).padStart(2, "0");
    return `thermal-${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-` +
      `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
  }

  function download(href, name) {
    const link = document.createElement("a");
    link.href = href;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
  }

  /** Save the picture on screen (the daemon's /snapshot.jpg before the first frame). */
  function savePicture() {
    const blob = decoder.shownBlob;
    if (!blob) {
      download("snapshot.jpg", `${fileStem()}.jpg`);
      return;
    }
    const url = URL.createObjectURL(blob);
    download(url, `${fileStem()}.jpg`);
    setTimeout(() => URL.revokeObjectURL(url), SAVE_URL_LIFETIME_MS);
  }

  function toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else ui.view.requestFullscreen().catch((err) => console.error("viewer: full screen refused", err));
  }

  function wireSaving() {
    ui.saveJpeg.addEventListener("click", savePicture);
    ui.savePng.addEventListener("click", () => { ui.savePng.download = `${fileStem()}.png`; });
    ui.saveNpy.addEventListener("click", () => { ui.saveNpy.download = `${fileStem()}.npy`; });
    ui.fullscreen.hidden = !document.fullscreenEnabled;
    ui.fullscreen.addEventListener("click", toggleFullscreen);
    document.addEventListener("fullscreenchange", () => {
      ui.fullscreen.textContent = document.fullscreenElement ? "Exit full screen" : "Full screen";
    });
  }

  // ---- live plot: the last 60 s of min/max/mean/centre and chosen meta fields ------------------

  /** Timed samples of several series over a sliding window, at most one per minStepMs. */
  class PlotHistory {
    constructor(windowMs, minStepMs) {
      this.windowMs = windowMs;
      this.minStepMs = minStepMs;
      this.times = []; // performance.now() of each sample
      this.series = new Map(); // key -> {label, colour, axis, values: number[] (NaN: none)}
    }

    /** Add one sample {key: {value, label, axis}}; false when too soon after the last one. */
    add(nowMs, sample) {
      const last = this.times[this.times.length - 1];
      if (last !== undefined && nowMs - last < this.minStepMs) return false;
      for (const [key, info] of Object.entries(sample)) this.ensure(key, info);
      this.times.push(nowMs);
      for (const [key, line] of this.series) {
        line.values.push(key in sample ? sample[key].value : NaN);
        if (key in sample) line.axis = sample[key].axis;
      }
      this.trim(nowMs);
      return true;
    }

    ensure(key, info) {
      if (this.series.has(key)) return;
      const metaCount = [...this.series.keys()].filter((k) => k.startsWith("meta:")).length;
      if (key.startsWith("meta:") && metaCount >= PLOT_MAX_META) return;
      const colour = info.colour || META_COLOURS[metaCount % META_COLOURS.length];
      const values = new Array(this.times.length).fill(NaN);
      this.series.set(key, { label: info.label, colour, axis: info.axis, values });
    }

    /** Drop samples older than the window, and series left without any value. */
    trim(nowMs) {
      let drop = 0;
      while (drop < this.times.length && nowMs - this.times[drop] > this.windowMs) drop += 1;
      if (!drop) return;
      this.times.splice(0, drop);
      for (const [key, line] of this.series) {
        line.values.splice(0, drop);
        if (!line.values.some(Number.isFinite)) this.series.delete(key);
      }
    }
  }

  /** The plottable numbers of a frame: stats in the frame's unit, numeric meta fields. */
  function plotSample(header) {
    const sample = {};
    const statsAxis = header.unit === "C" ? "celsius" : "counts";
    if (header.stats) {
      for (const [key, label, colour] of STAT_SERIES) {
        const value = header.stats[key];
        if (typeof value === "number") sample[key] = { value, label, colour, axis: statsAxis };
      }
    }
    for (const [name, value] of Object.entries(header.meta || {})) {
      if (typeof value !== "number" || !Number.isFinite(value)) continue;
      const axis = isCelsiusField(name) ? "celsius" : `meta:${name}`;
      sample[`meta:${name}`] = { value, label: formatMeta(name, value).label, axis };
    }
    return sample;
  }

  /** Legend and chooser: one checkbox per series, with its colour. */
  function showPlotSeries(history) {
    const keys = [...history.series.keys()].join("\n");
    ui.plotBox.hidden = history.series.size === 0;
    if (ui.plotSeries.dataset.keys === keys) return;
    ui.plotSeries.dataset.keys = keys;
    ui.plotSeries.replaceChildren(...[...history.series].map(([key, line]) => seriesChoice(key, line)));
  }

  function seriesChoice(key, line) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = key;
    box.checked = prefs.plot.includes(key);
    box.addEventListener("change", () => {
      prefs.plot = prefs.plot.filter((k) => k !== key).concat(box.checked ? [key] : []);
      savePrefs();
      schedulePlot();
    });
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = line.colour;
    label.append(box, swatch, document.createTextNode(line.label));
    return label;
  }

  /** A "nice" tick step (1, 2 or 5 × 10^n) for about `count` ticks over `span`. */
  function niceStep(span, count) {
    const rough = span / count;
    const power = 10 ** Math.floor(Math.log10(rough));
    const unit = rough / power;
    return power * (unit < 1.5 ? 1 : unit < 3.5 ? 2 : unit < 7.5 ? 5 : 10);
  }

  /** Axis {low, high, ticks[]} covering the values, widened to whole tick steps. */
  function axisFor(values) {
    let low = Math.min(...values);
    let high = Math.max(...values);
    if (!(high - low > 1e-9)) {
      low -= 0.5;
      high += 0.5;
    }
    const step = niceStep(high - low, 4);
    low = Math.floor(low / step) * step;
    high = Math.ceil(high / step) * step;
    const ticks = [];
    for (let v = low; v <= high + step / 2; v += step) ticks.push(Math.round(v / step) * step);
    return { low, high, ticks, step };
  }

  /** How a series' stored values are shown: temperatures in the chosen unit. */
  function plotValue(axis, value) {
    return axis === "celsius" ? celsiusToDisplay(value) : value;
  }

  function axisUnit(axis) {
    if (axis === "celsius") return temperatureSymbol();
    if (axis === "counts") return "counts";
    return "";
  }

  function tickText(value, step) {
    const digits = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
    return value.toFixed(digits);
  }

  /** The chosen series grouped by axis: [{axis, lines: [{key, line}], scale}]. */
  function plotGroups(history) {
    const groups = new Map();
    for (const key of prefs.plot) {
      const line = history.series.get(key);
      if (!line) continue;
      const shown = line.values.filter(Number.isFinite).map((v) => plotValue(line.axis, v));
      if (!shown.length) continue;
      if (!groups.has(line.axis)) groups.set(line.axis, { axis: line.axis, lines: [], values: [] });
      const group = groups.get(line.axis);
      group.lines.push(line);
      group.values.push(...shown);
    }
    return [...groups.values()].map((group) => ({ ...group, scale: axisFor(group.values) }));
  }

  /** Size the canvas to its CSS box at the device's resolution; a context in CSS pixels. */
  function plotContext(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { context, width: canvas.clientWidth, height: canvas.clientHeight };
  }

  function drawTimeAxis(context, area) {
    context.fillStyle = "#9aa0aa";
    context.strokeStyle = "#2c3038";
    context.textBaseline = "top";
    for (let s = -60; s <= 0; s += 15) {
      const x = area.left + ((s + 60) / 60) * area.width;
      context.beginPath();
      context.moveTo(x, area.top);
      context.lineTo(x, area.top + area.height);
      context.stroke();
      context.textAlign = s === -60 ? "left" : s === 0 ? "right" : "center";
      context.fillText(s === 0 ? "now" : `${s} s`, x, area.top + area.height + 3);
    }
  }

  /** Ticks and labels of one value axis, on the left (side 0) or the right (side 1). */
  function drawValueAxis(context, area, group, side) {
    const { scale } = group;
    context.fillStyle = group.lines.length === 1 && side === 1 ? group.lines[0].colour : "#9aa0aa";
    context.strokeStyle = "#2c3038";
    context.textBaseline = "middle";
    context.textAlign = side === 0 ? "right" : "left";
    const x = side === 0 ? area.left - 4 : area.left + area.width + 4;
    for (const tick of scale.ticks) {
      const y = valueY(area, scale, tick);
      if (side === 0) {
        context.beginPath();
        context.moveTo(area.left, y);
        context.lineTo(area.left + area.width, y);
        context.stroke();
      }
      context.fillText(tickText(tick, scale.step), x, y);
    }
    const unit = axisUnit(group.axis);
    if (unit) {
      context.textBaseline = "top";
      context.fillText(unit, x, 1);
    }
  }

  function valueY(area, scale, value) {
    return area.top + area.height - ((value - scale.low) / (scale.high - scale.low)) * area.height;
  }

  /** One series as a polyline; a gap of more than PLOT_GAP_MS, or a missing value, breaks it. */
  function drawLine(context, area, times, line, scale, nowMs) {
    context.strokeStyle = line.colour;
    context.lineWidth = 2;
    context.lineJoin = "round";
    context.beginPath();
    let previous = null;
    line.values.forEach((value, i) => {
      if (!Number.isFinite(value)) {
        previous = null;
        return;
      }
      const x = area.left + (1 - (nowMs - times[i]) / PLOT_WINDOW_MS) * area.width;
      const y = valueY(area, scale, plotValue(line.axis, value));
      if (previous === null || times[i] - previous > PLOT_GAP_MS) context.moveTo(x, y);
      else context.lineTo(x, y);
      previous = times[i];
    });
    context.stroke();
    context.lineWidth = 1;
  }

  function drawPlot() {
    plotFrameRequested = false;
    if (ui.plotBox.hidden || !ui.plot.clientWidth) return;
    const nowMs = performance.now();
    plot.trim(nowMs);
    const groups = plotGroups(plot);
    const { context, width, height } = plotContext(ui.plot);
    context.fillStyle = PLOT_BACKGROUND;
    context.fillRect(0, 0, width, height);
    context.font = "11px system-ui, sans-serif";
    const area = { left: 46, top: 20, width: width - 46 - (groups.length > 1 ? 46 : 10), height: height - 38 };
    drawTimeAxis(context, area);
    groups.slice(0, 2).forEach((group, side) => drawValueAxis(context, area, group, side));
    context.save();
    context.beginPath();
    context.rect(area.left, area.top, area.width, area.height);
    context.clip();
    for (const group of groups) {
      for (const line of group.lines) drawLine(context, area, plot.times, line, group.scale, nowMs);
    }
    context.restore();
    stats.plotPoints = plot.times.length;
    stats.plotDraws += 1;
  }

  let plotFrameRequested = false;

  function schedulePlot() {
    if (plotFrameRequested) return;
    plotFrameRequested = true;
    requestAnimationFrame(drawPlot);
  }

  const plot = new PlotHistory(PLOT_WINDOW_MS, PLOT_MIN_STEP_MS);

  function recordPlotSample(header) {
    if (plot.add(performance.now(), plotSample(header))) showPlotSeries(plot);
  }

  // ---- the viewer: wires the pieces together ---------------------------------------------------

  const viewer = {
    state: {},
    shownHeader: null, // header of the frame on screen
    lastFrameMs: null, // performance.now() of the last frame received
    ageS: null,
    retryAtMs: null, // performance.now() of the next connection attempt
    errorTimer: null,
    rate: new RateMeter(FPS_WINDOW_MS),
  };

  const decoder = new FrameDecoder(ui.image, onFrameShown);
  const connection = new Connection({
    onOpen: onConnected,
    onClose: onDisconnected,
    onText: onTextMessage,
    onBinary: onFrameMessage,
  });

  function onConnected() {
    stats.connected = true;
    stats.connects += 1;
    viewer.lastFrameMs = null;
    showStatus("connected", "connected");
    emit("connection", { connected: true });
    refresh();
  }

  function onDisconnected(retryMs) {
    const wasConnected = stats.connected;
    stats.connected = false;
    viewer.retryAtMs = performance.now() + retryMs;
    if (wasConnected) emit("connection", { connected: false });
    refresh();
  }

  function showRetryCountdown(nowMs) {
    const leftS = Math.max(0, (viewer.retryAtMs - nowMs) / 1000);
    showStatus("disconnected",
      leftS > 0 ? `disconnected, retrying in ${leftS.toFixed(1)} s` : "disconnected, retrying…");
  }

  function onTextMessage(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      stats.parseErrors += 1;
      return;
    }
    if (message.type === "hello") applyState(message.state || {});
    else if (message.type === "state") applyState(message);
    else if (message.type === "error") showServerError(String(message.error));
  }

  /** Show a command's error in the status line for a few seconds, then "connected" again. */
  function showServerError(error) {
    stats.serverErrors += 1;
    showStatus("error", `server: ${error}`);
    clearTimeout(viewer.errorTimer);
    viewer.errorTimer = setTimeout(() => {
      if (stats.connected) showStatus("connected", "connected");
    }, ERROR_SHOWN_MS);
    emit("error", error);
  }

  function applyState(update) {
    const { type, ...fields } = update;
    viewer.state = { ...viewer.state, ...fields };
    emit("state", viewer.state);
    refresh();
  }

  function onFrameMessage(buffer) {
    let frame;
    try {
      frame = parseFrameMessage(buffer);
    } catch (err) {
      stats.parseErrors += 1;
      return;
    }
    stats.framesReceived += 1;
    stats.lastSeq = frame.header.seq;
    stats.lastHeader = frame.header;
    viewer.lastFrameMs = performance.now();
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
  }

  function onFrameShown(header) {
    stats.framesShown += 1;
    viewer.shownHeader = header;
    viewer.rate.add(performance.now());
    viewer.ageS = frameAge(header);
    showHeader(header);
    emit("shown", header);
    refresh();
  }

  function onUnitsChanged() {
    if (viewer.shownHeader) showHeader(viewer.shownHeader);
    syncControls(viewer.state);
    if (pointer.at && pointer.raw) showPointerValue();
    schedulePlot();
  }

  /** What the overlay says now, or "" to hide it. */
  function overlayText(nowMs) {
    if (!stats.connected) return stats.connects ? "Disconnected, reconnecting…" : "Connecting…";
    if (viewer.state.running === false) return "Paused";
    if (viewer.lastFrameMs === null) return "Waiting for frames…";
    const silentMs = nowMs - viewer.lastFrameMs;
    if (silentMs > NO_SIGNAL_AFTER_MS) return `No signal (no frame for ${Math.floor(silentMs / 1000)} s)`;
    return "";
  }

  /** Update everything that depends on the clock: fps, frame age, overlay. */
  function refresh() {
    const nowMs = performance.now();
    const fps = viewer.rate.rate(nowMs);
    ui.fps.textContent = fps ? fps.toFixed(1) : "–";
    showAge(stats.connected && viewer.lastFrameMs !== null ? viewer.ageS : null);
    showOverlay(overlayText(nowMs));
    if (!stats.connected && viewer.retryAtMs !== null) showRetryCountdown(nowMs);
  }

  async function loadPalettes() {
    const body = await fetchJson("colormaps.json");
    if (body && Array.isArray(body.names)) fillPalettes(body.names);
  }

  function wireEvents() {
    on("frame", keepRawFrame);
    on("frame", ({ header }) => recordPlotSample(header));
    on("state", (state) => {
      if (state.colormap && state.colormap !== ui.scaleBar.dataset.colormap) drawScaleBar(state.colormap);
      syncControls(state);
    });
    on("config", showSourceControls);
    on("error", (error) => {
      syncControls(viewer.state); // undo what the refused command's control shows
      if (error.startsWith(TOKEN_REFUSED)) onTokenRefused();
    });
    on("units", onUnitsChanged);
    ui.frameBox.addEventListener("pointerdown", onPointer);
    ui.frameBox.addEventListener("pointermove", onPointer);
    ui.frameBox.addEventListener("pointerleave", onPointerLeave);
  }

  /** On a phone the controls start folded away. */
  function foldControlsOnSmallScreens() {
    if (window.matchMedia("(max-width: 700px)").matches) ui.controls.open = false;
  }

  window.viewer = {
    on,
    send: sendCommand,
    get state() {
      return viewer.state;
    },
    get config() {
      return connection.config;
    },
    parseFrameMessage,
    drawScaleBar,
    plotColours: () => Object.fromEntries([...plot.series].map(([key, line]) => [key, line.colour])),
  };

  wireEvents();
  wireControls();
  wireSaving();
  foldControlsOnSmallScreens();
  showStatus("connecting", "connecting…");
  refresh();
  setInterval(refresh, TICK_MS);
  setInterval(schedulePlot, PLOT_REDRAW_MS);
  loadPalettes();
  connection.connect();
})();
