/**
 * The `kafka` config section. The server hands us plain data (file, env and flags already merged);
 * `parseKafkaConfig` validates it and fills defaults. Every limit has a name and a unit.
 */
import { DEFAULT_NAMESPACE, DEFAULT_TENANT, isValidNamespacePart, StrataError } from '@strata/core';
import { CLUSTER_RESOURCE_NAME, codeOf, invalidBinding, type AclBinding } from './acl/acl-types.js';
import { CredentialStore, parseScramCredential, SASL_MECHANISMS, type SaslMechanism, type ScramCredential } from './sasl/credentials.js';
import type { SaslSettings } from './sasl/session.js';

export interface KafkaConfig {
  /** Host put in Metadata/FindCoordinator; default HandlerContext.advertisedHost. */
  readonly advertisedHost: string | null;
  /** Port put in Metadata; default the port the `kafka` listener is bound to. */
  readonly advertisedPort: number | null;
  /** `tenant/namespace` that plain Kafka topic names live in. */
  readonly defaultNamespace: string;
  /** Separator of the `tenant<sep>namespace<sep>topic` form that reaches other namespaces. */
  readonly namespaceSeparator: string;
  /** Create unknown topics on Metadata (when the client allows it). */
  readonly autoCreateTopics: boolean;
  /** Partitions of auto-created topics and of CreateTopics with numPartitions -1. */
  readonly defaultPartitions: number;
  /** Largest request frame (bytes after the size prefix); larger closes the connection. */
  readonly frameBytesMax: number;
  /** Requests read but not yet answered, per connection; past it the socket is paused. */
  readonly requestQueueMax: number;
  /** Bytes of requests read but not yet answered, per connection; past it the socket is paused. */
  readonly requestQueueBytesMax: number;
  /** Response bytes queued on a socket before we stop reading from it. */
  readonly responseQueueBytesMax: number;
  /**
   * Read plain TCP sockets straight into frame buffers (socket-read-into.ts: Node's `onread` path,
   * turned on for accepted sockets through Node internals, checked at every connection); false:
   * Node's 'data' events for every connection (an escape hatch should a Node version misbehave).
   */
  readonly socketReadInto: boolean;
  /** Caps a Fetch's maxBytes. */
  readonly fetchBytesMax: number;
  /** Caps a Fetch's maxWaitMs. */
  readonly fetchWaitMsMax: number;
  readonly groupSessionTimeoutMsMin: number;
  readonly groupSessionTimeoutMsMax: number;
  /** Wait this long for more members before completing a group's first rebalance (Kafka group.initial.rebalance.delay.ms). */
  readonly groupInitialRebalanceDelayMs: number;
  readonly groupMembersMax: number;
  /** Committed offsets of a group with no members expire this long after its last commit (KIP-211; Kafka offsets.retention.minutes). */
  readonly offsetsRetentionMs: number;
  /** How often expired offsets are looked for. */
  readonly offsetsRetentionCheckMs: number;
  readonly groupsMax: number;
  /** Largest transaction timeout a producer may ask for (Kafka transaction.max.timeout.ms). */
  readonly transactionTimeoutMsMax: number;
  /** A transactional id with no transaction for this long is forgotten (Kafka transactional.id.expiration.ms). */
  readonly transactionalIdExpirationMs: number;
  /** How often open transactions are checked against their timeouts (Kafka transaction.abort.timed.out.transaction.cleanup.interval.ms). */
  readonly transactionCheckIntervalMs: number;
  /** Transactional ids kept at once; InitProducerId for a new one past it is refused. */
  readonly transactionalIdsMax: number;
  readonly connectionsMax: number;
  /**
   * Graceful close: how long requests already read may take to be answered and their responses to
   * be flushed before the sockets are cut (below the server's shutdownMsMax).
   */
  readonly shutdownDrainMsMax: number;
  /**
   * SASL authentication required on the listener (SASL_PLAINTEXT), or null for none: every
   * connection must log in with one of `mechanisms` before any request but ApiVersions.
   */
  readonly sasl: SaslSettings | null;
  /**
   * Kafka ACLs enforced on every request (docs/protocols/kafka.md, Authorization), or null: every
   * client may do everything and the ACL APIs answer SECURITY_DISABLED, as Kafka without an authorizer.
   */
  readonly authorization: AuthorizationSettings | null;
}

export interface AuthorizationSettings {
  /** Principals (`User:<name>`) allowed everything. */
  readonly superUsers: readonly string[];
  /** A resource no ACL names is open to all (Kafka allow.everyone.if.no.acl.found). */
  readonly allowIfNoAcl: boolean;
  /** ACLs from the config: always present; CreateAcls/DeleteAcls manage the others. */
  readonly acls: readonly AclBinding[];
  /** Most ACLs stored through CreateAcls. */
  readonly aclsMax: number;
}

