import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { KafkaErrorCode } from '../src/error-codes.js';
import { GroupCoordinator, parseSubscriptionTopics } from '../src/group/group-coordinator.js';
import type { JoinGroupInput } from '../src/group/types.js';

function coordinator(options: Partial<ConstructorParameters<typeof GroupCoordinator>[0]> = {}): GroupCoordinator {
  return new GroupCoordinator({
    sessionTimeoutMsMin: 10,
    sessionTimeoutMsMax: 60_000,
    initialRebalanceDelayMs: 0,
    membersMax: 10,
    groupsMax: 100,
    hasOffsets: () => false,
    ...options,
  });
}

function subscription(...topics: string[]): Buffer {
  const parts = [Buffer.from([0, 1]), Buffer.alloc(4)];
  parts[1]!.writeInt32BE(topics.length);
  for (const t of topics) {
    const len = Buffer.alloc(2);
    len.writeInt16BE(Buffer.byteLength(t));
    parts.push(len, Buffer.from(t));
  }
  parts.push(Buffer.alloc(4, 0xff)); // user data null
  return Buffer.concat(parts);
}

function joinInput(memberId: string, overrides: Partial<JoinGroupInput> = {}): JoinGroupInput {
  return {
    groupId: 'g',
    memberId,
    groupInstanceId: null,
    sessionTimeoutMs: 5_000,
    rebalanceTimeoutMs: 5_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: subscription('t') }],
    clientId: 'c',
    clientHost: '/127.0.0.1',
    requireKnownMemberId: true,
    ...overrides,
  };
}

/** Joins with KIP-394's two steps; returns the join result of the second step (a promise). */
async function joinNew(c: GroupCoordinator, overrides: Partial<JoinGroupInput> = {}) {
  const first = await c.join(joinInput('', overrides));
  assert.equal(first.errorCode, KafkaErrorCode.MEMBER_ID_REQUIRED);
  assert.ok(first.memberId.startsWith('c-'));
  return { memberId: first.memberId, joined: c.join(joinInput(first.memberId, overrides)) };
}

test('one member: MEMBER_ID_REQUIRED, join, sync, heartbeat, leave', async () => {
  const c = coordinator();
  try {
    const { memberId, joined } = await joinNew(c);
    const join = await joined;
    assert.equal(join.errorCode, 0);
    assert.equal(join.generationId, 1);
    assert.equal(join.leader, memberId);
    assert.equal(join.protocolName, 'range');
    assert.equal(join.members.length, 1);
    assert.equal(c.state('g'), 'CompletingRebalance');
    const sync = await c.sync({ groupId: 'g', generationId: 1, memberId, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId, assignment: Buffer.from('A') }] });
    assert.equal(sync.errorCode, 0);
    assert.equal(sync.assignment.toString(), 'A');
    assert.equal(c.state('g'), 'Stable');
    assert.equal(c.heartbeat('g', memberId, 1), 0);
    assert.equal(c.heartbeat('g', memberId, 7), KafkaErrorCode.ILLEGAL_GENERATION);
    assert.equal(c.heartbeat('g', 'nobody', 1), KafkaErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal(c.validateCommit('g', memberId, 1), 0);
    assert.equal(c.validateCommit('g', memberId, 0), KafkaErrorCode.ILLEGAL_GENERATION);
    assert.equal(c.validateCommit('g', 'x', 1), KafkaErrorCode.UNKNOWN_MEMBER_ID);
    assert.deepEqual([...(c.subscribedTopics('g') ?? [])], ['t']);
    assert.equal(c.canDelete('g'), KafkaErrorCode.NON_EMPTY_GROUP);
    assert.equal(c.leave('g', [memberId]).errorCode, 0);
    assert.equal(c.state('g'), null); // empty and no offsets: forgotten
    assert.equal(c.validateCommit('g', '', -1), 0); // simple consumer commit on an empty group
  } finally {
    c.close();
  }
});

