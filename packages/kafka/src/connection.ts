/**
 * One Kafka client connection: frames in, responses out, strictly in request order
 * (docs/protocol.html: "the server guarantees that on a single TCP connection, requests will be
 * processed in the order they are sent and responses will return in that order as well").
 *
 * Requests start in order. Most wait for everything before them to finish; a `pipelined` API
 * (Produce, Fetch) lets the next request start once it has issued its work, so a client with many
 * produce requests in flight gets group-committed appends, not one fsync per request. Responses are
 * written from an ordered queue of slots. Read side backpressure: at `requestQueueMax` unanswered
 * requests, `requestQueueBytesMax` bytes of them, or `responseQueueBytesMax` bytes waiting on the
 * socket, the stream is paused.
 *
 * Graceful close (`drain`): reading stops, long-polling Fetches are woken to answer with what they
 * have, every request already read is answered and its response flushed in order, then the socket
 * ends. A Produce whose append is under way must get its answer: its batches are stored, and a
 * client told nothing would see an error for a write that succeeded.
 *
 * Reading: a plain TCP socket is read straight into our buffers (socket-read-into.ts): a large
 * frame's body lands in the frame's own buffer, with no per-read allocation and no copy of ours;
 * any other stream (TLS, in-memory pairs in tests, a Node without the machinery) by 'data' events.
 *
 * Logins (SASL on the listener, sasl/session.ts): until the connection has authenticated only
 * ApiVersions, SaslHandshake and SaslAuthenticate reach the API table (after SaslHandshake v0 the
 * mechanism's messages come as bare frames, answered here); anything else, a failed login, or no
 * login within `sasl.loginMsMax`, closes the connection.
 *
 * Bad input closes this connection only: a frame over `frameBytesMax`, an unknown API key, a body
 * that does not decode. An unsupported version of a known API gets that API's error response
 * (UNSUPPORTED_VERSION); ApiVersions too new gets the v0 format (KIP-511).
 */
import { ConnectionAccess } from './acl/access.js';
import type { Duplex } from 'node:stream';
import type { ConnectionInfo, Logger } from '@strata/core';
import type { ApiHandler, RequestContext } from './apis/api.js';
import type { KafkaBroker } from './broker.js';
import { KafkaErrorCode } from './error-codes.js';
import { FrameDecoder } from './protocol/frame.js';
import { messageCodecs, type ApiCodecs } from './protocol/messages/index.js';
import { Reader } from './protocol/reader.js';
import { decodeRequestHeader, encodeResponseHeader } from './protocol/request-header.js';
import { Writer } from './protocol/writer.js';
import { readSocketInto } from './socket-read-into.js';
import { SaslFailure } from './sasl/scram.js';
import { SaslSession } from './sasl/session.js';

const PRODUCE_KEY = 0;
const API_VERSIONS_KEY = 18;
const SASL_HANDSHAKE_KEY = 17;
const SASL_AUTHENTICATE_KEY = 36;
/** apiKey int16 + apiVersion int16 + correlationId int32: the part of every header that never changes. */
const HEADER_FIXED_BYTES = 8;

interface Slot {
  /** The response frame as chunks (record batches referenced, not copied), or null for none. */
  response: Buffer[] | null;
  done: boolean;
  /** Size of the request frame, counted against requestQueueBytesMax until answered. */
  readonly requestBytes: number;
  /** RequestContext.onResponseSent callbacks: run when the response's write completes. */
  sent: (() => void)[] | null;
  /** RequestContext.keepFrame: the frame's bytes were given away, it is not reused. */
  frameKept: boolean;
  /** RequestContext.closeAfterResponse: the connection closes once this response is written. */
  closeAfter: boolean;
}

function runAll(callbacks: readonly (() => void)[]): void {
  for (const callback of callbacks) callback();
}

/** Byte fields (Fetch records) at least this long go to the socket by reference, not copied. */
const REFERENCE_BYTES_MIN = 16 * 1024;

