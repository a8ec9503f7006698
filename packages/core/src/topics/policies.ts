/**
 * Topic and namespace policies: validation of patches and the effective merge
 * (built-in defaults < CoreOptions.defaultPolicies < namespace < topic overrides).
 */
import type { CleanupPolicy, TopicPolicies } from '../core.js';
import { StrataError } from '../errors.js';

const CLEANUP_POLICIES: ReadonlySet<CleanupPolicy> = new Set<CleanupPolicy>(['delete', 'compact', 'compact,delete']);

/** Allowed range per numeric policy: [minimum, may be -1 meaning "no limit"]. */
const NUMERIC_POLICIES: Readonly<Record<Exclude<keyof TopicPolicies, 'cleanupPolicy'>, { min: number; unlimited: boolean }>> = {
  retentionMs: { min: 0, unlimited: true },
  retentionBytes: { min: 0, unlimited: true },
  ttlMs: { min: 0, unlimited: false },
  segmentBytesMax: { min: 1024, unlimited: false },
  segmentMsMax: { min: 1, unlimited: false },
  segmentEntriesMax: { min: 1, unlimited: false },
  entryBytesMax: { min: 64, unlimited: false },
};

export type PoliciesPatch = { [K in keyof TopicPolicies]?: TopicPolicies[K] | null };

/** Throws INVALID_ARGUMENT for unknown names or out-of-range values; null values are kept (removal). */
export function validatePolicies(patch: PoliciesPatch): PoliciesPatch {
  if (typeof patch !== 'object' || patch === null) throw new StrataError('INVALID_ARGUMENT', 'policies must be an object');
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (name === 'cleanupPolicy') {
      if (value !== null && !CLEANUP_POLICIES.has(value as CleanupPolicy)) {
        throw new StrataError('INVALID_ARGUMENT', `cleanupPolicy must be one of ${[...CLEANUP_POLICIES].join(', ')}`);
      }
      out[name] = value;
      continue;
    }
    const rule = NUMERIC_POLICIES[name as keyof typeof NUMERIC_POLICIES];
    if (!rule) throw new StrataError('INVALID_ARGUMENT', `unknown policy ${name}`);
    if (value !== null) {
      const ok = Number.isSafeInteger(value) && ((value as number) >= rule.min || (rule.unlimited && value === -1));
      if (!ok) throw new StrataError('INVALID_ARGUMENT', `policy ${name} = ${String(value)} is out of range`);
    }
    out[name] = value;
  }
  return out as PoliciesPatch;
}

/** Applies a patch: values set, nulls remove. */
export function applyPatch(base: Partial<TopicPolicies>, patch: PoliciesPatch): Partial<TopicPolicies> {
  const out: Record<string, unknown> = { ...base };
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete out[name];
    else if (value !== undefined) out[name] = value;
  }
  return out as Partial<TopicPolicies>;
}

export function mergePolicies(base: TopicPolicies, overrides: Partial<TopicPolicies>): TopicPolicies {
  return { ...base, ...overrides };
}
