import { StrataError } from './errors.js';

/**
 * Topic names: `persistent://tenant/namespace/name` (design brief §1). Handlers may accept a short
 * name and resolve it in their default namespace with `resolveTopicName`.
 */
export interface TopicName {
  readonly tenant: string;
  readonly namespace: string;
  readonly local: string;
  /** The canonical form `persistent://tenant/namespace/local`. */
  readonly full: string;
}

export const DEFAULT_TENANT = 'public';
export const DEFAULT_NAMESPACE = 'default';
export const TOPIC_SCHEME = 'persistent://';

/** Longest local topic name; Kafka's limit is 249, and file names must stay well under 255 bytes. */
export const topicNameBytesMax = 249;

// Tenants and namespaces: letters, digits, '-', '_', '.'; topics may also use '=', ':', '%', '@' and
// '+' (Kafka allows [a-zA-Z0-9._-]; MQTT mapping rules and other handlers percent-encode the rest).
const SEGMENT_PATTERN = /^[A-Za-z0-9_.-]+$/;
const LOCAL_PATTERN = /^[A-Za-z0-9_.\-=:%@+]+$/;

export function isValidNamespacePart(part: string): boolean {
  return part.length > 0 && part.length <= 128 && SEGMENT_PATTERN.test(part) && part !== '.' && part !== '..';
}

export function isValidLocalName(local: string): boolean {
  return (
    local.length > 0 &&
    Buffer.byteLength(local) <= topicNameBytesMax &&
    LOCAL_PATTERN.test(local) &&
    local !== '.' &&
    local !== '..'
  );
}

export function formatTopicName(tenant: string, namespace: string, local: string): string {
  return `${TOPIC_SCHEME}${tenant}/${namespace}/${local}`;
}

/** Parses a full name `persistent://t/ns/x`; throws INVALID_NAME. */
export function parseTopicName(full: string): TopicName {
  if (!full.startsWith(TOPIC_SCHEME)) {
    throw new StrataError('INVALID_NAME', `topic name must start with ${TOPIC_SCHEME}: ${full}`);
  }
  const parts = full.slice(TOPIC_SCHEME.length).split('/');
  if (parts.length !== 3) {
    throw new StrataError('INVALID_NAME', `topic name must be ${TOPIC_SCHEME}tenant/namespace/name: ${full}`);
  }
  const [tenant, namespace, local] = parts as [string, string, string];
  if (!isValidNamespacePart(tenant) || !isValidNamespacePart(namespace)) {
    throw new StrataError('INVALID_NAME', `invalid tenant or namespace in topic name: ${full}`);
  }
  if (!isValidLocalName(local)) {
    throw new StrataError('INVALID_NAME', `invalid topic name: ${full}`);
  }
  return { tenant, namespace, local, full };
}

/**
 * Resolves a name a client gave: a full `persistent://` name as is, otherwise a short name in the
 * given default namespace (`tenant/namespace`).
 */
export function resolveTopicName(name: string, defaultNamespace = `${DEFAULT_TENANT}/${DEFAULT_NAMESPACE}`): TopicName {
  if (name.startsWith(TOPIC_SCHEME)) return parseTopicName(name);
  return parseTopicName(`${TOPIC_SCHEME}${defaultNamespace}/${name}`);
}
