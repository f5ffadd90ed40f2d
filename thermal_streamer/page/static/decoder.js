import { counters } from "./counters.js";
/**
 * JPEG decoding for the <img>: one frame at a time through a blob URL, decoded off screen
 * and only then put on screen, so the <img> always holds a complete picture (never a
 * half-loaded one with no size). Only the newest pending frame is kept; the previous URL
 * is revoked once the new one is on screen.
 */

export class FrameDecoder {
  constructor(image, onShown) {
    this.image = image;
    this.onShown = onShown; // (header) => void, once the frame is on screen
    this.shownUrl = null;
    this.shownBlob = null; // the JPEG on screen, for "Save picture"
    this.loading = false; // a frame is being decoded
    this.pending = null; // {jpeg, header} waiting for the decoder
  }

  /** Show this JPEG next, replacing any frame still waiting. */
  push(jpeg, header) {
    if (this.pending) counters.framesSkipped += 1;
    this.pending = { jpeg, header };
    if (!this.loading) this.startNext();
  }

  startNext() {
    const next = this.pending;
    this.pending = null;
    if (!next) return;
    const blob = new Blob([next.jpeg], { type: "image/jpeg" });
    const url = URL.createObjectURL(blob);
    const offscreen = new Image();
    offscreen.src = url;
    this.loading = true;
    offscreen.decode().then(
      () => this.show(url, blob, next.header),
      () => this.discard(url),
    );
  }

  show(url, blob, header) {
    this.loading = false;
    this.image.src = url; // already decoded: the swap is immediate
    if (this.shownUrl) URL.revokeObjectURL(this.shownUrl);
    this.shownUrl = url;
    this.shownBlob = blob;
    try {
      this.onShown(header);
    } finally {
      this.startNext();
    }
  }

  discard(url) {
    this.loading = false;
    URL.revokeObjectURL(url);
    counters.decodeErrors += 1;
    this.startNext();
  }
}
