/**
 * How many times a listing met each path before, for archives of very many members: an open-addressing table
 * of 32-bit slots (at most half full) holding the key its owner reads a path back by (a member's row) or, for
 * paths with no key, an index into an array of them; with the paths' hashes, about 12 bytes a keyed path, where
 * a Map of strings takes about 40 and spends most of a million-member listing's time hashing. Paths met more
 * than once (rare) are counted in a small Map beside it.
 */
import { grown } from './rows.js';

export class PathCounter {
  /**
   * Per slot: 0 empty; k + 1 a path counted with key k (read back through `pathOf`); -(j + 1) the path
   * `strings[j]`, counted without a key.
   */
  private slots: Int32Array;
  /** paths met and kept (`count` had no key for them), with their hashes */
  private readonly strings: string[] = [];
  private stringHashes = new Int32Array(16);
  /** each keyed path's hash, by key: growing the table hashes nothing again, and most probes compare no string */
  private keyHashes: Int32Array;
  /** slots in use */
  private used = 0;
  private readonly repeats = new Map<string, number>();

  /**
   * `pathOf`: the path counted with a key, read back (the same string `count` was given); `expected`: how many
   * paths there will be, so that the table need not grow.
   */
  constructor(
    private readonly pathOf?: (key: number) => string,
    expected = 512,
  ) {
    let size = 1024;
    while (size < 2 * expected && size < 2 ** 30) size *= 2;
    this.slots = new Int32Array(size);
    this.keyHashes = new Int32Array(pathOf ? Math.max(16, expected) : 0);
  }

  /**
   * How many times `path` was met before this call (0 the first time); this meeting is counted. With a
   * `key` (a member's row: a small number, each one given once), the table keeps the key, not the string.
   */
  count(path: string, key?: number): number {
    const h = hash(path) | 0;
    const mask = this.slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = this.slots[i]!;
      if (s === 0) {
        if (key !== undefined && this.pathOf) {
          if (key >= this.keyHashes.length) this.keyHashes = grown(this.keyHashes, new Int32Array(Math.max(2 * this.keyHashes.length, key + 1)));
          this.keyHashes[key] = h;
          this.slots[i] = key + 1;
        } else {
          const j = this.strings.length;
          if (j === this.stringHashes.length) this.stringHashes = grown(this.stringHashes, new Int32Array(2 * j));
          this.stringHashes[j] = h;
          this.strings.push(path);
          this.slots[i] = -(j + 1);
        }
        if (2 * ++this.used > this.slots.length) this.grow();
        return 0;
      }
      if (this.hashOf(s) !== h) continue;
      if ((s > 0 ? this.pathOf!(s - 1) : this.strings[-s - 1]) === path) {
        const before = this.repeats.get(path) ?? 1;
        this.repeats.set(path, before + 1);
        return before;
      }
    }
  }

  private hashOf(slot: number): number {
    return slot > 0 ? this.keyHashes[slot - 1]! : this.stringHashes[-slot - 1]!;
  }

  private grow(): void {
    const old = this.slots;
    const slots = new Int32Array(old.length * 2);
    const mask = slots.length - 1;
    for (const s of old) {
      if (s === 0) continue;
      let i = this.hashOf(s) & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = s;
    }
    this.slots = slots;
  }
}

/** FNV-1a over the UTF-16 code units, 32 bits */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
