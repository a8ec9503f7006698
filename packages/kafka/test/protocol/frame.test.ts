import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FRAME_PREALLOCATE_BYTES_MAX, FrameDecoder, encodeFrame } from '../../src/protocol/frame.js';
import { FRAME_POOL_FRAME_BYTES_MAX, FRAME_POOL_FRAME_BYTES_MIN, FramePool } from '../../src/protocol/frame-pool.js';
import { KafkaDecodeError } from '../../src/protocol/errors.js';

function frameTooLarge(error: unknown): boolean {
  return error instanceof KafkaDecodeError && error.code === 'frameTooLarge';
}

test('encodeFrame prefixes the total size of its parts', () => {
  const frame = encodeFrame([Buffer.from('ab', 'hex'), Buffer.from('cdef', 'hex')]);
  assert.equal(frame.toString('hex'), '00000003abcdef');
});

test('several frames in one chunk come out as views, in order', () => {
  const decoder = new FrameDecoder(1024);
  const chunk = Buffer.concat([encodeFrame([Buffer.from('01', 'hex')]), encodeFrame([Buffer.from('0203', 'hex')]), encodeFrame([])]);
  const frames = decoder.push(chunk);
  assert.deepEqual(frames.map((f) => f.toString('hex')), ['01', '0203', '']);
  assert.equal(frames[0].buffer, chunk.buffer);
  assert.equal(decoder.pendingBytes, 0);
});

test('a frame split at every possible byte boundary is reassembled', () => {
  const payloads = [Buffer.from('hello world'), Buffer.alloc(300, 9), Buffer.from('x')];
  const stream = Buffer.concat(payloads.map((p) => encodeFrame([p])));
  for (let chunkBytes = 1; chunkBytes <= 17; chunkBytes++) {
    const decoder = new FrameDecoder(1024);
    const frames: Buffer[] = [];
    for (let offset = 0; offset < stream.length; offset += chunkBytes) {
      frames.push(...decoder.push(stream.subarray(offset, offset + chunkBytes)));
    }
    assert.deepEqual(frames, payloads, `chunk size ${chunkBytes}`);
    assert.equal(decoder.pendingBytes, 0);
  }
});

test('a size above the maximum or negative throws frameTooLarge without buffering', () => {
  assert.throws(() => new FrameDecoder(10).push(Buffer.from('0000000b', 'hex')), frameTooLarge);
  assert.throws(() => new FrameDecoder(10).push(Buffer.from('ffffffff', 'hex')), frameTooLarge);
  assert.throws(() => new FrameDecoder(10).push(Buffer.from('80000000', 'hex')), frameTooLarge);
  // Split prefix: detected as soon as 4 bytes are known.
  const decoder = new FrameDecoder(10);
  assert.deepEqual(decoder.push(Buffer.from('7f', 'hex')), []);
  assert.throws(() => decoder.push(Buffer.from('ffffff', 'hex')), frameTooLarge);
  // Oversized second frame after a good one in the same chunk.
  assert.throws(
    () => new FrameDecoder(10).push(Buffer.concat([encodeFrame([Buffer.from('01', 'hex')]), Buffer.from('00000100', 'hex')])),
    frameTooLarge,
  );
  // Exactly the maximum is fine.
  assert.equal(new FrameDecoder(3).push(encodeFrame([Buffer.alloc(3)])).length, 1);
});

test('a frame over many chunks is copied into one buffer as they arrive; views of the chunks are not kept', () => {
  const payload = Buffer.alloc(200_000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
  // The payload frame ends 4 bytes into a chunk that also holds the start of the next frame.
  const stream = Buffer.concat([encodeFrame([payload]), encodeFrame([Buffer.from('tail')]).subarray(0, 6)]);
  const decoder = new FrameDecoder(1 << 20);
  const frames: Buffer[] = [];
  const chunkBytes = 65_536;
  for (let offset = 0; offset < stream.length; offset += chunkBytes) {
    const chunk = Buffer.from(stream.subarray(offset, offset + chunkBytes)); // a fresh buffer, as a socket read is
    frames.push(...decoder.push(chunk));
    chunk.fill(0); // the decoder must have copied what it needs
  }
  frames.push(...decoder.push(Buffer.from('il')));
  assert.equal(frames.length, 2);
  assert.ok(frames[0]!.equals(payload));
  assert.equal(frames[1]!.toString(), 'tail');
  assert.equal(decoder.pendingBytes, 0);
});

test('frames above FRAME_PREALLOCATE_BYTES_MAX are assembled only from what arrives', () => {
  const size = FRAME_PREALLOCATE_BYTES_MAX + 1;
  const decoder = new FrameDecoder(size);
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(size);
  assert.deepEqual(decoder.push(prefix), []);
  assert.equal(decoder.pendingBytes, 4);
  const body = Buffer.alloc(size, 3);
  const frames: Buffer[] = [];
  for (let offset = 0; offset < size; offset += 4 << 20) frames.push(...decoder.push(body.subarray(offset, offset + (4 << 20))));
  assert.equal(frames.length, 1);
  assert.ok(frames[0]!.equals(body));
});

test('FramePool: split large frames come from the pool, go back once given, and nothing else is taken in', () => {
  const pool = new FramePool();
  const decoder = new FrameDecoder(1 << 22, pool);
  const payload = Buffer.alloc(FRAME_POOL_FRAME_BYTES_MIN + 10, 5);
  const stream = encodeFrame([payload]);
  const first = [...decoder.push(stream.subarray(0, 1000)), ...decoder.push(stream.subarray(1000))];
  assert.equal(first.length, 1);
  assert.ok(first[0]!.equals(payload));
  assert.equal(pool.idleBytes, 0);
  pool.give(first[0]!);
  const idle = pool.idleBytes;
  assert.ok(idle >= payload.length, 'the frame buffer is kept for reuse');
  pool.give(first[0]!); // twice: ignored
  assert.equal(pool.idleBytes, idle);
  const second = [...decoder.push(stream.subarray(0, 10)), ...decoder.push(stream.subarray(10))];
  assert.equal(second[0]!.buffer, first[0]!.buffer, 'the next frame of a similar size reuses it');
  assert.equal(pool.idleBytes, 0);
  // A frame lying whole in one chunk is a view of that chunk: never pooled.
  const view = decoder.push(Buffer.from(stream));
  pool.give(view[0]!);
  assert.equal(pool.idleBytes, 0);
  // Small and oversized frames are not pooled; the free list is bounded.
  assert.equal(pool.take(100), null);
  assert.equal(pool.take(FRAME_POOL_FRAME_BYTES_MAX + 1), null);
  const bounded = new FramePool(FRAME_POOL_FRAME_BYTES_MIN * 2);
  const taken = [bounded.take(FRAME_POOL_FRAME_BYTES_MIN)!, bounded.take(FRAME_POOL_FRAME_BYTES_MIN)!, bounded.take(FRAME_POOL_FRAME_BYTES_MIN)!];
  for (const buffer of taken) bounded.give(buffer);
  assert.ok(bounded.idleBytes <= FRAME_POOL_FRAME_BYTES_MIN * 2);
});