test('a second member triggers a rebalance; the leader assigns both', async () => {
  const c = coordinator();
  try {
    const a = await joinNew(c);
    const joinA = await a.joined;
    await c.sync({ groupId: 'g', generationId: joinA.generationId, memberId: a.memberId, protocolType: null, protocolName: null, assignments: [{ memberId: a.memberId, assignment: Buffer.from('all') }] });

    const b = await joinNew(c, { clientId: 'c' });
    assert.equal(c.state('g'), 'PreparingRebalance');
    assert.equal(c.heartbeat('g', a.memberId, 1), KafkaErrorCode.REBALANCE_IN_PROGRESS);
    const rejoinA = c.join(joinInput(a.memberId));
    const [ja, jb] = await Promise.all([rejoinA, b.joined]);
    assert.equal(ja.generationId, 2);
    assert.equal(jb.generationId, 2);
    assert.equal(ja.leader, a.memberId);
    assert.equal(ja.members.length, 2);
    assert.equal(jb.members.length, 0, 'only the leader sees the members');
    const syncB = c.sync({ groupId: 'g', generationId: 2, memberId: b.memberId, protocolType: null, protocolName: null, assignments: [] });
    const syncA = c.sync({
      groupId: 'g',
      generationId: 2,
      memberId: a.memberId,
      protocolType: null,
      protocolName: null,
      assignments: [
        { memberId: a.memberId, assignment: Buffer.from('p0') },
        { memberId: b.memberId, assignment: Buffer.from('p1') },
      ],
    });
    assert.equal((await syncA).assignment.toString(), 'p0');
    assert.equal((await syncB).assignment.toString(), 'p1');
    assert.equal(c.describe('g').members.length, 2);
    assert.equal(c.describe('g').state, 'Stable');
  } finally {
    c.close();
  }
});

test('a member that stops heartbeating is removed and the group rebalances', async () => {
  const c = coordinator();
  try {
    const a = await joinNew(c, { sessionTimeoutMs: 2_000 });
    await a.joined;
    const b = await joinNew(c, { sessionTimeoutMs: 100, rebalanceTimeoutMs: 2_000 });
    const [ja] = await Promise.all([c.join(joinInput(a.memberId, { sessionTimeoutMs: 2_000 })), b.joined]);
    assert.equal(ja.members.length, 2);
    await c.sync({ groupId: 'g', generationId: ja.generationId, memberId: a.memberId, protocolType: null, protocolName: null, assignments: [] });
    // b never heartbeats: after 100 ms its session expires.
    const deadline = Date.now() + 3_000;
    while (c.describe('g').members.length !== 1 && Date.now() < deadline) await sleep(20);
    assert.equal(c.describe('g').members.length, 1);
    assert.equal(c.heartbeat('g', a.memberId, ja.generationId), KafkaErrorCode.REBALANCE_IN_PROGRESS);
    const again = await c.join(joinInput(a.memberId, { sessionTimeoutMs: 2_000 }));
    assert.equal(again.errorCode, 0);
    assert.equal(again.generationId, ja.generationId + 1);
    assert.equal(again.members.length, 1);
  } finally {
    c.close();
  }
});

test('a member that does not rejoin within the rebalance timeout is dropped', async () => {
  const c = coordinator();
  try {
    const a = await joinNew(c, { rebalanceTimeoutMs: 150 });
    const ja = await a.joined;
    await c.sync({ groupId: 'g', generationId: ja.generationId, memberId: a.memberId, protocolType: null, protocolName: null, assignments: [] });
    const b = await joinNew(c, { rebalanceTimeoutMs: 150 });
    const started = Date.now();
    const keepAlive = setInterval(() => {}, 50); // the coordinator's timers are unref'd
    const jb = await b.joined.finally(() => clearInterval(keepAlive)); // a never rejoins
    assert.ok(Date.now() - started >= 100);
    assert.equal(jb.errorCode, 0);
    assert.equal(jb.leader, b.memberId);
    assert.equal(jb.members.length, 1);
  } finally {
    c.close();
  }
});

