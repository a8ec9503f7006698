/**
 * The `mqtt:` config section with its named defaults. Every queue, window and size has a maximum here
 * (design brief §4 "Limits"). `parseMqttConfig` validates the section the server hands us: an unknown key,
 * a wrong type or a value out of range is StrataError('INVALID_ARGUMENT') with one line naming the key,
 * which `strata serve` turns into exit code 2 (docs/configuration.md), as the Kafka handler does.
 */
import { isValidNamespacePart, resolveTopicName, StrataError } from '@strata/core';
import { isValidTopicFilter, parseSharedFilter } from './topic.js';
import type { AclAccess, AclRule } from './auth/acl.js';
import { parsePasswordHash, type PasswordHash } from './auth/password-hash.js';

export interface TopicRuleConfig {
  /** MQTT topic filter: publishes to matching topics go to `topic`. First matching rule wins. */
  readonly filter: string;
  /** Core topic name (short names resolve in `namespace`). */
  readonly topic: string;
  /** Partitions when the handler creates the core topic. Default 1. */
  readonly partitions?: number;
}

export interface MqttConfig {
  /** `tenant/namespace` for short core topic names. */
  readonly namespace: string;
  /** Ordered MQTT-filter → core-topic rules; a final catch-all `#` → `mqtt` is appended if none matches everything. */
  readonly topicRules: readonly TopicRuleConfig[];
  /** Compacted core topic holding retained messages, keyed by MQTT topic. */
  readonly retainedTopic: string;
  /** Largest MQTT packet accepted or sent (MQTT 5 Maximum Packet Size), bytes. */
  readonly packetBytesMax: number;
  /** QoS 1/2 messages in flight per direction per connection (MQTT 5 Receive Maximum). */
  readonly inflightMax: number;
  /** Messages queued for a connection beyond its in-flight window (clean sessions); QoS 0 past it is dropped. */
  readonly queuedMessagesMax: number;
  /** Bytes waiting in a connection's socket before QoS 0 deliveries are dropped. */
  readonly outboundBytesMax: number;
  /** Bytes of publishes being appended for one connection before its socket is paused (backpressure). */
  readonly appendBytesInflightMax: number;
  readonly connectionsMax: number;
  readonly topicLevelsMax: number;
  readonly topicBytesMax: number;
  readonly clientIdBytesMax: number;
  /** Subscriptions per session. */
  readonly subscriptionsMax: number;
  /** Retained messages kept (they are also held in memory for SUBSCRIBE). */
  readonly retainedMessagesMax: number;
  /** Topic aliases a client may use towards us (MQTT 5 Topic Alias Maximum). */
  readonly topicAliasMax: number;
  /** Upper bound on a session's expiry; 3.1.1 persistent sessions get this. 0xFFFFFFFF = never. */
  readonly sessionExpirySecondsMax: number;
  /** If set, clients asking for a longer (or no) keep-alive get this one (MQTT 5 Server Keep Alive; 3.1.1 clients are held to it too). */
  readonly keepAliveSecondsMax: number;
  /** Time a new connection has to send CONNECT. */
  readonly connectTimeoutMs: number;
  /** QoS assumed for messages from other protocols (no `mqtt.qos` header). */
  readonly foreignMessageQos: 0 | 1 | 2;
  /** Connections without a user name are accepted (mosquitto's allow_anonymous). */
  readonly allowAnonymous: boolean;
  /**
   * A client certificate the TLS listener verified names the user, who then needs no password:
   * `cn` its common name (mosquitto's use_identity_as_username), `subject` its whole RFC 2253
   * subject (use_subject_as_username), `none` (default) the CONNECT user name and password as always.
   */
  readonly certificateUsername: 'none' | 'cn' | 'subject';
  /** User name → password hash (`strata passwd`); a client giving a user name must match one. */
  readonly users: ReadonlyMap<string, PasswordHash>;
  /** Topic authorization rules, first deciding rule wins (auth/acl.ts). */
  readonly acl: readonly AclRule[];
  /** What is allowed when no rule decides. */
  readonly aclDefault: 'allow' | 'deny';
}

