/**
 * The page's event bus, the extension point of every feature (exposed as `viewer.on`).
 *
 * Events: "frame" ({header, jpeg, raw}, every frame received), "shown" (header of the frame
 * now on screen), "state" (the acquisition state), "connection" ({connected}), "config"
 * (/config.json), "error" (a server error message) and "units" ("C" or "F").
 */

const listeners = new Map(); // event name -> [fn]

/** Call `fn(value)` on every `name` event from now on. */
export function on(name, fn) {
  if (!listeners.has(name)) listeners.set(name, []);
  listeners.get(name).push(fn);
}

/** Call every `name` listener with `value`; a listener that throws is logged, the rest still run. */
export function emit(name, value) {
  for (const fn of listeners.get(name) || []) {
    try {
      fn(value);
    } catch (err) {
      console.error(`viewer: "${name}" listener failed`, err);
    }
  }
}
