/** Counters of what the page received, showed and dropped; the tests read them as `window.viewerStats`. */

export const counters = {
  framesReceived: 0,
  framesShown: 0,
  framesSkipped: 0, // replaced while waiting for the decoder
  decodeErrors: 0,
  parseErrors: 0,
  rawFrames: 0, // frames that came with raw pixels
  lastSeq: null,
  connected: false,
  lastHeader: null, // header of the newest frame received
  connects: 0,
  tokenPrompts: 0,
  serverErrors: 0,
  plotPoints: 0, // points per series held by the plot now
  plotDraws: 0,
  regionsShown: 0, // measurement regions drawn over the image
  alarmsActive: 0, // alarm rules in alarm now
  playbackFrames: 0, // frames of a recording shown (playback.js)
  playbackErrors: 0, // frames of a recording that could not be fetched
};
