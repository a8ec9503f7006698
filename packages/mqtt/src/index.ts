// Public surface of @strata/mqtt.
export { createMqttHandler, MqttHandler, MQTT_LISTENERS } from './handler.js';
export { DEFAULT_MQTT_CONFIG, parseMqttConfig, type MqttConfig, type TopicRuleConfig } from './config.js';
export { MQTT_WS_PATH } from './websocket.js';
export type { MqttFaults } from './faults.js';
export { hashPassword, parsePasswordHash, SCRYPT_COST_DEFAULT } from './auth/password-hash.js';
