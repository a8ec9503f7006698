/**
 * Reading an accepted TCP socket straight into buffers we choose (for a large Produce frame: into
 * the frame itself), instead of Node's default of a fresh 64 KiB buffer per read that we then copy
 * into the frame. Measured on the development VM (bench/read-path-bench.ts, ~1 MB frames, both
 * ways alternated; docs/performance.md, Kafka): the default path costs the main thread 0.7-1.5 ms
 * of CPU per MB received (median 1.1: the read buffers' allocation and garbage collection, the
 * Readable stream's per-chunk work, our copy), reading into the frame 0.6-0.7 ms (median 0.65).
 *
 * Node offers this as the documented `onread` option only to sockets it creates for the caller
 * (`net.connect({ onread })`, `new net.Socket({ onread })`), not to sockets a server accepts. The
 * option is carried by three per-socket fields that every net.Socket has (symbols described
 * `kBuffer`, `kBufferCb`, `kBufferGen`, read by Node's stream_base_commons `onStreamRead` on every
 * read) and by the native handle's `useUserBuffer`, which is what `new net.Socket({ onread })`
 * itself does at construction. Setting those on the accepted socket turns on the same code path the
 * option turns on, on the same socket object: the server's own view of the socket (its connection
 * tracking, destroy, 'close', 'error', graceful shutdown) is untouched, pause()/resume() stop and
 * start the handle's reads as documented for `onread` sockets, end of stream and read errors take
 * the usual path ('end', 'error', 'close').
 *
 * These are Node internals, so: used only when every one of them is there in the expected shape
 * (a plain TCP net.Socket of Node's own `TCP` handle, not TLS; the three fields present and unset;
 * nobody else reading it), else the caller falls back to 'data' events. Bytes the socket already
 * buffered before the switch are handed back to be decoded first. test/socket-read-into.test.ts
 * checks the switch, the fallback, backpressure, and the end and error paths on this Node.
 */
import { Socket } from 'node:net';

/** What reads into our buffers report to: where the next read lands, and what it brought. */
export interface ReadIntoSink {
  /** The buffer the next read lands in (never empty; kept alive by the socket until the next read). */
  target(): Buffer;
  /** `bytes` were read into `target` (the buffer target() last returned). Must not throw. */
  received(target: Buffer, bytes: number): void;
}

interface OnreadFields {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly generator: symbol;
}

interface TcpHandleShape {
  useUserBuffer(buffer: Buffer): void;
  readStart(): number;
  readStop(): number;
  reading?: boolean;
}

function onreadFieldsOf(socket: Socket): OnreadFields | null {
  const byDescription = new Map<string, symbol>();
  for (const symbol of Object.getOwnPropertySymbols(socket)) if (symbol.description) byDescription.set(symbol.description, symbol);
  const buffer = byDescription.get('kBuffer');
  const callback = byDescription.get('kBufferCb');
  const generator = byDescription.get('kBufferGen');
  if (!buffer || !callback || !generator) return null;
  const fields = socket as unknown as Record<symbol, unknown>;
  // Unset: the socket reads the default way, and nobody switched it before us.
  if (fields[buffer] !== null || fields[callback] !== null || fields[generator] !== null) return null;
  return { buffer, callback, generator };
}

function tcpHandleOf(socket: Socket): TcpHandleShape | null {
  const handle = (socket as unknown as { _handle?: unknown })._handle as Partial<TcpHandleShape> | null | undefined;
  if (!handle || typeof handle !== 'object') return null;
  if ((handle as object).constructor?.name !== 'TCP') return null; // not TLSWrap, Pipe, or a JS stream
  if (typeof handle.useUserBuffer !== 'function' || typeof handle.readStart !== 'function' || typeof handle.readStop !== 'function') return null;
  return handle as TcpHandleShape;
}

/**
 * Switches `stream` to reading into `sink`'s buffers if it is a plain, open, accepted TCP socket
 * that nobody else reads and this Node has the machinery described above. Returns null when it
 * did not (read the stream the usual way then); else the bytes the socket had already buffered
 * (to be decoded before anything the sink receives), possibly none. The stream stays paused or
 * flowing as it was; call resume() to read.
 */
export function readSocketInto(stream: unknown, sink: ReadIntoSink): Buffer[] | null {
  if (!(stream instanceof Socket)) return null;
  if ((stream as Socket & { encrypted?: boolean }).encrypted) return null; // tls.TLSSocket
  if (stream.destroyed || stream.connecting || stream.readableEnded || stream.readableFlowing === true) return null;
  if (stream.listenerCount('data') > 0 || stream.listenerCount('readable') > 0) return null;
  const handle = tcpHandleOf(stream);
  const fields = onreadFieldsOf(stream);
  if (!handle || !fields) return null;

  // What the socket read before the switch, in order.
  const buffered: Buffer[] = [];
  for (let chunk = stream.read() as Buffer | null; chunk !== null; chunk = stream.read() as Buffer | null) buffered.push(chunk);

  const first = sink.target();
  const socketFields = stream as unknown as Record<symbol, unknown>;
  socketFields[fields.buffer] = first;
  socketFields[fields.callback] = (bytes: number, target: Buffer): boolean => {
    sink.received(target, bytes);
    return true; // pausing is the sink's to do, through stream.pause()
  };
  socketFields[fields.generator] = () => sink.target();
  handle.useUserBuffer(first);
  return buffered;
}
