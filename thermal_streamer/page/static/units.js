/**
 * Units and formatting. Temperatures travel in degrees C everywhere (headers, state,
 * commands); the °F choice only changes what is displayed and how typed values are read.
 */
import { prefs } from "./prefs.js";

/** Degrees C to the chosen display unit. */
export function celsiusToDisplay(celsius) {
  return prefs.units === "F" ? (celsius * 9) / 5 + 32 : celsius;
}

/** A number typed in the chosen display unit, back to degrees C. */
export function displayToCelsius(value) {
  return prefs.units === "F" ? ((value - 32) * 5) / 9 : value;
}

/** "°C" or "°F", the chosen display unit. */
export function temperatureSymbol() {
  return prefs.units === "F" ? "°F" : "°C";
}

/** Text for a value in a frame's unit: "C" (shown in °C or °F, 0.1) or counts (integer). */
export function formatValue(value, unit) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  if (unit === "C") return `${celsiusToDisplay(value).toFixed(1)}${temperatureSymbol()}`;
  return `${Math.round(value)}${unit ? ` ${unit}` : ""}`;
}

/** A raw pixel as {value, unit}: centikelvin/decikelvin to degrees C, counts unchanged. */
export function rawPixelValue(pixel, rawUnit) {
  if (rawUnit === "centikelvin") return { value: pixel / 100 - 273.15, unit: "C" };
  if (rawUnit === "decikelvin") return { value: pixel / 10 - 273.15, unit: "C" };
  return { value: pixel, unit: "counts" };
}

/** A meta field named like "fpa_temp_c" holds degrees C. */
export function isCelsiusField(name) {
  return /_c$/i.test(name);
}

/** Label and text of one meta field ("fpa_temp_c" → "fpa temp", "31.2°C"). */
export function formatMeta(name, value) {
  if (typeof value === "number" && isCelsiusField(name)) {
    return { label: name.replace(/_c$/i, "").replace(/_/g, " "), text: formatValue(value, "C") };
  }
  const text = typeof value === "number" ? String(Math.round(value * 100) / 100) : String(value);
  return { label: name.replace(/_/g, " "), text };
}
