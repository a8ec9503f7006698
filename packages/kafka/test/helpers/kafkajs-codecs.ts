/**
 * kafkajs compression codecs for the tests: snappy and lz4 from their npm plugins, zstd as a tiny
 * codec over zstd-napi (kafkajs ships only gzip).
 */
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { compress, decompress } from 'zstd-napi';

const require = createRequire(import.meta.url);
const { CompressionCodecs, CompressionTypes } = kafkajs;

let registered = false;

export function registerKafkajsCodecs(): void {
  if (registered) return;
  registered = true;
  const SnappyCodec = require('kafkajs-snappy') as () => unknown;
  const LZ4Codec = require('kafkajs-lz4') as { new (): { codec: () => unknown } } | { default: new () => { codec: () => unknown } };
  const Lz4 = 'default' in LZ4Codec ? LZ4Codec.default : LZ4Codec;
  const codecs = CompressionCodecs as unknown as Record<number, () => unknown>;
  codecs[CompressionTypes.Snappy] = SnappyCodec;
  codecs[CompressionTypes.LZ4] = new Lz4().codec;
  codecs[CompressionTypes.ZSTD] = () => ({
    compress: async (encoder: { buffer: Buffer }) => compress(encoder.buffer),
    decompress: async (buffer: Buffer) => decompress(buffer),
  });
}
