/** Saving: the picture on screen, the raw frame as PNG or .npy (timestamped names); full screen. */
import { ui } from "./ui.js";

const SAVE_URL_LIFETIME_MS = 10000; // a download's object URL is revoked after this

/** "thermal-20240131-142501" in local time, for download names. */
function fileStem(date = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return `thermal-${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-` +
    `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

function download(href, name) {
  const link = document.createElement("a");
  link.href = href;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

/** Save the JPEG on screen (the daemon's /snapshot.jpg before the first frame). */
function savePicture(shownBlob) {
  if (!shownBlob) {
    download("snapshot.jpg", `${fileStem()}.jpg`);
    return;
  }
  const url = URL.createObjectURL(shownBlob);
  download(url, `${fileStem()}.jpg`);
  setTimeout(() => URL.revokeObjectURL(url), SAVE_URL_LIFETIME_MS);
}

function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen();
  else ui.view.requestFullscreen().catch((err) => console.error("viewer: full screen refused", err));
}

/** Connect the save and full-screen buttons; "Save picture" takes the decoder's shown JPEG. */
export function wireSaving(decoder) {
  ui.saveJpeg.addEventListener("click", () => savePicture(decoder.shownBlob));
  ui.savePng.addEventListener("click", () => { ui.savePng.download = `${fileStem()}.png`; });
  ui.saveNpy.addEventListener("click", () => { ui.saveNpy.download = `${fileStem()}.npy`; });
  ui.fullscreen.hidden = !document.fullscreenEnabled;
  ui.fullscreen.addEventListener("click", toggleFullscreen);
  document.addEventListener("fullscreenchange", () => {
    ui.fullscreen.textContent = document.fullscreenElement ? "Exit full screen" : "Full screen";
  });
}
