/**
 * FrameDecoder's read-into mode (readTarget/received), what a socket that reads into our buffers
 * drives (src/socket-read-into.ts): reads of any size, frames of every size class, bad and
 * truncated input, garbage. The staging buffer is reused by the next read, so no frame may share
 * its memory; a large frame's body is the buffer the reads landed in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '@strata/core';
import { FRAME_PREALLOCATE_BYTES_MAX, FRAME_STAGING_BYTES, FrameDecoder, encodeFrame } from '../../src/protocol/frame.js';
import { FRAME_POOL_FRAME_BYTES_MIN, FramePool } from '../../src/protocol/frame-pool.js';
import { KafkaDecodeError } from '../../src/protocol/errors.js';

function frameTooLarge(error: unknown): boolean {
  return error instanceof KafkaDecodeError && error.code === 'frameTooLarge';
}

/**
 * Feeds `stream` through read-into mode as a socket would: each read fills a prefix of the target,
 * of a size `readBytes` picks (at most what the target holds and what is left); the previous
 * staging bytes are scribbled over before every read, as the next read would do.
 */
function readInto(decoder: FrameDecoder, stream: Buffer, readBytes: (targetBytes: number) => number): { frames: Buffer[]; targets: Buffer[] } {
  const frames: Buffer[] = [];
  const targets: Buffer[] = [];
  for (let offset = 0; offset < stream.length; ) {
    const target = decoder.readTarget();
    assert.ok(target.length > 0, 'a read target is never empty');
    target.fill(0xee);
    const bytes = Math.max(1, Math.min(readBytes(target.length), target.length, stream.length - offset));
    stream.copy(target, 0, offset, offset + bytes);
    offset += bytes;
    targets.push(target);
    frames.push(...decoder.received(target, bytes));
  }
  return { frames, targets };
}

function payloadOf(bytes: number, seed: number): Buffer {
  const payload = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) payload[i] = (i * 31 + seed) & 0xff;
  return payload;
}

test('read-into: frames of every size class over reads of many sizes come out whole, in order, in memory of their own', () => {
  const sizes = [0, 1, 7, 4095, 4097, FRAME_STAGING_BYTES - 4, FRAME_STAGING_BYTES + 3, FRAME_POOL_FRAME_BYTES_MIN + 5, 600_000, 3];
  const payloads = sizes.map((size, i) => payloadOf(size, i));
  const stream = Buffer.concat(payloads.map((p) => encodeFrame([p])));
  const random = seededRandom(7);
  const readSizes: Array<[string, (targetBytes: number) => number]> = [
    ['whole targets', (t) => t],
    ['random', (t) => 1 + Math.floor(random() * t)],
    ['random small', () => 1 + Math.floor(random() * 100)],
  ];
  for (const [name, readBytes] of readSizes) {
    const decoder = new FrameDecoder(1 << 20, new FramePool());
    const { frames, targets } = readInto(decoder, stream, readBytes);
    assert.equal(frames.length, payloads.length, name);
    frames.forEach((frame, i) => assert.ok(frame.equals(payloads[i]!), `${name}: frame ${i} (${sizes[i]} bytes)`));
    const staging = targets.find((t) => t.length === FRAME_STAGING_BYTES)!;
    for (const frame of frames) if (frame.length > 0) assert.notEqual(frame.buffer, staging.buffer, `${name}: no frame is a view of the staging buffer`);
    assert.equal(decoder.pendingBytes, 0, name);
  }
  // Tiny reads on the small frames only (bounded time).
  const small = Buffer.concat(payloads.slice(0, 5).map((p) => encodeFrame([p])));
  for (const step of [1, 3]) {
    const decoder = new FrameDecoder(1 << 20);
    const { frames } = readInto(decoder, small, () => step);
    assert.deepEqual(frames, payloads.slice(0, 5), `reads of ${step} bytes`);
  }
});

test('read-into: a large frame is read straight into its own buffer (from the pool), no copy', () => {
  const pool = new FramePool();
  const decoder = new FrameDecoder(1 << 22, pool);
  const payload = payloadOf(FRAME_POOL_FRAME_BYTES_MIN * 3 + 11, 1);
  const stream = encodeFrame([payload]);
  const { frames, targets } = readInto(decoder, stream, (t) => Math.min(t, 50_000));
  assert.equal(frames.length, 1);
  assert.ok(frames[0]!.equals(payload));
  // After the first read (prefix and body start, in staging), every read landed in the frame.
  for (const target of targets.slice(1)) assert.equal(target.buffer, frames[0]!.buffer);
  pool.give(frames[0]!);
  assert.ok(pool.idleBytes > 0, 'the frame came from the pool and can go back');
});

