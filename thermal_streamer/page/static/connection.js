/**
 * The connection: /config.json, then one WebSocket to /stream at a time, reconnecting by
 * itself with back-off (0.5 s doubling to 5 s). Emits "config" on the bus.
 */
import { emit } from "./bus.js";
import { fetchJson } from "./fetch-json.js";

const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 5000;
const CONNECT_TIMEOUT_MS = 5000; // a handshake that hangs longer is abandoned and retried

/** Whether to ask for raw pixels: when the source has them, unless the page has ?raw=0. */
function wantsRaw(config) {
  const optedOut = new URLSearchParams(location.search).get("raw") === "0";
  return Boolean(config.raw) && !optedOut;
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
export class Connection {
  constructor(handlers) {
    this.handlers = handlers; // {onBinary(ArrayBuffer), onText(string), onOpen(), onClose(retryMs)}
    this.config = null; // the last /config.json read, kept for when the daemon is away
    this.socket = null;
    this.retryMs = RECONNECT_FIRST_MS;
  }

  /** Read /config.json and open the WebSocket; on failure, try again later. */
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

  /** Send a command object as JSON text; false when not connected. */
  send(command) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(command));
    return true;
  }
}
