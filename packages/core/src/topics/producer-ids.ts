/**
 * Producer ids for idempotent and transactional producers (Kafka InitProducerId, KIP-98). Ids are
 * handed out from blocks reserved durably in the MetadataStore, so an id is never given twice, even
 * across crashes (a crash only skips the rest of a block). A transactional id keeps its producer id
 * and gets its epoch bumped, fencing the previous instance.
 */
import { isStrataError } from '../errors.js';
import type { MetadataStore } from '../metadata/metadata-store.js';

const NEXT_PRODUCER_ID_KEY = '/strata/core/next-producer-id';
const TRANSACTIONAL_IDS_ROOT = '/strata/core/transactional-ids';
/** Producer ids reserved per metadata write. */
const PRODUCER_ID_BLOCK = 1000;
/** Kafka's producer epoch is an int16; past it the transactional id gets a fresh producer id. */
const PRODUCER_EPOCH_MAX = 32_766;

export class ProducerIds {
  private next = 0;
  private limit = 0;
  private reserving: Promise<void> | null = null;

  constructor(private readonly metadata: MetadataStore) {}

  async init(transactionalId?: string | null): Promise<{ producerId: number; producerEpoch: number }> {
    if (transactionalId === undefined || transactionalId === null) return { producerId: await this.allocate(), producerEpoch: 0 };
    const key = `${TRANSACTIONAL_IDS_ROOT}/${encodeURIComponent(transactionalId)}`;
    for (;;) {
      const stored = await this.metadata.get(key);
      let value: { producerId: number; producerEpoch: number };
      if (stored) {
        const previous = JSON.parse(stored.value.toString('utf8')) as { producerId: number; producerEpoch: number };
        value =
          previous.producerEpoch >= PRODUCER_EPOCH_MAX
            ? { producerId: await this.allocate(), producerEpoch: 0 }
            : { producerId: previous.producerId, producerEpoch: previous.producerEpoch + 1 };
      } else {
        value = { producerId: await this.allocate(), producerEpoch: 0 };
      }
      try {
        await this.metadata.put(key, Buffer.from(JSON.stringify(value)), { expectedVersion: stored ? stored.version : -1 });
        return value;
      } catch (error) {
        if (!isStrataError(error, 'BAD_VERSION')) throw error;
      }
    }
  }

  private async allocate(): Promise<number> {
    while (this.next >= this.limit) {
      this.reserving ??= this.reserve().finally(() => {
        this.reserving = null;
      });
      await this.reserving;
    }
    return this.next++;
  }

  private async reserve(): Promise<void> {
    for (;;) {
      const stored = await this.metadata.get(NEXT_PRODUCER_ID_KEY);
      const start = stored ? Number(stored.value.toString('utf8')) : 1;
      try {
        await this.metadata.put(NEXT_PRODUCER_ID_KEY, Buffer.from(String(start + PRODUCER_ID_BLOCK)), {
          expectedVersion: stored ? stored.version : -1,
        });
        this.next = start;
        this.limit = start + PRODUCER_ID_BLOCK;
        return;
      } catch (error) {
        if (!isStrataError(error, 'BAD_VERSION')) throw error;
      }
    }
  }
}
