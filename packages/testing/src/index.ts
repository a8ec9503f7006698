export * from './temp-dir.js';
export * from './ports.js';
