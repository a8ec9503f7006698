/**
 * Merges the config sources into one validated ServerConfig. Precedence: flags > environment >
 * YAML file > defaults, per setting. Every mistake (unknown key, wrong type, bad port) is a
 * ConfigError whose one-line message names the key and the source it came from.
 */
import { resolve as resolvePath } from 'node:path';
import { DEFAULT_CORE_LIMITS, type CoreLimits, type ListenerSpec, type TopicPolicies } from '@strata/core';
import { ConfigError } from './config-error.js';
import { configDefaults, type ClientCertificates, type ListenerConfig, type ListenerTls, type ServerConfig } from './server-config.js';
import {
  boolean,
  cleanupPolicy,
  fsync,
  integer,
  journalIo,
  isPlainMapping,
  logLevel,
  nonEmptyString,
  port,
  stringList,
  ValueProblem,
  type ValueParser,
} from './values.js';

export interface ConfigFile {
  /** Shown in messages. */
  readonly path: string;
  readonly content: Readonly<Record<string, unknown>>;
}

export interface ConfigSources {
  readonly flags: ReadonlyMap<string, readonly string[]>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly file: ConfigFile | null;
  /** Base of a relative dataDir; default process.cwd(). */
  readonly cwd?: string;
}

/** What the registered handlers contribute: their names (config sections) and listeners (ports). */
export interface ConfigSchema {
  readonly handlerNames: readonly string[];
  readonly listeners: readonly ListenerSpec[];
}

export const ENV_PREFIX = 'STRATA_';

/** A setting that a flag, an env variable and a file key can all set. */
interface Setting<T> {
  readonly key: string; // the YAML path, also the name in messages
  readonly flag: string;
  readonly env: string;
  readonly parse: ValueParser<T>;
  /** Flags that may repeat and accumulate (a list); others: the last one wins. */
  readonly repeatable?: boolean;
}

function setting<T>(key: string, flag: string, parse: ValueParser<T>, repeatable = false, envName?: string): Setting<T> {
  const env = envName ?? ENV_PREFIX + flag.toUpperCase().replaceAll('-', '_');
  return { key, flag, env, parse, repeatable };
}

const positiveInteger = integer(1);

const SETTINGS = {
  dataDir: setting('dataDir', 'data-dir', nonEmptyString),
  host: setting('host', 'host', nonEmptyString),
  advertisedHost: setting('advertisedHost', 'advertised-host', nonEmptyString),
  fsync: setting('fsync', 'fsync', fsync),
  journalIo: setting('journalIo', 'journal-io', journalIo),
  logLevel: setting('logLevel', 'log-level', logLevel),
  nodeId: setting('nodeId', 'node-id', integer(0, 2 ** 31 - 1)),
  connectionsMax: setting('connectionsMax', 'connections-max', positiveInteger),
  shutdownMsMax: setting('shutdownMsMax', 'shutdown-ms-max', integer(1, 3_600_000)),
  handlerModules: setting('handlerModules', 'handler-module', stringList, true, `${ENV_PREFIX}HANDLER_MODULES`),
  freePorts: setting('freePorts', 'free-ports', boolean),
} as const;

/** `--config` / STRATA_CONFIG: where the YAML file is; not a key inside the file. */
export const CONFIG_FILE_SETTING = { flag: 'config', env: `${ENV_PREFIX}CONFIG` } as const;

/** Every core limit is configurable: the keys come from the core's own defaults, so a new limit is too. */
const LIMIT_KEYS = Object.keys(DEFAULT_CORE_LIMITS) as (keyof CoreLimits)[];

const POLICY_PARSERS: { readonly [K in keyof TopicPolicies]: ValueParser<TopicPolicies[K]> } = {
  retentionMs: integer(-1),
  retentionBytes: integer(-1),
  ttlMs: integer(0),
  cleanupPolicy,
  segmentBytesMax: positiveInteger,
  segmentMsMax: positiveInteger,
  segmentEntriesMax: positiveInteger,
  entryBytesMax: positiveInteger,
};

function listenerSettings(listenerId: string): { port: Setting<number>; connectionsMax: Setting<number> } {
  return {
    port: setting(`listeners.${listenerId}.port`, `${listenerId}-port`, port),
    connectionsMax: setting(`listeners.${listenerId}.connectionsMax`, `${listenerId}-connections-max`, positiveInteger),
  };
}

/**
 * Kubernetes injects service-link variables for every service in the namespace: a service named
 * `strata` yields STRATA_SERVICE_HOST, STRATA_PORT, STRATA_PORT_9092_TCP_ADDR and the like. They are
 * not settings and must not stop the server; they are ignored when they match no setting.
 */
const SERVICE_LINK_VARIABLE = /^STRATA_(?:[A-Z0-9_]+_)?(?:SERVICE_HOST|SERVICE_PORT(?:_[A-Z0-9_]+)?|PORT(?:_\d+_(?:TCP|UDP|SCTP)(?:_[A-Z]+)?)?)$/;