export class KafkaConnection {
  private readonly frames: FrameDecoder;
  private readonly slots: Slot[] = [];
  private readonly abort = new AbortController();
  private readonly log: Logger;
  private closed = false;
  private paused = false;
  /** Set by drain(): no more requests are read; those already read are still answered. */
  private draining = false;
  /** Request bytes read but not yet answered (their frames are alive until then). */
  private pendingRequestBytes = 0;
  /** Resolves when the next request may start. */
  private gate: Promise<void> = Promise.resolve();
  /** Resolves when every request started so far has finished. */
  private allDone: Promise<void> = Promise.resolve();
  /** The socket reads into the frame decoder's buffers (socket-read-into.ts), not by 'data' events. */
  readonly readsInto: boolean;
  /** SASL state when the listener requires authentication (sasl/session.ts), else null. */
  private readonly sasl: SaslSession | null;
  private readonly access: ConnectionAccess;
  /** Closes a SASL connection that has not logged in within sasl.loginMsMax. */
  private loginTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly broker: KafkaBroker,
    private readonly apis: ReadonlyMap<number, ApiHandler>,
    private readonly stream: Duplex,
    private readonly info: ConnectionInfo,
    private readonly onClose: (connection: KafkaConnection) => void,
  ) {
    this.frames = new FrameDecoder(broker.config.frameBytesMax, broker.framePool);
    this.sasl = broker.config.sasl === null ? null : new SaslSession(broker.config.sasl);
    const sasl = this.sasl;
    this.access = new ConnectionAccess(broker.authorizer, () => (sasl !== null && sasl.authenticated ? sasl.user : null), info.remoteAddress, info.peerCertificateSubject);
    if (this.sasl !== null) {
      const sasl = this.sasl;
      this.loginTimer = setTimeout(() => {
        if (!sasl.authenticated) this.close('closing connection: not logged in within sasl.loginMsMax', { loginMsMax: sasl.settings.loginMsMax });
      }, sasl.settings.loginMsMax);
      this.loginTimer.unref();
    }
    this.log = broker.logger.child({ remote: `${info.remoteAddress}:${info.remotePort}` });
    // Kafka brokers set TCP_NODELAY: small responses must not wait for the client's delayed ACK.
    (stream as Partial<Pick<import('node:net').Socket, 'setNoDelay'>>).setNoDelay?.(true);
    stream.on('drain', () => this.maybeResume());
    stream.on('error', (error) => {
      this.log.debug('connection error', { error });
      this.close();
    });
    stream.on('close', () => this.close());
    // While draining, the client's FIN is the expected end: the socket closes itself once our
    // responses are written (destroying here would drop them).
    stream.on('end', () => {
      if (!this.draining) this.close();
    });
    const buffered = broker.config.socketReadInto
      ? readSocketInto(stream, { target: () => this.frames.readTarget(), received: (target, bytes) => this.onReceived(target, bytes) })
      : null;
    this.readsInto = buffered !== null;
    if (buffered === null) {
      stream.on('data', (chunk: Buffer) => this.onData(chunk));
    } else {
      for (const chunk of buffered) this.onData(chunk);
      if (!this.paused && !this.closed) stream.resume();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(reason?: string, fields?: Record<string, unknown>): void {
    if (this.closed) return;
    this.closed = true;
    if (this.loginTimer !== null) clearTimeout(this.loginTimer);
    if (reason) this.log.warn(reason, fields);
    this.abort.abort();
    this.stream.destroy();
    // Finished responses still queued behind an unfinished one will never be written.
    for (const slot of this.slots) {
      if (!slot.done || !slot.sent) continue;
      const sent = slot.sent;
      slot.sent = null;
      runAll(sent);
    }
    this.onClose(this);
  }

  /**
   * Graceful close, bounded by `timeoutMs`: stop reading, answer what was read, flush, end the socket.
   * Whatever is still unanswered or unflushed at the deadline is cut off with the socket.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.closed || this.draining) return;
    this.draining = true;
    // From here incoming bytes are read and dropped (onData): requests not yet read were never
    // started, so nothing of them is stored and they get no answer. Reading on (rather than pausing)
    // matters: closing a TCP socket with unread received data sends RST and discards what is still in
    // our send buffer (RFC 2525 2.17), i.e. the very responses this drain is for.
    this.paused = false;
    this.stream.resume();
    this.abort.abort(); // long-polling Fetches answer now with what they have
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    try {
      await Promise.race([this.allDone, deadline]);
      if (!this.closed) {
        // Half-close after the last response; the client answers our FIN with its own, and the
        // socket closes once both directions are done and everything we wrote is sent.
        const closed = new Promise<void>((resolve) => this.stream.once('close', () => resolve()));
        this.stream.end();
        await Promise.race([closed, deadline]);
      }
    } finally {
      clearTimeout(timer);
      this.close();
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.draining) return;
    let frames: Buffer[];
    try {
      frames = this.frames.push(chunk);
    } catch (error) {
      this.close('closing connection: bad frame', { error });
      return;
    }
    this.onFrames(frames);
  }

  /** A read into the decoder's buffer (readsInto). Runs inside Node's read callback: never throws. */
  private onReceived(target: Buffer, bytes: number): void {
    if (this.closed || this.draining) return; // draining: read and dropped, as onData does
    let frames: Buffer[];
    try {
      frames = this.frames.received(target, bytes);
    } catch (error) {
      this.close('closing connection: bad frame', { error });
      return;
    }
    try {
      this.onFrames(frames);
    } catch (error) {
      // An exception here would escape into Node's read callback and end the process.
      this.log.error('read callback failed', { error });
      this.close();
    }
  }

  private onFrames(frames: Buffer[]): void {
    for (const frame of frames) {
      if (this.closed) return;
      try {
        this.onFrame(frame);
      } catch (error) {
        // A bug on our side (an encoder or an API's error response): fatal to this connection only.
        this.log.error('request failed', { error });
        this.close();
        return;
      }
    }
    this.maybePause();
  }

  private onFrame(frame: Buffer): void {
    if (this.sasl !== null && !this.sasl.authenticated && !this.saslAllows(frame)) return;
    if (frame.length < HEADER_FIXED_BYTES) {
      this.close('closing connection: frame shorter than a request header', { bytes: frame.length });
      return;
    }
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const api = this.apis.get(apiKey);
    const codecs = messageCodecs.get(apiKey);
    if (!api || !codecs) {
      this.close('closing connection: unknown API key', { apiKey, apiVersion });
      return;
    }
    const slot = this.newSlot(frame.length);

    if (apiKey === API_VERSIONS_KEY && apiVersion > codecs.maxVersion) {
      // KIP-511: answer in the v0 format (header v0) with UNSUPPORTED_VERSION and our range, so the
      // client can retry with a version we speak. The body may be in a format we do not know.
      const ctx = this.context(0, null, slot);
      this.finish(slot, this.encode(codecs, 0, correlationId, api.errorResponse(ctx, null, KafkaErrorCode.UNSUPPORTED_VERSION), 0));
      return;
    }

    let header: ReturnType<typeof decodeRequestHeader>;
    let request: unknown = null;
    const reader = new Reader(frame);
    const supported = apiVersion >= api.minVersion && apiVersion <= api.maxVersion && codecs.versions.has(apiVersion);
    try {
      header = decodeRequestHeader(reader);
      if (supported) request = codecs.versions.get(apiVersion)!.decodeRequest(reader);
    } catch (error) {
      this.close('closing connection: undecodable request', { apiKey, apiVersion, error: (error as Error).message });
      return;
    }
    const ctx = this.context(apiVersion, header.clientId, slot);
    const headerVersion = apiKey === API_VERSIONS_KEY ? 0 : apiVersion >= codecs.flexibleMinVersion ? 1 : 0;

    if (!supported) {
      // An unsupported version of a known API: its error response in the nearest version we encode.
      const encodeVersion = Math.min(Math.max(apiVersion, codecs.minVersion), codecs.maxVersion);
      this.log.debug('unsupported version', { apiKey, apiVersion });
      this.finish(slot, this.encode(codecs, encodeVersion, correlationId, api.errorResponse(ctx, null, KafkaErrorCode.UNSUPPORTED_VERSION), headerVersion));
      return;
    }

    const run = async (): Promise<void> => {
      try {
        const refused = api.authorize === undefined || !ctx.access.enabled ? KafkaErrorCode.NONE : api.authorize(ctx, request);
        const response = refused === KafkaErrorCode.NONE ? await api.handle(ctx, request) : api.errorResponse(ctx, request, refused);
        this.finish(slot, response === null ? null : this.encode(codecs, apiVersion, correlationId, response, headerVersion));
        // A Produce has settled every append (the core copied its batches) and its response holds
        // no view of the request: its frame can be reused. Other APIs may keep views (names, bytes).
        if (apiKey === PRODUCE_KEY && !slot.frameKept) this.broker.framePool.give(frame);
      } catch (error) {
        // A bug in an API's logic (core errors are mapped inside the APIs): fatal to this connection only.
        this.log.error('request failed', { api: api.name, apiVersion, error });
        this.close();
      }
    };

    this.schedule(api.pipelined, run);
  }

  private newSlot(requestBytes: number): Slot {
    const slot: Slot = { response: null, done: false, requestBytes, sent: null, frameKept: false, closeAfter: false };
    this.slots.push(slot);
    this.pendingRequestBytes += requestBytes;
    return slot;
  }

  /**
   * Before authentication (SASL on the listener): true for a request that may go on to the API
   * table (ApiVersions, SaslHandshake, SaslAuthenticate). Otherwise the frame is handled here: a
   * bare SASL message after SaslHandshake v0 is answered as one, anything else closes the
   * connection (Kafka: ILLEGAL_SASL_STATE, "unexpected request before authentication").
   */
  private saslAllows(frame: Buffer): boolean {
    const sasl = this.sasl!;
    if (sasl.state === 'exchange' && sasl.bareTokens) {
      this.onBareSaslMessage(sasl, frame);
      return false;
    }
    const apiKey = frame.length >= 2 ? frame.readInt16BE(0) : -1;
    if (sasl.state === 'failed' || (apiKey !== API_VERSIONS_KEY && apiKey !== SASL_HANDSHAKE_KEY && apiKey !== SASL_AUTHENTICATE_KEY)) {
      this.close('closing connection: request before SASL authentication', { apiKey, state: sasl.state });
      return false;
    }
    return true;
  }

  /** After SaslHandshake v0 (KIP-43): the frame is the mechanism's message, answered size-prefixed. */
  private onBareSaslMessage(sasl: SaslSession, frame: Buffer): void {
    const slot = this.newSlot(frame.length);
    const message = Buffer.from(frame); // the frame's buffer goes back to the decoder
    this.schedule(false, async () => {
      try {
        const answer = await sasl.respond(message);
        const out = Buffer.allocUnsafe(4 + answer.length);
        out.writeInt32BE(answer.length, 0);
        answer.copy(out, 4);
        if (sasl.authenticated) this.log.info('SASL authenticated', { user: sasl.user, mechanism: sasl.mechanism });
        this.finish(slot, [out]);
      } catch (error) {
        // With bare messages there is no error response: the connection is closed (as Kafka does).
        this.close('closing connection: SASL authentication failed', { mechanism: sasl.mechanism, reason: error instanceof SaslFailure ? error.detail : String(error) });
      }
    });
  }

  /** Starts `run` in request order (see the file comment: pipelined APIs let the next one start early). */
  private schedule(pipelined: boolean, run: () => Promise<void>): void {
    let done: Promise<void>;
    if (pipelined) {
      let started!: () => void;
      const startedPromise = new Promise<void>((resolve) => (started = resolve));
      done = this.gate.then(() => {
        const result = run();
        started();
        return result;
      });
      this.gate = startedPromise;
    } else {
      const before = Promise.all([this.gate, this.allDone]);
      done = before.then(run);
      this.gate = done;
    }
    const previous = this.allDone;
    this.allDone = Promise.all([previous, done]).then(() => {});
  }

  private context(apiVersion: number, clientId: string | null, slot: Slot): RequestContext {
    return {
      broker: this.broker,
      apiVersion,
      clientId,
      clientHost: this.info.remoteAddress,
      signal: this.abort.signal,
      onResponseSent: (callback) => {
        (slot.sent ??= []).push(callback);
      },
      keepFrame: () => {
        slot.frameKept = true;
      },
      sasl: this.sasl,
      access: this.access,
      closeAfterResponse: () => {
        slot.closeAfter = true;
      },
    };
  }

  private encode(codecs: ApiCodecs, version: number, correlationId: number, response: unknown, headerVersion: number): Buffer[] {
    const w = new Writer(256, { referenceBytesMin: REFERENCE_BYTES_MIN });
    w.int32(0); // frame size, patched below
    encodeResponseHeader(w, correlationId, headerVersion);
    codecs.versions.get(version)!.encodeResponse(w, response as never);
    const size = w.length - 4;
    const chunks = w.finishChunks();
    chunks[0]!.writeInt32BE(size, 0); // the first chunk is ours (never a referenced field): it starts with the size
    return chunks;
  }

  private finish(slot: Slot, response: Buffer[] | null): void {
    slot.response = response;
    slot.done = true;
    if (this.closed) {
      // Never written: nothing will reference the response's buffers.
      if (slot.sent) runAll(slot.sent);
      slot.sent = null;
      return;
    }
    // Write every finished response at the head of the queue, in order.
    const out: Buffer[] = [];
    let sent: (() => void)[] | null = null;
    let closeAfter = false;
    while (this.slots.length > 0 && this.slots[0]!.done && !closeAfter) {
      const head = this.slots.shift()!;
      closeAfter = head.closeAfter;
      this.pendingRequestBytes -= head.requestBytes;
      if (head.response) for (const chunk of head.response) out.push(chunk);
      if (head.sent) {
        if (sent) for (const callback of head.sent) sent.push(callback);
        else sent = head.sent;
        head.sent = null;
      }
    }
    // The write callback of the last chunk runs once every chunk before it is written too (or the
    // socket failed: Writable calls back queued writes only after the one in progress completes),
    // so then no buffer of these responses is referenced by the stream any more.
    if (closeAfter) {
      // Nothing more is read or answered; the connection closes once this response is written.
      this.draining = true;
      const callbacks = sent ?? [];
      callbacks.push(() => this.close());
      sent = callbacks;
    }
    const onWritten = sent === null ? undefined : runAll.bind(null, sent);
    if (out.length === 1) {
      this.stream.write(out[0]!, onWritten);
    } else if (out.length > 1) {
      this.stream.cork(); // one writev for a response's chunks (and for responses finished together)
      const last = out.length - 1;
      for (let i = 0; i < last; i++) this.stream.write(out[i]!);
      this.stream.write(out[last]!, onWritten);
      this.stream.uncork();
    } else if (onWritten) {
      onWritten();
    }
    this.maybeResume();
  }

  private withinLimits(): boolean {
    const { requestQueueMax, requestQueueBytesMax, responseQueueBytesMax } = this.broker.config;
    return this.slots.length < requestQueueMax && this.pendingRequestBytes <= requestQueueBytesMax && this.stream.writableLength <= responseQueueBytesMax;
  }

  private maybePause(): void {
    if (this.paused || this.closed) return;
    if (!this.withinLimits()) {
      this.paused = true;
      this.stream.pause();
    }
  }

  private maybeResume(): void {
    if (!this.paused || this.closed || this.draining) return;
    if (this.withinLimits()) {
      this.paused = false;
      this.stream.resume();
    }
  }
}
