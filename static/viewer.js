/*
 * Thermal camera viewer: shows the daemon's /stream WebSocket (INTERFACE.md, protocol 1).
 *
 * Data flow, one direction:
 *
 *   config.json ─► streamUrl() ─► Connection (WebSocket, reconnects with back-off 0.5 s → 5 s)
 *        binary message ─► parseFrameMessage() ─► {header, jpeg, raw}
 *             ├─► FrameDecoder: blob URL → <img>; one decode at a time, only the newest
 *             │   pending frame kept; the previous URL is revoked once the new one has loaded
 *             └─► on "shown": readouts (stats, unit, fps, frame age, meta), scale bar labels
 *        text message  ─► hello / state ─► viewer.state ─► colour bar, paused overlay
 *                      ─► error         ─► status line
 *   a 250 ms tick ─► fps, frame age, "no signal" overlay after 3 s without a frame
 *
 * Later features (palette/AGC selectors, start/stop, a live plot, temperature under the
 * pointer) plug in through `window.viewer`: `viewer.send({cmd: ...})` sends a command,
 * `viewer.on(name, fn)` subscribes to "frame" ({header, jpeg, raw}, every frame
 * received), "shown" (header of the frame now on screen), "state" (the acquisition
 * state), "connection" ({connected}), "config" (/config.json) and "error" (a server
 * error message). Raw pixels arrive when the page is opened with
 * `?raw=1` (the flag is passed on to the WebSocket).
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

  // Colour stops for the scale bar, as [position 0..1, [r, g, b]]. The matplotlib ones are
  // 17 evenly spaced samples; the thermal palettes copy server/colormaps.py THERMAL_PALETTES.
  // Any other colormap name falls back to inferno's.
  const evenly = (colours) => colours.map((rgb, i) => [i / (colours.length - 1), rgb]);
  const COLORMAP_STOPS = {
    inferno: evenly([[0, 0, 4], [11, 7, 36], [33, 12, 74], [61, 9, 101], [87, 16, 110],
      [113, 25, 110], [138, 34, 106], [163, 44, 97], [188, 55, 84], [210, 70, 68], [228, 90, 49],
      [241, 115, 29], [249, 142, 9], [252, 172, 17], [249, 203, 53], [242, 234, 105], [252, 255, 164]]),
    magma: evenly([[0, 0, 4], [10, 8, 34], [29, 17, 71], [54, 16, 107], [81, 18, 124],
      [106, 28, 129], [131, 38, 129], [156, 46, 127], [183, 55, 121], [208, 65, 111], [231, 82, 99],
      [245, 107, 92], [252, 137, 97], [254, 167, 114], [254, 196, 136], [253, 226, 163], [252, 253, 191]]),
    plasma: evenly([[13, 8, 135], [49, 5, 151], [76, 2, 161], [102, 0, 167], [126, 3, 168],
      [149, 17, 161], [170, 35, 149], [188, 53, 135], [204, 71, 120], [218, 90, 106], [230, 108, 92],
      [240, 128, 78], [248, 149, 64], [253, 172, 51], [253, 197, 39], [248, 223, 37], [240, 249, 33]]),
    viridis: evenly([[68, 1, 84], [72, 24, 106], [71, 45, 123], [66, 64, 134], [59, 82, 139],
      [51, 99, 141], [44, 114, 142], [38, 130, 142], [33, 145, 140], [31, 160, 136], [40, 174, 128],
      [63, 188, 115], [94, 201, 98], [132, 212, 75], [173, 220, 48], [216, 226, 25], [253, 231, 37]]),
    gray: evenly([[0, 0, 0], [255, 255, 255]]),
    ironbow: [[0, [0, 0, 0]], [0.12, [28, 0, 96]], [0.28, [98, 0, 148]], [0.45, [178, 20, 118]],
      [0.6, [226, 68, 40]], [0.75, [250, 138, 0]], [0.9, [255, 214, 40]], [1, [255, 255, 224]]],
    rainbow: [[0, [0, 0, 96]], [0.15, [0, 0, 255]], [0.32, [0, 200, 255]], [0.48, [0, 220, 60]],
      [0.64, [255, 255, 0]], [0.8, [255, 128, 0]], [0.93, [255, 0, 0]], [1, [255, 255, 255]]],
    "white-hot": evenly([[0, 0, 0], [255, 255, 255]]),
    "black-hot": evenly([[255, 255, 255], [0, 0, 0]]),
  };
  COLORMAP_STOPS.grey = COLORMAP_STOPS.gray;

  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $("status"),
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
    meta: $("meta"),
  };

  const stats = {
    framesReceived: 0,
    framesShown: 0,
    framesSkipped: 0, // replaced while waiting for the decoder
    decodeErrors: 0,
    parseErrors: 0,
    lastSeq: null,
    connected: false,
    lastHeader: null,
    connects: 0,
  };
  window.viewerStats = stats;

  // ---- small event bus, the extension point for later features ----------------------------

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

  /** Read /config.json; null when the daemon does not answer. */
  async function fetchConfig() {
    try {
      const response = await fetch("config.json", { cache: "no-store" });
      return response.ok ? await response.json() : null;
    } catch {
      return null;
    }
  }

  /** The WebSocket URL: this page's host name, the configured port and path. */
  function streamUrl(config) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let host = location.hostname; // an IPv6 literal comes with its brackets: "[::1]"
    if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
    const port = config.ws_port || location.port;
    const path = config.ws_path || "/stream";
    const query = new URLSearchParams(location.search).get("raw") === "1" ? "?raw=1" : "";
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
      this.config = (await fetchConfig()) || this.config;
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
      this.loading = null; // {url, header} being decoded
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
      const url = URL.createObjectURL(new Blob([next.jpeg], { type: "image/jpeg" }));
      this.loading = { url, header: next.header };
      this.image.src = url;
    }

    finish(ok) {
      const done = this.loading;
      if (!done) return;
      this.loading = null;
      if (ok) {
        if (this.shownUrl) URL.revokeObjectURL(this.shownUrl);
        this.shownUrl = done.url;
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

  // ---- rendering of readouts -------------------------------------------------------------------

  function unitLabel(unit) {
    return unit === "C" ? "°C" : unit ? ` ${unit}` : "";
  }

  function formatValue(value, unit) {
    if (typeof value !== "number" || !Number.isFinite(value)) return "–";
    const digits = unit === "C" ? 1 : 0;
    return `${value.toFixed(digits)}${unitLabel(unit)}`;
  }

  function showStats(header) {
    // Sources without raw data (file, tcp) have no temperatures: hide what would mislead.
    document.body.classList.toggle("no-stats", !header.stats);
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
  }

  /** Extra values the source attaches (header.meta, {name: number|string}), one line each. */
  function showMeta(meta) {
    const entries = Object.entries(meta || {});
    const keys = entries.map(([name]) => name).join("\n");
    if (ui.meta.dataset.keys !== keys) {
      ui.meta.dataset.keys = keys;
      ui.meta.replaceChildren(...entries.map(([name]) => metaItem(name)));
    }
    entries.forEach(([, value], i) => {
      ui.meta.children[i].lastChild.textContent =
        typeof value === "number" ? String(Math.round(value * 100) / 100) : String(value);
    });
  }

  function metaItem(name) {
    const item = document.createElement("div");
    const term = document.createElement("dt");
    term.textContent = name.replace(/_/g, " ");
    item.append(term, document.createElement("dd"));
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

  /** Paint the colour scale bar from a colormap name (unknown names: inferno). */
  function drawScaleBar(colormap) {
    let name = colormap || "inferno";
    const reversed = name.endsWith("_r");
    if (reversed) name = name.slice(0, -2);
    let stops = COLORMAP_STOPS[name] || COLORMAP_STOPS.inferno;
    if (reversed) stops = stops.map(([at, rgb]) => [1 - at, rgb]).reverse();
    const canvas = ui.scaleBar;
    const context = canvas.getContext("2d");
    const gradient = context.createLinearGradient(0, 0, canvas.width, 0);
    for (const [at, [r, g, b]] of stops) gradient.addColorStop(at, `rgb(${r},${g},${b})`);
    context.fillStyle = gradient;
    context.fillRect(0, 0, canvas.width, canvas.height);
    ui.colormap.textContent = colormap || "–";
  }

  function showStatus(kind, text) {
    ui.status.dataset.state = kind;
    ui.status.textContent = text;
  }

  function showOverlay(text) {
    ui.overlay.hidden = !text;
    if (text) ui.overlay.textContent = text;
  }

  // ---- the viewer: wires the pieces together ---------------------------------------------------

  const viewer = {
    state: {},
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
    else if (message.type === "error") showServerError(message.error);
  }

  /** Show a command's error in the status line for a few seconds, then "connected" again. */
  function showServerError(error) {
    showStatus("error", `server: ${error}`);
    clearTimeout(viewer.errorTimer);
    viewer.errorTimer = setTimeout(() => {
      if (stats.connected) showStatus("connected", "connected");
    }, ERROR_SHOWN_MS);
    emit("error", error);
  }

  function applyState(update) {
    const { type, ...fields } = update;
    const colormapChanged = fields.colormap !== undefined && fields.colormap !== viewer.state.colormap;
    viewer.state = { ...viewer.state, ...fields };
    if (colormapChanged) drawScaleBar(viewer.state.colormap);
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

  function onFrameShown(header) {
    stats.framesShown += 1;
    viewer.rate.add(performance.now());
    viewer.ageS = frameAge(header);
    showStats(header);
    showScaleLabels(header);
    showFrameInfo(header);
    showMeta(header.meta);
    emit("shown", header);
    refresh();
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

  window.viewer = {
    on,
    send: (command) => connection.send(command),
    get state() {
      return viewer.state;
    },
    get config() {
      return connection.config;
    },
    parseFrameMessage,
    drawScaleBar,
  };

  drawScaleBar("inferno");
  showStatus("connecting", "connecting…");
  refresh();
  setInterval(refresh, TICK_MS);
  connection.connect();
})();
