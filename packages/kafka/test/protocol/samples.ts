// Builds populated sample messages from the generated field model (generated/message-schemas.ts), for
// round-trip and fuzz tests. Randomness is seeded so every failure replays.
import type { FieldSchema } from './generated/message-schemas.js';

export { seededRandom, type Random } from '@strata/core';
import type { Random } from '@strata/core';

export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

const inRange = (range: [number, number] | null, version: number) => range !== null && version >= range[0] && version <= range[1];

/** The value a decoder fills in for a field its version lacks (README "Custom Default Values"). */
export function defaultValue(field: FieldSchema): unknown {
  if (field.kind === 'array') return [];
  if (field.kind === 'struct') return defaultStruct(field.fields ?? []);
  const raw = field.default;
  switch (field.type) {
    case 'bool':
      return raw === 'true';
    case 'string':
      return raw === null ? '' : raw === 'null' ? null : raw;
    case 'bytes':
      return Buffer.alloc(0);
    case 'uuid':
      return Buffer.alloc(16);
    case 'records':
      return null;
    default:
      return raw === null ? 0 : Number(raw);
  }
}

export function defaultStruct(fields: FieldSchema[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) out[field.name] = defaultValue(field);
  return out;
}

const STRING_POOL = ['', 'a', 'topic-1', 'group.é', '日本語', 'x'.repeat(300), 'consumer-1-8c3f'];

function randomPrimitive(type: string, random: Random): unknown {
  switch (type) {
    case 'bool':
      return random() < 0.5;
    case 'int8':
      return randomInt(random, -128, 127);
    case 'int16':
      return randomInt(random, -32768, 32767);
    case 'uint16':
      return randomInt(random, 0, 65535);
    case 'int32':
      return randomInt(random, -2147483648, 2147483647);
    case 'uint32':
      return randomInt(random, 0, 4294967295);
    case 'int64':
      return random() < 0.2 ? -1 : randomInt(random, -(2 ** 53 - 1), 2 ** 53 - 1);
    case 'float64':
      return (random() - 0.5) * 1e6;
    case 'string':
      return STRING_POOL[randomInt(random, 0, STRING_POOL.length - 1)];
    case 'bytes':
    case 'records': {
      const bytes = Buffer.alloc(randomInt(random, 0, 40));
      for (let i = 0; i < bytes.length; i++) bytes[i] = randomInt(random, 0, 255);
      return bytes;
    }
    case 'uuid': {
      const bytes = Buffer.alloc(16);
      for (let i = 0; i < 16; i++) bytes[i] = randomInt(random, 0, 255);
      return bytes;
    }
  }
  throw new Error(`unknown primitive ${type}`);
}

/**
 * A message of the given version with every field of that version populated (nullable ones sometimes
 * null, arrays 0-3 elements) and every other field at its default: exactly what decode must return.
 */
export function sampleStruct(fields: FieldSchema[], version: number, random: Random): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    if (!inRange(field.versions, version)) {
      out[field.name] = defaultValue(field);
      continue;
    }
    if (inRange(field.nullable, version) && random() < 0.2) {
      out[field.name] = null;
      continue;
    }
    if (field.kind === 'struct') {
      out[field.name] = sampleStruct(field.fields ?? [], version, random);
    } else if (field.kind === 'array') {
      const length = randomInt(random, 0, 3);
      const items: unknown[] = [];
      for (let i = 0; i < length; i++) {
        items.push(field.fields ? sampleStruct(field.fields, version, random) : randomPrimitive(field.type, random));
      }
      out[field.name] = items;
    } else {
      out[field.name] = randomPrimitive(field.type, random);
    }
  }
  return out;
}

/** Total array elements in a decoded message (to prove decoders never build more than the bytes allow). */
export function countElements(value: unknown): number {
  if (Array.isArray(value)) {
    let total = value.length;
    for (const item of value) total += countElements(item);
    return total;
  }
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    let total = 0;
    for (const item of Object.values(value)) total += countElements(item);
    return total;
  }
  return 0;
}
