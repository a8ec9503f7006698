/**
 * The group coordinator: Kafka's classic JoinGroup/SyncGroup/Heartbeat/LeaveGroup protocol
 * (KIP-62 rebalance timeout, KIP-394 MEMBER_ID_REQUIRED, KIP-345 instance ids carried along).
 *
 * States: Empty → PreparingRebalance → CompletingRebalance → Stable, back to PreparingRebalance on
 * any membership change; Dead when deleted. Membership lives in memory (a restart makes members
 * rejoin, as after a coordinator move in Kafka); committed offsets are durable in the offset store.
 * Every timer is unref'd and cleared on close.
 */
import { randomUUID } from 'node:crypto';
import { KafkaErrorCode } from '../error-codes.js';
import { Group, sameProtocols, type Member } from './group.js';
import type {
  GroupDescription,
  GroupState,
  JoinGroupInput,
  JoinGroupResult,
  SyncGroupInput,
  SyncGroupResult,
} from './types.js';

export interface GroupCoordinatorOptions {
  readonly sessionTimeoutMsMin: number;
  readonly sessionTimeoutMsMax: number;
  readonly initialRebalanceDelayMs: number;
  readonly membersMax: number;
  readonly groupsMax: number;
  /** Called when a group with no members and no offsets is forgotten. */
  readonly hasOffsets: (groupId: string) => boolean;
}

function timer(ms: number, fn: () => void): NodeJS.Timeout {
  const t = setTimeout(fn, ms);
  t.unref();
  return t;
}

