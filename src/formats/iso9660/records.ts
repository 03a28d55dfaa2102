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

/** rows per chunk: the table grows by chunks, so nothing is copied and no old array is left to collect */
const CHUNK_BITS = 14;
const CHUNK = 1 << CHUNK_BITS;
const IN_CHUNK = CHUNK - 1;

/** One chunk of rows. */
class Rows {
  readonly at = new Float64Array(CHUNK);
  readonly len = new Uint8Array(CHUNK);
  readonly kind = new Uint32Array(CHUNK);
  readonly next = new Int32Array(CHUNK);
}

export class RecordTable<V> {
  private readonly chunks: Rows[] = [];
  private count = 0;
  private readonly kinds: RecordKind<V>[] = [];
  /** kind ids by volume, tag and rr prefix */
  private readonly kindIds = new Map<V, Map<string, Map<string, number>>>();
  /** continuation areas of the few records whose SUSP entries use them */
  private readonly ce = new Map<number, readonly Extent[]>();

  /** Adds one record (a directory record is at most 255 bytes); returns its row, chained to nothing. */
  add(volume: V, at: number, len: number, tag: string, rr: string, ce: readonly Extent[]): number {
    const row = this.count++;
    const i = row & IN_CHUNK;
    if (i === 0) this.chunks.push(new Rows());
    const c = this.chunks[row >>> CHUNK_BITS]!;
    c.at[i] = at;
    c.len[i] = len;
    c.kind[i] = this.kindId(volume, tag, rr);
    c.next[i] = -1;
    if (ce.length) this.ce.set(row, ce);
    return row;
  }

  /** Appends the chain `tail` to the chain `head` (which may be empty) in place. */
  append(head: Chain, tail: Chain): void {
    if (tail.first < 0) return;
    if (head.first < 0) head.first = tail.first;
    else this.chunks[head.last >>> CHUNK_BITS]!.next[head.last & IN_CHUNK] = tail.first;
    head.last = tail.last;
  }

  next(row: number): number {
    return this.chunks[row >>> CHUNK_BITS]!.next[row & IN_CHUNK]!;
  }

  offset(row: number): number {
    return this.chunks[row >>> CHUNK_BITS]!.at[row & IN_CHUNK]!;
  }

  length(row: number): number {
    return this.chunks[row >>> CHUNK_BITS]!.len[row & IN_CHUNK]!;
  }

  kind(row: number): RecordKind<V> {
    return this.kinds[this.chunks[row >>> CHUNK_BITS]!.kind[row & IN_CHUNK]!]!;
  }

  continuations(row: number): readonly Extent[] {
    return this.ce.get(row) ?? NONE;
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
