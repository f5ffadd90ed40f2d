/**
 * The live plot's data: the last 60 s of min/max/mean/centre, each measurement region
 * (a spot's mean, a box's max) and numeric meta fields, at most 10 points a second
 * (≤ 600 points per series). Pure: no DOM.
 */
import { formatMeta, isCelsiusField } from "./units.js";

export const PLOT_WINDOW_MS = 60000;
export const PLOT_MIN_STEP_MS = 100;
const PLOT_MAX_META = 16; // numeric meta fields recorded at most
const STAT_SERIES = [ // [key, label, colour]
  ["max", "max", "#ff4d4d"],
  ["mean", "mean", "#3ecf6e"],
  ["center", "centre", "#f5d742"],
  ["min", "min", "#4da3ff"],
];
const META_COLOURS = ["#d77bff", "#38e0d8", "#ff9a3c", "#ff7bb0", "#a0e060", "#b0b0b0"];
const REGION_COLOURS = ["#ffffff", "#ff8c00", "#00e5ff", "#e040fb", "#c6ff00", "#ff6e6e",
  "#8c9eff", "#ffd180"];

/** Timed samples of several series over a sliding window, at most one per minStepMs. */
export class PlotHistory {
  constructor(windowMs, minStepMs) {
    this.windowMs = windowMs;
    this.minStepMs = minStepMs;
    this.times = []; // performance.now() of each sample
    this.series = new Map(); // key -> {label, colour, axis, values: number[] (NaN: none)}
  }

  /** Add one sample {key: {value, label, axis}}; false when too soon after the last one. */
  add(nowMs, sample) {
    const last = this.times[this.times.length - 1];
    if (last !== undefined && nowMs - last < this.minStepMs) return false;
    for (const [key, info] of Object.entries(sample)) this.ensure(key, info);
    this.times.push(nowMs);
    for (const [key, line] of this.series) {
      line.values.push(key in sample ? sample[key].value : NaN);
      if (key in sample) line.axis = sample[key].axis;
    }
    this.trim(nowMs);
    return true;
  }

  ensure(key, info) {
    if (this.series.has(key)) return;
    const metaCount = [...this.series.keys()].filter((k) => k.startsWith("meta:")).length;
    if (key.startsWith("meta:") && metaCount >= PLOT_MAX_META) return;
    const colour = info.colour || META_COLOURS[metaCount % META_COLOURS.length];
    const values = new Array(this.times.length).fill(NaN);
    this.series.set(key, { label: info.label, colour, axis: info.axis, values });
  }

  /** Drop samples older than the window, and series left without any value. */
  trim(nowMs) {
    let drop = 0;
    while (drop < this.times.length && nowMs - this.times[drop] > this.windowMs) drop += 1;
    if (!drop) return;
    this.times.splice(0, drop);
    for (const [key, line] of this.series) {
      line.values.splice(0, drop);
      if (!line.values.some(Number.isFinite)) this.series.delete(key);
    }
  }
}

/**
 * The plottable numbers of a frame: stats in the frame's unit, each region of `header.rois`
 * (key "roi:NAME": a spot's mean, named in `spotNames`, or a box's max), numeric meta fields.
 */
export function plotSample(header, spotNames = new Set()) {
  const sample = {};
  const statsAxis = header.unit === "C" ? "celsius" : "counts";
  if (header.stats) {
    for (const [key, label, colour] of STAT_SERIES) {
      const value = header.stats[key];
      if (typeof value === "number") sample[key] = { value, label, colour, axis: statsAxis };
    }
  }
  Object.entries(header.rois || {}).forEach(([name, measured], i) => {
    if (!measured) return;
    const spot = spotNames.has(name);
    sample[`roi:${name}`] = { value: spot ? measured.mean : measured.max,
      label: spot ? name : `${name} max`, colour: REGION_COLOURS[i % REGION_COLOURS.length],
      axis: statsAxis };
  });
  for (const [name, value] of Object.entries(header.meta || {})) {
    if (typeof value !== "number" || !Number.isFinite(value)) continue;
    const axis = isCelsiusField(name) ? "celsius" : `meta:${name}`;
    sample[`meta:${name}`] = { value, label: formatMeta(name, value).label, axis };
  }
  return sample;
}
