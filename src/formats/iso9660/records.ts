/**
 * Where the directory records of a tree's entries sit. A release image has hundreds of thousands of records and
 * an entry reads its fields from them only when a differing byte touches them, so a record is one row of a few
 * typed arrays, not an object: its offset, its length, its kind (volume and field-name prefixes), and the next
 * record of the same entry. An entry holds its first and last row; rows are chained in the order they are met.
 */
import type { Extent } from '../../io/source.js';

/** The volume a record belongs to and how its fields are named. */
export interface RecordKind<V> {
  volume: V;
  /** prefix of the record's own fields: `dirent`, `dirent.self`, `joliet.parent`, `dirent.part1` */
  tag: string;
  /** prefix of its Rock Ridge fields: `rr`, `rr.self`, `rr.parent` */
  rr: string;
}

/** A run of chained rows, first to last; `first` is -1 when there is none. */
export interface Chain {
  first: number;
  last: number;
}

const NONE: readonly Extent[] = [];

export class RecordTable<V> {
  private at = new Float64Array(1024);
  private len = new Uint8Array(1024);
  private kindOf = new Uint32Array(1024);
  private nextOf = new Int32Array(1024);
  private count = 0;
  private readonly kinds: RecordKind<V>[] = [];
  /** kind ids by volume, tag and rr prefix */
  private readonly kindIds = new Map<V, Map<string, Map<string, number>>>();
  /** continuation areas of the few records whose SUSP entries use them */
  private readonly ce = new Map<number, readonly Extent[]>();

  /** Adds one record (a directory record is at most 255 bytes); returns its row, chained to nothing. */
  add(volume: V, at: number, len: number, tag: string, rr: string, ce: readonly Extent[]): number {
    if (this.count === this.at.length) this.grow(this.count * 2);
    const row = this.count++;
    this.at[row] = at;
    this.len[row] = len;
    this.kindOf[row] = this.kindId(volume, tag, rr);
    this.nextOf[row] = -1;
    if (ce.length) this.ce.set(row, ce);
    return row;
  }

  /** Appends the chain `tail` to the chain `head` (which may be empty) in place. */
  append(head: Chain, tail: Chain): void {
    if (tail.first < 0) return;
    if (head.first < 0) head.first = tail.first;
    else this.nextOf[head.last] = tail.first;
    head.last = tail.last;
  }

  next(row: number): number {
    return this.nextOf[row]!;
  }

  offset(row: number): number {
    return this.at[row]!;
  }

  length(row: number): number {
    return this.len[row]!;
  }

  kind(row: number): RecordKind<V> {
    return this.kinds[this.kindOf[row]!]!;
  }

  continuations(row: number): readonly Extent[] {
    return this.ce.get(row) ?? NONE;
  }

  /** Gives back the room left for rows that were never added. */
  compact(): void {
    this.grow(this.count);
  }

  private grow(size: number): void {
    const n = Math.max(size, 1);
    const at = new Float64Array(n);
    at.set(this.at.subarray(0, this.count));
    const len = new Uint8Array(n);
    len.set(this.len.subarray(0, this.count));
    const kindOf = new Uint32Array(n);
    kindOf.set(this.kindOf.subarray(0, this.count));
    const nextOf = new Int32Array(n);
    nextOf.set(this.nextOf.subarray(0, this.count));
    this.at = at;
    this.len = len;
    this.kindOf = kindOf;
    this.nextOf = nextOf;
  }

  private kindId(volume: V, tag: string, rr: string): number {
    let byTag = this.kindIds.get(volume);
    if (!byTag) this.kindIds.set(volume, (byTag = new Map()));
    let byRr = byTag.get(tag);
    if (!byRr) byTag.set(tag, (byRr = new Map()));
    let id = byRr.get(rr);
    if (id === undefined) {
      id = this.kinds.length;
      this.kinds.push({ volume, tag, rr });
      byRr.set(rr, id);
    }
    return id;
  }
}
