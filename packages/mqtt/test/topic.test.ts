import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filtersOverlap, isValidTopicFilter, isValidTopicName, parseSharedFilter, topicMatches } from '../src/topic.js';
import { SubscriptionIndex } from '../src/subscription-index.js';
import { TopicMapper } from '../src/topic-mapping.js';

const limits = { topicBytesMax: 100, topicLevelsMax: 5 };

test('topic names and filters are validated per 3.1.1 §4.7', () => {
  assert.ok(isValidTopicName('a/b', limits));
  assert.ok(isValidTopicName('/', limits));
  for (const bad of ['', 'a/+', '#', 'a\u0000b', 'a/b/c/d/e/f', 'x'.repeat(101)]) assert.equal(isValidTopicName(bad, limits), false, bad);
  for (const ok of ['#', '+', 'a/#', '+/+/c', '/', 'a//b', '$SYS/#']) assert.ok(isValidTopicFilter(ok, limits), ok);
  for (const bad of ['', 'a/#/b', 'a#', 'a+/b', '#/a', 'a/b/c/d/e/f']) assert.equal(isValidTopicFilter(bad, limits), false, bad);
});

test('matching: +, #, parent of #, $ topics [MQTT-4.7.2-1]', () => {
  const cases: [string, string, boolean][] = [
    ['sport/#', 'sport', true],
    ['sport/#', 'sport/tennis/player1', true],
    ['sport/+', 'sport', false],
    ['sport/+', 'sport/', true],
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['+', '/finance', false],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['a/b', 'a/b', true],
    ['a/b', 'a/b/c', false],
  ];
  for (const [filter, topic, expected] of cases) assert.equal(topicMatches(filter, topic), expected, `${filter} vs ${topic}`);
});

test('the subscription trie agrees with topicMatches on random filters and topics', () => {
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const words = ['a', 'b', '', '$x'];
  const randomTopic = (): string => Array.from({ length: 1 + random(3) }, () => words[random(words.length)]!).join('/');
  const randomFilter = (): string => {
    const levels = Array.from({ length: 1 + random(3) }, () => ['a', 'b', '', '+', '$x'][random(5)]!);
    if (random(3) === 0) levels.push('#');
    return levels.join('/');
  };
  const filters = Array.from({ length: 60 }, randomFilter).filter((f) => isValidTopicFilter(f, { topicBytesMax: 100, topicLevelsMax: 10 }));
  const index = new SubscriptionIndex<string>();
  for (const f of filters) index.add(f, f);
  for (let i = 0; i < 500; i++) {
    const topic = randomTopic();
    const viaIndex = new Set<string>();
    index.match(topic, (f) => viaIndex.add(f));
    const expected = new Set(filters.filter((f) => topicMatches(f, topic)));
    assert.deepEqual([...viaIndex].sort(), [...expected].sort(), topic);
  }
  for (const f of filters) index.remove(f, f);
  assert.equal(index.size, 0);
});

test('shared filters, overlap, and topic rules', () => {
  assert.deepEqual(parseSharedFilter('$share/g/a/#'), { group: 'g', filter: 'a/#' });
  assert.equal(parseSharedFilter('$share/g'), 'invalid');
  assert.equal(parseSharedFilter('$share//a'), 'invalid');
  assert.equal(parseSharedFilter('a/b'), null);
  assert.ok(filtersOverlap('a/+', 'a/b/#'));
  assert.ok(filtersOverlap('#', 'x'));
  assert.equal(filtersOverlap('a/b', 'a/c'), false);
  const mapper = new TopicMapper({ namespace: 'public/default', topicRules: [{ filter: 'sensors/#', topic: 'sensors', partitions: 4 }] });
  assert.equal(mapper.ruleForTopic('sensors/1').coreTopic, 'persistent://public/default/sensors');
  assert.equal(mapper.ruleForTopic('other').coreTopic, 'persistent://public/default/mqtt');
  assert.equal(mapper.ruleForTopic('$SYS/x').coreTopic, 'persistent://public/default/mqtt');
  assert.deepEqual(mapper.coreTopicsForFilter('other/#').map((r) => r.localName), ['mqtt']);
  assert.deepEqual(mapper.coreTopicsForFilter('+/1').map((r) => r.localName), ['sensors', 'mqtt']);
  const rule = mapper.ruleForTopic('sensors/1');
  const p = mapper.partitionFor(rule, 'sensors/1');
  assert.ok(p >= 0 && p < 4);
  assert.equal(mapper.partitionFor(rule, 'sensors/1'), p, 'stable');
});
