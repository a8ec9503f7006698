/**
 * One structured logger for the whole server: one JSON line per event, `child()` binds fields
 * (a child per handler, per connection). No dependency; writes synchronously-buffered to a stream.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
  readonly level: LogLevel;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** Where lines go; default process.stderr. */
  readonly write?: (line: string) => void;
  readonly now?: () => number;
}

function serializeValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out['code'] = code;
    if (value.stack) out['stack'] = value.stack;
    return out;
  }
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  return value;
}

class JsonLogger implements Logger {
  constructor(
    readonly level: LogLevel,
    private readonly bindings: LogFields,
    private readonly write: (line: string) => void,
    private readonly now: () => number,
  ) {}

  private log(level: LogLevel, message: string, fields?: LogFields): void {
    if (LEVEL_RANK[level] < LEVEL_RANK[this.level]) return;
    const record = { time: new Date(this.now()).toISOString(), level, msg: message, ...this.bindings, ...fields };
    let line: string;
    try {
      line = JSON.stringify(record, serializeValue);
    } catch {
      line = JSON.stringify({ time: record.time, level, msg: message, unserializable: true });
    }
    this.write(line + '\n');
  }

  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }
  child(bindings: LogFields): Logger {
    return new JsonLogger(this.level, { ...this.bindings, ...bindings }, this.write, this.now);
  }
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  return new JsonLogger(options.level ?? 'info', {}, write, options.now ?? Date.now);
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger({ level: 'silent', write: () => {} });
