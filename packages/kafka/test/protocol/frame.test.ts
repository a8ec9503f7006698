import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, encodeFrame } from '../../src/protocol/frame.js';
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
