/** The /stream binary frame message (docs/protocol.md §5.2, protocol 1): pure, no I/O. */

const utf8 = new TextDecoder();

/**
 * Split a frame message into {header, jpeg, raw}.
 *
 * Layout: uint32 big-endian header length N, N bytes of UTF-8 JSON header,
 * header.jpeg_size bytes of JPEG, then optionally the raw frame (uint16 little-endian).
 * `jpeg` is a view into `buffer`; `raw` is a copy (ArrayBuffer) or null.
 * Throws when the message is short or its header is not a frame's.
 */
export function parseFrameMessage(buffer) {
  const view = new DataView(buffer);
  const headerLength = view.getUint32(0, false);
  const header = JSON.parse(utf8.decode(new Uint8Array(buffer, 4, headerLength)));
  const jpegStart = 4 + headerLength;
  const jpegEnd = jpegStart + header.jpeg_size;
  if (header.type !== "frame" || !(jpegEnd <= buffer.byteLength)) {
    throw new Error(`bad frame message (${buffer.byteLength} bytes)`);
  }
  const jpeg = new Uint8Array(buffer, jpegStart, header.jpeg_size);
  const raw = jpegEnd < buffer.byteLength ? buffer.slice(jpegEnd) : null;
  return { header, jpeg, raw };
}
