/**
 * JPEG decoding into the <img>: one frame at a time through a blob URL; only the newest
 * pending frame is kept, and the previous URL is revoked once the new one has loaded.
 */
import { stats } from "./stats.js";

export class FrameDecoder {
  constructor(image, onShown) {
    this.image = image;
    this.onShown = onShown; // (header) => void, once the frame is on screen
    this.shownUrl = null;
    this.shownBlob = null; // the JPEG on screen, for "Save picture"
    this.loading = null; // {url, blob, header} being decoded
    this.pending = null; // {jpeg, header} waiting for the decoder
    image.addEventListener("load", () => this.finish(true));
    image.addEventListener("error", () => this.finish(false));
  }

  /** Show this JPEG next, replacing any frame still waiting. */
  push(jpeg, header) {
    if (this.pending) stats.framesSkipped += 1;
    this.pending = { jpeg, header };
    if (!this.loading) this.startNext();
  }

  startNext() {
    const next = this.pending;
    this.pending = null;
    if (!next) return;
    const blob = new Blob([next.jpeg], { type: "image/jpeg" });
    const url = URL.createObjectURL(blob);
    this.loading = { url, blob, header: next.header };
    this.image.src = url;
  }

  finish(ok) {
    const done = this.loading;
    if (!done) return;
    this.loading = null;
    if (ok) {
      if (this.shownUrl) URL.revokeObjectURL(this.shownUrl);
      this.shownUrl = done.url;
      this.shownBlob = done.blob;
      this.onShown(done.header);
    } else {
      URL.revokeObjectURL(done.url);
      stats.decodeErrors += 1;
    }
    this.startNext();
  }
}
