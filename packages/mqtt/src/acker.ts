/**
 * Batches acknowledgements to one core subscription consumer: acks and the permits they return are
 * applied once per microtask turn instead of once per message, and never re-enter the subscription
 * from inside its own onDelivery callback.
 */
import type { SubscriptionConsumer } from '@strata/core';

export class Acker {
  private offsets: number[] = [];
  private scheduled = false;
  private closed = false;

  constructor(private readonly consumer: () => SubscriptionConsumer | null) {}

  ack(offset: number): void {
    if (this.closed) return;
    this.offsets.push(offset);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const offsets = this.offsets;
    this.offsets = [];
    const consumer = this.consumer();
    if (this.closed || consumer === null || offsets.length === 0) return;
    consumer.ack(offsets);
    consumer.flow(offsets.length);
  }

  /** Stops acking: unacked messages return to the subscription when the consumer closes. */
  close(): void {
    this.closed = true;
    this.offsets = [];
  }
}
