import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AckSet } from '../src/subscription/ack-set.js';

test('acks in order advance the mark-delete offset', () => {
  const acks = new AckSet(10);
  assert.equal(acks.ack(10), true);
  assert.equal(acks.ack(10), false);
  assert.equal(acks.markDeleteOffset, 11);
  assert.equal(acks.isAcked(5), true);
  assert.equal(acks.isAcked(11), false);
});

test('out-of-order acks form ranges that merge and are absorbed', () => {
  const acks = new AckSet(0);
  for (const offset of [5, 3, 7, 4, 6]) acks.ack(offset);
  assert.deepEqual(acks.ranges(100), [[3, 8]]);
  assert.equal(acks.markDeleteOffset, 0);
  acks.ack(1);
  acks.ack(9);
  assert.deepEqual(acks.ranges(100), [[1, 2], [3, 8], [9, 10]]);
  assert.equal(acks.ackedAboveMarkDelete(), 7);
  acks.ack(0);
  assert.equal(acks.markDeleteOffset, 2);
  acks.ack(2);
  assert.equal(acks.markDeleteOffset, 8);
  assert.deepEqual(acks.ranges(100), [[9, 10]]);
  acks.ackBelow(20);
  assert.equal(acks.markDeleteOffset, 20);
  assert.equal(acks.rangeCount(), 0);
});

test('ackBelow clips a straddling range; reset clears; persisted ranges are normalised', () => {
  const acks = new AckSet(0, [[10, 20], [5, 8], [7, 9], [30, 30], [-5, 1]]);
  assert.equal(acks.markDeleteOffset, 1);
  assert.deepEqual(acks.ranges(10), [[5, 9], [10, 20]]);
  acks.ackBelow(12);
  assert.equal(acks.markDeleteOffset, 20);
  acks.reset(3);
  assert.equal(acks.isAcked(3), false);
  assert.equal(acks.isAcked(2), true);
  assert.deepEqual(acks.ranges(1), []);
});

test('random acks agree with a set model', () => {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const acks = new AckSet(0);
  const model = new Set<number>();
  for (let i = 0; i < 5000; i++) {
    const offset = Math.floor(random() * 500);
    acks.ack(offset);
    model.add(offset);
  }
  for (let offset = 0; offset < 520; offset++) assert.equal(acks.isAcked(offset), model.has(offset), `offset ${offset}`);
});
