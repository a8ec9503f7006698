/**
 * The one table of header names that carry protocol attributes on a core message (design brief §6).
 * Every handler reads and writes these names and no others for these attributes; docs/headers.md is
 * the same table in prose. User headers (Kafka headers, MQTT 5 user properties, AMQP headers table
 * entries) keep their own names.
 */
export const HEADER = {
  // rows are added by the handlers' issues; keep docs/headers.md in step

  // MQTT (packages/mqtt). Values are UTF-8 text unless noted.
  /** The MQTT topic name the message was published to (restored for MQTT subscribers). */
  mqttTopic: 'mqtt.topic',
  /** Publish QoS: '0', '1' or '2'. */
  mqttQos: 'mqtt.qos',
  /** '1' when the PUBLISH had the RETAIN flag. */
  mqttRetain: 'mqtt.retain',
  /** Client id of the publisher (MQTT 5 No Local). */
  mqttPublisher: 'mqtt.publisher',
  /** MQTT 5 Content Type. */
  mqttContentType: 'mqtt.content-type',
  /** MQTT 5 Response Topic. */
  mqttResponseTopic: 'mqtt.response-topic',
  /** MQTT 5 Correlation Data (raw bytes). */
  mqttCorrelationData: 'mqtt.correlation-data',
  /** MQTT 5 Payload Format Indicator: '0' bytes, '1' UTF-8. */
  mqttPayloadFormat: 'mqtt.payload-format',
  /** MQTT 5 Message Expiry as an absolute time: ms since the epoch, decimal. */
  mqttExpiresAtMs: 'mqtt.expires-at-ms',
  /**
   * Inbound QoS 2 packet id (1-65535, decimal) of a persistent session's PUBLISH; with `mqtt.publisher`
   * it lets a restart find out whether a PUBLISH cut off by a crash was stored (exactly once).
   */
  mqttPacketId: 'mqtt.packet-id',
} as const;