test('read-into: a read never runs past a large frame into the next one', () => {
  const decoder = new FrameDecoder(1 << 22);
  const first = payloadOf(200_000, 2);
  const second = payloadOf(10, 3);
  const stream = Buffer.concat([encodeFrame([first]), encodeFrame([second])]);
  // Reads as large as the target allows: the frame's target ends where the frame ends.
  const { frames } = readInto(decoder, stream, (t) => t);
  assert.deepEqual(frames, [first, second]);
});

test('read-into: frames above FRAME_PREALLOCATE_BYTES_MAX are collected from copies of the staging buffer', () => {
  const size = FRAME_PREALLOCATE_BYTES_MAX + 5;
  const decoder = new FrameDecoder(size);
  const payload = Buffer.alloc(size, 9);
  payload.write('start', 0);
  payload.write('end', size - 3);
  const { frames } = readInto(decoder, encodeFrame([payload]), (t) => t);
  assert.equal(frames.length, 1);
  assert.ok(frames[0]!.equals(payload), 'every staging read was copied before the next overwrote it');
});

test('read-into: a size above the maximum or negative throws frameTooLarge; truncated input waits', () => {
  for (const prefix of ['0000000b', 'ffffffff', '80000000']) {
    const decoder = new FrameDecoder(10);
    const target = decoder.readTarget();
    Buffer.from(prefix, 'hex').copy(target);
    assert.throws(() => decoder.received(target, 4), frameTooLarge, prefix);
  }
  // Split prefix.
  const decoder = new FrameDecoder(10);
  let target = decoder.readTarget();
  target[0] = 0x7f;
  assert.deepEqual(decoder.received(target, 1), []);
  target = decoder.readTarget();
  Buffer.from('ffffff', 'hex').copy(target);
  assert.throws(() => decoder.received(target, 3), frameTooLarge);
  // Truncated: the stream ends inside a frame; nothing comes out, the bytes are pending.
  const truncated = new FrameDecoder(1 << 20);
  const stream = encodeFrame([payloadOf(300_000, 4)]);
  const { frames } = readInto(truncated, stream.subarray(0, 123_456), (t) => t);
  assert.deepEqual(frames, []);
  assert.equal(truncated.pendingBytes, 123_456);
});

test('read-into: received() refuses byte counts and buffers it did not hand out', () => {
  const decoder = new FrameDecoder(1 << 20);
  const target = decoder.readTarget();
  assert.throws(() => decoder.received(target, 0), RangeError);
  assert.throws(() => decoder.received(target, target.length + 1), RangeError);
  assert.throws(() => decoder.received(Buffer.alloc(10), 5), RangeError);
});

test('read-into: garbage never throws anything but frameTooLarge, and never hangs (fuzz)', () => {
  const random = seededRandom(0xf00d);
  for (let round = 0; round < 300; round++) {
    const decoder = new FrameDecoder(1 << 16);
    const garbage = Buffer.allocUnsafe(1 + Math.floor(random() * 5000));
    for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(random() * 256);
    // Small sizes in front now and then, so some frames do decode.
    if (round % 3 === 0) garbage.writeInt32BE(Math.floor(random() * 200), 0);
    try {
      readInto(decoder, garbage, (t) => 1 + Math.floor(random() * Math.min(t, 700)));
    } catch (error) {
      assert.ok(frameTooLarge(error), `round ${round}: ${String(error)}`);
    }
  }
});

test('read-into: decoders of one pool share its staging buffer, reads interleaved, each stream intact', () => {
  const pool = new FramePool();
  const decoders = [new FrameDecoder(1 << 22, pool), new FrameDecoder(1 << 22, pool), new FrameDecoder(1 << 22, pool)];
  const payloads = decoders.map((_, d) => [10, 5000, 70_000, 300_000, 1, 40_000].map((size, i) => payloadOf(size, d * 10 + i)));
  const streams = payloads.map((list) => Buffer.concat(list.map((p) => encodeFrame([p]))));
  const offsets = decoders.map(() => 0);
  const frames: Buffer[][] = decoders.map(() => []);
  const random = seededRandom(11);
  const stagingTargets = new Set<ArrayBufferLike>();
  while (offsets.some((offset, d) => offset < streams[d]!.length)) {
    const d = Math.floor(random() * decoders.length);
    const stream = streams[d]!;
    if (offsets[d]! >= stream.length) continue;
    const target = decoders[d]!.readTarget();
    if (target.length === FRAME_STAGING_BYTES) stagingTargets.add(target.buffer);
    target.fill(0xee); // whatever another decoder's read left there
    const bytes = Math.min(1 + Math.floor(random() * target.length), stream.length - offsets[d]!);
    stream.copy(target, 0, offsets[d]!, offsets[d]! + bytes);
    offsets[d]! += bytes;
    frames[d]!.push(...decoders[d]!.received(target, bytes));
  }
  assert.equal(stagingTargets.size, 1, 'one staging buffer for all');
  frames.forEach((list, d) => assert.deepEqual(list, payloads[d], `decoder ${d}`));
});
