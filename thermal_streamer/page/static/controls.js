/**
 * The controls: built from /config.json's render settings schema (buildControls), they show
 * the shared state (every state message) and send commands.
 * Palette, isotherm band and colour, AGC with its fixed range or clip %, run/stop, FFC,
 * and the units choice (this page only; emits "units").
 */
import { emit } from "./bus.js";
import { counters } from "./counters.js";
import { fetchJson } from "./fetch-json.js";
import { prefs, savePrefs } from "./prefs.js";
import { session } from "./session.js";
import { celsiusToDisplay, displayToCelsius, temperatureSymbol } from "./units.js";
import { ui } from "./ui.js";

// Palettes listed first in the selector, when the server knows them; the rest follow in
// the server's order. Only names: the colours always come from /colormap.json.
// The isotherm's open top when only its low end is typed: above anything a Lepton reads
// (655.35 K is the largest centikelvin value), and the largest count.
const ISOTHERM_TOP_C = 382;
const ISOTHERM_TOP_COUNTS = 65535;

const THERMAL_FIRST = ["ironbow", "rainbow", "white-hot", "black-hot", "inferno", "magma",
  "plasma", "viridis", "cividis", "turbo", "gray"];

// What each AGC mode does, for its option's tooltip; the modes themselves, their order and
// every limit come from /config.json's render_settings (the server's one schema).
const AGC_HINTS = {
  linear: "the frame's min to max",
  percentile: "clip a share of the pixels at each end",
  histogram: "histogram equalisation, like the Lepton's HEQ",
  fixed: "a range you choose",
};

/**
 * Build the controls the render settings' schema describes (/config.json
 * `render_settings`): the AGC modes, the clip % limits, the palette and isotherm colour
 * to show until the state names them. Called on every "config" (each connection).
 */
export function buildControls(config) {
  const fields = new Map((config.render_settings || []).map((field) => [field.name, field]));
  const agc = fields.get("agc");
  if (agc && Array.isArray(agc.choices)) {
    ui.agc.replaceChildren(...agc.choices.map((mode) => {
      const option = new Option(mode, mode);
      if (AGC_HINTS[mode]) option.title = AGC_HINTS[mode];
      return option;
    }));
    ui.agc.value = session.state.agc || agc.default;
  }
  const clip = fields.get("clip_percent");
  if (clip) {
    ui.clip.min = String(clip.min);
    ui.clip.max = String(clip.max);
  }
  const colormap = fields.get("colormap");
  if (colormap) showPaletteChoice(session.state.colormap || colormap.default);
  const isothermColor = fields.get("isotherm_color");
  if (isothermColor) {
    setInputValue(ui.isothermColor, session.state.isotherm_color || isothermColor.default);
  }
}

/** Fill the palette selector from /colormaps.json: favourite thermal palettes first, then the rest. */
export async function loadPalettes() {
  const body = await fetchJson("colormaps.json");
  if (!body || !Array.isArray(body.names)) return;
  const names = body.names;
  const known = new Set(names);
  const first = THERMAL_FIRST.filter((name) => known.has(name));
  const rest = names.filter((name) => !first.includes(name));
  ui.palette.replaceChildren(optionGroup("Thermal", first), optionGroup("More", rest));
  showPaletteChoice(session.state.colormap);
}

function optionGroup(label, names) {
  const group = document.createElement("optgroup");
  group.label = label;
  group.append(...names.map((name) => new Option(name, name)));
  return group;
}

/** Select a palette name, adding it when the list does not have it (e.g. "magma_r"). */
function showPaletteChoice(name) {
  if (!name) return;
  if (![...ui.palette.options].some((option) => option.value === name)) {
    const groups = ui.palette.querySelectorAll("optgroup");
    (groups[groups.length - 1] || ui.palette).append(new Option(name, name));
  }
  ui.palette.value = name;
}

/** A typed number, or null when the box is empty or not a number. */
function inputNumber(input) {
  const value = input.value.trim() === "" ? NaN : Number(input.value);
  return Number.isFinite(value) ? value : null;
}

/** Set an input's value unless the user is typing in it. */
function setInputValue(input, value) {
  if (document.activeElement === input) return;
  input.value = value;
}

/** Whether fixed ranges are temperatures (degrees C on the wire) or counts. */
function rangeIsCelsius() {
  const header = counters.lastHeader;
  return !header || header.unit === "C";
}

function rangeToDisplay(value) {
  const shown = rangeIsCelsius() ? celsiusToDisplay(value) : value;
  return String(Math.round(shown * 10) / 10);
}

function rangeToDisplayNumber(value) {
  return Number(rangeToDisplay(value));
}

function rangeFromDisplay(value) {
  return rangeIsCelsius() ? Math.round(displayToCelsius(value) * 100) / 100 : value;
}

function showAgcFields(mode) {
  ui.rangeField.hidden = mode !== "fixed";
  ui.clipField.hidden = mode !== "percentile";
}

