/**
 * MQTT topic names and filters: validation, matching and shared-subscription parsing
 * (MQTT 3.1.1 §4.7, MQTT 5 §4.7 and §4.8.2). Pure functions; no state.
 */

export interface TopicLimits {
  /** Longest topic name or filter in UTF-8 bytes (the wire allows 65535). */
  readonly topicBytesMax: number;
  /** Most '/'-separated levels in a topic name or filter. */
  readonly topicLevelsMax: number;
}

function levelCount(text: string): number {
  let count = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 0x2f) count++;
  return count;
}

function withinLimits(text: string, limits: TopicLimits): boolean {
  return Buffer.byteLength(text) <= limits.topicBytesMax && levelCount(text) <= limits.topicLevelsMax;
}

/** A topic name a client may publish to: non-empty, no wildcards [MQTT-4.7.3-1], [MQTT-3.3.2-2], no NUL [MQTT-4.7.3-2]. */
export function isValidTopicName(topic: string, limits: TopicLimits): boolean {
  if (topic.length === 0) return false;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x2b /* + */ || c === 0x23 /* # */ || c === 0) return false;
  }
  return withinLimits(topic, limits);
}

/**
 * A topic filter: non-empty [MQTT-4.7.3-1]; '#' only alone as the last level [MQTT-4.7.1-2];
 * '+' only as a whole level [MQTT-4.7.1-3]; no NUL.
 */
export function isValidTopicFilter(filter: string, limits: TopicLimits): boolean {
  if (filter.length === 0 || filter.indexOf('\u0000') !== -1) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return false;
    if (level.includes('+') && level !== '+') return false;
  }
  return withinLimits(filter, limits);
}

/**
 * Does `filter` match `topic`? Wildcards at the first level do not match topics beginning with '$'
 * [MQTT-4.7.2-1]; '#' also matches the parent level ('sport/#' matches 'sport') [MQTT-4.7.1-2].
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 0x24 /* $ */) {
    const first = filter.charCodeAt(0);
    if (first === 0x2b || first === 0x23) return false;
  }
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Could some topic match both filters? Used to pick the core topics a subscription must read. */
export function filtersOverlap(a: string, b: string): boolean {
  const al = a.split('/');
  const bl = b.split('/');
  for (let i = 0; ; i++) {
    const x = al[i];
    const y = bl[i];
    if (x === '#' || y === '#') return true;
    if (x === undefined || y === undefined) return x === y;
    if (x !== '+' && y !== '+' && x !== y) return false;
  }
}

export interface SharedFilter {
  readonly group: string;
  readonly filter: string;
}

/**
 * `$share/{ShareName}/{filter}` (MQTT 5 §4.8.2). Returns null for an ordinary filter and 'invalid'
 * for a malformed shared one: the share name is non-empty without '/', '+' or '#' [MQTT-4.8.2-1],
 * [MQTT-4.8.2-2], and a filter follows.
 */
export function parseSharedFilter(filter: string): SharedFilter | 'invalid' | null {
  if (!filter.startsWith('$share/')) return null;
  const rest = filter.slice('$share/'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return 'invalid';
  const group = rest.slice(0, slash);
  if (group.includes('+') || group.includes('#')) return 'invalid';
  const inner = rest.slice(slash + 1);
  if (inner.length === 0) return 'invalid';
  return { group, filter: inner };
}
