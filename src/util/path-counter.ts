/**
 * How many times a listing met each path before, for archives of very many members: an open-addressing table
 * of 32-bit slots (at most half full) over an array of the paths and their hashes, about 20 bytes a path, where a Map of
 * strings takes about 40 and spends most of a million-member listing's time hashing. Paths met more than once
 * (rare) are counted in a small Map beside it.
 */
import { grown } from './rows.js';

export class PathCounter {
  /** index into `paths` + 1 per slot; 0 is an empty slot */
  private slots = new Int32Array(1024);
  private readonly paths: string[] = [];
  /** each path's hash, so that growing the table hashes nothing again */
  private hashes = new Int32Array(512);
  private readonly repeats = new Map<string, number>();

  /** How many times `path` was met before this call (0 the first time); this meeting is counted. */
  count(path: string): number {
    const h = hash(path);
    const mask = this.slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = this.slots[i]!;
      if (s === 0) {
        const n = this.paths.length;
        if (n === this.hashes.length) this.hashes = grown(this.hashes, new Int32Array(2 * n));
        this.hashes[n] = h;
        this.slots[i] = this.paths.push(path);
        if (2 * this.paths.length > this.slots.length) this.grow();
        return 0;
      }
      if (this.paths[s - 1] === path) {
        const before = this.repeats.get(path) ?? 1;
        this.repeats.set(path, before + 1);
        return before;
      }
    }
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let p = 0; p < this.paths.length; p++) {
      let i = this.hashes[p]! & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = p + 1;
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
