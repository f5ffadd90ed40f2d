/**
 * Alarms on the page (docs/measurement.md): a banner over the image while
 * any rule of the shared state's `alarms` is in alarm, saying which, the value that
 * crossed and since when; the image box is outlined when a rule on the whole frame is.
 * (regions.js highlights the regions the active alarms watch.) Every viewer sees it.
 */
import { counters } from "./counters.js";
import { session } from "./session.js";
import { formatValue } from "./units.js";
import { ui } from "./ui.js";

/** One active alarm as text: "hot: panel max 63.2°C (above 60.0°C) since 14:03:07". */
function alarmText(alarm, unit) {
  const direction = "above" in alarm ? "above" : "below";
  const since = alarm.since ? ` since ${new Date(alarm.since * 1000).toLocaleTimeString()}` : "";
  return `${alarm.name}: ${alarm.roi} ${alarm.stat} ${formatValue(alarm.value, unit)} ` +
    `(${direction} ${formatValue(alarm[direction], unit)})${since}`;
}

/** Show or hide the banner and the frame's outline for the state's alarms. */
export function showAlarms(state) {
  const active = (state.alarms || []).filter((a) => a.state === "alarm");
  const unit = session.shownHeader ? session.shownHeader.unit : "C";
  ui.alarmBanner.hidden = active.length === 0;
  ui.alarmBanner.textContent = active.length
    ? `⚠ Alarm — ${active.map((a) => alarmText(a, unit)).join(" · ")}` : "";
  ui.frameBox.classList.toggle("alarm", active.some((a) => a.roi === "frame"));
  counters.alarmsActive = active.length;
}
