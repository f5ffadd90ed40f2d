/**
 * Measurement regions (docs/measurement.md): the shared state's `rois`
 * drawn over the image, each labelled with its live value from the frame header's
 * `rois`; a list to rename and delete them; and, while "Draw regions" is on, pointer
 * editing (mouse, pen or finger): click drops a spot, drag on the picture draws a box,
 * drag a region moves it, drag its corner handle resizes it. Every change is a `roi`
 * command, so every viewer sees it; the drawing stays until the new state arrives.
 * A region an active alarm watches is highlighted (class "alarm").
 */
import { counters } from "./counters.js";
import { rawSize } from "./markers.js";
import { session } from "./session.js";
import { formatValue } from "./units.js";
import { ui } from "./ui.js";

const CLICK_SLOP_PX = 6; // a press that moves less than this is a click (a spot)

const editing = {
  on: false,
  drag: null, // {kind: "new"|"move"|"resize", pointerId, start: {x, y}, startClient, region, element}
  send: () => false,
};

/** The raw frame's size {cols, rows} now, or null before a frame is on screen. */
function frameSize() {
  return session.shownHeader ? rawSize(session.shownHeader) : null;
}

/** The raw pixel {x, y} under a client position, clamped to the frame. */
function pixelAt(clientX, clientY, size) {
  const box = ui.frameBox.getBoundingClientRect();
  const clamp = (v, n) => Math.min(n - 1, Math.max(0, Math.floor(v * n)));
  return {
    x: clamp((clientX - box.left) / box.width, size.cols),
    y: clamp((clientY - box.top) / box.height, size.rows),
  };
}

/** The pixels a region covers, [x0, y0, x1, y1] inclusive (a spot's square around it). */
function bounds(region) {
  if (region.box) return region.box;
  const half = Math.floor((region.size || 1) / 2);
  const [x, y] = region.spot;
  return [x - half, y - half, x + half, y + half];
}

/**
 * Place a region's element over the pixels it covers, as percentages of the image box (a
 * spot by its centre: CSS centres it and keeps it big enough to see and touch).
 */
function place(element, region, size) {
  const [x0, y0, x1, y1] = bounds(region);
  const [left, top] = region.spot ? [region.spot[0] + 0.5, region.spot[1] + 0.5] : [x0, y0];
  element.style.left = `${(left / size.cols) * 100}%`;
  element.style.top = `${(top / size.rows) * 100}%`;
  element.style.width = `${((x1 - x0 + 1) / size.cols) * 100}%`;
  element.style.height = `${((y1 - y0 + 1) / size.rows) * 100}%`;
  element.classList.toggle("flip-y", y0 / size.rows < 0.08); // label below, not off the top
}

function regionElement(region) {
  const element = document.createElement("div");
  element.className = region.spot ? "roi roi-spot" : "roi roi-box";
  element.dataset.name = region.name;
  const label = document.createElement("span");
  label.className = "roi-label";
  label.textContent = region.name;
  element.append(label);
  if (region.box) {
    const handle = document.createElement("span");
    handle.className = "roi-handle";
    handle.title = "Drag to resize";
    element.append(handle);
  }
  return element;
}

/** The names of the regions an active alarm watches. */
function alarmedNames(state) {
  return new Set((state.alarms || []).filter((a) => a.state === "alarm").map((a) => a.roi));
}

/** Draw the shared state's regions and rebuild the list (when they changed). */
export function showRegions(state) {
  const regions = state.rois || [];
  const key = JSON.stringify(regions);
  const size = frameSize();
  if (ui.rois.dataset.key !== key && !editing.drag) {
    ui.rois.dataset.key = key;
    ui.rois.replaceChildren(...regions.map(regionElement));
    ui.roiList.replaceChildren(...regions.map(listItem));
    ui.roiEmpty.hidden = regions.length > 0;
  }
  if (size && !editing.drag) {
    regions.forEach((region, i) => {
      if (ui.rois.children[i]) place(ui.rois.children[i], region, size);
    });
  }
  const alarmed = alarmedNames(state);
  for (const element of [...ui.rois.children, ...ui.roiList.children]) {
    element.classList.toggle("alarm", alarmed.has(element.dataset.name));
  }
  counters.regionsShown = regions.length;
}

/** One row of the list: the name (edit to rename), the live value, a delete button. */
function listItem(region) {
  const item = document.createElement("li");
  item.dataset.name = region.name;
  const name = document.createElement("input");
  name.className = "roi-name";
  name.value = region.name;
  name.maxLength = 32;
  name.setAttribute("aria-label", `Name of region ${region.name}`);
  name.addEventListener("change", () => {
    const to = name.value.trim();
    if (to && to !== region.name) editing.send({ cmd: "roi", op: "rename", name: region.name, to });
    else name.value = region.name;
  });
  const value = document.createElement("span");
  value.className = "roi-value";
  value.textContent = "–";
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "roi-delete";
  remove.textContent = "Delete";
  remove.setAttribute("aria-label", `Delete region ${region.name}`);
  remove.addEventListener("click", () => editing.send({ cmd: "roi", op: "delete", name: region.name }));
  item.append(name, value, remove);
  return item;
}

