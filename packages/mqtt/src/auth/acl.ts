/**
 * Topic authorization (`mqtt.acl`, `mqtt.aclDefault`), in the spirit of mosquitto's acl_file:
 * ordered rules, each for everyone or for one user name or client id, with a topic filter in which
 * `%u` and `%c` stand for the connection's user name and client id (mosquitto's `pattern`).
 *
 * A decision for one topic and one operation (read = receive, write = publish): the first rule
 * that applies to the connection and whose filter matches the topic decides if it denies, or if its
 * access includes the operation; a rule granting only the other operation does not decide, and the
 * next rule is looked at. With no deciding rule, `aclDefault` decides.
 *
 * A SUBSCRIBE is decided by coverage: the first rule whose filter covers the whole subscription
 * filter (every topic the subscription can match, the rule matches too) decides as above; without
 * one, `aclDefault`. Every message of a granted subscription is checked again on delivery, so a
 * rule that denies part of a wildcard (or `aclDefault: deny` under a narrower grant) still holds.
 */
import { topicMatches } from '../topic.js';

export type AclAccess = 'deny' | 'read' | 'write' | 'readwrite';
export type AclOperation = 'read' | 'write';

export interface AclRule {
  /** Only for connections with this user name; undefined: everyone (with or without one). */
  readonly user?: string;
  /** Only for connections with this client id. */
  readonly clientId?: string;
  /** MQTT topic filter; `%u` and `%c` are replaced per connection. */
  readonly filter: string;
  readonly access: AclAccess;
}

export interface AclPrincipal {
  readonly user: string | null;
  readonly clientId: string;
}

function grants(access: AclAccess, operation: AclOperation): boolean {
  return access === 'readwrite' || access === operation;
}

/** The rule's filter for this connection, or null when it names `%u` and the connection has no user name. */
function filterFor(rule: AclRule, principal: AclPrincipal): string | null {
  if (!rule.filter.includes('%')) return rule.filter;
  if (rule.filter.includes('%u') && principal.user === null) return null;
  // A user name or client id holding a wildcard or a level separator must not widen the rule.
  const safe = (value: string) => !/[+#/]/.test(value);
  if (rule.filter.includes('%u') && !safe(principal.user!)) return null;
  if (rule.filter.includes('%c') && !safe(principal.clientId)) return null;
  return rule.filter.replaceAll('%u', principal.user ?? '').replaceAll('%c', principal.clientId);
}

function appliesTo(rule: AclRule, principal: AclPrincipal): boolean {
  if (rule.user !== undefined && rule.user !== principal.user) return false;
  if (rule.clientId !== undefined && rule.clientId !== principal.clientId) return false;
  return true;
}

/**
 * Does rule filter `rule` match every topic that subscription filter `filter` can match? '+' in the
 * rule covers any one level ('+' or a name) of the filter; '#' covers the rest; the filter's
 * wildcards are covered only by wildcards at least as wide.
 */
export function filterCovers(rule: string, filter: string): boolean {
  const r = rule.split('/');
  const f = filter.split('/');
  // A rule starting with a wildcard does not match '$' topics [MQTT-4.7.2-1], which a filter starting with '$' names.
  if (filter.startsWith('$') && (r[0] === '+' || r[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const rl = r[i];
    const fl = f[i]!;
    if (rl === '#') return true;
    if (rl === undefined) return false;
    if (fl === '#') return false; // only '#' covers '#'
    if (rl === '+') continue; // covers '+' and any single name
    if (fl === '+' || rl !== fl) return false;
  }
  // The filter ended: the rule covers it if it ends too, or goes on with a lone '#' ('a/#' matches 'a').
  return r.length === f.length || (r.length === f.length + 1 && r[f.length] === '#');
}

export class Acl {
  /** True when no check can refuse anything: the hot paths (each PUBLISH, each delivery) skip the ACL. */
  readonly allowsEverything: boolean;

  constructor(
    private readonly rules: readonly AclRule[],
    private readonly defaultAllows: boolean,
  ) {
    this.allowsEverything = rules.length === 0 && defaultAllows;
  }

  /** May `principal` read (receive) or write (publish) `topic`? */
  allows(principal: AclPrincipal, topic: string, operation: AclOperation): boolean {
    for (const rule of this.rules) {
      if (!appliesTo(rule, principal)) continue;
      const filter = filterFor(rule, principal);
      if (filter === null || !topicMatches(filter, topic)) continue;
      if (rule.access === 'deny') return false;
      if (grants(rule.access, operation)) return true;
    }
    return this.defaultAllows;
  }

  /**
   * May `principal` subscribe to `filter` (the inner filter of a shared one)? A granted
   * subscription's messages are still checked one by one on delivery (`allows`): an earlier rule
   * may deny part of a wildcard.
   */
  maySubscribe(principal: AclPrincipal, filter: string): boolean {
    for (const rule of this.rules) {
      if (!appliesTo(rule, principal)) continue;
      const ruleFilter = filterFor(rule, principal);
      if (ruleFilter === null || !filterCovers(ruleFilter, filter)) continue;
      if (rule.access === 'deny') return false;
      if (grants(rule.access, 'read')) return true;
    }
    return this.defaultAllows;
  }
}
