/**
 * Handler plug-ins named in config (`handlerModules`, `--handler-module`): a module whose default
 * export, or export `createHandler`, is a ProtocolHandlerFactory. This is how a handler outside the
 * built-in registry is hosted (Pulsar loads protocol handlers from a directory the same way), and how
 * the CLI tests run the real binary with a small test handler.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ProtocolHandler, ProtocolHandlerFactory } from '@strata/core';
import { ConfigError } from './config/config-error.js';

function looksLikePath(specifier: string): boolean {
  return specifier.startsWith('.') || isAbsolute(specifier);
}

export async function loadHandlerModule(specifier: string, cwd: string = process.cwd()): Promise<ProtocolHandlerFactory> {
  const target = looksLikePath(specifier) ? pathToFileURL(resolve(cwd, specifier)).href : specifier;
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(target)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError('handlerModules', `cannot load handler module ${specifier}: ${reason}`);
  }
  const factory = loaded['default'] ?? loaded['createHandler'];
  if (typeof factory !== 'function') {
    throw new ConfigError('handlerModules', `handler module ${specifier} must export a handler factory as default or createHandler`);
  }
  return factory as ProtocolHandlerFactory;
}

/** Shape check of what a factory returned: a plug-in's mistake is a clear error, not a crash later. */
export function checkHandlerShape(handler: unknown, origin: string): asserts handler is ProtocolHandler {
  const candidate = handler as Partial<ProtocolHandler> | null;
  const ok =
    candidate !== null &&
    typeof candidate === 'object' &&
    typeof candidate.name === 'string' &&
    /^[a-z][a-z0-9-]*$/.test(candidate.name) &&
    Array.isArray(candidate.listeners) &&
    typeof candidate.start === 'function' &&
    typeof candidate.handleConnection === 'function' &&
    typeof candidate.advertise === 'function' &&
    typeof candidate.close === 'function';
  if (!ok) throw new ConfigError('handlerModules', `${origin} did not return a ProtocolHandler (name, listeners, start, handleConnection, advertise, close)`);
  for (const spec of candidate.listeners ?? []) {
    if (typeof spec?.id !== 'string' || !/^[a-z][a-z0-9-]*$/.test(spec.id) || !Number.isInteger(spec.defaultPort)) {
      throw new ConfigError('handlerModules', `${origin}: listener ${JSON.stringify(spec?.id)} needs a lower-case id and an integer defaultPort`);
    }
  }
}