/** Reads one setting from the sources, highest precedence first. */
class Reader {
  private readonly usedFlags = new Set<string>();
  private readonly usedEnv = new Set<string>();

  constructor(private readonly sources: ConfigSources) {}

  private parse<T>(s: Setting<T>, raw: unknown, from: string): T {
    try {
      return s.parse(raw);
    } catch (error) {
      if (error instanceof ValueProblem) throw new ConfigError(s.key, `invalid ${s.key} (from ${from}): ${error.message}`);
      throw error;
    }
  }

  /** `fileValue` is the value at s.key in the file, or undefined when absent. */
  read<T>(s: Setting<T>, fileValue: unknown): T | undefined {
    this.usedFlags.add(s.flag);
    this.usedEnv.add(s.env);
    const flagValues = this.sources.flags.get(s.flag);
    if (flagValues !== undefined && flagValues.length > 0) {
      if (s.repeatable) return this.parse(s, flagValues.join(','), `flag --${s.flag}`);
      return this.parse(s, flagValues[flagValues.length - 1], `flag --${s.flag}`);
    }
    const envValue = this.sources.env[s.env];
    if (envValue !== undefined && envValue !== '') return this.parse(s, envValue, `environment ${s.env}`);
    if (fileValue !== undefined && fileValue !== null) return this.parse(s, fileValue, this.sources.file?.path ?? 'file');
    return undefined;
  }

  /** Every flag and STRATA_ variable must have been a setting: a typo is an error, not a silent default. */
  rejectUnknown(): void {
    for (const flag of this.sources.flags.keys()) {
      if (!this.usedFlags.has(flag) && flag !== CONFIG_FILE_SETTING.flag) {
        throw new ConfigError(`--${flag}`, `unknown flag --${flag} (see strata serve --help)`);
      }
    }
    for (const name of Object.keys(this.sources.env)) {
      if (name.startsWith(ENV_PREFIX) && !this.usedEnv.has(name) && name !== CONFIG_FILE_SETTING.env && !SERVICE_LINK_VARIABLE.test(name)) {
        throw new ConfigError(name, `unknown environment variable ${name} (see docs/configuration.md)`);
      }
    }
  }
}

function mappingAt(file: ConfigFile | null, key: string, value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isPlainMapping(value)) throw new ConfigError(key, `invalid ${key} (from ${file?.path ?? 'file'}): must be a mapping`);
  return value;
}

const CLIENT_CERTIFICATES: readonly ClientCertificates[] = ['none', 'request', 'require'];

/** A listener's `tls` mapping: `cert` and `key` (PEM files), optional `ca` and `clientCertificates`. */
function listenerTls(file: ConfigFile | null, key: string, value: unknown, cwd: string): ListenerTls {
  const section = mappingAt(file, key, value);
  rejectUnknownKeys(file, key, section, ['cert', 'key', 'ca', 'clientCertificates']);
  const path = (name: string, required: boolean): string | null => {
    const item = section[name];
    if (item === undefined || item === null) {
      if (required) throw new ConfigError(`${key}.${name}`, `missing ${key}.${name} (a PEM file) in ${file?.path ?? 'file'}`);
      return null;
    }
    if (typeof item !== 'string' || item === '') throw new ConfigError(`${key}.${name}`, `invalid ${key}.${name} (from ${file?.path ?? 'file'}): must be a file path`);
    return resolvePath(cwd, item);
  };
  const clientCertificates = section['clientCertificates'] ?? 'none';
  if (!CLIENT_CERTIFICATES.includes(clientCertificates as ClientCertificates)) {
    throw new ConfigError(`${key}.clientCertificates`, `invalid ${key}.clientCertificates (from ${file?.path ?? 'file'}): must be one of ${CLIENT_CERTIFICATES.join(', ')}, got ${JSON.stringify(clientCertificates)}`);
  }
  return { certFile: path('cert', true)!, keyFile: path('key', true)!, caFile: path('ca', false), clientCertificates: clientCertificates as ClientCertificates };
}

function rejectUnknownKeys(file: ConfigFile | null, prefix: string, mapping: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(mapping)) {
    if (!known.includes(key)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      throw new ConfigError(path, `unknown key ${path} in ${file?.path ?? 'file'} (known: ${known.join(', ') || 'none'})`);
    }
  }
}

/** The handler plug-in modules, readable before the handlers (and so the full schema) are known. */
export function resolveHandlerModules(sources: ConfigSources): readonly string[] {
  const reader = new Reader(sources);
  return reader.read(SETTINGS.handlerModules, sources.file?.content[SETTINGS.handlerModules.key]) ?? [];
}

