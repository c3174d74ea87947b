// Growable typed-array columns and an open-addressing hash of (parent, name) pairs: the storage
// the image index is made of. No object per path: a column is one ArrayBuffer, grown by doubling.

export type TypedArray = Int32Array | Uint32Array | Uint16Array | Uint8Array | Float64Array;
type TypedArrayCtor<T extends TypedArray> = { new (n: number): T; BYTES_PER_ELEMENT: number };

/**
 * A column of whole numbers that almost always fit 32 bits (sizes, owners, times, byte sums): a
 * Uint32Array, made a Float64Array (widen) when a value does not fit: one larger than 4 GiB, a
 * negative or fractional one. Half the memory in the common case, every value exact in all.
 */
export type NumArray = Uint32Array | Float64Array;

/** Whether v is stored exactly by a Uint32Array. */
export function fitsU32(v: number): boolean {
  return v >>> 0 === v && (v !== 0 || 1 / v > 0);
}

/** The values of a as a Float64Array (a itself when it is one). */
export function widened(a: NumArray): Float64Array {
  return a instanceof Float64Array ? a : Float64Array.from(a);
}

/** A column of numbers that grows by doubling; `trim()` returns the used part as its own array. */
export class Column<T extends TypedArray> {
  a: T;
  length = 0;
  constructor(private ctor: TypedArrayCtor<T>, capacity = 1024, private readonly fill?: number) {
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
  /** Lets its memory go (the column is empty after). */
  release(): void {
    this.a = new this.ctor(0);
    this.length = 0;
  }
  /** Makes a Uint32Array column a Float64Array one, values kept (see NumArray). */
  widen(): void {
    if (this.a instanceof Float64Array) return;
    this.a = widened(this.a as NumArray) as unknown as T;
    this.ctor = Float64Array as unknown as TypedArrayCtor<T>;
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
  /** The used part: a view when it fills most of the column (no copy), else a copy of its exact length. */
  fit(): T {
    return this.length * 5 >= this.a.length * 4 ? this.view() : this.trim();
  }
  /** The used part, copied into an array of its exact length. */
  trim(): T {
    return this.a.slice(0, this.length) as T;
  }
}

/**
 * Zeroed typed arrays cut one after another from memory something else no longer needs (a
 * released hash), and new ones once it is used up: the index's new columns take that memory
 * rather than adding to it while the old buffer waits for the collector.
 */
export class Arena {
  private at = 0;
  constructor(private readonly buf: ArrayBuffer) {}
  private take(bytes: number): number {
    const at = (this.at + 7) & ~7;
    if (at + bytes > this.buf.byteLength) return -1;
    this.at = at + bytes;
    return at;
  }
  i32(n: number): Int32Array {
    const at = this.take(n * 4);
    return at < 0 ? new Int32Array(n) : new Int32Array(this.buf, at, n).fill(0);
  }
  u32(n: number): Uint32Array {
    const at = this.take(n * 4);
    return at < 0 ? new Uint32Array(n) : new Uint32Array(this.buf, at, n).fill(0);
  }
}

/**
 * Maps (parent id, name id) to a node id: open addressing with linear probing over one Int32Array
 * of (parent, name, value) triples, so that a probe reads one cache line. Keys are never removed.
 */
export class PairHash {
  private t: Int32Array;
  private mask: number;
  private size = 0;
  constructor(capacity = 1024) {
    let n = 16;
    while (n * 0.7 < capacity) n *= 2;
    this.t = PairHash.table(n);
    this.mask = n - 1;
  }
  private static table(slots: number): Int32Array {
    const t = new Int32Array(slots * 3);
    for (let i = 2; i < t.length; i += 3) t[i] = -1;
    return t;
  }
  /** The triple's offset for the key: its own, or the empty one where it would go. */
  private slot(parent: number, name: number): number {
    let h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(name + 0x632be5ab, 0x85ebca77);
    h ^= h >>> 15;
    const t = this.t;
    let i = h & this.mask;
    for (;;) {
      const at = i * 3;
      if (t[at + 2] === -1 || (t[at] === parent && t[at + 1] === name)) return at;
      i = (i + 1) & this.mask;
    }
  }
  /** Its memory, for another use (an Arena); the hash must not be used after. */
  release(): ArrayBuffer {
    const b = this.t.buffer as ArrayBuffer;
    this.t = new Int32Array(0);
    return b;
  }
  /** Makes room for `more` keys beyond those it holds, so that adding them never rehashes. */
  reserve(more: number): void {
    let n = this.mask + 1;
    while (this.size + more > n * 0.7) n *= 2;
    if (n > this.mask + 1) this.grow(n);
  }
  get(parent: number, name: number): number {
    return this.t[this.slot(parent, name) + 2];
  }
  /** The value of (parent, name); when the key is new, `value` after adding it (one probe sequence for both). */
  intern(parent: number, name: number, value: number): number {
    if (this.size + 1 > (this.mask + 1) * 0.7) this.grow();
    const at = this.slot(parent, name);
    const t = this.t;
    const v = t[at + 2];
    if (v !== -1) return v;
    t[at] = parent;
    t[at + 1] = name;
    t[at + 2] = value;
    this.size++;
    return value;
  }
  /** Sets the value of a key that is not in the hash yet. */
  add(parent: number, name: number, value: number): void {
    if (this.size + 1 > (this.mask + 1) * 0.7) this.grow();
    const at = this.slot(parent, name);
    const t = this.t;
    if (t[at + 2] === -1) this.size++;
    t[at] = parent;
    t[at + 1] = name;
    t[at + 2] = value;
  }
  private grow(n = (this.mask + 1) * 2): void {
    const old = this.t;
    this.t = PairHash.table(n);
    this.mask = n - 1;
    for (let at = 0; at < old.length; at += 3) {
      if (old[at + 2] === -1) continue;
      const to = this.slot(old[at], old[at + 1]);
      this.t[to] = old[at];
      this.t[to + 1] = old[at + 1];
      this.t[to + 2] = old[at + 2];
    }
  }
}

/**
 * Path component names interned to dense ids, from the bytes of a tar header (no string is made
 * for a name seen before) or from strings. An ASCII name has the same id either way (its bytes are
 * its char codes); other names are keyed by their string. `strings` holds each name once.
 */
export class NameTable {
  readonly strings: string[] = [];
  /** Per id: its bytes' offset in `bytes` (-1 for a name keyed by its string), length and hash. */
  private readonly at = new Column(Int32Array, 1024);
  private readonly len = new Column(Int32Array, 1024);
  private readonly hash = new Column(Int32Array, 1024);
  private bytes = new Uint8Array(1 << 16);
  private used = 0;
  private slots: Int32Array;
  private mask: number;
  private readonly other = new Map<string, number>();

  constructor(expected = 1024) {
    let n = 1024;
    while (n < expected * 2 && n < 1 << 24) n *= 2;
    this.slots = new Int32Array(n).fill(-1);
    this.mask = n - 1;
  }

  get size(): number {
    return this.strings.length;
  }

  /** The id of the ASCII name in b[from, to). */
  idBytes(b: Uint8Array, from: number, to: number): number {
    let h = 0x811c9dc5 | 0;
    for (let i = from; i < to; i++) h = Math.imul(h ^ b[i], 0x01000193);
    const n = to - from;
    const slots = this.slots, hashes = this.hash.a, lens = this.len.a, ats = this.at.a, bytes = this.bytes;
    let s = (h ^ (h >>> 16)) & this.mask;
    for (;;) {
      const id = slots[s];
      if (id < 0) break;
      if (hashes[id] === h && lens[id] === n) {
        const a = ats[id];
        let i = 0;
        while (i < n && bytes[a + i] === b[from + i]) i++;
        if (i === n) return id;
      }
      s = (s + 1) & this.mask;
    }
    let str = '';
    for (let i = from; i < to; i += 4096) str += String.fromCharCode.apply(null, b.subarray(i, Math.min(to, i + 4096)) as unknown as number[]);
    return this.added(s, h, b, from, to, str);
  }

  /** The id of a name given as a string. */
  id(str: string): number {
    const n = str.length;
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < n; i++) {
      const c = str.charCodeAt(i);
      if (c >= 0x80) {
        let id = this.other.get(str);
        if (id === undefined) {
          id = this.strings.length;
          this.strings.push(str);
          this.at.push(-1);
          this.len.push(-1);
          this.hash.push(0);
          this.other.set(str, id);
        }
        return id;
      }
      h = Math.imul(h ^ c, 0x01000193);
    }
    const slots = this.slots, hashes = this.hash.a, lens = this.len.a, ats = this.at.a, bytes = this.bytes;
    let s = (h ^ (h >>> 16)) & this.mask;
    for (;;) {
      const id = slots[s];
      if (id < 0) break;
      if (hashes[id] === h && lens[id] === n) {
        const a = ats[id];
        let i = 0;
        while (i < n && bytes[a + i] === str.charCodeAt(i)) i++;
        if (i === n) return id;
      }
      s = (s + 1) & this.mask;
    }
    const tmp = new Uint8Array(n);
    for (let i = 0; i < n; i++) tmp[i] = str.charCodeAt(i);
    return this.added(s, h, tmp, 0, n, str);
  }

  private added(slot: number, h: number, b: Uint8Array, from: number, to: number, str: string): number {
    const id = this.strings.length;
    const n = to - from;
    if (this.used + n > this.bytes.length) {
      let cap = this.bytes.length * 2;
      while (cap < this.used + n) cap *= 2;
      const grown = new Uint8Array(cap);
      grown.set(this.bytes.subarray(0, this.used));
      this.bytes = grown;
    }
    this.bytes.set(b.subarray(from, to), this.used);
    this.strings.push(str);
    this.at.push(this.used);
    this.len.push(n);
    this.hash.push(h);
    this.used += n;
    this.slots[slot] = id;
    if ((id + 1) * 2 > this.slots.length) this.rehash();
    return id;
  }

  private rehash(): void {
    const n = this.slots.length * 2;
    this.slots = new Int32Array(n).fill(-1);
    this.mask = n - 1;
    const hashes = this.hash.a, ats = this.at.a;
    for (let id = 0; id < this.strings.length; id++) {
      if (ats[id] < 0) continue;
      const h = hashes[id];
      let s = (h ^ (h >>> 16)) & this.mask;
      while (this.slots[s] >= 0) s = (s + 1) & this.mask;
      this.slots[s] = id;
    }
  }
}

/** Strings interned to dense ids (0, 1, 2…), in the order first seen. */
export class StringTable {
  readonly strings: string[] = [];
  /** String → id, made on first need after adopt() (a million names need no map until looked up). */
  private ids: Map<string, number> | undefined = new Map();
  constructor(initial?: readonly string[]) {
    if (initial) for (const s of initial) this.id(s);
  }
  private map(): Map<string, number> {
    return (this.ids ??= new Map(this.strings.map((s, i) => [s, i])));
  }
  id(s: string): number {
    const ids = this.map();
    let i = ids.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      ids.set(s, i);
    }
    return i;
  }
  /**
   * Appends strings known to be distinct and new (a layer's own name table, to an empty table or
   * one holding only what none of them is): their ids follow on in order, with no lookup.
   */
  adopt(distinct: readonly string[]): void {
    for (const s of distinct) this.strings.push(s);
    this.ids = undefined;
  }
  get size(): number {
    return this.strings.length;
  }
  /** The id of a string already interned, or undefined. */
  has(s: string): number | undefined {
    return this.map().get(s);
  }
}
