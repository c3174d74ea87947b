// Growable typed-array columns and an open-addressing hash of (parent, name) pairs: the storage
// the image index is made of. No object per path: a column is one ArrayBuffer, grown by doubling.

export type TypedArray = Int32Array | Uint32Array | Uint16Array | Uint8Array | Float64Array;
type TypedArrayCtor<T extends TypedArray> = { new (n: number): T; BYTES_PER_ELEMENT: number };

/** A column of numbers that grows by doubling; `trim()` returns the used part as its own array. */
export class Column<T extends TypedArray> {
  a: T;
  length = 0;
  constructor(private readonly ctor: TypedArrayCtor<T>, capacity = 1024, private readonly fill?: number) {
    this.a = new ctor(Math.max(16, capacity));
    if (fill !== undefined && fill !== 0) this.a.fill(fill as never);
  }
  /** Make room for index i. */
  ensure(i: number): void {
    if (i < this.a.length) return;
    let n = this.a.length * 2;
    while (n <= i) n *= 2;
    const b = new this.ctor(n);
    b.set(this.a as never);
    if (this.fill !== undefined && this.fill !== 0) b.fill(this.fill as never, this.a.length);
    this.a = b;
  }
  /** Make room for exactly `n` values (when more than it holds): for a column whose final size is known. */
  reserveExactly(n: number): void {
    if (n <= this.a.length) return;
    const b = new this.ctor(n);
    b.set(this.a as never);
    if (this.fill !== undefined && this.fill !== 0) b.fill(this.fill as never, this.a.length);
    this.a = b;
  }
  /** The used part as a view of the column's own memory (no copy); the column must not be used after. */
  view(): T {
    return this.a.subarray(0, this.length) as T;
  }
  push(v: number): number {
    const i = this.length;
    if (i >= this.a.length) this.ensure(i);
    this.a[i] = v;
    this.length = i + 1;
    return i;
  }
  /** The used part, copied into an array of its exact length. */
  trim(): T {
    return this.a.slice(0, this.length) as T;
  }
}

/**
 * Maps (parent id, name id) to a node id: open addressing with linear probing over three Int32
 * columns. Keys are never removed.
 */
export class PairHash {
  private parents: Int32Array;
  private names: Int32Array;
  private values: Int32Array;
  private mask: number;
  private size = 0;
  constructor(capacity = 1024) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.parents = new Int32Array(n);
    this.names = new Int32Array(n);
    this.values = new Int32Array(n).fill(-1);
    this.mask = n - 1;
  }
  private slot(parent: number, name: number): number {
    let h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(name + 0x632be5ab, 0x85ebca77);
    h ^= h >>> 15;
    let i = h & this.mask;
    for (;;) {
      const v = this.values[i];
      if (v === -1 || (this.parents[i] === parent && this.names[i] === name)) return i;
      i = (i + 1) & this.mask;
    }
  }
  /** Makes room for `more` keys beyond those it holds, so that adding them never rehashes. */
  reserve(more: number): void {
    while ((this.size + more) * 2 > this.values.length) this.grow();
  }
  get(parent: number, name: number): number {
    return this.values[this.slot(parent, name)];
  }
  /** Sets the value of a key that is not in the hash yet. */
  add(parent: number, name: number, value: number): void {
    if ((this.size + 1) * 2 > this.values.length) this.grow();
    const i = this.slot(parent, name);
    if (this.values[i] === -1) this.size++;
    this.parents[i] = parent;
    this.names[i] = name;
    this.values[i] = value;
  }
  private grow(): void {
    const { parents, names, values } = this;
    const n = values.length * 2;
    this.parents = new Int32Array(n);
    this.names = new Int32Array(n);
    this.values = new Int32Array(n).fill(-1);
    this.mask = n - 1;
    for (let i = 0; i < values.length; i++) {
      if (values[i] === -1) continue;
      const j = this.slot(parents[i], names[i]);
      this.parents[j] = parents[i];
      this.names[j] = names[i];
      this.values[j] = values[i];
    }
  }
}

/** Strings interned to dense ids (0, 1, 2…), in the order first seen. */
export class StringTable {
  readonly strings: string[] = [];
  private readonly ids = new Map<string, number>();
  constructor(initial?: readonly string[]) {
    if (initial) for (const s of initial) this.id(s);
  }
  id(s: string): number {
    let i = this.ids.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.ids.set(s, i);
    }
    return i;
  }
  get size(): number {
    return this.strings.length;
  }
}