/** A region's live value as text: a spot's mean, a box's max (with its name). */
function valueText(region, measured, unit) {
  if (!measured) return "–";
  return region.spot ? formatValue(measured.mean, unit) : `max ${formatValue(measured.max, unit)}`;
}

/** Label every region (and its list row) with the shown frame's values (header.rois). */
export function showRegionValues(header) {
  const regions = session.state.rois || [];
  const measured = header.rois || {};
  regions.forEach((region, i) => {
    const text = valueText(region, measured[region.name], header.unit);
    const element = ui.rois.children[i];
    if (element && !editing.drag) element.firstChild.textContent = `${region.name} ${text}`;
    const row = ui.roiList.children[i];
    if (row) row.querySelector(".roi-value").textContent = text;
  });
  if (!editing.drag) showRegions(session.state); // placed once the frame size is known
}

/** A name not taken yet (names ignore case): spot1, spot2, ... or box1, ... */
function freeName(prefix) {
  const taken = new Set((session.state.rois || []).map((r) => r.name.toLowerCase()));
  let n = 1;
  while (taken.has(`${prefix}${n}`)) n += 1;
  return `${prefix}${n}`;
}

function onPointerDown(event) {
  const size = frameSize();
  if (!editing.on || !size || editing.drag) return;
  event.preventDefault();
  event.stopPropagation();
  const target = event.target.closest(".roi");
  const region = target && (session.state.rois || []).find((r) => r.name === target.dataset.name);
  let kind = "new";
  if (region) kind = event.target.classList.contains("roi-handle") ? "resize" : "move";
  const element = region ? target : regionElement({ name: "", box: [0, 0, 0, 0] });
  if (!region) {
    element.classList.add("drawing");
    ui.rois.append(element);
  }
  editing.drag = {
    kind, region, element, pointerId: event.pointerId,
    start: pixelAt(event.clientX, event.clientY, size),
    startClient: { x: event.clientX, y: event.clientY },
    result: null,
  };
  ui.rois.setPointerCapture(event.pointerId);
  onPointerMove(event);
}

/** The region the drag would make now (JSON form), from where it started to `at`. */
function dragged(drag, at, size) {
  const { start, region } = drag;
  if (drag.kind === "new") {
    return { name: "", box: [Math.min(start.x, at.x), Math.min(start.y, at.y),
      Math.max(start.x, at.x), Math.max(start.y, at.y)] };
  }
  const [x0, y0, x1, y1] = bounds(region);
  if (drag.kind === "resize") {
    return { ...region, box: [x0, y0, Math.max(x0, at.x), Math.max(y0, at.y)] };
  }
  const dx = Math.min(Math.max(at.x - start.x, -x0), size.cols - 1 - x1);
  const dy = Math.min(Math.max(at.y - start.y, -y0), size.rows - 1 - y1);
  if (region.spot) return { ...region, spot: [region.spot[0] + dx, region.spot[1] + dy] };
  return { ...region, box: [x0 + dx, y0 + dy, x1 + dx, y1 + dy] };
}

function onPointerMove(event) {
  const drag = editing.drag;
  if (!drag || event.pointerId !== drag.pointerId) return;
  const size = frameSize();
  drag.result = dragged(drag, pixelAt(event.clientX, event.clientY, size), size);
  place(drag.element, drag.result, size);
}

function onPointerUp(event) {
  const drag = editing.drag;
  if (!drag || event.pointerId !== drag.pointerId) return;
  editing.drag = null;
  const moved = Math.hypot(event.clientX - drag.startClient.x, event.clientY - drag.startClient.y);
  const click = moved < CLICK_SLOP_PX;
  if (drag.kind === "new") {
    drag.element.remove();
    if (event.type === "pointercancel") return;
    if (click) {
      editing.send({ cmd: "roi", op: "add", name: freeName("spot"), spot: [drag.start.x, drag.start.y] });
    } else {
      editing.send({ cmd: "roi", op: "add", name: freeName("box"), box: drag.result.box });
    }
  } else if (!click && event.type !== "pointercancel") {
    const { name, spot, size, box } = drag.result;
    editing.send(spot ? { cmd: "roi", op: "move", name, spot, size } : { cmd: "roi", op: "move", name, box });
  }
  ui.rois.dataset.key = ""; // redraw from the state (the new one once it arrives)
  showRegions(session.state);
}

/** "Draw regions": the toggle, the list and the pointer editing; `send` sends a command. */
export function wireRegions(send) {
  editing.send = send;
  ui.roiEdit.addEventListener("click", () => {
    editing.on = !editing.on;
    ui.roiEdit.setAttribute("aria-pressed", String(editing.on));
    ui.rois.classList.toggle("editing", editing.on);
  });
  ui.rois.addEventListener("pointerdown", onPointerDown);
  ui.rois.addEventListener("pointermove", onPointerMove);
  ui.rois.addEventListener("pointerup", onPointerUp);
  ui.rois.addEventListener("pointercancel", onPointerUp);
}
