/**
 * The server's resolved configuration: what `strata serve` runs with after flags, environment, the
 * YAML file and defaults are merged (in that precedence) and validated. docs/configuration.md is the
 * same table in prose.
 */
import type { CoreLimits, FsyncPolicy, JournalIo, LogLevel, TopicPolicies } from '@strata/core';

export interface ListenerConfig {
  /** 0 binds any free port. */
  readonly port: number;
  /** Connections open at once on this listener; more are closed at accept. */
  readonly connectionsMax: number;
  /** TLS on this listener (Kafka SSL / SASL_SSL, MQTT over TLS, wss), or null for plain TCP. */
  readonly tls: ListenerTls | null;
}

/** Client certificates on a TLS listener: not asked for, asked for and verified if sent, or required. */
export type ClientCertificates = 'none' | 'request' | 'require';

export interface ListenerTls {
  /** PEM files, absolute (resolved against the working directory). */
  readonly certFile: string;
  readonly keyFile: string;
  /** CA bundle that client certificates are verified against; null: Node's default CAs. */
  readonly caFile: string | null;
  readonly clientCertificates: ClientCertificates;
}

export interface ServerConfig {
  readonly dataDir: string;
  /** Bind address of every listener. Default 127.0.0.1, as Mosquitto 2 does: opening it is a decision. */
  readonly host: string;
  /** What clients are told to connect to (Kafka Metadata, proxy); null means the bind host. */
  readonly advertisedHost: string | null;
  readonly fsync: FsyncPolicy;
  /** Which thread does the journal's write and fdatasync (CoreOptions.journalIo). */
  readonly journalIo: JournalIo;
  readonly logLevel: LogLevel;
  readonly nodeId: number;
  /** Time allowed for a graceful shutdown before the process exits anyway. */
  readonly shutdownMsMax: number;
  /** Extra handler plug-ins: module paths whose default export (or `createHandler`) is a ProtocolHandlerFactory. */
  readonly handlerModules: readonly string[];
  /** Listener id → port and limits; one entry per listener of every registered handler. */
  readonly listeners: ReadonlyMap<string, ListenerConfig>;
  readonly limits: Partial<CoreLimits>;
  /** Default policies of namespaces (and of public/default on first start). */
  readonly policies: Partial<TopicPolicies>;
  /** Handler name → its own config section, passed as HandlerContext.config. */
  readonly handlerSections: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
}

export const configDefaults = {
  dataDir: './data',
  host: '127.0.0.1',
  advertisedHost: null,
  fsync: { kind: 'always' } as FsyncPolicy,
  journalIo: 'auto' as JournalIo,
  logLevel: 'info' as LogLevel,
  nodeId: 0,
  shutdownMsMax: 30_000,
  connectionsMax: 10_000,
} as const;

/** The bind host, or the advertised host when one is set: what clients should dial. */
export function advertisedHostOf(config: Pick<ServerConfig, 'host' | 'advertisedHost'>): string {
  if (config.advertisedHost !== null) return config.advertisedHost;
  // A wildcard bind address is not dialable; tell clients the loopback name instead of 0.0.0.0.
  if (config.host === '0.0.0.0' || config.host === '::') return '127.0.0.1';
  return config.host;
}
