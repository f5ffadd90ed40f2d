/**
 * The temperature under the pointer (mouse, pen or finger): the newest raw frame's value
 * at the pixel under it, shown next to it. A mouse's value goes when it leaves the image;
 * a finger's stays put.
 */
import { counters } from "./counters.js";
import { formatValue, rawPixelValue } from "./units.js";
import { ui } from "./ui.js";

const pointer = {
  raw: null, // {info: header.raw, pixels: DataView} of the newest frame with raw data
  at: null, // {x, y} raw pixel under the pointer, or null
  client: null, // {x, y} pointer position in the frame box, CSS pixels
};

/** Keep a frame's raw pixels (when it has them) and update the value under the pointer. */
export function keepRawFrame({ header, raw }) {
  if (!raw || !header.raw) return;
  counters.rawFrames += 1;
  pointer.raw = { info: header.raw, pixels: new DataView(raw) };
  refreshPointerValue();
}

/** Show the value under the pointer again (a new frame, a change of units). */
export function refreshPointerValue() {
  if (pointer.at && pointer.raw) showPointerValue();
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

/** Follow the pointer over the image. */
export function wirePointer() {
  ui.frameBox.addEventListener("pointerdown", onPointer);
  ui.frameBox.addEventListener("pointermove", onPointer);
  ui.frameBox.addEventListener("pointerleave", onPointerLeave);
}
