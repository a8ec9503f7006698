/**
 * Retained messages (MQTT 3.1.1 §3.3.1.3, MQTT 5 §3.3.1.3): kept in a compacted core topic keyed by
 * MQTT topic (a tombstone, null value, clears one), and mirrored in memory for SUBSCRIBE, which must
 * find every retained message matching a wildcard filter. The memory copy is rebuilt from the core
 * topic at start, so retained messages survive restarts.
 *
 * What the memory copy holds is copied, compactly: a decoded message's key, value and header values
 * are views into the buffer they were read or received in (a read chunk of up to 1 MiB, a socket
 * chunk), and keeping a view keeps that whole buffer alive. One retained message costs one exact-size
 * allocation instead, so memory is proportional to the retained payloads.
 */
import { decodeRecordBatch, HEADER, type Core, type Logger, type Message } from '@strata/core';
import { topicMatches } from './topic.js';

const READ_BYTES_MAX = 1024 * 1024;

/**
 * One allocation holding the message's key, value and header values, and a message of views into it.
 * `allocUnsafeSlow`, not the shared 8 KiB pool: a long-lived pool slice would pin its whole slab.
 */
export function compactMessage(message: Message): Message {
  let bytes = (message.key?.length ?? 0) + (message.value?.length ?? 0);
  for (const h of message.headers) bytes += h.value?.length ?? 0;
  const memory = Buffer.allocUnsafeSlow(bytes);
  let at = 0;
  const take = (source: Buffer | null): Buffer | null => {
    if (source === null) return null;
    source.copy(memory, at);
    at += source.length;
    return memory.subarray(at - source.length, at);
  };
  const key = take(message.key);
  const value = take(message.value);
  const headers = message.headers.map((h) => ({ key: h.key, value: take(h.value) }));
  return { key, value, headers, timestamp: message.timestamp };
}

export class RetainedStore {
  /** MQTT topic → the retained message as stored. */
  private readonly byTopic = new Map<string, Message>();

  constructor(
    private readonly core: Core,
    private readonly coreTopic: string,
    private readonly retainedMessagesMax: number,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.byTopic.size;
  }

  async load(): Promise<void> {
    if (!this.core.topics.exists(this.coreTopic)) {
      try {
        await this.core.topics.create(this.coreTopic, { partitions: 1, overrides: { cleanupPolicy: 'compact' } });
      } catch (error) {
        if (!this.core.topics.exists(this.coreTopic)) throw error;
      }
    }
    const { logStartOffset, highWatermark } = this.core.offsets(this.coreTopic, 0);
    let offset = logStartOffset;
    // Bounded: at most (highWatermark - logStartOffset) messages, each read advances `offset`.
    while (offset < highWatermark) {
      const result = await this.core.read(this.coreTopic, 0, { offset, maxBytes: READ_BYTES_MAX });
      if (result.entries.length === 0) break;
      for (const entry of result.entries) {
        const { header, messages } = decodeRecordBatch(entry.bytes);
        if (header.isControl) continue;
        for (const m of messages) {
          if (m.offset < offset || m.key === null) continue;
          const topic = m.key.toString();
          if (m.value === null || m.value.length === 0) this.byTopic.delete(topic);
          else this.byTopic.set(topic, compactMessage(m));
        }
      }
      offset = result.entries[result.entries.length - 1]!.lastOffset + 1;
      result.release(); // compactMessage copied all it keeps: the read buffers may be reused
    }
    this.logger.info('retained messages loaded', { count: this.byTopic.size });
  }

  /**
   * Stores (or, for an empty payload, clears [MQTT-3.3.1-10]) the retained message of a topic. Durable
   * when it resolves. Returns false when the store is full (the message is then not retained).
   */
  async put(topic: string, message: Message): Promise<boolean> {
    const clearing = message.value === null || message.value.length === 0;
    if (!clearing && !this.byTopic.has(topic) && this.byTopic.size >= this.retainedMessagesMax) return false;
    const headers = message.headers.filter((h) => h.key !== HEADER.mqttRetain);
    const stored: Message = clearing
      ? { key: Buffer.from(topic), value: null, headers: [], timestamp: message.timestamp }
      : compactMessage({ key: Buffer.from(topic), value: message.value, headers, timestamp: message.timestamp });
    await this.core.append(this.coreTopic, 0, { kind: 'messages', messages: [stored] });
    if (clearing) this.byTopic.delete(topic);
    else this.byTopic.set(topic, stored);
    return true;
  }

  /** Retained messages whose topic matches `filter`. */
  match(filter: string): Message[] {
    const out: Message[] = [];
    if (!filter.includes('+') && !filter.includes('#')) {
      const m = this.byTopic.get(filter);
      if (m !== undefined) out.push(m);
      return out;
    }
    for (const [topic, m] of this.byTopic) if (topicMatches(filter, topic)) out.push(m);
    return out;
  }
}