const EMPTY = Buffer.alloc(0);

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private closed = false;

  constructor(private readonly options: GroupCoordinatorOptions) {}

  // ---- JoinGroup -------------------------------------------------------------------------------

  join(input: JoinGroupInput): Promise<JoinGroupResult> {
    const fail = (errorCode: number, memberId = input.memberId): Promise<JoinGroupResult> =>
      Promise.resolve({ errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] });
    if (this.closed) return fail(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (input.groupId === '') return fail(KafkaErrorCode.INVALID_GROUP_ID);
    if (input.sessionTimeoutMs < this.options.sessionTimeoutMsMin || input.sessionTimeoutMs > this.options.sessionTimeoutMsMax) {
      return fail(KafkaErrorCode.INVALID_SESSION_TIMEOUT);
    }
    let group = this.groups.get(input.groupId);
    if (!group) {
      if (input.memberId !== '') return fail(KafkaErrorCode.UNKNOWN_MEMBER_ID);
      if (this.groups.size >= this.options.groupsMax) return fail(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE);
      group = new Group(input.groupId);
      this.groups.set(input.groupId, group);
    }
    if (group.state === 'Dead') return fail(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!group.supportsProtocols(input.protocolType, input.protocols, input.memberId)) {
      return fail(KafkaErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }

    if (input.groupInstanceId !== null) {
      const staticResult = this.joinStatic(group, input);
      if (staticResult) return staticResult;
    }

    if (input.memberId === '' || group.pendingMembers.has(input.memberId)) {
      if (input.memberId === '' && group.members.size + group.pendingMembers.size >= this.options.membersMax) {
        return fail(KafkaErrorCode.GROUP_MAX_SIZE_REACHED);
      }
      const memberId = input.memberId !== '' ? input.memberId : `${input.clientId}-${randomUUID()}`;
      if (input.memberId === '' && input.requireKnownMemberId && input.groupInstanceId === null) {
        // KIP-394: hand out the id and wait for the member to come back with it.
        const g = group;
        group.pendingMembers.set(memberId, timer(input.sessionTimeoutMs, () => this.expirePending(g, memberId)));
        return fail(KafkaErrorCode.MEMBER_ID_REQUIRED, memberId);
      }
      const pending = group.pendingMembers.get(memberId);
      if (pending) clearTimeout(pending);
      group.pendingMembers.delete(memberId);
      return this.addMemberAndRebalance(group, memberId, input);
    }

    const member = group.members.get(input.memberId);
    if (!member) return fail(KafkaErrorCode.UNKNOWN_MEMBER_ID);
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, input);
      case 'CompletingRebalance':
        if (sameProtocols(member.protocols, input.protocols)) {
          this.renewSession(group, member);
          return Promise.resolve(this.joinResult(group, member.memberId));
        }
        return this.updateMemberAndRebalance(group, member, input);
      case 'Stable':
        if (group.isLeader(member.memberId) || !sameProtocols(member.protocols, input.protocols)) {
          return this.updateMemberAndRebalance(group, member, input);
        }
        this.renewSession(group, member);
        return Promise.resolve(this.joinResult(group, member.memberId));
      default:
        return fail(KafkaErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  /**
   * KIP-345 static membership. A known instance id rejoining without a member id replaces its old
   * member (which is fenced: FENCED_INSTANCE_ID) and, when the group is Stable and nothing but the
   * id changed, gets the current generation back without a rebalance. A member id that does not
   * match its instance id is fenced. Returns null when the normal path applies.
   */
  private joinStatic(group: Group, input: JoinGroupInput): Promise<JoinGroupResult> | null {
    const instanceId = input.groupInstanceId!;
    const knownMemberId = group.staticMembers.get(instanceId);
    if (knownMemberId === undefined) return null;
    const old = group.members.get(knownMemberId);
    if (!old) {
      group.staticMembers.delete(instanceId);
      return null;
    }
    if (input.memberId !== '') {
      if (input.memberId === knownMemberId) return null;
      return Promise.resolve(this.errorJoinResult(KafkaErrorCode.FENCED_INSTANCE_ID, input.memberId));
    }
    // Replace the old member id with a new one, keeping its place and assignment.
    const memberId = `${instanceId}-${randomUUID()}`;
    this.clearSession(old);
    old.awaitingJoin?.(this.errorJoinResult(KafkaErrorCode.FENCED_INSTANCE_ID, old.memberId));
    old.awaitingJoin = null;
    this.answerSync(old, { errorCode: KafkaErrorCode.FENCED_INSTANCE_ID, protocolType: null, protocolName: null, assignment: EMPTY });
    group.members.delete(old.memberId);
    const replacement: Member = { ...old, memberId, clientId: input.clientId, clientHost: input.clientHost, sessionTimer: null };
    group.members.set(memberId, replacement);
    group.staticMembers.set(instanceId, memberId);
    const wasLeader = group.leaderId === old.memberId;
    if (wasLeader) group.leaderId = memberId;
    if (group.state === 'Stable' && !wasLeader && sameProtocols(old.protocols, input.protocols)) {
      this.renewSession(group, replacement);
      return Promise.resolve(this.joinResult(group, memberId));
    }
    return this.updateMemberAndRebalance(group, replacement, input);
  }

  private addMemberAndRebalance(group: Group, memberId: string, input: JoinGroupInput): Promise<JoinGroupResult> {
    const member: Member = {
      memberId,
      groupInstanceId: input.groupInstanceId,
      clientId: input.clientId,
      clientHost: input.clientHost,
      sessionTimeoutMs: input.sessionTimeoutMs,
      rebalanceTimeoutMs: input.rebalanceTimeoutMs > 0 ? input.rebalanceTimeoutMs : input.sessionTimeoutMs,
      protocolType: input.protocolType,
      protocols: input.protocols,
      assignment: EMPTY,
      awaitingJoin: null,
      awaitingSync: null,
      sessionTimer: null,
    };
    group.members.set(memberId, member);
    if (input.groupInstanceId !== null) group.staticMembers.set(input.groupInstanceId, memberId);
    if (group.protocolType === null) group.protocolType = input.protocolType;
    if (group.leaderId === null) group.leaderId = memberId;
    const result = new Promise<JoinGroupResult>((resolve) => (member.awaitingJoin = resolve));
    this.prepareRebalance(group);
    this.maybeCompleteJoin(group);
    return result;
  }

  private updateMemberAndRebalance(group: Group, member: Member, input: JoinGroupInput): Promise<JoinGroupResult> {
    member.protocols = input.protocols;
    member.sessionTimeoutMs = input.sessionTimeoutMs;
    member.rebalanceTimeoutMs = input.rebalanceTimeoutMs > 0 ? input.rebalanceTimeoutMs : input.sessionTimeoutMs;
    member.clientId = input.clientId;
    member.clientHost = input.clientHost;
    // A second JoinGroup while the first still waits: the first is answered and replaced.
    member.awaitingJoin?.(this.errorJoinResult(KafkaErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
    const result = new Promise<JoinGroupResult>((resolve) => (member.awaitingJoin = resolve));
    this.clearSession(member);
    if (group.state !== 'PreparingRebalance') this.prepareRebalance(group);
    this.maybeCompleteJoin(group);
    return result;
  }

  private prepareRebalance(group: Group): void {
    if (group.state === 'PreparingRebalance') return;
    if (group.state === 'CompletingRebalance') {
      // Members waiting in SyncGroup must rejoin: the generation they synced for is gone.
      for (const m of group.members.values()) {
        m.assignment = EMPTY;
        this.answerSync(m, { errorCode: KafkaErrorCode.REBALANCE_IN_PROGRESS, protocolType: null, protocolName: null, assignment: EMPTY });
      }
    }
    const wasEmpty = group.state === 'Empty';
    group.state = 'PreparingRebalance';
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    if (wasEmpty && this.options.initialRebalanceDelayMs > 0) {
      // Kafka's InitialDelayedJoin: let a whole fleet of consumers starting together join at once.
      group.initialDelayDone = false;
      group.rebalanceTimer = timer(this.options.initialRebalanceDelayMs, () => {
        group.initialDelayDone = true;
        group.rebalanceTimer = timer(Math.max(0, group.rebalanceTimeoutMs() - this.options.initialRebalanceDelayMs), () =>
          this.onRebalanceTimeout(group),
        );
        this.maybeCompleteJoin(group);
      });
    } else {
      group.rebalanceTimer = timer(group.rebalanceTimeoutMs(), () => this.onRebalanceTimeout(group));
    }
  }

  private onRebalanceTimeout(group: Group): void {
    group.rebalanceTimer = null;
    if (group.state !== 'PreparingRebalance') return;
    // Members that did not rejoin within the rebalance timeout are out (KIP-62).
    for (const m of [...group.members.values()]) if (!m.awaitingJoin) this.removeMember(group, m);
    for (const [id, t] of group.pendingMembers) {
      clearTimeout(t);
      group.pendingMembers.delete(id);
    }
    this.completeJoin(group);
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state === 'PreparingRebalance' && group.initialDelayDone && group.allMembersJoined()) this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = null;
    group.generationId++;
    if (group.members.size === 0) {
      group.state = 'Empty';
      group.protocolName = null;
      group.protocolType = null;
      group.leaderId = null;
      this.maybeForget(group);
      return;
    }
    group.protocolName = group.selectProtocol();
    if (group.leaderId === null || !group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value!;
    group.state = 'CompletingRebalance';
    for (const member of group.members.values()) {
      const answer = member.awaitingJoin;
      member.awaitingJoin = null;
      this.renewSession(group, member);
      answer?.(this.joinResult(group, member.memberId));
    }
  }

  private joinResult(group: Group, memberId: string): JoinGroupResult {
    const isLeader = group.isLeader(memberId);
    return {
      errorCode: KafkaErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      memberId,
      members: isLeader
        ? [...group.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: group.metadataFor(m) }))
        : [],
    };
  }

  private errorJoinResult(errorCode: number, memberId: string): JoinGroupResult {
    return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] };
  }

  // ---- SyncGroup -------------------------------------------------------------------------------

  sync(input: SyncGroupInput): Promise<SyncGroupResult> {
    const fail = (errorCode: number): Promise<SyncGroupResult> =>
      Promise.resolve({ errorCode, protocolType: null, protocolName: null, assignment: EMPTY });
    if (this.closed) return fail(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE);
    const group = this.groups.get(input.groupId);
    const member = group?.members.get(input.memberId);
    if (!group || !member) return fail(KafkaErrorCode.UNKNOWN_MEMBER_ID);
    if (input.generationId !== group.generationId) return fail(KafkaErrorCode.ILLEGAL_GENERATION);
    if ((input.protocolType !== null && input.protocolType !== group.protocolType) || (input.protocolName !== null && input.protocolName !== group.protocolName)) {
      return fail(KafkaErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    switch (group.state) {
      case 'PreparingRebalance':
        return fail(KafkaErrorCode.REBALANCE_IN_PROGRESS);
      case 'CompletingRebalance': {
        this.renewSession(group, member);
        const result = new Promise<SyncGroupResult>((resolve) => {
          this.answerSync(member, { errorCode: KafkaErrorCode.REBALANCE_IN_PROGRESS, protocolType: null, protocolName: null, assignment: EMPTY });
          member.awaitingSync = resolve;
        });
        if (group.isLeader(member.memberId)) {
          const byMember = new Map(input.assignments.map((a) => [a.memberId, a.assignment]));
          group.state = 'Stable';
          for (const m of group.members.values()) {
            m.assignment = byMember.get(m.memberId) ?? EMPTY;
            this.answerSync(m, this.syncResult(group, m));
          }
        }
        return result;
      }
      case 'Stable':
        this.renewSession(group, member);
        return Promise.resolve(this.syncResult(group, member));
      default:
        return fail(KafkaErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  private syncResult(group: Group, member: Member): SyncGroupResult {
    return { errorCode: KafkaErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment };
  }

  private answerSync(member: Member, result: SyncGroupResult): void {
    const answer = member.awaitingSync;
    member.awaitingSync = null;
    answer?.(result);
  }

  // ---- Heartbeat / LeaveGroup ------------------------------------------------------------------

  heartbeat(groupId: string, memberId: string, generationId: number): number {
    if (this.closed) return KafkaErrorCode.COORDINATOR_NOT_AVAILABLE;
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return KafkaErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return KafkaErrorCode.ILLEGAL_GENERATION;
    this.renewSession(group, member);
    switch (group.state) {
      case 'PreparingRebalance':
        return KafkaErrorCode.REBALANCE_IN_PROGRESS;
      case 'CompletingRebalance':
      case 'Stable':
        return KafkaErrorCode.NONE;
      default:
        return KafkaErrorCode.UNKNOWN_MEMBER_ID;
    }
  }

  /** Returns the per-member error codes (LeaveGroup v3+ batches members). */
  leave(
    groupId: string,
    leaving: ReadonlyArray<string | { readonly memberId: string; readonly groupInstanceId: string | null }>,
  ): { errorCode: number; memberErrorCodes: number[] } {
    const group = this.groups.get(groupId);
    if (!group) return { errorCode: KafkaErrorCode.UNKNOWN_MEMBER_ID, memberErrorCodes: leaving.map(() => KafkaErrorCode.UNKNOWN_MEMBER_ID) };
    const memberErrorCodes = leaving.map((who) => {
      let memberId = typeof who === 'string' ? who : who.memberId;
      const instanceId = typeof who === 'string' ? null : who.groupInstanceId;
      if (instanceId !== null) {
        // KIP-345: static members leave by instance id; a stale member id for it is fenced.
        const known = group.staticMembers.get(instanceId);
        if (known === undefined) return KafkaErrorCode.UNKNOWN_MEMBER_ID;
        if (memberId !== '' && memberId !== known) return KafkaErrorCode.FENCED_INSTANCE_ID;
        memberId = known;
      }
      const pending = group.pendingMembers.get(memberId);
      if (pending) {
        clearTimeout(pending);
        group.pendingMembers.delete(memberId);
        this.maybeCompleteJoin(group);
        return KafkaErrorCode.NONE;
      }
      const member = group.members.get(memberId);
      if (!member) return KafkaErrorCode.UNKNOWN_MEMBER_ID;
      member.awaitingJoin?.(this.errorJoinResult(KafkaErrorCode.UNKNOWN_MEMBER_ID, memberId));
      member.awaitingJoin = null;
      this.removeMemberAndUpdateGroup(group, member);
      return KafkaErrorCode.NONE;
    });
    const errorCode = leaving.length === 1 ? memberErrorCodes[0]! : KafkaErrorCode.NONE;
    return { errorCode, memberErrorCodes };
  }

  private removeMember(group: Group, member: Member): void {
    this.clearSession(member);
    this.answerSync(member, { errorCode: KafkaErrorCode.UNKNOWN_MEMBER_ID, protocolType: null, protocolName: null, assignment: EMPTY });
    group.members.delete(member.memberId);
    if (member.groupInstanceId !== null && group.staticMembers.get(member.groupInstanceId) === member.memberId) {
      group.staticMembers.delete(member.groupInstanceId);
    }
    if (group.leaderId === member.memberId) group.leaderId = group.members.keys().next().value ?? null;
  }

  private removeMemberAndUpdateGroup(group: Group, member: Member): void {
    this.removeMember(group, member);
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.prepareRebalance(group);
        this.maybeCompleteJoin(group);
        break;
      case 'PreparingRebalance':
        this.maybeCompleteJoin(group);
        break;
      default:
        break;
    }
  }

  // ---- session timeouts ------------------------------------------------------------------------

  private renewSession(group: Group, member: Member): void {
    this.clearSession(member);
    member.sessionTimer = timer(member.sessionTimeoutMs, () => {
      member.sessionTimer = null;
      // A member waiting in JoinGroup is governed by the rebalance timeout instead.
      if (member.awaitingJoin || group.members.get(member.memberId) !== member) return;
      this.removeMemberAndUpdateGroup(group, member);
    });
  }

  private clearSession(member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = null;
  }

  private expirePending(group: Group, memberId: string): void {
    group.pendingMembers.delete(memberId);
    this.maybeCompleteJoin(group);
    this.maybeForget(group);
  }

  private maybeForget(group: Group): void {
    if (group.state === 'Empty' && group.members.size === 0 && group.pendingMembers.size === 0) this.groups.delete(group.groupId);
  }

  // ---- offsets, admin --------------------------------------------------------------------------

  /** May this member commit offsets for this generation? (OffsetCommit validation.) */
  validateCommit(groupId: string, memberId: string, generationId: number): number {
    if (this.closed) return KafkaErrorCode.COORDINATOR_NOT_AVAILABLE;
    const group = this.groups.get(groupId);
    if (!group || group.members.size === 0) {
      // A simple consumer (assign(), kcat -o, admin tools) commits without a generation.
      return generationId < 0 ? KafkaErrorCode.NONE : KafkaErrorCode.ILLEGAL_GENERATION;
    }
    const member = group.members.get(memberId);
    if (!member) return KafkaErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return KafkaErrorCode.ILLEGAL_GENERATION;
    if (group.state === 'CompletingRebalance') return KafkaErrorCode.REBALANCE_IN_PROGRESS;
    this.renewSession(group, member);
    return KafkaErrorCode.NONE;
  }

  state(groupId: string): GroupState | null {
    return this.groups.get(groupId)?.state ?? null;
  }

  describe(groupId: string): GroupDescription {
    const group = this.groups.get(groupId);
    if (!group) {
      return { groupId, state: this.options.hasOffsets(groupId) ? 'Empty' : 'Dead', protocolType: this.options.hasOffsets(groupId) ? 'consumer' : '', protocolName: '', members: [] };
    }
    return {
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolName: group.protocolName ?? '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: group.metadataFor(m),
        assignment: m.assignment,
      })),
    };
  }

  /** Live groups; the caller adds groups that only have committed offsets. */
  list(): Array<{ groupId: string; protocolType: string; state: GroupState }> {
    return [...this.groups.values()].map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? 'consumer', state: g.state }));
  }

  /** Topics the group's consumer-protocol members subscribe to (for OffsetDelete's GROUP_SUBSCRIBED_TO_TOPIC). */
  subscribedTopics(groupId: string): Set<string> | null {
    const group = this.groups.get(groupId);
    if (!group || group.members.size === 0 || group.protocolType !== 'consumer') return null;
    const topics = new Set<string>();
    for (const member of group.members.values()) for (const t of parseSubscriptionTopics(group.metadataFor(member))) topics.add(t);
    return topics;
  }

  /** DeleteGroups: only an empty group can go (NON_EMPTY_GROUP otherwise). */
  canDelete(groupId: string): number {
    const group = this.groups.get(groupId);
    if (group && (group.members.size > 0 || group.pendingMembers.size > 0)) return KafkaErrorCode.NON_EMPTY_GROUP;
    if (!group && !this.options.hasOffsets(groupId)) return KafkaErrorCode.GROUP_ID_NOT_FOUND;
    return KafkaErrorCode.NONE;
  }

  forget(groupId: string): void {
    const group = this.groups.get(groupId);
    if (group && group.members.size === 0) {
      if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
      this.groups.delete(groupId);
    }
  }

  close(): void {
    this.closed = true;
    for (const group of this.groups.values()) {
      if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
      for (const t of group.pendingMembers.values()) clearTimeout(t);
      for (const m of group.members.values()) {
        this.clearSession(m);
        m.awaitingJoin?.(this.errorJoinResult(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE, m.memberId));
        m.awaitingJoin = null;
        this.answerSync(m, { errorCode: KafkaErrorCode.COORDINATOR_NOT_AVAILABLE, protocolType: null, protocolName: null, assignment: EMPTY });
      }
    }
    this.groups.clear();
  }
}

/**
 * Topic names in a ConsumerProtocolSubscription (version int16, topics array of int16 strings, ...).
 * Malformed metadata yields what was readable: it is the client's opaque data, never trusted.
 */
export function parseSubscriptionTopics(metadata: Buffer): string[] {
  const topics: string[] = [];
  if (metadata.length < 6) return topics;
  let pos = 2;
  const count = metadata.readInt32BE(pos);
  pos += 4;
  for (let i = 0; i < count && pos + 2 <= metadata.length; i++) {
    const length = metadata.readInt16BE(pos);
    pos += 2;
    if (length < 0 || pos + length > metadata.length) break;
    topics.push(metadata.toString('utf8', pos, pos + length));
    pos += length;
  }
  return topics;
}
