/**
 * Metadata behind one interface, Pulsar's PIP-45 shape: versioned get/put with compare-and-set,
 * delete, children, watch, ephemeral keys. The embedded implementation is local and durable; an etcd
 * implementation can come later (design brief §5) without handlers noticing.
 *
 * Keys are '/'-separated paths ('/strata/topics/public/default/orders'); values are bytes.
 */
export interface VersionedValue {
  readonly value: Buffer;
  /** Starts at 0 on creation; +1 on every put. */
  readonly version: number;
}

export interface PutOptions {
  /** Compare-and-set: -1 means "must not exist"; a number means "must be at this version". Mismatch throws BAD_VERSION. */
  readonly expectedVersion?: number;
  /** Deleted when the session that wrote it ends (for the embedded store: at close and on restart). */
  readonly ephemeral?: boolean;
}

export type MetadataEvent =
  | { readonly type: 'put'; readonly key: string; readonly version: number }
  | { readonly type: 'delete'; readonly key: string };

export interface MetadataStore {
  get(key: string): Promise<VersionedValue | null>;
  /** Returns the new version. Durable when the promise resolves. */
  put(key: string, value: Buffer, options?: PutOptions): Promise<number>;
  /** Throws NOT_FOUND if absent, BAD_VERSION on a compare-and-set mismatch. */
  delete(key: string, options?: { expectedVersion?: number }): Promise<void>;
  /** Direct children names of a path (not full keys), sorted. */
  children(path: string): Promise<string[]>;
  /** Events for keys under `prefix`. Returns an unsubscribe function. */
  watch(prefix: string, listener: (event: MetadataEvent) => void): () => void;
  close(): Promise<void>;
}
