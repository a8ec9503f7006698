/**
 * Topic ids (Metadata v10+, DeleteTopics v6, @platformatic/kafka's Fetch v12): derived from the
 * topic's full name and creation time (broker.ts topicIdOf), looked up through an index that is
 * rebuilt lazily after any topic event, so a lookup is a map hit, not a scan of every topic.
 */
import type { Core } from '@strata/core';
import { topicIdOf } from './broker.js';

export class TopicIdIndex {
  private byId: Map<string, string> | null = null;

  constructor(private readonly core: Core) {}

  /** Call on every topic event (created, deleted, ...). */
  invalidate(): void {
    this.byId = null;
  }

  /** Full core name of the topic with this id, or null. */
  lookup(topicId: Buffer): string | null {
    if (!this.byId) {
      const index = new Map<string, string>();
      for (const full of this.core.topics.list()) {
        try {
          index.set(topicIdOf(full, this.core.topics.describe(full).createdAtMs).toString('hex'), full);
        } catch {
          // deleted while listing
        }
      }
      this.byId = index;
    }
    return this.byId.get(topicId.toString('hex')) ?? null;
  }
}