test('v0-3 joins without MEMBER_ID_REQUIRED; bad inputs get their errors', async () => {
  const c = coordinator();
  try {
    const j = await c.join(joinInput('', { requireKnownMemberId: false }));
    assert.equal(j.errorCode, 0);
    assert.equal((await c.join(joinInput('', { groupId: '' }))).errorCode, KafkaErrorCode.INVALID_GROUP_ID);
    assert.equal((await c.join(joinInput('', { sessionTimeoutMs: 1 }))).errorCode, KafkaErrorCode.INVALID_SESSION_TIMEOUT);
    assert.equal((await c.join(joinInput('ghost', { groupId: 'other' }))).errorCode, KafkaErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal(
      (await c.join(joinInput('', { protocolType: 'connect', requireKnownMemberId: false }))).errorCode,
      KafkaErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    const sync = await c.sync({ groupId: 'g', generationId: 99, memberId: j.memberId, protocolType: null, protocolName: null, assignments: [] });
    assert.equal(sync.errorCode, KafkaErrorCode.ILLEGAL_GENERATION);
    assert.equal(c.describe('nope').state, 'Dead');
    assert.equal(c.canDelete('nope'), KafkaErrorCode.GROUP_ID_NOT_FOUND);
  } finally {
    c.close();
  }
});

test('group size limit and close answers waiting joins', async () => {
  const c = coordinator({ membersMax: 1 });
  const first = await c.join(joinInput('', { requireKnownMemberId: false, rebalanceTimeoutMs: 60_000 }));
  assert.equal(first.errorCode, 0);
  assert.equal((await c.join(joinInput(''))).errorCode, KafkaErrorCode.GROUP_MAX_SIZE_REACHED);
  c.close();
  assert.equal((await c.join(joinInput(''))).errorCode, KafkaErrorCode.COORDINATOR_NOT_AVAILABLE);
});

test('parseSubscriptionTopics tolerates garbage', () => {
  assert.deepEqual(parseSubscriptionTopics(subscription('a', 'b')), ['a', 'b']);
  assert.deepEqual(parseSubscriptionTopics(Buffer.from([0, 1, 0x7f, 0xff, 0xff, 0xff, 0, 9])), []);
  assert.deepEqual(parseSubscriptionTopics(Buffer.alloc(2)), []);
});

test('static membership (KIP-345): a restarted instance takes its place back', async () => {
  const c = coordinator();
  try {
    const join = (memberId: string, instance: string) => c.join(joinInput(memberId, { groupInstanceId: instance }));
    const first = await join('', 'pod-1'); // static members skip MEMBER_ID_REQUIRED
    assert.equal(first.errorCode, 0);
    const secondPending = join('', 'pod-2');
    const [a, b] = await Promise.all([join(first.memberId, 'pod-1'), secondPending]);
    assert.equal(a.generationId, b.generationId);
    assert.equal(a.leader, first.memberId);
    const assignments = [
      { memberId: a.memberId, assignment: Buffer.from('A') },
      { memberId: b.memberId, assignment: Buffer.from('B') },
    ];
    await Promise.all([
      c.sync({ groupId: 'g', generationId: a.generationId, memberId: a.memberId, protocolType: null, protocolName: null, assignments }),
      c.sync({ groupId: 'g', generationId: b.generationId, memberId: b.memberId, protocolType: null, protocolName: null, assignments: [] }),
    ]);
    assert.equal(c.state('g'), 'Stable');

    // The follower's instance restarts: a new member id, its assignment kept, no rebalance.
    const follower = await join('', 'pod-2');
    assert.equal(follower.errorCode, 0);
    assert.notEqual(follower.memberId, b.memberId);
    assert.equal(follower.generationId, a.generationId);
    assert.equal(c.state('g'), 'Stable');
    const sync = await c.sync({ groupId: 'g', generationId: follower.generationId, memberId: follower.memberId, protocolType: null, protocolName: null, assignments: [] });
    assert.equal(sync.assignment.toString(), 'B');
    assert.equal(c.heartbeat('g', a.memberId, a.generationId), 0, 'the other member did not notice');
    assert.equal(c.heartbeat('g', b.memberId, a.generationId), KafkaErrorCode.UNKNOWN_MEMBER_ID, 'the old id is gone');
    assert.equal((await join(b.memberId, 'pod-2')).errorCode, KafkaErrorCode.FENCED_INSTANCE_ID);

    // The leader's instance restarts: that one rebalances (the leader must assign again).
    const leaderAgain = join('', 'pod-1');
    assert.equal(c.state('g'), 'PreparingRebalance');
    const [l, f] = await Promise.all([leaderAgain, join(follower.memberId, 'pod-2')]);
    assert.equal(l.leader, l.memberId);
    assert.equal(f.generationId, l.generationId);

    // Static members leave by instance id.
    assert.deepEqual(c.leave('g', [{ memberId: '', groupInstanceId: 'pod-1' }]).memberErrorCodes, [0]);
    assert.deepEqual(c.leave('g', [{ memberId: 'stale', groupInstanceId: 'pod-2' }]).memberErrorCodes, [KafkaErrorCode.FENCED_INSTANCE_ID]);
    assert.equal(c.describe('g').members.length, 1);
  } finally {
    c.close();
  }
});
