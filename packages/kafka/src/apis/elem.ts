/** The element type of a (possibly optional or nullable) array field of a generated message type. */
export type Elem<T> = NonNullable<T> extends ReadonlyArray<infer U> ? U : never;
