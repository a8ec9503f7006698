/**
 * One connection's view of the authorizer: its principal (the SASL user; else the subject of a
 * verified client certificate, `User:CN=alice,OU=eng`, as Kafka's SSL principal; else
 * User:ANONYMOUS) and host, and a bounded cache of decisions, dropped whenever the ACLs
 * change. Produce and Fetch ask per topic per request; the cache makes that a map lookup.
 */
import { ANONYMOUS_PRINCIPAL } from './acl-types.js';
import type { Authorizer } from './authorizer.js';

const DECISIONS_CACHED_MAX = 1024;

export class ConnectionAccess {
  private readonly decisions = new Map<string, boolean>();
  private generation = -1;
  private principalCached = '';
  private principalOf: { readonly user: string | null; readonly principal: string } | null = null;

  constructor(
    private readonly authorizer: Authorizer | null,
    /** The SASL user once logged in, else null. */
    private readonly user: () => string | null,
    private readonly host: string,
    /** The verified client certificate's RFC 2253 subject (ConnectionInfo.peerCertificateSubject). */
    private readonly certificateSubject: string | undefined = undefined,
  ) {}

  /** False when no authorizer is configured: every check passes. */
  get enabled(): boolean {
    return this.authorizer !== null;
  }

  /** The principal, built again only when the login changes it (checked on every ACL decision). */
  get principal(): string {
    const user = this.user();
    if (this.principalOf === null || this.principalOf.user !== user) {
      const principal = user !== null ? `User:${user}` : this.certificateSubject === undefined ? ANONYMOUS_PRINCIPAL : `User:${this.certificateSubject}`;
      this.principalOf = { user, principal };
    }
    return this.principalOf.principal;
  }

  /** Whether this connection may do `operation` on the resource; always true without an authorizer. */
  allowed(operation: number, resourceType: number, resourceName: string): boolean {
    const authorizer = this.authorizer;
    if (authorizer === null) return true;
    const principal = this.principal;
    if (authorizer.generation !== this.generation || principal !== this.principalCached || this.decisions.size >= DECISIONS_CACHED_MAX) {
      this.decisions.clear();
      this.generation = authorizer.generation;
      this.principalCached = principal;
    }
    const key = `${operation}:${resourceType}:${resourceName}`;
    let decision = this.decisions.get(key);
    if (decision === undefined) {
      decision = authorizer.authorize(principal, this.host, operation, resourceType, resourceName);
      this.decisions.set(key, decision);
    }
    return decision;
  }
}