/** Make every control show the shared state (on every state message, and to undo a refused command). */
export function syncControls(state) {
  const running = state.running !== false;
  ui.runToggle.textContent = running ? "Stop" : "Start";
  ui.runToggle.setAttribute("aria-pressed", String(!running));
  showPaletteChoice(state.colormap);
  if (state.agc) ui.agc.value = state.agc;
  showAgcFields(ui.agc.value);
  if (Array.isArray(state.range)) {
    setInputValue(ui.rangeLow, rangeToDisplay(state.range[0]));
    setInputValue(ui.rangeHigh, rangeToDisplay(state.range[1]));
  }
  if (typeof state.clip_percent === "number") setInputValue(ui.clip, String(state.clip_percent));
  showIsotherm(state);
  const unit = rangeIsCelsius() ? temperatureSymbol() : "counts";
  ui.rangeUnit.textContent = unit;
  ui.isothermUnit.textContent = unit;
  if (typeof state.clients === "number") ui.clients.textContent = String(state.clients);
}

/** The fixed range to send, in wire units: the typed one, else the range now on screen. */
function chosenRange() {
  const low = inputNumber(ui.rangeLow);
  const high = inputNumber(ui.rangeHigh);
  if (low !== null && high !== null && low < high) {
    return [rangeFromDisplay(low), rangeFromDisplay(high)];
  }
  const agc = (counters.lastHeader && counters.lastHeader.agc) || {};
  if (typeof agc.low === "number" && typeof agc.high === "number") {
    return [agc.low, Math.max(agc.high, agc.low + 1)];
  }
  return null;
}

function onAgcChosen(send) {
  const mode = ui.agc.value;
  showAgcFields(mode);
  if (mode !== "fixed") {
    send({ cmd: "set", agc: mode });
    return;
  }
  const range = chosenRange();
  if (!range) return; // nothing to go on yet: the user types a range
  ui.rangeLow.value = rangeToDisplay(range[0]);
  ui.rangeHigh.value = rangeToDisplay(range[1]);
  send({ cmd: "set", agc: "fixed", range });
}

function onRangeTyped(send) {
  const low = inputNumber(ui.rangeLow);
  const high = inputNumber(ui.rangeHigh);
  const valid = low !== null && high !== null && low < high;
  ui.rangeLow.setCustomValidity(valid ? "" : "low must be below high");
  if (valid) {
    send({ cmd: "set", agc: "fixed", range: [rangeFromDisplay(low), rangeFromDisplay(high)] });
  }
}

function onClipTyped(send) {
  const clip = inputNumber(ui.clip);
  if (clip !== null) send({ cmd: "set", clip_percent: clip });
}

/** The isotherm band and colour as the state has them (empty boxes: no isotherm). */
function showIsotherm(state) {
  const band = Array.isArray(state.isotherm) ? state.isotherm : null;
  setInputValue(ui.isothermLow, band ? rangeToDisplay(band[0]) : "");
  setInputValue(ui.isothermHigh, band ? rangeToDisplay(band[1]) : "");
  ui.isothermClear.disabled = !band;
  if (typeof state.isotherm_color === "string") setInputValue(ui.isothermColor, state.isotherm_color);
}

/** Send the typed band (in wire units) once both ends are there and low < high. An empty
 * high end means "and everything hotter": the top of the sensor's range. */
function onIsothermTyped(send) {
  const low = inputNumber(ui.isothermLow);
  let high = inputNumber(ui.isothermHigh);
  if (low !== null && high === null && ui.isothermHigh.value.trim() === "") {
    high = rangeToDisplayNumber(rangeIsCelsius() ? ISOTHERM_TOP_C : ISOTHERM_TOP_COUNTS);
  }
  const valid = low !== null && high !== null && low < high;
  ui.isothermLow.setCustomValidity(valid || low === null ? "" : "low must be below high");
  if (valid) {
    send({ cmd: "set", isotherm: [rangeFromDisplay(low), rangeFromDisplay(high)],
      isotherm_color: ui.isothermColor.value });
  }
}

function onUnitsChosen(units) {
  prefs.units = units;
  savePrefs();
  emit("units", units);
}

/** The FFC button, for sources whose /config.json says the ffc command can work. */
export function showFfcButton(config) {
  ui.ffc.hidden = !config.ffc;
}

/** Connect the controls to `send(command)`; the units choice starts from the stored preference. */
export function wireControls(send) {
  ui.runToggle.addEventListener("click", () =>
    send({ cmd: session.state.running === false ? "start" : "stop" }));
  ui.ffc.addEventListener("click", () => send({ cmd: "ffc" }));
  ui.palette.addEventListener("change", () => send({ cmd: "set", colormap: ui.palette.value }));
  ui.isothermLow.addEventListener("change", () => onIsothermTyped(send));
  ui.isothermHigh.addEventListener("change", () => onIsothermTyped(send));
  ui.isothermColor.addEventListener("change", () => send({ cmd: "set",
    isotherm_color: ui.isothermColor.value }));
  ui.isothermClear.addEventListener("click", () => {
    ui.isothermLow.value = "";
    ui.isothermHigh.value = "";
    send({ cmd: "set", isotherm: null });
  });
  ui.agc.addEventListener("change", () => onAgcChosen(send));
  ui.rangeLow.addEventListener("change", () => onRangeTyped(send));
  ui.rangeHigh.addEventListener("change", () => onRangeTyped(send));
  ui.clip.addEventListener("change", () => onClipTyped(send));
  ui.unitsC.addEventListener("change", () => onUnitsChosen("C"));
  ui.unitsF.addEventListener("change", () => onUnitsChosen("F"));
  ui.unitsF.checked = prefs.units === "F";
  ui.unitsC.checked = prefs.units !== "F";
}

/** On a phone the controls start folded away. */
export function foldControlsOnSmallScreens() {
  if (window.matchMedia("(max-width: 700px)").matches) ui.controls.open = false;
}
