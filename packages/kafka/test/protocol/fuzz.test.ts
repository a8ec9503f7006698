// Feeds mutated and truncated valid requests through the whole decode path a connection uses
// (FrameDecoder → request header → body decoder of every API and version) and checks the only failure
// is KafkaDecodeError: never another exception, never a hang, never an array larger than the frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, encodeFrame } from '../../src/protocol/frame.js';
import { KafkaDecodeError } from '../../src/protocol/errors.js';
import { messageCodecs } from '../../src/protocol/messages/index.js';
import { Reader } from '../../src/protocol/reader.js';
import { decodeRequestHeader, encodeRequestHeader } from '../../src/protocol/request-header.js';
import { Writer } from '../../src/protocol/writer.js';
import { messageSchemas } from './generated/message-schemas.js';
import { countElements, randomInt, sampleStruct, seededRandom, type Random } from './samples.js';

const ITERATIONS = 100_000;
const ITERATIONS_MIN = 20_000;
const DURATION_MS_MAX = 60_000;
const FRAME_BYTES_MAX = 64 * 1024;

function validFrames(random: Random): Buffer[] {
  const frames: Buffer[] = [];
  let correlationId = 1;
  for (const schema of messageSchemas) {
    const codecs = messageCodecs.get(schema.apiKey)!;
    for (let v = schema.minVersion; v <= schema.maxVersion; v++) {
      for (let i = 0; i < 2; i++) {
        const w = new Writer();
        encodeRequestHeader(w, { apiKey: schema.apiKey, apiVersion: v, correlationId: correlationId++, clientId: i === 0 ? 'fuzz' : null });
        codecs.versions.get(v)!.encodeRequest(w, sampleStruct(schema.request, v, random));
        frames.push(encodeFrame([w.finish()]));
      }
    }
  }
  return frames;
}

const INT32_POISON = [0x7fffffff, -0x80000000, -1, -2, 0x10000000, 0x00ffffff];
const INT16_POISON = [0x7fff, -1, -2, -0x8000];

function mutate(source: Buffer, random: Random): Buffer {
  let bytes = Buffer.from(source);
  const mutations = randomInt(random, 1, 4);
  for (let m = 0; m < mutations; m++) {
    // Keep the 4-byte size prefix mostly intact so mutations reach the decoders; some hit it too.
    const from = random() < 0.1 ? 0 : 4;
    if (bytes.length <= from) break;
    const at = randomInt(random, from, bytes.length - 1);
    switch (randomInt(random, 0, 7)) {
      case 0:
        bytes[at] ^= 1 << randomInt(random, 0, 7);
        break;
      case 1:
        bytes[at] = randomInt(random, 0, 255);
        break;
      case 2: {
        bytes = bytes.subarray(0, randomInt(random, from, bytes.length));
        if (bytes.length >= 4 && random() < 0.8) bytes.writeInt32BE(bytes.length - 4, 0); // truncated body, honest frame
        break;
      }
      case 3:
        if (at + 4 <= bytes.length) bytes.writeInt32BE(INT32_POISON[randomInt(random, 0, INT32_POISON.length - 1)], at);
        break;
      case 4:
        if (at + 2 <= bytes.length) bytes.writeInt16BE(INT16_POISON[randomInt(random, 0, INT16_POISON.length - 1)], at);
        break;
      case 5: {
        const varint = Buffer.from(random() < 0.5 ? 'ffffffff0f' : 'ffffffffff', 'hex');
        varint.copy(bytes, at);
        break;
      }
      case 6: {
        const insert = Buffer.alloc(randomInt(random, 1, 8));
        for (let i = 0; i < insert.length; i++) insert[i] = randomInt(random, 0, 255);
        bytes = Buffer.concat([bytes.subarray(0, at), insert, bytes.subarray(at)]);
        if (bytes.length >= 4 && random() < 0.8) bytes.writeInt32BE(bytes.length - 4, 0);
        break;
      }
      case 7: {
        // Point the header at another API or version, so bodies meet decoders they were not written for.
        if (bytes.length >= 8 && random() < 0.5) bytes.writeInt16BE(randomInt(random, 0, 70), 4);
        else if (bytes.length >= 8) bytes.writeInt16BE(randomInt(random, 0, 13), 6);
        break;
      }
    }
  }
  return bytes;
}

/** What a connection does with one frame; returns normally or throws KafkaDecodeError. */
function decodeFrame(frame: Buffer): void {
  const r = new Reader(frame);
  const header = decodeRequestHeader(r);
  const version = messageCodecs.get(header.apiKey)?.versions.get(header.apiVersion);
  if (!version) return; // the broker answers UNSUPPORTED_VERSION / closes; nothing to decode
  const body = version.decodeRequest(r);
  assert.ok(countElements(body) <= frame.length, 'decoded arrays cannot hold more elements than the frame has bytes');
}

