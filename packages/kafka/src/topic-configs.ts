/**
 * Kafka topic config names ↔ core TopicPolicies: ONE table used by CreateTopics, DescribeConfigs,
 * AlterConfigs and IncrementalAlterConfigs. Configs the core has no knob for are reported read-only
 * with the value that describes what Strata does, and may be "set" only to that value.
 */
import type { CleanupPolicy, TopicPolicies } from '@strata/core';

type Parsed<K extends keyof TopicPolicies> = TopicPolicies[K];

interface MappedConfig<K extends keyof TopicPolicies = keyof TopicPolicies> {
  readonly policy: K;
  parse(value: string): Parsed<K> | undefined;
  format(value: Parsed<K>): string;
}

function integer(min: number) {
  return (value: string): number | undefined => {
    if (!/^-?\d+$/.test(value.trim())) return undefined;
    const n = Number(value);
    return Number.isSafeInteger(n) && n >= min ? n : undefined;
  };
}

function parseCleanupPolicy(value: string): CleanupPolicy | undefined {
  const parts = new Set(value.split(',').map((p) => p.trim().toLowerCase()).filter((p) => p !== ''));
  if (parts.size === 0 || [...parts].some((p) => p !== 'compact' && p !== 'delete')) return undefined;
  if (parts.has('compact') && parts.has('delete')) return 'compact,delete';
  return parts.has('compact') ? 'compact' : 'delete';
}

export const TOPIC_CONFIGS: Readonly<Record<string, MappedConfig>> = {
  'retention.ms': { policy: 'retentionMs', parse: integer(-1), format: String } as MappedConfig,
  'retention.bytes': { policy: 'retentionBytes', parse: integer(-1), format: String } as MappedConfig,
  'cleanup.policy': { policy: 'cleanupPolicy', parse: parseCleanupPolicy, format: String } as MappedConfig,
  'segment.bytes': { policy: 'segmentBytesMax', parse: integer(1), format: String } as MappedConfig,
  'segment.ms': { policy: 'segmentMsMax', parse: integer(1), format: String } as MappedConfig,
  'max.message.bytes': { policy: 'entryBytesMax', parse: integer(1), format: String } as MappedConfig,
};

/** Configs we answer but cannot change: what the single-node, fsync-on-ack store does. */
export const READ_ONLY_TOPIC_CONFIGS: Readonly<Record<string, string>> = {
  'compression.type': 'producer',
  'message.timestamp.type': 'CreateTime',
  'min.insync.replicas': '1',
  'unclean.leader.election.enable': 'false',
};

export type ConfigPatch = { [K in keyof TopicPolicies]?: TopicPolicies[K] | null };

/** Adds `name=value` (value null = back to the default) to a policy patch; returns an error message or null. */
export function applyTopicConfig(patch: ConfigPatch, name: string, value: string | null): string | null {
  const mapped = TOPIC_CONFIGS[name];
  if (!mapped) {
    const fixed = READ_ONLY_TOPIC_CONFIGS[name];
    if (fixed !== undefined && (value === null || value === fixed)) return null;
    return fixed !== undefined ? `${name} is fixed at ${fixed}` : `unknown or unsupported topic config ${name}`;
  }
  if (value === null) {
    (patch as Record<string, unknown>)[mapped.policy] = null;
    return null;
  }
  const parsed = mapped.parse(value);
  if (parsed === undefined) return `invalid value ${JSON.stringify(value)} for ${name}`;
  (patch as Record<string, unknown>)[mapped.policy] = parsed;
  return null;
}

export interface ReportedConfig {
  readonly name: string;
  readonly value: string;
  readonly readOnly: boolean;
  /** Set on this topic (not inherited from the namespace or fixed). */
  readonly isOverride: boolean;
}

export function reportTopicConfigs(policies: TopicPolicies, overrides: Partial<TopicPolicies>): ReportedConfig[] {
  const out: ReportedConfig[] = [];
  for (const [name, mapped] of Object.entries(TOPIC_CONFIGS)) {
    out.push({ name, value: mapped.format(policies[mapped.policy] as never), readOnly: false, isOverride: overrides[mapped.policy] !== undefined });
  }
  for (const [name, value] of Object.entries(READ_ONLY_TOPIC_CONFIGS)) out.push({ name, value, readOnly: true, isOverride: false });
  return out;
}
