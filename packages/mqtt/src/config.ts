/**
 * The `mqtt:` config section with its named defaults. Every queue, window and size has a maximum here
 * (design brief §4 "Limits"); unknown keys are ignored, wrong types throw at start.
 */
export interface TopicRuleConfig {
  /** MQTT topic filter: publishes to matching topics go to `topic`. First matching rule wins. */
  readonly filter: string;
  /** Core topic name (short names resolve in `namespace`). */
  readonly topic: string;
  /** Partitions when the handler creates the core topic. Default 1. */
  readonly partitions?: number;
}

export interface MqttConfig {
  /** `tenant/namespace` for short core topic names. */
  readonly namespace: string;
  /** Ordered MQTT-filter → core-topic rules; a final catch-all `#` → `mqtt` is appended if none matches everything. */
  readonly topicRules: readonly TopicRuleConfig[];
  /** Compacted core topic holding retained messages, keyed by MQTT topic. */
  readonly retainedTopic: string;
  /** Largest MQTT packet accepted or sent (MQTT 5 Maximum Packet Size), bytes. */
  readonly packetBytesMax: number;
  /** QoS 1/2 messages in flight per direction per connection (MQTT 5 Receive Maximum). */
  readonly inflightMax: number;
  /** Messages queued for a connection beyond its in-flight window (clean sessions); QoS 0 past it is dropped. */
  readonly queuedMessagesMax: number;
  /** Bytes waiting in a connection's socket before QoS 0 deliveries are dropped. */
  readonly outboundBytesMax: number;
  /** Bytes of publishes being appended for one connection before its socket is paused (backpressure). */
  readonly appendBytesInflightMax: number;
  readonly connectionsMax: number;
  readonly topicLevelsMax: number;
  readonly topicBytesMax: number;
  readonly clientIdBytesMax: number;
  /** Subscriptions per session. */
  readonly subscriptionsMax: number;
  /** Retained messages kept (they are also held in memory for SUBSCRIBE). */
  readonly retainedMessagesMax: number;
  /** Topic aliases a client may use towards us (MQTT 5 Topic Alias Maximum). */
  readonly topicAliasMax: number;
  /** Upper bound on a session's expiry; 3.1.1 persistent sessions get this. 0xFFFFFFFF = never. */
  readonly sessionExpirySecondsMax: number;
  /** If set, clients asking for a longer (or no) keep-alive get this one (MQTT 5 Server Keep Alive; 3.1.1 clients are held to it too). */
  readonly keepAliveSecondsMax: number;
  /** Time a new connection has to send CONNECT. */
  readonly connectTimeoutMs: number;
  /** QoS assumed for messages from other protocols (no `mqtt.qos` header). */
  readonly foreignMessageQos: 0 | 1 | 2;
}

export const DEFAULT_MQTT_CONFIG: MqttConfig = {
  namespace: 'public/default',
  topicRules: [],
  retainedTopic: 'mqtt-retained',
  packetBytesMax: 1024 * 1024,
  inflightMax: 64,
  queuedMessagesMax: 1000,
  outboundBytesMax: 4 * 1024 * 1024,
  appendBytesInflightMax: 4 * 1024 * 1024,
  connectionsMax: 100_000,
  topicLevelsMax: 100,
  topicBytesMax: 4096,
  clientIdBytesMax: 256,
  subscriptionsMax: 1000,
  retainedMessagesMax: 100_000,
  topicAliasMax: 64,
  sessionExpirySecondsMax: 0xffffffff,
  keepAliveSecondsMax: 0,
  connectTimeoutMs: 10_000,
  foreignMessageQos: 1,
};

export const DEFAULT_TOPIC_RULE: TopicRuleConfig = { filter: '#', topic: 'mqtt', partitions: 1 };

function fail(key: string, expected: string): never {
  throw new Error(`mqtt.${key}: expected ${expected}`);
}

export function parseMqttConfig(section: Readonly<Record<string, unknown>>): MqttConfig {
  const out: Record<string, unknown> = { ...DEFAULT_MQTT_CONFIG };
  for (const [key, defaultValue] of Object.entries(DEFAULT_MQTT_CONFIG)) {
    const value = section[key];
    if (value === undefined) continue;
    if (typeof defaultValue === 'number') {
      const n = typeof value === 'string' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) fail(key, 'a non-negative integer');
      out[key] = n;
    } else if (typeof defaultValue === 'string') {
      if (typeof value !== 'string' || value.length === 0) fail(key, 'a non-empty string');
      out[key] = value;
    } else if (key === 'topicRules') {
      if (!Array.isArray(value)) fail(key, 'a list of { filter, topic }');
      out[key] = value.map((rule: unknown, i: number) => {
        const r = rule as Partial<TopicRuleConfig> | null;
        if (r === null || typeof r !== 'object' || typeof r.filter !== 'string' || typeof r.topic !== 'string') {
          fail(`topicRules[${i}]`, '{ filter: string, topic: string }');
        }
        return { filter: r.filter, topic: r.topic, partitions: r.partitions ?? 1 };
      });
    }
  }
  const config = out as unknown as MqttConfig;
  if (config.foreignMessageQos > 2) fail('foreignMessageQos', '0, 1 or 2');
  if (config.inflightMax < 1 || config.inflightMax > 65535) fail('inflightMax', '1..65535');
  if (config.topicAliasMax > 65535) fail('topicAliasMax', '0..65535');
  if (config.packetBytesMax < 128) fail('packetBytesMax', 'at least 128');
  return config;
}
