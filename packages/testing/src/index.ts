export * from './temp-dir.js';
export * from './ports.js';
export * from './wait-for.js';
export * from './require-tool.js';
export * from './spawn-server.js';
export * from './run-program.js';
export * from './warm-up-journal.js';
export * from './tls-certificates.js';
