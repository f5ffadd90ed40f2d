/** Preferences kept in this browser only (localStorage): units, markers, plotted series. */

const PREFS_KEY = "thermal-viewer.prefs";

/** Stored preferences: {units: "C"|"F", markers: bool, plot: [series keys]}. */
function loadPrefs() {
  const defaults = { units: "C", markers: true, plot: ["max", "mean", "center", "min"] };
  try {
    return { ...defaults, ...JSON.parse(localStorage.getItem(PREFS_KEY) || "{}") };
  } catch {
    return defaults; // storage disabled or garbled
  }
}

export const prefs = loadPrefs();

/** Store `prefs` after a change. */
export function savePrefs() {
  try {
    localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
  } catch {
    // storage disabled: the choice lasts until the page is closed
  }
}
