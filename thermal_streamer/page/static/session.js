/** What the page knows about the daemon right now; main.js keeps it current, features read it. */

export const session = {
  config: null, // /config.json, once fetched
  state: {}, // the shared acquisition state, from the hello and state messages
  shownHeader: null, // header of the frame on screen
  playback: null, // the name of the recording played back, or null: live
};
