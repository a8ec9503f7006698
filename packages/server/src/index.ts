// Public surface of @strata/server: start a server in-process (tests, embedding) and its config types.
export { startServer, launchServer, HandlerStartError, type RunningServer, type StartServerOptions, type ServerDependencies, type OpenCore } from './start-server.js';
export { ConfigError } from './config/config-error.js';
export { ListenError } from './listener.js';
export type { ServerConfig, ListenerConfig } from './config/server-config.js';
export { builtinHandlerFactories } from './handlers.js';
