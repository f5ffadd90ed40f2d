import { counters } from "./counters.js";
/**
 * Commands to the daemon, with the control token once one is known (sessionStorage, or
 * memory when storage is unavailable). A refusal for want of the token asks for it once
 * per command, then resends that command.
 */

const TOKEN_REFUSED = "this command needs the control token"; // the server's error text
const TOKEN_KEY = "thermal-viewer.control-token"; // sessionStorage

let tokenInMemory = ""; // the token when sessionStorage is unavailable

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return tokenInMemory;
  }
}

function storeToken(value) {
  tokenInMemory = value;
  try {
    sessionStorage.setItem(TOKEN_KEY, value);
  } catch {
    // storage disabled: kept in memory for this page
  }
}

export class CommandSender {
  constructor(connection) {
    this.connection = connection;
    this.lastCommand = null; // the last command sent, resent once after the token is given
    this.askedFor = null; // the command we already asked the token for (never ask twice for one)
  }

  /** Send a command, with the control token when one is known; false when not connected. */
  send(command) {
    this.lastCommand = command;
    const secret = storedToken();
    return this.connection.send(secret ? { ...command, token: secret } : command);
  }

  /** A server error: when it refused the last command for want of the token, ask once and resend. */
  onServerError(error) {
    const command = this.lastCommand;
    if (!error.startsWith(TOKEN_REFUSED) || !command || this.askedFor === command) return;
    this.askedFor = command;
    counters.tokenPrompts += 1;
    const given = window.prompt("This camera needs its control token (Control_Token) to change settings:", "");
    if (!given) return;
    storeToken(given.trim());
    this.send(command);
  }
}
