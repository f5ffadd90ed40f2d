/** The readouts of the frame on screen: temperatures, frame info, the source's meta values. */
import { formatMeta, formatValue } from "./units.js";
import { ui } from "./ui.js";

/** Which kind of frames these are: body classes that hide what a source does not have. */
export function showFrameKind({ hasStats, unit }) {
  document.body.classList.toggle("no-stats", !hasStats); // file, tcp: no temperatures
  document.body.classList.toggle("no-celsius", !hasStats || unit !== "C"); // counts
}

/** Min, max, mean and centre, in the frame's unit. */
export function showStats(header) {
  const s = header.stats || {};
  ui.min.textContent = formatValue(s.min, header.unit);
  ui.max.textContent = formatValue(s.max, header.unit);
  ui.mean.textContent = formatValue(s.mean, header.unit);
  ui.center.textContent = formatValue(s.center, header.unit);
}

/** Frame number, source, size; the image box takes the frame's aspect ratio. */
export function showFrameInfo(header) {
  ui.seq.textContent = String(header.seq);
  ui.source.textContent = header.source || "–";
  ui.size.textContent = `${header.width} × ${header.height}`;
  if (header.width > 0 && header.height > 0) {
    ui.frameBox.style.setProperty("--aspect", String(header.width / header.height));
  }
}

/** Extra values the source attaches (header.meta, {name: number|string}), one line each. */
export function showMeta(meta) {
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
