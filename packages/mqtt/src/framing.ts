/**
 * Splits a byte stream into whole MQTT control packets before they are parsed, so that a packet larger
 * than the maximum is refused from its fixed header alone, without buffering it (MQTT 5 §3.1.2.11.4,
 * reason 0x95), and the buffered bytes per connection stay below `packetBytesMax`.
 *
 * Fixed header: byte 1 = type and flags; then Remaining Length, a variable byte integer of at most
 * four bytes [MQTT-1.5.5-1] / 3.1.1 §2.2.3.
 */
export type FrameError = 'malformed' | 'too-large';

export class FrameReader {
  private pending: Buffer | null = null;

  constructor(private readonly packetBytesMax: number) {}

  /** Bytes buffered waiting for the rest of a packet. */
  get bufferedBytes(): number {
    return this.pending === null ? 0 : this.pending.length;
  }

  /**
   * Feeds a chunk; calls `onFrame` with each complete packet (a subarray, valid until the next push).
   * Returns an error when the stream is unusable; the caller closes the connection.
   */
  push(chunk: Buffer, onFrame: (frame: Buffer) => boolean): FrameError | null {
    let data = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    let pos = 0;
    while (pos < data.length) {
      // Remaining Length: up to 4 bytes, 7 bits each, continuation bit 0x80.
      let length = 0;
      let multiplier = 1;
      let i = pos + 1;
      let complete = false;
      for (let n = 0; n < 4 && i < data.length; n++, i++) {
        const byte = data[i]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
        if (n === 3) return 'malformed';
      }
      if (!complete) {
        if (i - pos - 1 >= 4) return 'malformed';
        break; // need more header bytes
      }
      const total = i - pos + length;
      if (total > this.packetBytesMax) return 'too-large';
      if (pos + total > data.length) break;
      const keepGoing = onFrame(data.subarray(pos, pos + total));
      pos += total;
      if (!keepGoing) return null;
    }
    if (pos < data.length) {
      // Copy the tail so the (possibly large) chunk it came from can be collected.
      this.pending = Buffer.from(data.subarray(pos));
    }
    data = Buffer.alloc(0);
    return null;
  }
}