export function resolveConfig(sources: ConfigSources, schema: ConfigSchema): ServerConfig {
  const file = sources.file;
  const content = file?.content ?? {};
  const reader = new Reader(sources);

  const topLevelKeys = [...Object.keys(SETTINGS), 'listeners', 'limits', 'policies', ...schema.handlerNames];
  rejectUnknownKeys(file, '', content as Record<string, unknown>, topLevelKeys);

  const cwd = sources.cwd ?? process.cwd();
  const dataDir = resolvePath(cwd, reader.read(SETTINGS.dataDir, content['dataDir']) ?? configDefaults.dataDir);
  const host = reader.read(SETTINGS.host, content['host']) ?? configDefaults.host;
  const advertisedHost = reader.read(SETTINGS.advertisedHost, content['advertisedHost']) ?? configDefaults.advertisedHost;
  const fsyncPolicy = reader.read(SETTINGS.fsync, content['fsync']) ?? configDefaults.fsync;
  const journalIoMode = reader.read(SETTINGS.journalIo, content['journalIo']) ?? configDefaults.journalIo;
  const level = reader.read(SETTINGS.logLevel, content['logLevel']) ?? configDefaults.logLevel;
  const nodeId = reader.read(SETTINGS.nodeId, content['nodeId']) ?? configDefaults.nodeId;
  const connectionsMax = reader.read(SETTINGS.connectionsMax, content['connectionsMax']) ?? configDefaults.connectionsMax;
  const shutdownMsMax = reader.read(SETTINGS.shutdownMsMax, content['shutdownMsMax']) ?? configDefaults.shutdownMsMax;
  const handlerModules = reader.read(SETTINGS.handlerModules, content['handlerModules']) ?? [];
  // Tests and side-by-side runs: listeners without an explicit port take any free port, not their default.
  const freePorts = reader.read(SETTINGS.freePorts, content['freePorts']) ?? false;

  const listenersSection = mappingAt(file, 'listeners', content['listeners']);
  rejectUnknownKeys(file, 'listeners', listenersSection, schema.listeners.map((spec) => spec.id));
  const listeners = new Map<string, ListenerConfig>();
  for (const spec of schema.listeners) {
    const section = mappingAt(file, `listeners.${spec.id}`, listenersSection[spec.id]);
    rejectUnknownKeys(file, `listeners.${spec.id}`, section, ['port', 'connectionsMax', 'tls']);
    const settings = listenerSettings(spec.id);
    listeners.set(spec.id, {
      port: reader.read(settings.port, section['port']) ?? (freePorts ? 0 : spec.defaultPort),
      connectionsMax: reader.read(settings.connectionsMax, section['connectionsMax']) ?? connectionsMax,
      tls: section['tls'] === undefined || section['tls'] === null ? null : listenerTls(file, `listeners.${spec.id}.tls`, section['tls'], cwd),
    });
  }

  const limitsSection = mappingAt(file, 'limits', content['limits']);
  rejectUnknownKeys(file, 'limits', limitsSection, LIMIT_KEYS);
  const limits: Partial<Record<keyof CoreLimits, number>> = {};
  for (const key of LIMIT_KEYS) {
    if (limitsSection[key] === undefined) continue;
    limits[key] = parseFileValue(file, `limits.${key}`, positiveInteger, limitsSection[key]);
  }

  const policiesSection = mappingAt(file, 'policies', content['policies']);
  const policyKeys = Object.keys(POLICY_PARSERS) as (keyof TopicPolicies)[];
  rejectUnknownKeys(file, 'policies', policiesSection, policyKeys);
  const policies: Record<string, unknown> = {};
  for (const key of policyKeys) {
    if (policiesSection[key] === undefined) continue;
    policies[key] = parseFileValue(file, `policies.${key}`, POLICY_PARSERS[key] as ValueParser<unknown>, policiesSection[key]);
  }

  const handlerSections = new Map<string, Readonly<Record<string, unknown>>>();
  for (const name of schema.handlerNames) handlerSections.set(name, mappingAt(file, name, content[name]));

  reader.rejectUnknown();
  return {
    dataDir,
    host,
    advertisedHost,
    fsync: fsyncPolicy,
    journalIo: journalIoMode,
    logLevel: level,
    nodeId,
    shutdownMsMax,
    handlerModules,
    listeners,
    limits,
    policies: policies as Partial<TopicPolicies>,
    handlerSections,
  };
}

function parseFileValue<T>(file: ConfigFile | null, key: string, parse: ValueParser<T>, raw: unknown): T {
  try {
    return parse(raw);
  } catch (error) {
    if (error instanceof ValueProblem) throw new ConfigError(key, `invalid ${key} (from ${file?.path ?? 'file'}): ${error.message}`);
    throw error;
  }
}

/** Flag and env names of every setting, for `--help` and docs. */
export function describeSettings(schema: ConfigSchema): { key: string; flag: string; env: string }[] {
  const rows: { key: string; flag: string; env: string }[] = [{ key: '(config file path)', ...CONFIG_FILE_SETTING }];
  for (const s of Object.values(SETTINGS)) rows.push({ key: s.key, flag: s.flag, env: s.env });
  for (const spec of schema.listeners) {
    for (const s of Object.values(listenerSettings(spec.id))) rows.push({ key: s.key, flag: s.flag, env: s.env });
  }
  return rows;
}
