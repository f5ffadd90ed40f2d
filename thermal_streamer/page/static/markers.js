/** Min, max and centre markers on the image, and the checkbox that shows or hides them. */
import { prefs, savePrefs } from "./prefs.js";
import { session } from "./session.js";
import { formatValue } from "./units.js";
import { ui } from "./ui.js";

/** The raw frame's size in pixels {cols, rows}, from the header, the config or the JPEG. */
export function rawSize(header) {
  if (header.raw) return { cols: header.raw.cols, rows: header.raw.rows };
  const config = session.config || {};
  if (config.width && config.height) return { cols: config.width, rows: config.height };
  const scale = session.state.scale || 1;
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

/** Place the markers for a header's stats, or hide them (no positions, or switched off). */
export function showMarkers(header) {
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

/** The "Min, max and centre markers" checkbox: stored preference, applied at once. */
export function wireMarkerToggle() {
  ui.showMarkers.checked = prefs.markers;
  ui.showMarkers.addEventListener("change", () => {
    prefs.markers = ui.showMarkers.checked;
    savePrefs();
    if (session.shownHeader) showMarkers(session.shownHeader);
  });
}
