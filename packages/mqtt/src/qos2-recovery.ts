/**
 * Inbound QoS 2 exactly once across a crash (3.1.1 §4.3.3, MQTT 5 §4.3.3: the receiver must not
 * store a PUBLISH twice, Method B). The append and the write that records the packet id as stored
 * cannot be one atomic step, so a persistent session brackets the append with evidence:
 *
 * 1. before the append: the packet id is written as "in doubt, in core partition T/p at offset O or
 *    later" (O = the partition's log end then), in the session's packet-id record;
 * 2. the message is appended carrying `mqtt.publisher` (the client id) and `mqtt.packet-id` headers;
 * 3. after the append: one write records the id as stored and drops the in-doubt entry; then PUBREC.
 *
 * After a crash, the broker reads the in-doubt entries at start and looks for their messages in the
 * log, from the smallest O of each partition to the partition's end as of recovery: only appends made
 * before the crash can carry them. Found: the id counts as stored, and the client's re-send gets
 * PUBREC without a second copy. Not found: the append never happened (or never became durable), so the
 * id is forgotten and the re-send is stored, once.
 *
 * The scan is bounded by `QOS2_RECOVERY_SCAN_BYTES_MAX` per partition. It is normally tiny: it covers
 * what other publishers appended to that partition while the cut-off append was in flight. An entry not
 * found within the cap counts as not found, so its re-send is stored: a possible duplicate, never a loss,
 * and the count is logged.
 */
import { decodeRecordBatch, HEADER, isStrataError, type Core } from '@strata/core';

/** Bytes read per partition at start to settle in-doubt QoS 2 publishes; past this they count as not stored. */
export const QOS2_RECOVERY_SCAN_BYTES_MAX = 64 * 1024 * 1024;
/** One read of that scan. */
const SCAN_READ_BYTES_MAX = 1024 * 1024;

/** One in-doubt PUBLISH looked for: client id, packet id, and the offset its message cannot be below. */
export interface InDoubtLookup {
  readonly clientId: string;
  readonly id: number;
  readonly fromOffset: number;
}

export interface InDoubtScan<T extends InDoubtLookup> {
  /** The lookups whose message is in the log. */
  readonly found: Set<T>;
  /** False when the byte cap ended the scan before the log end with lookups still unfound. */
  readonly complete: boolean;
  readonly scannedBytes: number;
}

function lookupKey(clientId: string, id: string | number): string {
  return `${id}\u0000${clientId}`;
}

/**
 * Looks for the messages of `wanted` (all for `topic`/`partition`) in the log, from the smallest
 * `fromOffset` to the log end as it is when the scan starts. A message matches a lookup when its
 * `mqtt.publisher` and `mqtt.packet-id` headers are the lookup's and its offset is not below the
 * lookup's `fromOffset` (an earlier, finished flow may have used the same packet id).
 */
export async function findStoredPublishes<T extends InDoubtLookup>(
  core: Core,
  topic: string,
  partition: number,
  wanted: readonly T[],
  scanBytesMax = QOS2_RECOVERY_SCAN_BYTES_MAX,
): Promise<InDoubtScan<T>> {
  const found = new Set<T>();
  if (wanted.length === 0) return { found, complete: true, scannedBytes: 0 };
  let logStartOffset: number;
  let endOffset: number;
  try {
    ({ logStartOffset, highWatermark: endOffset } = core.offsets(topic, partition));
  } catch (error) {
    // The topic is gone, and with it anything that was appended to it.
    if (isStrataError(error, 'UNKNOWN_TOPIC')) return { found, complete: true, scannedBytes: 0 };
    throw error;
  }
  const byKey = new Map<string, T>();
  let fromOffset = Number.POSITIVE_INFINITY;
  for (const lookup of wanted) {
    byKey.set(lookupKey(lookup.clientId, lookup.id), lookup);
    fromOffset = Math.min(fromOffset, lookup.fromOffset);
  }
  // Below the log start, retention has already deleted what was there.
  let next = Math.max(fromOffset, logStartOffset);
  let scannedBytes = 0;
  // Bounded: every pass reads at least one entry past `next` (or stops), and the bytes are capped.
  while (next < endOffset && scannedBytes < scanBytesMax && found.size < byKey.size) {
    let result;
    try {
      result = await core.read(topic, partition, { offset: next, maxBytes: Math.min(SCAN_READ_BYTES_MAX, scanBytesMax - scannedBytes) });
    } catch (error) {
      // Retention moved the log start past `next` meanwhile: what was below it is gone.
      if (isStrataError(error, 'OFFSET_OUT_OF_RANGE')) break;
      throw error;
    }
    if (result.entries.length === 0) break;
    for (const entry of result.entries) {
      if (entry.lastOffset < next) continue;
      scannedBytes += entry.bytes.length;
      const { header, messages } = decodeRecordBatch(entry.bytes);
      if (!header.isControl) {
        for (const message of messages) {
          if (message.offset < next || message.offset >= endOffset) continue;
          let packetId: string | null = null;
          let publisher: string | null = null;
          for (const h of message.headers) {
            if (h.value === null) continue;
            if (h.key === HEADER.mqttPacketId) packetId = h.value.toString();
            else if (h.key === HEADER.mqttPublisher) publisher = h.value.toString();
          }
          if (packetId === null || publisher === null) continue;
          const lookup = byKey.get(lookupKey(publisher, packetId));
          if (lookup !== undefined && message.offset >= lookup.fromOffset) found.add(lookup);
        }
      }
      next = entry.lastOffset + 1;
    }
    result.release();
  }
  const complete = next >= endOffset || found.size === byKey.size;
  return { found, complete, scannedBytes };
}