export const DEFAULT_KAFKA_CONFIG: KafkaConfig = {
  advertisedHost: null,
  advertisedPort: null,
  defaultNamespace: `${DEFAULT_TENANT}/${DEFAULT_NAMESPACE}`,
  namespaceSeparator: '--',
  autoCreateTopics: true,
  defaultPartitions: 1,
  frameBytesMax: 100 * 1024 * 1024, // Kafka socket.request.max.bytes
  requestQueueMax: 64,
  requestQueueBytesMax: 128 * 1024 * 1024,
  responseQueueBytesMax: 64 * 1024 * 1024,
  socketReadInto: true,
  fetchBytesMax: 64 * 1024 * 1024,
  fetchWaitMsMax: 30_000,
  groupSessionTimeoutMsMin: 1_000,
  groupSessionTimeoutMsMax: 1_800_000,
  groupInitialRebalanceDelayMs: 0,
  groupMembersMax: 1_000,
  offsetsRetentionMs: 7 * 24 * 3600 * 1000,
  offsetsRetentionCheckMs: 600_000,
  groupsMax: 100_000,
  transactionTimeoutMsMax: 900_000,
  transactionalIdExpirationMs: 7 * 24 * 3600 * 1000,
  transactionCheckIntervalMs: 10_000,
  transactionalIdsMax: 100_000,
  connectionsMax: 10_000,
  shutdownDrainMsMax: 5_000,
  sasl: null,
  authorization: null,
};

function fail(message: string): never {
  throw new StrataError('INVALID_ARGUMENT', `kafka config: ${message}`);
}

function positiveInt(key: string, value: unknown, min = 1): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) fail(`${key} must be an integer >= ${min}, got ${String(value)}`);
  return n;
}

function bool(key: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  fail(`${key} must be true or false, got ${String(value)}`);
}

const INTEGER_KEYS = [
  'defaultPartitions',
  'frameBytesMax',
  'requestQueueMax',
  'requestQueueBytesMax',
  'responseQueueBytesMax',
  'fetchBytesMax',
  'fetchWaitMsMax',
  'groupSessionTimeoutMsMin',
  'groupSessionTimeoutMsMax',
  'groupMembersMax',
  'offsetsRetentionMs',
  'offsetsRetentionCheckMs',
  'groupsMax',
  'transactionTimeoutMsMax',
  'transactionalIdExpirationMs',
  'transactionCheckIntervalMs',
  'transactionalIdsMax',
  'connectionsMax',
  'shutdownDrainMsMax',
] as const;

export function parseKafkaConfig(raw: Readonly<Record<string, unknown>> = {}): KafkaConfig {
  const config: { -readonly [K in keyof KafkaConfig]: KafkaConfig[K] } = { ...DEFAULT_KAFKA_CONFIG };
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if ((INTEGER_KEYS as readonly string[]).includes(key)) {
      config[key as (typeof INTEGER_KEYS)[number]] = positiveInt(key, value);
    } else if (key === 'groupInitialRebalanceDelayMs') {
      config.groupInitialRebalanceDelayMs = positiveInt(key, value, 0);
    } else if (key === 'autoCreateTopics') {
      config.autoCreateTopics = bool(key, value);
    } else if (key === 'socketReadInto') {
      config.socketReadInto = bool(key, value);
    } else if (key === 'advertisedHost') {
      if (value !== null && (typeof value !== 'string' || value === '')) fail('advertisedHost must be a host name');
      config.advertisedHost = value as string | null;
    } else if (key === 'advertisedPort') {
      config.advertisedPort = value === null ? null : positiveInt(key, value);
    } else if (key === 'defaultNamespace') {
      const parts = typeof value === 'string' ? value.split('/') : [];
      if (parts.length !== 2 || !parts.every(isValidNamespacePart)) fail(`defaultNamespace must be tenant/namespace, got ${String(value)}`);
      config.defaultNamespace = value as string;
    } else if (key === 'namespaceSeparator') {
      // Must be made of characters Kafka allows in names, or clients could never send it.
      if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,8}$/.test(value)) fail('namespaceSeparator must be 1-8 of [A-Za-z0-9._-]');
      config.namespaceSeparator = value;
    } else if (key === 'sasl') {
      config.sasl = value === null ? null : parseSasl(value);
    } else if (key === 'authorization') {
      config.authorization = value === null ? null : parseAuthorization(value);
    } else if (key === 'port' || key === 'host' || key === 'enabled') {
      // listener settings belong to the server; tolerated here
    } else {
      fail(`unknown key ${key}`);
    }
  }
  if (config.groupSessionTimeoutMsMin > config.groupSessionTimeoutMsMax) fail('groupSessionTimeoutMsMin > groupSessionTimeoutMsMax');
  return config;
}

/**
 * The `authorization` subsection:
 *   authorization:
 *     superUsers: [User:admin]
 *     allowIfNoAcl: false
 *     acls:
 *       - { principal: User:alice, operation: read, resourceType: topic, resourceName: orders, patternType: prefixed }
 *         # host (default *), permission allow|deny (default allow), patternType literal|prefixed (default literal)
 */
const ACLS_MAX_DEFAULT = 100_000;

