/**
 * One consumer group's membership state (Kafka's GroupMetadata): members, generation, leader, chosen
 * protocol. Pure data plus small queries; the transitions live in GroupCoordinator.
 */
import type { GroupProtocol, GroupState, JoinGroupResult, SyncGroupResult } from './types.js';

export interface Member {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: readonly GroupProtocol[];
  assignment: Buffer;
  /** Set while the member's JoinGroup waits for the rebalance to complete. */
  awaitingJoin: ((result: JoinGroupResult) => void) | null;
  /** Set while the member's SyncGroup waits for the leader's assignment. */
  awaitingSync: ((result: SyncGroupResult) => void) | null;
  sessionTimer: NodeJS.Timeout | null;
}

export class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** KIP-345 static members: group instance id → member id. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, valid until their session timeout. */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  rebalanceTimer: NodeJS.Timeout | null = null;
  /** False while the initial rebalance delay of a group that was empty runs. */
  initialDelayDone = true;

  constructor(readonly groupId: string) {}

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const member of this.members.values()) if (!member.awaitingJoin) return false;
    return true;
  }

  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const member of this.members.values()) max = Math.max(max, member.rebalanceTimeoutMs);
    return max;
  }

  /** Protocols every member supports, most preferred first by summed preference (Kafka's vote). */
  selectProtocol(): string | null {
    const members = [...this.members.values()];
    if (members.length === 0) return null;
    const candidates = members[0]!.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
    let best: string | null = null;
    let bestVotes = -1;
    for (const name of candidates) {
      // Each member votes for its most preferred candidate.
      let votes = 0;
      for (const m of members) if (m.protocols.find((p) => candidates.includes(p.name))?.name === name) votes++;
      if (votes > bestVotes) {
        best = name;
        bestVotes = votes;
      }
    }
    return best;
  }

  /** Would a member with these protocols still leave the group a common protocol? */
  supportsProtocols(protocolType: string, protocols: readonly GroupProtocol[], excludeMemberId = ''): boolean {
    const others = [...this.members.values()].filter((m) => m.memberId !== excludeMemberId);
    if (others.length === 0) return protocols.length > 0;
    if (this.protocolType !== null && this.protocolType !== protocolType) return false;
    return protocols.some((p) => others.every((m) => m.protocols.some((q) => q.name === p.name)));
  }

  metadataFor(member: Member): Buffer {
    return member.protocols.find((p) => p.name === this.protocolName)?.metadata ?? Buffer.alloc(0);
  }
}

export function sameProtocols(a: readonly GroupProtocol[], b: readonly GroupProtocol[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && p.metadata.equals(b[i]!.metadata));
}
