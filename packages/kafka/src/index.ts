// Public surface of @strata/kafka: the handler factory the server wires, and the config parser.
export { createKafkaHandler, KafkaHandler, KAFKA_DEFAULT_PORT, KAFKA_LISTENER_ID } from './handler.js';
export { parseKafkaConfig, DEFAULT_KAFKA_CONFIG, type KafkaConfig } from './config.js';
export { createTopicNaming, isValidKafkaTopicName, type TopicNaming } from './naming.js';
export { STRATA_TO_KAFKA_ERROR, kafkaErrorCodeOf } from './errors.js';
export { createScramCredential, parseScramCredential, SCRAM_MECHANISMS, SCRAM_ITERATIONS_MIN, type ScramMechanism } from './sasl/credentials.js';
