/**
 * A trie of topic filters → subscribers, for the online fan-out path: matching one topic costs its
 * level count times the wildcard branching, not the number of subscriptions. '$' topics are not
 * matched by wildcards at the first level [MQTT-4.7.2-1].
 */
interface TrieNode<T> {
  readonly children: Map<string, TrieNode<T>>;
  /** Subscribers whose filter ends at this node. */
  readonly here: Set<T>;
  /** Subscribers whose filter ends with '#' below this node. */
  readonly hash: Set<T>;
}

function newNode<T>(): TrieNode<T> {
  return { children: new Map(), here: new Set(), hash: new Set() };
}

export class SubscriptionIndex<T> {
  private readonly root: TrieNode<T> = newNode();
  private count = 0;
  private changes = 0;

  /** Changes with every add and remove: a cached match result is valid while it stays the same. */
  get version(): number {
    return this.changes;
  }

  get size(): number {
    return this.count;
  }

  add(filter: string, subscriber: T): void {
    this.changes++;
    const levels = filter.split('/');
    let node = this.root;
    for (const level of levels) {
      if (level === '#') {
        if (!node.hash.has(subscriber)) this.count++;
        node.hash.add(subscriber);
        return;
      }
      let child = node.children.get(level);
      if (child === undefined) {
        child = newNode();
        node.children.set(level, child);
      }
      node = child;
    }
    if (!node.here.has(subscriber)) this.count++;
    node.here.add(subscriber);
  }

  remove(filter: string, subscriber: T): void {
    this.changes++;
    const levels = filter.split('/');
    const path: [TrieNode<T>, string][] = [];
    let node = this.root;
    for (const level of levels) {
      if (level === '#') {
        if (node.hash.delete(subscriber)) this.count--;
        this.prune(path, node);
        return;
      }
      const child = node.children.get(level);
      if (child === undefined) return;
      path.push([node, level]);
      node = child;
    }
    if (node.here.delete(subscriber)) this.count--;
    this.prune(path, node);
  }

  private prune(path: [TrieNode<T>, string][], leaf: TrieNode<T>): void {
    let node = leaf;
    for (let i = path.length - 1; i >= 0; i--) {
      if (node.children.size > 0 || node.here.size > 0 || node.hash.size > 0) return;
      const [parent, level] = path[i]!;
      parent.children.delete(level);
      node = parent;
    }
  }

  /** Calls `visit` once per (subscriber, matching filter node); a subscriber with overlapping filters is visited more than once. */
  match(topic: string, visit: (subscriber: T) => void): void {
    const levels = topic.split('/');
    const dollar = topic.charCodeAt(0) === 0x24;
    this.walk(this.root, levels, 0, dollar, visit);
  }

  private walk(node: TrieNode<T>, levels: string[], depth: number, dollar: boolean, visit: (s: T) => void): void {
    const wildcardsAllowed = !(dollar && depth === 0);
    if (wildcardsAllowed) for (const s of node.hash) visit(s); // '#' also matches the parent level [MQTT-4.7.1-2]
    if (depth === levels.length) {
      for (const s of node.here) visit(s);
      return;
    }
    const exact = node.children.get(levels[depth]!);
    if (exact !== undefined) this.walk(exact, levels, depth + 1, dollar, visit);
    if (wildcardsAllowed) {
      const plus = node.children.get('+');
      if (plus !== undefined) this.walk(plus, levels, depth + 1, dollar, visit);
    }
  }
}