test(`fuzz: ${ITERATIONS} mutated requests only ever raise KafkaDecodeError`, (t) => {
  const random = seededRandom(20261122);
  const corpus = validFrames(random);
  // The unmutated corpus decodes cleanly.
  for (const frame of corpus) {
    const frames = new FrameDecoder(FRAME_BYTES_MAX).push(frame);
    assert.equal(frames.length, 1);
    decodeFrame(frames[0]);
  }
  const started = Date.now();
  const outcomes = { decoded: 0, decodeErrors: 0, incomplete: 0 };
  const codes = new Map<string, number>();
  let iterations = 0;
  for (; iterations < ITERATIONS && Date.now() - started < DURATION_MS_MAX; iterations++) {
    const source = corpus[randomInt(random, 0, corpus.length - 1)];
    const input = iterations % 50 === 49 ? randomGarbage(random) : mutate(source, random);
    const decoder = new FrameDecoder(FRAME_BYTES_MAX);
    try {
      // Delivered in up to three chunks, as TCP may.
      const cut1 = randomInt(random, 0, input.length);
      const cut2 = randomInt(random, cut1, input.length);
      const frames = [...decoder.push(input.subarray(0, cut1)), ...decoder.push(input.subarray(cut1, cut2)), ...decoder.push(input.subarray(cut2))];
      if (frames.length === 0) outcomes.incomplete++;
      for (const frame of frames) decodeFrame(frame);
      outcomes.decoded++;
    } catch (error) {
      if (!(error instanceof KafkaDecodeError)) {
        assert.fail(`iteration ${iterations}: ${String(error)} for input ${input.toString('hex').slice(0, 400)}`);
      }
      outcomes.decodeErrors++;
      codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
    }
  }
  t.diagnostic(`${iterations} iterations in ${Date.now() - started} ms: ${JSON.stringify(outcomes)} ${JSON.stringify([...codes])}`);
  assert.ok(iterations >= ITERATIONS_MIN, `only ${iterations} iterations in ${DURATION_MS_MAX} ms`);
  // The mutations must really exercise the error paths, not only pass through.
  assert.ok(outcomes.decodeErrors > iterations / 10, JSON.stringify(outcomes));
  for (const code of ['truncated', 'invalidLength', 'frameTooLarge']) assert.ok((codes.get(code) ?? 0) > 0, `saw ${code}`);
});

function randomGarbage(random: Random): Buffer {
  const bytes = Buffer.alloc(randomInt(random, 0, 200));
  for (let i = 0; i < bytes.length; i++) bytes[i] = randomInt(random, 0, 255);
  if (bytes.length >= 4 && random() < 0.7) bytes.writeInt32BE(bytes.length - 4, 0);
  return bytes;
}

test('fuzz: mutated responses only ever raise KafkaDecodeError in the response decoders', () => {
  const random = seededRandom(7);
  const corpus: Array<{ apiKey: number; version: number; body: Buffer }> = [];
  for (const schema of messageSchemas) {
    const codecs = messageCodecs.get(schema.apiKey)!;
    for (let v = schema.minVersion; v <= schema.maxVersion; v++) {
      const w = new Writer();
      codecs.versions.get(v)!.encodeResponse(w, sampleStruct(schema.response, v, random));
      corpus.push({ apiKey: schema.apiKey, version: v, body: Buffer.from(w.finish()) });
    }
  }
  const started = Date.now();
  let errors = 0;
  let iterations = 0;
  for (; iterations < ITERATIONS_MIN && Date.now() - started < DURATION_MS_MAX; iterations++) {
    const { apiKey, version, body } = corpus[randomInt(random, 0, corpus.length - 1)];
    // mutate() keeps a 4-byte prefix mostly intact; give it one to spare the body.
    const mutated = mutate(Buffer.concat([Buffer.alloc(4), body]), random).subarray(4);
    try {
      const decoded = messageCodecs.get(apiKey)!.versions.get(version)!.decodeResponse(new Reader(mutated));
      assert.ok(countElements(decoded) <= mutated.length);
    } catch (error) {
      if (!(error instanceof KafkaDecodeError)) assert.fail(`api ${apiKey} v${version}: ${String(error)} for ${mutated.toString('hex').slice(0, 400)}`);
      errors++;
    }
  }
  assert.equal(iterations, ITERATIONS_MIN);
  assert.ok(errors > iterations / 10, `${errors} decode errors`);
});
