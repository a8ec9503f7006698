/**
 * Reads the YAML config file. Its keys are the same names as the resolved config (`dataDir`,
 * `listeners.kafka.port`, ...) plus one section per handler (`kafka: {...}`); see docs/configuration.md.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { ConfigError } from './config-error.js';
import type { ConfigFile } from './resolve-config.js';
import { isPlainMapping } from './values.js';

/** A config file is a few kilobytes; a huge one is a mistake (wrong path), not a config. */
export const configFileBytesMax = 1024 * 1024;

export async function readConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > configFileBytesMax) throw new ConfigError('config', `config file ${path} is larger than ${configFileBytesMax} bytes`);
    text = bytes.toString('utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError('config', `cannot read config file ${path}: ${code}`);
  }
  return parseConfigText(path, text);
}

export function parseConfigText(path: string, text: string): ConfigFile {
  // uniqueKeys: a key given twice is almost always an editing mistake; YAML 1.2 makes it an error.
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const problem = document.errors[0];
  if (problem !== undefined) {
    const line = problem.linePos?.[0]?.line;
    const where = line === undefined ? path : `${path}:${line}`;
    throw new ConfigError('config', `invalid YAML in ${where}: ${problem.message.split('\n')[0]}`);
  }
  let content: unknown;
  try {
    // maxAliasCount bounds alias expansion ("billion laughs"); unresolved aliases throw here, not above.
    content = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError('config', `invalid YAML in ${path}: ${reason}`);
  }
  if (content === null || content === undefined) return { path, content: {} };
  if (!isPlainMapping(content)) throw new ConfigError('config', `config file ${path} must be a mapping of keys at the top level`);
  return { path, content };
}
