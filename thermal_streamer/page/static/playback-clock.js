/**
 * The clock of a recording played back: where it is at any moment, given play, pause,
 * speed and seek. Pure: no DOM, no timers; the time (`nowMs`, performance.now()) is passed in.
 */

/** Playback position over a recording's frame times (`times`: offsets from the first, s, never decreasing). */
export class PlaybackClock {
  constructor(times) {
    this.times = times;
    this.speed = 1; // recorded seconds per second
    this.playing = false;
    this.anchorS = 0; // the position at anchorMs
    this.anchorMs = 0;
  }

  /** The last frame's offset, s. */
  get durationS() {
    return this.times.length ? this.times[this.times.length - 1] : 0;
  }

  /** The position at `nowMs`, s from the first frame, never past the last. */
  position(nowMs) {
    const elapsedS = this.playing ? ((nowMs - this.anchorMs) / 1000) * this.speed : 0;
    return Math.min(this.anchorS + elapsedS, this.durationS);
  }

  /** True once the position reached the last frame. */
  ended(nowMs) {
    return this.position(nowMs) >= this.durationS;
  }

  /** Play from the position now (from the start again when it had ended). */
  play(nowMs) {
    this.anchorS = this.ended(nowMs) ? 0 : this.position(nowMs);
    this.anchorMs = nowMs;
    this.playing = true;
  }

  /** Stop where it is now. */
  pause(nowMs) {
    this.anchorS = this.position(nowMs);
    this.anchorMs = nowMs;
    this.playing = false;
  }

  /** Go to `positionS` (clamped to the recording), playing on if it played. */
  seek(positionS, nowMs) {
    this.anchorS = Math.min(Math.max(positionS, 0), this.durationS);
    this.anchorMs = nowMs;
  }

  /** Play `speed` times as fast as recorded, from the position now. */
  setSpeed(speed, nowMs) {
    this.anchorS = this.position(nowMs);
    this.anchorMs = nowMs;
    this.speed = speed;
  }

  /** The frame shown at `positionS`: the last one whose time is not after it (0 before any). */
  frameAt(positionS) {
    let low = 0;
    let high = this.times.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (this.times[middle] <= positionS) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** The frame due at `nowMs`. */
  frame(nowMs) {
    return this.frameAt(this.position(nowMs));
  }

  /** Milliseconds from `nowMs` until the next frame is due (Infinity when paused or at the end). */
  msToNextFrame(nowMs) {
    const next = this.frame(nowMs) + 1;
    if (!this.playing || next >= this.times.length) return Infinity;
    return ((this.times[next] - this.position(nowMs)) * 1000) / this.speed;
  }
}