export const DEFAULT_MQTT_CONFIG: MqttConfig = {
  namespace: 'public/default',
  topicRules: [],
  retainedTopic: 'mqtt-retained',
  packetBytesMax: 1024 * 1024,
  // 256, not 64 (since 2026-11-22): each acknowledgement a subscriber sends is read only after the
  // group commit that blocks the event loop for an fsync, so a larger window hides that wait. 1→1
  // QoS 1, 100,000 messages, alternated with mosquitto: 110,000-112,000 msgs/s against
  // 76,000-88,000 with 64 (raw generator), 38,000-39,000 against 34,000-35,000 (mqtt.js).
  // The queue behind it is queuedMessagesMax; in-flight messages are views of core data, not copies.
  inflightMax: 256,
  queuedMessagesMax: 1000,
  outboundBytesMax: 4 * 1024 * 1024,
  appendBytesInflightMax: 4 * 1024 * 1024,
  connectionsMax: 100_000,
  topicLevelsMax: 100,
  topicBytesMax: 4096,
  clientIdBytesMax: 256,
  subscriptionsMax: 1000,
  retainedMessagesMax: 100_000,
  topicAliasMax: 64,
  sessionExpirySecondsMax: 0xffffffff,
  keepAliveSecondsMax: 0,
  connectTimeoutMs: 10_000,
  foreignMessageQos: 1,
  allowAnonymous: true,
  certificateUsername: 'none',
  users: new Map(),
  acl: [],
  aclDefault: 'allow',
};

export const DEFAULT_TOPIC_RULE: TopicRuleConfig = { filter: '#', topic: 'mqtt', partitions: 1 };

/** Largest remaining length the MQTT fixed header can express (4 length bytes), bytes. */
const packetBytesLimit = 268_435_455;
/** Partitions a rule may ask for; the core refuses more (CoreLimits.partitionsMax) at topic creation anyway. */
const rulePartitionsLimit = 100_000;

/** Integer keys and their accepted range [min, max]. The wire fields bound several of them. */
const INTEGER_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  packetBytesMax: [128, packetBytesLimit],
  inflightMax: [1, 65_535], // Receive Maximum is two bytes and not 0 [MQTT-3.2.2.3.3]
  queuedMessagesMax: [0, Number.MAX_SAFE_INTEGER],
  outboundBytesMax: [0, Number.MAX_SAFE_INTEGER],
  appendBytesInflightMax: [0, Number.MAX_SAFE_INTEGER],
  connectionsMax: [0, Number.MAX_SAFE_INTEGER],
  topicLevelsMax: [1, 65_535],
  topicBytesMax: [1, 65_535], // a UTF-8 string on the wire is at most 65,535 bytes
  clientIdBytesMax: [1, 65_535],
  subscriptionsMax: [0, Number.MAX_SAFE_INTEGER],
  retainedMessagesMax: [0, Number.MAX_SAFE_INTEGER],
  topicAliasMax: [0, 65_535],
  sessionExpirySecondsMax: [0, 0xffff_ffff], // Session Expiry Interval is four bytes
  keepAliveSecondsMax: [0, 65_535], // Server Keep Alive is two bytes
  connectTimeoutMs: [1, 2_147_483_647], // setTimeout's range
  foreignMessageQos: [0, 2],
};

const RULE_KEYS: ReadonlySet<string> = new Set(['filter', 'topic', 'partitions']);

/** A value as it appears in the one-line message: short, and on one line. */
function shown(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function fail(message: string): never {
  throw new StrataError('INVALID_ARGUMENT', `mqtt config: ${message}`);
}

function integer(key: string, value: unknown, [min, max]: readonly [number, number]): number {
  // Environment-style strings ("64") are accepted, as the Kafka section does; YAML gives numbers.
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    fail(`${key} must be an integer from ${min} to ${max}, got ${shown(value)}`);
  }
  return n;
}

function coreTopicName(key: string, value: unknown, namespace: string): string {
  if (typeof value !== 'string' || value === '') fail(`${key} must be a core topic name, got ${shown(value)}`);
  try {
    resolveTopicName(value, namespace);
  } catch {
    fail(`${key} must be a core topic name (letters, digits and ._-=:%@+), got ${shown(value)}`);
  }
  return value;
}

function topicRule(index: number, value: unknown, limits: Pick<MqttConfig, 'topicBytesMax' | 'topicLevelsMax' | 'namespace'>): TopicRuleConfig {
  const key = `topicRules[${index}]`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`${key} must be { filter, topic, partitions? }, got ${shown(value)}`);
  const rule = value as Record<string, unknown>;
  for (const name of Object.keys(rule)) if (!RULE_KEYS.has(name)) fail(`${key}: unknown key ${name}`);
  const filter = rule['filter'];
  if (typeof filter !== 'string' || !isValidTopicFilter(filter, limits) || parseSharedFilter(filter) !== null) {
    fail(`${key}.filter must be an MQTT topic filter (not $share), got ${shown(filter)}`);
  }
  const topic = coreTopicName(`${key}.topic`, rule['topic'], limits.namespace);
  const partitions = rule['partitions'] === undefined ? 1 : integer(`${key}.partitions`, rule['partitions'], [1, rulePartitionsLimit]);
  return { filter, topic, partitions };
}

