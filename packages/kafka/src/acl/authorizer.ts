/**
 * Kafka authorization (Kafka's AclAuthorizer/StandardAuthorizer rules): ACL bindings from the
 * config (fixed) and from CreateAcls/DeleteAcls (stored in the MetadataStore under
 * `/strata/kafka/acls`, one key, JSON: written only when an admin changes ACLs).
 *
 * A request is allowed when the principal is a super user, or when no DENY binding matches and an
 * ALLOW binding does. A binding matches a resource by name (LITERAL), by `*` (LITERAL wildcard) or
 * by prefix (PREFIXED); a principal by name or `User:*`; a host by address or `*`. DENY wins. ALLOW of
 * READ, WRITE, DELETE or ALTER also allows DESCRIBE, and ALTER_CONFIGS allows DESCRIBE_CONFIGS. A
 * resource no binding names at all is allowed only with `allowIfNoAcl` (Kafka's
 * allow.everyone.if.no.acl.found, default false).
 */
import { isStrataError, type MetadataStore } from '@strata/core';
import { AclOperation, AclPermission, PatternType, sameBinding, WILDCARD, type AclBinding, type AclFilter, filterMatches } from './acl-types.js';

const ACLS_KEY = '/strata/kafka/acls';

export interface AuthorizerOptions {
  readonly superUsers: readonly string[];
  readonly allowIfNoAcl: boolean;
  /** Bindings from the config: always present, never deleted by DeleteAcls. */
  readonly configured: readonly AclBinding[];
  /** Most stored bindings (CreateAcls past it fails). */
  readonly aclsMax: number;
}

interface ResourceIndex {
  readonly literal: Map<string, AclBinding[]>;
  readonly prefixed: AclBinding[];
}

const IMPLYING_DESCRIBE = new Set<number>([AclOperation.DESCRIBE, AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE, AclOperation.ALTER, AclOperation.ALL]);
const IMPLYING_DESCRIBE_CONFIGS = new Set<number>([AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS, AclOperation.ALL]);

export class Authorizer {
  private stored: AclBinding[] = [];
  private version = -1;
  private index = new Map<number, ResourceIndex>();
  private readonly superUsers: ReadonlySet<string>;
  /** Bumped on every change: per-connection decision caches compare it. */
  generation = 0;
  /** Stored changes run one at a time. */
  private writing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly options: AuthorizerOptions,
  ) {
    this.superUsers = new Set(options.superUsers);
    this.rebuild();
  }

  async load(): Promise<void> {
    const stored = await this.metadata.get(ACLS_KEY);
    if (stored) {
      this.stored = JSON.parse(stored.value.toString('utf8')) as AclBinding[];
      this.version = stored.version;
    }
    this.rebuild();
  }

  /** Every binding, configured ones first. */
  list(): AclBinding[] {
    return [...this.options.configured, ...this.stored];
  }

  isConfigured(binding: AclBinding): boolean {
    return this.options.configured.some((c) => sameBinding(c, binding));
  }

  authorize(principal: string, host: string, operation: number, resourceType: number, resourceName: string): boolean {
    if (this.superUsers.has(principal)) return true;
    const resource = this.index.get(resourceType);
    const matching: AclBinding[] = [];
    if (resource) {
      for (const binding of resource.literal.get(resourceName) ?? []) matching.push(binding);
      for (const binding of resource.literal.get(WILDCARD) ?? []) matching.push(binding);
      for (const binding of resource.prefixed) if (resourceName.startsWith(binding.resourceName)) matching.push(binding);
    }
    if (matching.length === 0) return this.options.allowIfNoAcl;
    const applies = (b: AclBinding): boolean => (b.principal === principal || b.principal === 'User:*') && (b.host === host || b.host === '*');
    for (const b of matching) {
      if (b.permission === AclPermission.DENY && applies(b) && (b.operation === operation || b.operation === AclOperation.ALL)) return false;
    }
    const granting = operation === AclOperation.DESCRIBE ? IMPLYING_DESCRIBE : operation === AclOperation.DESCRIBE_CONFIGS ? IMPLYING_DESCRIBE_CONFIGS : null;
    for (const b of matching) {
      if (b.permission !== AclPermission.ALLOW || !applies(b)) continue;
      if (b.operation === operation || b.operation === AclOperation.ALL || granting?.has(b.operation)) return true;
    }
    return false;
  }

  /**
   * Whether some binding of `resourceType` lets the principal do `operation` (Kafka's
   * authorizeByResourceType, used for idempotent producers: WRITE on any topic). A DENY of the same
   * operation on the wildcard resource takes it away.
   */
  allowsSome(principal: string, host: string, operation: number, resourceType: number): boolean {
    if (this.superUsers.has(principal)) return true;
    const applies = (b: AclBinding): boolean =>
      b.resourceType === resourceType && (b.principal === principal || b.principal === 'User:*') && (b.host === host || b.host === '*') && (b.operation === operation || b.operation === AclOperation.ALL);
    const bindings = this.list();
    if (bindings.some((b) => applies(b) && b.permission === AclPermission.DENY && b.patternType === PatternType.LITERAL && b.resourceName === WILDCARD)) return false;
    if (bindings.some((b) => applies(b) && b.permission === AclPermission.ALLOW)) return true;
    return this.options.allowIfNoAcl && !bindings.some((b) => b.resourceType === resourceType);
  }

  /** Stores new bindings (ones already there are kept once). */
  create(bindings: readonly AclBinding[]): Promise<void> {
    return this.change((current) => {
      const next = current.slice();
      for (const binding of bindings) if (!next.some((b) => sameBinding(b, binding)) && !this.isConfigured(binding)) next.push(binding);
      if (next.length > this.options.aclsMax) throw Object.assign(new Error(`more than ${this.options.aclsMax} ACLs`), { aclLimit: true });
      return next;
    });
  }

  /** Deletes the stored bindings each filter matches; returns them per filter. */
  async delete(filters: readonly AclFilter[]): Promise<AclBinding[][]> {
    let matched: AclBinding[][] = [];
    await this.change((current) => {
      matched = filters.map((filter) => current.filter((binding) => filterMatches(filter, binding)));
      return current.filter((binding) => !filters.some((filter) => filterMatches(filter, binding)));
    });
    return matched;
  }

  private change(update: (current: AclBinding[]) => AclBinding[]): Promise<void> {
    const run = async (): Promise<void> => {
      for (let attempt = 0; attempt < 10; attempt++) {
        const next = update(this.stored);
        try {
          this.version = await this.metadata.put(ACLS_KEY, Buffer.from(JSON.stringify(next)), { expectedVersion: this.version });
          this.stored = next;
          this.rebuild();
          return;
        } catch (error) {
          if (!isStrataError(error, 'BAD_VERSION')) throw error;
          await this.load(); // someone else wrote: start from what is stored
        }
      }
      throw new Error('ACLs changed concurrently too often');
    };
    const result = this.writing.then(run, run);
    this.writing = result.catch(() => {});
    return result;
  }

  private rebuild(): void {
    const index = new Map<number, ResourceIndex>();
    for (const binding of this.list()) {
      let resource = index.get(binding.resourceType);
      if (!resource) index.set(binding.resourceType, (resource = { literal: new Map(), prefixed: [] }));
      if (binding.patternType === PatternType.PREFIXED) resource.prefixed.push(binding);
      else {
        let list = resource.literal.get(binding.resourceName);
        if (!list) resource.literal.set(binding.resourceName, (list = []));
        list.push(binding);
      }
    }
    this.index = index;
    this.generation++;
  }
}