function parseAuthorization(value: unknown): AuthorizationSettings {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('authorization must be a mapping (superUsers, allowIfNoAcl, acls, aclsMax)');
  let superUsers: string[] = [];
  let allowIfNoAcl = false;
  let aclsMax = ACLS_MAX_DEFAULT;
  const acls: AclBinding[] = [];
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'superUsers') {
      const list = typeof item === 'string' ? item.split(',').map((name) => name.trim()) : item;
      if (!Array.isArray(list) || !list.every((name) => typeof name === 'string' && /^User:.+/.test(name))) fail('authorization.superUsers must be a list of User:<name>');
      superUsers = list as string[];
    } else if (key === 'allowIfNoAcl') {
      allowIfNoAcl = bool('authorization.allowIfNoAcl', item);
    } else if (key === 'aclsMax') {
      aclsMax = positiveInt('authorization.aclsMax', item);
    } else if (key === 'acls') {
      if (!Array.isArray(item)) fail('authorization.acls must be a list');
      item.forEach((raw: unknown, i: number) => acls.push(parseAcl(raw, `authorization.acls[${i}]`)));
    } else {
      fail(`unknown key authorization.${key}`);
    }
  }
  return { superUsers, allowIfNoAcl, acls, aclsMax };
}

function parseAcl(raw: unknown, where: string): AclBinding {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${where} must be a mapping`);
  const entry = raw as Record<string, unknown>;
  for (const key of Object.keys(entry)) {
    if (!['principal', 'host', 'operation', 'permission', 'resourceType', 'resourceName', 'patternType'].includes(key)) fail(`${where}: unknown key ${key}`);
  }
  const text = (key: string, fallback?: string): string => {
    const v = entry[key] ?? fallback;
    if (typeof v !== 'string' || v === '') fail(`${where}.${key} must be a non-empty string`);
    return v;
  };
  const code = (kind: 'resourceType' | 'patternType' | 'operation' | 'permission', fallback?: string): number => {
    const name = text(kind, fallback);
    const value = codeOf(kind, name);
    if (value < 0) fail(`${where}.${kind}: unknown ${name}`);
    return value;
  };
  const binding: AclBinding = {
    principal: text('principal'),
    host: text('host', '*'),
    operation: code('operation'),
    permission: code('permission', 'allow'),
    resourceType: code('resourceType'),
    resourceName: text('resourceName', entry['resourceType'] === 'cluster' ? CLUSTER_RESOURCE_NAME : undefined),
    patternType: code('patternType', 'literal'),
  };
  const invalid = invalidBinding(binding);
  if (invalid !== null) fail(`${where}: ${invalid}`);
  return binding;
}

/**
 * The `sasl` subsection:
 *   sasl:
 *     mechanisms: [SCRAM-SHA-512, SCRAM-SHA-256, PLAIN]   # default: all three
 *     loginMsMax: 30000                                   # close connections not logged in by then
 *     users:                                              # user -> credential line(s) from `strata kafka-credential`
 *       alice: "SCRAM-SHA-512$4096$<salt>$<storedKey>$<serverKey>"
 */
const SASL_LOGIN_MS_MAX_DEFAULT = 30_000;

function parseSasl(value: unknown): SaslSettings {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('sasl must be a mapping with mechanisms and users');
  let mechanisms: SaslMechanism[] = [...SASL_MECHANISMS];
  let loginMsMax = SASL_LOGIN_MS_MAX_DEFAULT;
  const users = new Map<string, ScramCredential[]>();
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'mechanisms') {
      const list = typeof item === 'string' ? item.split(',').map((name) => name.trim()) : item;
      if (!Array.isArray(list) || list.length === 0) fail('sasl.mechanisms must be a non-empty list');
      mechanisms = list.map((name: unknown) => {
        const mechanism = SASL_MECHANISMS.find((candidate) => candidate === name);
        if (!mechanism) fail(`sasl.mechanisms: unknown mechanism ${JSON.stringify(name)} (${SASL_MECHANISMS.join(', ')})`);
        return mechanism;
      });
    } else if (key === 'loginMsMax') {
      loginMsMax = positiveInt('sasl.loginMsMax', item);
    } else if (key === 'users') {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) fail('sasl.users must map user names to credential lines');
      for (const [user, lines] of Object.entries(item as Record<string, unknown>)) {
        if (user === '') fail('sasl.users: empty user name');
        const list = typeof lines === 'string' ? [lines] : lines;
        if (!Array.isArray(list) || list.length === 0 || !list.every((line) => typeof line === 'string')) fail(`sasl.users.${user} must be a credential line or a list of them`);
        try {
          users.set(user, (list as string[]).map(parseScramCredential));
        } catch (error) {
          fail(`sasl.users.${user}: ${(error as Error).message}`);
        }
      }
    } else {
      fail(`unknown key sasl.${key}`);
    }
  }
  if (users.size === 0) fail('sasl.users is empty: nobody could log in');
  return { mechanisms, credentials: new CredentialStore(users), loginMsMax };
}
