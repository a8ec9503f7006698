// Public surface of @strata/core. Internals stay unexported.
export * from './errors.js';
export * from './message.js';
export * from './names.js';
export * from './headers.js';
export * from './logger.js';
export * from './handler.js';
export * from './core.js';
export * from './metadata/metadata-store.js';
export * from './subscription/types.js';
export * from './record-batch/index.js';
export * from './metadata/embedded-metadata-store.js';
export { openCore, type CoreInternals } from './open-core.js';
export { DEFAULT_CORE_LIMITS, DEFAULT_TOPIC_POLICIES } from './limits.js';
