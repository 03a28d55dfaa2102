/**
 * Members of a listing kept as rows of typed arrays instead of objects, for archives of millions of members
 * (cpio, tar): where each one's header is, its data size, type and dialect, with its path read from the
 * archive again when asked. A format's rows add what else it needs (cpio: the name size).
 */
import type { ByteSource } from '../io/source.js';
import type { EntryType } from '../model.js';
import type { Rows } from './regions.js';

const TYPES: EntryType[] = ['file', 'dir', 'symlink', 'chardev', 'blockdev', 'fifo', 'socket', 'other'];

export abstract class ArchiveRows<D extends string> implements Rows {
  n = 0;
  private atRow: Float64Array | Uint32Array;
  private sizeRow: Float64Array = new Float64Array(16);
  private typeRow: Uint8Array = new Uint8Array(16);
  private dialectRow: Uint8Array = new Uint8Array(16);
  /** symlink (and hard link) targets by row */
  readonly targets = new Map<number, string>();
  /** the paths of later copies of a path, by row */
  readonly renamed = new Map<number, string>();
  private lastRow = -1;
  private lastPath = '';

  /** `narrow`: the source is under 4 GiB, so offsets in it are kept in 32 bits */
  constructor(
    private readonly dialects: readonly D[],
    private readonly narrow = false,
  ) {
    this.atRow = this.offsets(16);
  }

  /** A typed array for `m` offsets (or sizes) within the source: 32 bits a number when the source is under 4 GiB. */
  protected offsets(m: number): Float64Array | Uint32Array {
    return this.narrow ? new Uint32Array(m) : new Float64Array(m);
  }

  abstract readonly src: ByteSource;

  /** row `i`'s path, read from the archive */
  protected abstract readPath(i: number): string;

  /** arrays of the format's own, grown to `m` rows */
  protected abstract growOwn(m: number): void;

  /** Adds a row; gives its number. */
  protected push(at: number, size: number, type: EntryType, dialect: D, target: string | undefined): number {
    if (this.n === this.atRow.length) this.resize(this.n * 2);
    const i = this.n++;
    this.atRow[i] = at;
    this.sizeRow[i] = size;
    this.typeRow[i] = TYPES.indexOf(type);
    this.dialectRow[i] = this.dialects.indexOf(dialect);
    if (target !== undefined) this.targets.set(i, target);
    return i;
  }

  /** where row `i`'s header starts */
  at(i: number): number {
    return this.atRow[i]!;
  }
  /** the data's size in the archive */
  size(i: number): number {
    return this.sizeRow[i]!;
  }
  type(i: number): EntryType {
    return TYPES[this.typeRow[i]!]!;
  }
  dialect(i: number): D {
    return this.dialects[this.dialectRow[i]!]!;
  }

  /**
   * Row `i`'s path, read and decoded from the archive again: a million members keep no path strings between the
   * listing and the comparison, at the price of reading a name when asked (the comparison asks for one
   * entry's path a few times in a row: the last one is kept).
   */
  path(i: number): string {
    if (i === this.lastRow) return this.lastPath;
    const path = this.renamed.get(i) ?? this.readPath(i);
    this.lastRow = i;
    this.lastPath = path;
    return path;
  }

  /** Room for `m` rows, made at once (a listing that knows its count grows no array, and copies none). */
  reserve(m: number): void {
    if (m > this.atRow.length) this.resize(m);
  }

  /** the arrays cut to the rows: what a finished listing keeps */
  trim(): void {
    if (this.atRow.length > this.n) this.resize(this.n);
  }

  private resize(m: number): void {
    this.atRow = grown(this.atRow, this.offsets(m));
    this.sizeRow = grown(this.sizeRow, new Float64Array(m));
    this.typeRow = grown(this.typeRow, new Uint8Array(m));
    this.dialectRow = grown(this.dialectRow, new Uint8Array(m));
    this.growOwn(m);
  }
}

/**
 * An entry that is row `order` of its listing's rows (cpio, zip): its path, type and size are read from there
 * when asked; the format's entry adds the rest.
 */
export abstract class RowEntry<R extends ArchiveRows<string>> {
  constructor(
    protected readonly rows: R,
    /** the member's row, which is also its place in the listing */
    readonly order: number,
  ) {}

  get path(): string {
    return this.rows.path(this.order);
  }
  get type(): EntryType {
    return this.rows.type(this.order);
  }
  get size(): number {
    return this.rows.size(this.order);
  }
}

/** `to` holding the start of `from` (as much as fits) */
export function grown<T extends Float64Array | Uint32Array | Int32Array | Uint8Array>(from: T, to: T): T {
  to.set(from.subarray(0, Math.min(to.length, from.length)));
  return to;
}

/**
 * Two numbers a row in one growing typed array (where each member starts and ends; where a content starts in
 * each build): a million rows are 16 MB, not a million small arrays.
 */
export class PairRows {
  length = 0;
  private at: Float64Array;

  /** `expected`: how many rows there will be (at most), so that none is copied to grow */
  constructor(expected = 16) {
    this.at = new Float64Array(2 * Math.max(1, expected));
  }

  push(x: number, y: number): void {
    if (2 * this.length === this.at.length) this.at = grown(this.at, new Float64Array(this.at.length * 2));
    this.at[2 * this.length] = x;
    this.at[2 * this.length + 1] = y;
    this.length++;
  }

  x(i: number): number {
    return this.at[2 * i]!;
  }

  y(i: number): number {
    return this.at[2 * i + 1]!;
  }
}
