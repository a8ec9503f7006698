/**
 * The one table of header names that carry protocol attributes on a core message (design brief §6).
 * Every handler reads and writes these names and no others for these attributes; docs/headers.md is
 * the same table in prose. User headers (Kafka headers, MQTT 5 user properties, AMQP headers table
 * entries) keep their own names.
 */
export const HEADER = {
  // rows are added by the handlers' issues; keep docs/headers.md in step
} as const;
