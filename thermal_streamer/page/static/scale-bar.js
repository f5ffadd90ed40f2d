/**
 * The colour scale bar: painted from the daemon's own lookup table (/colormap.json, cached
 * per name), its ends labelled with the range the colours span.
 */
import { fetchJson } from "./fetch-json.js";
import { formatValue } from "./units.js";
import { ui } from "./ui.js";

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
export async function drawScaleBar(colormap) {
  wantedColormap = colormap;
  ui.colormap.textContent = colormap || "–";
  const lut = await fetchLut(colormap);
  if (!lut || wantedColormap !== colormap) return false;
  paintLut(ui.scaleBar, lut);
  ui.scaleBar.dataset.colormap = colormap;
  return true;
}

/** Redraw the bar when the shared state names a colormap other than the one drawn. */
export function followColormap(state) {
  if (state.colormap && state.colormap !== ui.scaleBar.dataset.colormap) drawScaleBar(state.colormap);
}

/** Label the bar's ends: the AGC range the colours span, else the frame's min/max. */
export function showScaleLabels(header) {
  const s = header.stats || {};
  const agc = header.agc || {};
  const low = typeof agc.low === "number" ? agc.low : s.min;
  const high = typeof agc.high === "number" ? agc.high : s.max;
  ui.scaleMin.textContent = formatValue(low, header.unit);
  ui.scaleMax.textContent = formatValue(high, header.unit);
  ui.scaleBar.title = agc.mode ? `AGC: ${agc.mode}` : "";
}
