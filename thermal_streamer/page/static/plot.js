/**
 * The live plot on screen: a legend of checkboxes choosing the series (stored in prefs),
 * and a canvas redrawn at most once per animation frame, and every 0.5 s so time moves on.
 * Temperatures share one axis in the chosen unit; other fields get their own.
 */
import { counters } from "./counters.js";
import { PLOT_MIN_STEP_MS, PLOT_WINDOW_MS, PlotHistory, plotSample } from "./plot-history.js";
import { prefs, savePrefs } from "./prefs.js";
import { session } from "./session.js";
import { celsiusToDisplay, temperatureSymbol } from "./units.js";
import { ui } from "./ui.js";

const PLOT_GAP_MS = 2000; // a longer gap between two points breaks the line
const PLOT_REDRAW_MS = 500;
const PLOT_BACKGROUND = "#14161b";

const history = new PlotHistory(PLOT_WINDOW_MS, PLOT_MIN_STEP_MS);

/** Record a received frame's values (when it is time for a new point). */
export function recordPlotSample(header) {
  const spots = new Set((session.state.rois || []).filter((r) => r.spot).map((r) => r.name));
  if (history.add(performance.now(), plotSample(header, spots))) showPlotSeries();
}

/** The colour of every series held now, {key: "#rrggbb"}. */
export function plotColours() {
  return Object.fromEntries([...history.series].map(([key, line]) => [key, line.colour]));
}

/** Legend and chooser: one checkbox per series, with its colour. */
function showPlotSeries() {
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

/** The chosen series grouped by axis: [{axis, lines: [line], values, scale}]. */
function plotGroups() {
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
  history.trim(nowMs);
  const groups = plotGroups();
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
    for (const line of group.lines) drawLine(context, area, history.times, line, group.scale, nowMs);
  }
  context.restore();
  counters.plotPoints = history.times.length;
  counters.plotDraws += 1;
}

let plotFrameRequested = false;

/** Redraw at the next animation frame (once, however often it is asked). */
export function schedulePlot() {
  if (plotFrameRequested) return;
  plotFrameRequested = true;
  requestAnimationFrame(drawPlot);
}

/** Redraw every 0.5 s, so the time axis moves on even when no frame comes. */
export function startPlotRedraws() {
  setInterval(schedulePlot, PLOT_REDRAW_MS);
}