const ACL_RULE_KEYS: ReadonlySet<string> = new Set(['user', 'clientId', 'filter', 'access']);
const ACL_ACCESS: readonly AclAccess[] = ['deny', 'read', 'write', 'readwrite'];

function aclRule(index: number, value: unknown, limits: Pick<MqttConfig, 'topicBytesMax' | 'topicLevelsMax'>): AclRule {
  const key = `acl[${index}]`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`${key} must be { filter, access, user?, clientId? }, got ${shown(value)}`);
  const rule = value as Record<string, unknown>;
  for (const name of Object.keys(rule)) if (!ACL_RULE_KEYS.has(name)) fail(`${key}: unknown key ${name}`);
  const filter = rule['filter'];
  // %u / %c are replaced per connection; checked here with a stand-in name.
  if (typeof filter !== 'string' || !isValidTopicFilter(filter.replaceAll('%u', 'u').replaceAll('%c', 'c'), limits) || parseSharedFilter(filter) !== null) {
    fail(`${key}.filter must be an MQTT topic filter (not $share; %u and %c allowed), got ${shown(filter)}`);
  }
  const access = rule['access'];
  if (!ACL_ACCESS.includes(access as AclAccess)) fail(`${key}.access must be one of ${ACL_ACCESS.join(', ')}, got ${shown(access)}`);
  const out: { -readonly [K in keyof AclRule]: AclRule[K] } = { filter, access: access as AclAccess };
  for (const name of ['user', 'clientId'] as const) {
    const v = rule[name];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '') fail(`${key}.${name} must be a non-empty string, got ${shown(v)}`);
    out[name] = v;
  }
  return out;
}

function users(value: unknown): Map<string, PasswordHash> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`users must map user names to password hashes (strata passwd), got ${shown(value)}`);
  const out = new Map<string, PasswordHash>();
  for (const [name, line] of Object.entries(value as Record<string, unknown>)) {
    if (name === '') fail('users: empty user name');
    try {
      out.set(name, parsePasswordHash(line as string));
    } catch (error) {
      fail(`users.${name}: ${(error as Error).message}`);
    }
  }
  return out;
}

export function parseMqttConfig(section: Readonly<Record<string, unknown>> = {}): MqttConfig {
  const out: Record<string, unknown> = { ...DEFAULT_MQTT_CONFIG };
  for (const key of Object.keys(section)) {
    if (!Object.hasOwn(DEFAULT_MQTT_CONFIG, key)) fail(`unknown key ${key}`);
  }
  for (const [key, range] of Object.entries(INTEGER_RANGES)) {
    const value = section[key];
    if (value !== undefined) out[key] = integer(key, value, range);
  }
  const namespace = section['namespace'];
  if (namespace !== undefined) {
    const parts = typeof namespace === 'string' ? namespace.split('/') : [];
    if (parts.length !== 2 || !parts.every(isValidNamespacePart)) fail(`namespace must be tenant/namespace, got ${shown(namespace)}`);
    out['namespace'] = namespace;
  }
  const withNamespace = out as unknown as MqttConfig;
  if (section['retainedTopic'] !== undefined) {
    out['retainedTopic'] = coreTopicName('retainedTopic', section['retainedTopic'], withNamespace.namespace);
  }
  if (section['allowAnonymous'] !== undefined) {
    const v = section['allowAnonymous'];
    if (v !== true && v !== false && v !== 'true' && v !== 'false') fail(`allowAnonymous must be true or false, got ${shown(v)}`);
    out['allowAnonymous'] = v === true || v === 'true';
  }
  if (section['certificateUsername'] !== undefined) {
    const v = section['certificateUsername'];
    if (v !== 'none' && v !== 'cn' && v !== 'subject') fail(`certificateUsername must be none, cn or subject, got ${shown(v)}`);
    out['certificateUsername'] = v;
  }
  if (section['users'] !== undefined) out['users'] = users(section['users']);
  if (section['acl'] !== undefined) {
    const acl = section['acl'];
    if (!Array.isArray(acl)) fail(`acl must be a list of { filter, access, user?, clientId? }, got ${shown(acl)}`);
    out['acl'] = acl.map((rule: unknown, i: number) => aclRule(i, rule, withNamespace));
  }
  if (section['aclDefault'] !== undefined) {
    const v = section['aclDefault'];
    if (v !== 'allow' && v !== 'deny') fail(`aclDefault must be allow or deny, got ${shown(v)}`);
    out['aclDefault'] = v;
  }
  const rules = section['topicRules'];
  if (rules !== undefined) {
    if (!Array.isArray(rules)) fail(`topicRules must be a list of { filter, topic, partitions? }, got ${shown(rules)}`);
    out['topicRules'] = rules.map((rule: unknown, i: number) => topicRule(i, rule, withNamespace));
  }
  return out as unknown as MqttConfig;
}
