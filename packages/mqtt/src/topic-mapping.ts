/**
 * MQTT topics → core topics by ordered rules (design brief §6, docs/protocols/mqtt.md "Mapping").
 * A rule is an MQTT topic filter and a core topic; a PUBLISH goes to the first rule whose filter
 * matches its topic, and to partition hash(MQTT topic) mod partitions so one MQTT topic stays in order.
 * A subscription reads every rule topic its filter overlaps. The default rule set is a single
 * catch-all `#` → `mqtt`, so wildcard subscriptions see every topic, including ones first published later.
 */
import { resolveTopicName } from '@strata/core';
import { DEFAULT_TOPIC_RULE, type MqttConfig } from './config.js';
import { filtersOverlap, topicMatches } from './topic.js';

export interface TopicRule {
  readonly filter: string;
  /** Full core topic name. */
  readonly coreTopic: string;
  /** The core topic's local name: the MQTT topic of messages from other protocols (no `mqtt.topic` header). */
  readonly localName: string;
  readonly partitions: number;
}

/** Rule matching ignores the '$' exception so '$'-topics have a home too. */
function ruleMatches(filter: string, topic: string): boolean {
  if (filter === '#') return true;
  if (topic.charCodeAt(0) === 0x24 && (filter.startsWith('+') || filter.startsWith('#'))) {
    return topicMatches(filter, 'x' + topic.slice(1));
  }
  return topicMatches(filter, topic);
}

/** FNV-1a over the UTF-16 code units: cheap, stable across restarts. */
export function topicHash(topic: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < topic.length; i++) {
    h ^= topic.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class TopicMapper {
  readonly rules: readonly TopicRule[];
  private readonly byCoreTopic = new Map<string, TopicRule>();
  /** Current partition counts (grown by the admin at runtime), by core topic. */
  private readonly partitionCounts = new Map<string, number>();

  constructor(config: Pick<MqttConfig, 'topicRules' | 'namespace'>) {
    const configured = [...config.topicRules];
    if (!configured.some((r) => r.filter === '#')) configured.push(DEFAULT_TOPIC_RULE);
    this.rules = configured.map((r) => {
      const name = resolveTopicName(r.topic, config.namespace);
      return { filter: r.filter, coreTopic: name.full, localName: name.local, partitions: r.partitions ?? 1 };
    });
    for (const rule of this.rules) {
      if (!this.byCoreTopic.has(rule.coreTopic)) this.byCoreTopic.set(rule.coreTopic, rule);
    }
  }

  /** Distinct core topics of all rules. */
  coreTopics(): TopicRule[] {
    return [...this.byCoreTopic.values()];
  }

  ruleForTopic(mqttTopic: string): TopicRule {
    for (const rule of this.rules) if (ruleMatches(rule.filter, mqttTopic)) return rule;
    return this.rules[this.rules.length - 1]!; // the catch-all is always last
  }

  partitionFor(rule: TopicRule, mqttTopic: string): number {
    const count = this.partitionCounts.get(rule.coreTopic) ?? rule.partitions;
    return count <= 1 ? 0 : topicHash(mqttTopic) % count;
  }

  setPartitionCount(coreTopic: string, partitions: number): void {
    if (this.byCoreTopic.has(coreTopic)) this.partitionCounts.set(coreTopic, partitions);
  }

  partitionCount(coreTopic: string): number {
    return this.partitionCounts.get(coreTopic) ?? this.byCoreTopic.get(coreTopic)?.partitions ?? 1;
  }

  /** Core topics a subscription with this filter must read. */
  coreTopicsForFilter(filter: string): TopicRule[] {
    const seen = new Set<string>();
    const out: TopicRule[] = [];
    for (const rule of this.rules) {
      if (seen.has(rule.coreTopic)) continue;
      if (rule.filter === '#' || filtersOverlap(rule.filter, filter)) {
        seen.add(rule.coreTopic);
        out.push(rule);
      }
    }
    return out;
  }

  ruleForCoreTopic(coreTopic: string): TopicRule | undefined {
    return this.byCoreTopic.get(coreTopic);
  }
}
