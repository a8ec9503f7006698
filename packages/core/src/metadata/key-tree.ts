/**
 * Index of which direct children each path has, kept as reference counts so that
 * `children(path)` costs the number of children, not the number of keys. A key '/a/b/c' makes
 * 'a' a child of '/', 'b' a child of '/a' and 'c' a child of '/a/b'.
 */
import { StrataError } from '../errors.js';

/** Longest key accepted, in UTF-8 bytes. */
export const metadataKeyBytesMax = 4096;

export function validateKey(key: string): void {
  if (!key.startsWith('/') || key.length < 2 || key.endsWith('/') || key.includes('//')) {
    throw new StrataError('INVALID_ARGUMENT', `metadata key must be an absolute path without empty segments: ${JSON.stringify(key)}`);
  }
  if (Buffer.byteLength(key, 'utf8') > metadataKeyBytesMax) {
    throw new StrataError('INVALID_ARGUMENT', `metadata key longer than ${metadataKeyBytesMax} bytes`);
  }
}

/** '/a/b' for '/a/b/', '/' for '', '/' and '/'. */
export function normalizePath(path: string): string {
  let normalized = path;
  while (normalized.length > 1 && normalized.endsWith('/')) normalized = normalized.slice(0, -1);
  return normalized === '' ? '/' : normalized;
}

export class KeyTree {
  private readonly children = new Map<string, Map<string, number>>();

  private *edges(key: string): Generator<[string, string]> {
    let parent = '/';
    let start = 1;
    for (;;) {
      const slash = key.indexOf('/', start);
      const name = slash === -1 ? key.slice(start) : key.slice(start, slash);
      yield [parent, name];
      if (slash === -1) return;
      parent = key.slice(0, slash);
      start = slash + 1;
    }
  }

  add(key: string): void {
    for (const [parent, name] of this.edges(key)) {
      let names = this.children.get(parent);
      if (!names) this.children.set(parent, (names = new Map()));
      names.set(name, (names.get(name) ?? 0) + 1);
    }
  }

  remove(key: string): void {
    for (const [parent, name] of this.edges(key)) {
      const names = this.children.get(parent);
      if (!names) continue;
      const count = (names.get(name) ?? 0) - 1;
      if (count > 0) names.set(name, count);
      else names.delete(name);
      if (names.size === 0) this.children.delete(parent);
    }
  }

  list(path: string): string[] {
    const names = this.children.get(normalizePath(path));
    return names ? [...names.keys()].sort() : [];
  }
}
