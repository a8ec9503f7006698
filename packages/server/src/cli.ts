#!/usr/bin/env node
/**
 * `strata serve`: reads config (flags > env > YAML file > defaults), hosts every registered handler,
 * prints one `strata: <listener> listening on <host>:<port>` line per listener and `strata: ready` to
 * stdout (tests parse these), logs JSON lines to stderr, and shuts down gracefully on SIGTERM/SIGINT.
 *
 * Exit codes: 0 clean shutdown, 1 runtime failure (port in use, handler failed, forced stop, the
 * core's storage failed: an fsync reported an error, see docs/storage.md), 2 configuration mistake
 * (one line naming the key).
 */
import { createLogger, isStrataError, type Logger, type ProtocolHandler } from '@strata/core';
import { parseCommandLine, type CommandLine } from './config/command-line.js';
import { ConfigError } from './config/config-error.js';
import { readConfigFile } from './config/config-file.js';
import { CONFIG_FILE_SETTING, resolveConfig, resolveHandlerModules, type ConfigSources } from './config/resolve-config.js';
import { builtinHandlerFactories } from './handlers.js';
import { checkHandlerShape, loadHandlerModule } from './handler-modules.js';
import { formatHostPort, ListenError } from './listener.js';
import { checkHandlerSet, HandlerStartError, launchServer, type RunningServer } from './start-server.js';
import { usage } from './usage.js';
import { kafkaCredentialCommand } from './commands/kafka-credential.js';
import { passwdCommand } from './commands/passwd.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;

async function createHandlers(sources: ConfigSources): Promise<ProtocolHandler[]> {
  const factories = [...builtinHandlerFactories];
  for (const specifier of resolveHandlerModules(sources)) factories.push(await loadHandlerModule(specifier, sources.cwd));
  const handlers = factories.map((create, index) => {
    const handler: unknown = create();
    checkHandlerShape(handler, `handler factory #${index + 1}`);
    return handler;
  });
  checkHandlerSet(handlers);
  return handlers;
}

async function readSources(commandLine: CommandLine): Promise<ConfigSources> {
  const configFlag = commandLine.flags.get(CONFIG_FILE_SETTING.flag);
  const configPath = configFlag?.[configFlag.length - 1] ?? process.env[CONFIG_FILE_SETTING.env] ?? null;
  const file = configPath === null || configPath === '' ? null : await readConfigFile(configPath);
  return { flags: commandLine.flags, env: process.env, file, cwd: process.cwd() };
}

/**
 * Signals that arrive while the server is starting (core recovery can take a while) are remembered and
 * acted on once it has started, so a SIGTERM then is still a graceful stop. A second one exits at once.
 */
function deferSignalsDuringStart(logger: Logger): { received(): NodeJS.Signals | null; release(): void } {
  let received: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received !== null) {
      logger.warn('second signal during start: exiting', { signal });
      process.exit(EXIT_FAILURE);
    }
    received = signal;
    logger.info('signal during start: stopping once started', { signal });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    received: () => received,
    release() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}

/** Exit code once a shutdown completes: EXIT_FAILURE after the core's storage failed, whatever stops it. */
let exitCodeAfterShutdown = EXIT_OK;

/**
 * The core's storage failed: the server is shutting down (launchServer started it); exit non-zero
 * when done, or after shutdownMsMax, so that a supervisor restarts the process and recovery
 * rewrites the segments from the journal.
 */
function exitAfterStorageFailure(stopped: Promise<void>, shutdownMsMax: number, logger: Logger): void {
  exitCodeAfterShutdown = EXIT_FAILURE;
  setTimeout(() => {
    logger.error('shutdown after the storage failure took longer than shutdownMsMax; exiting', { shutdownMsMax });
    process.exit(EXIT_FAILURE);
  }, shutdownMsMax);
  stopped.then(
    () => process.exit(EXIT_FAILURE),
    (error: unknown) => {
      logger.error('shutdown after the storage failure failed', { error });
      process.exit(EXIT_FAILURE);
    },
  );
}

function installSignalHandlers(server: RunningServer, logger: Logger, pending: NodeJS.Signals | null): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn('second signal: exiting without finishing shutdown', { signal });
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    logger.info('shutting down', { signal });
    // Deliberately not unref'd: if a handler's close() hangs with nothing else pending, the event loop
    // would empty and Node would exit 0 as if the shutdown had been clean. The deadline keeps it honest.
    setTimeout(() => {
      logger.error('shutdown took longer than shutdownMsMax; exiting', { shutdownMsMax: server.config.shutdownMsMax });
      process.exit(EXIT_FAILURE);
    }, server.config.shutdownMsMax);
    server.close().then(
      () => process.exit(exitCodeAfterShutdown),
      (error: unknown) => {
        logger.error('shutdown failed', { error });
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (pending !== null) onSignal(pending);
}

export async function main(argv: readonly string[]): Promise<number | null> {
  const commandLine = parseCommandLine(argv);
  const command = commandLine.command ?? (commandLine.help ? 'help' : null);
  if (command === 'help' || (command === 'serve' && commandLine.help)) {
    const sources = await readSources(commandLine);
    const handlers = await createHandlers(sources);
    process.stdout.write(usage({ handlerNames: handlers.map((h) => h.name), listeners: handlers.flatMap((h) => h.listeners) }));
    return EXIT_OK;
  }
  if (command === 'kafka-credential') return kafkaCredentialCommand(commandLine, process.stdin, process.stdout);
  if (command === 'passwd') return passwdCommand(commandLine, process.stdin, process.stdout);
  if (command !== 'serve') {
    throw new ConfigError('command', command === null ? 'missing command: strata serve [flags] (strata --help)' : `unknown command "${command}" (strata --help)`);
  }

  const sources = await readSources(commandLine);
  const handlers = await createHandlers(sources);
  const config = resolveConfig(sources, { handlerNames: handlers.map((h) => h.name), listeners: handlers.flatMap((h) => h.listeners) });
  const logger = createLogger({ level: config.logLevel });
  // An exception nobody caught is a bug whose damage cannot be bounded: log it as a structured line
  // (so log pipelines see it) and exit 1, as Node would.
  process.on('uncaughtException', (error, origin) => {
    logger.error('uncaught exception; exiting', { error, origin });
    process.exit(EXIT_FAILURE);
  });
  const deferred = deferSignalsDuringStart(logger);
  const server = await launchServer(config, handlers, {
    logger,
    onStorageFailure: (_error, stopped) => exitAfterStorageFailure(stopped, config.shutdownMsMax, logger),
  });
  deferred.release();
  const pending = deferred.received();
  installSignalHandlers(server, logger, pending);
  if (pending !== null) return null; // stopping already: not ready
  for (const address of server.addresses.values()) {
    process.stdout.write(`strata: ${address.listenerId} listening on ${formatHostPort(address.host, address.port)}\n`);
  }
  process.stdout.write('strata: ready\n');
  return null; // keep running until a signal
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== null) process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`strata: ${message}\n`);
    const expected = error instanceof ConfigError || error instanceof ListenError || error instanceof HandlerStartError || isStrataError(error);
    // An unexpected failure is a bug: its stack goes to stderr too, after the one-line summary.
    if (!expected && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    // A handler that rejects its own config section at start (INVALID_ARGUMENT) is a config mistake too.
    const configMistake = error instanceof ConfigError || (error instanceof HandlerStartError && isStrataError(error.cause, 'INVALID_ARGUMENT'));
    process.exit(configMistake ? EXIT_CONFIG : EXIT_FAILURE);
  },
);
