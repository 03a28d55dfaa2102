/**
 * Collects the regions of a container by name: one Region per name and role however many structures share it
 * (a tar archive has a header per member), adjacent spans merged. Keeps the region list short on big archives,
 * and its spans compact: an archive of a million members has a million header spans, kept here as two numbers
 * each in a typed array (16 bytes a span, not an object of about 60), made into Span objects only when asked.
 */
import type { ByteSource } from '../io/source.js';
import type { Region, Span } from '../model.js';
import { pushAll } from './array.js';

/** The spans of one region name: those of one stream (the common case) packed, any others as objects. */
class PackedRegion implements Region {
  private packed = new Float64Array(8);
  /** spans in `packed` */
  private n = 0;
  /** the stream every packed span is in (undefined: the outer file); fixed by the first span */
  private readonly stream: string | undefined;
  /** whether the packed spans are in increasing order of offset, so that `contains` can search them */
  private sorted = true;
  /** spans of another stream than the first span's */
  private readonly others: Span[] = [];

  constructor(
    readonly name: string,
    readonly role: Region['role'],
    first: Span,
  ) {
    this.stream = first.stream;
    this.add(first);
  }

  add(s: Span): void {
    if (s.stream !== this.stream) {
      const last = this.others[this.others.length - 1];
      if (last && last.stream === s.stream && last.offset + last.length === s.offset) last.length += s.length;
      else this.others.push({ ...s });
      return;
    }
    const p = this.packed;
    if (this.n > 0) {
      const lastOff = p[2 * this.n - 2]!;
      const lastLen = p[2 * this.n - 1]!;
      if (lastOff + lastLen === s.offset) {
        p[2 * this.n - 1] = lastLen + s.length;
        return;
      }
      if (s.offset < lastOff + lastLen) this.sorted = false;
    }
    if (2 * this.n + 2 > p.length) {
      const grown = new Float64Array(p.length * 2);
      grown.set(p);
      this.packed = grown;
    }
    this.packed[2 * this.n] = s.offset;
    this.packed[2 * this.n + 1] = s.length;
    this.n++;
  }

  /** whether any span of the region holds `offset`, an offset in the outer file */
  contains(offset: number): boolean {
    for (const s of this.others) if (s.stream === undefined && offset >= s.offset && offset < s.offset + s.length) return true;
    if (this.stream !== undefined) return false;
    const p = this.packed;
    if (!this.sorted) {
      for (let i = 0; i < this.n; i++) if (offset >= p[2 * i]! && offset < p[2 * i]! + p[2 * i + 1]!) return true;
      return false;
    }
    // the last span starting at or before `offset`
    let lo = 0;
    let hi = this.n - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (p[2 * mid]! <= offset) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return at >= 0 && offset < p[2 * at]! + p[2 * at + 1]!;
  }

  get spans(): Span[] {
    const out: Span[] = [];
    const p = this.packed;
    for (let i = 0; i < this.n; i++) {
      const s: Span = { offset: p[2 * i]!, length: p[2 * i + 1]! };
      if (this.stream !== undefined) s.stream = this.stream;
      out.push(s);
    }
    for (const s of this.others) out.push({ ...s });
    return out;
  }

  /** the packed typed array cut to its spans: what a finished listing keeps */
  trim(): void {
    if (this.packed.length > 2 * this.n) this.packed = this.packed.slice(0, 2 * this.n);
  }
}

export class RegionList {
  /** by name, then role: no key is built per call (an archive adds a few spans per member) */
  private readonly byName = new Map<string, PackedRegion[]>();
  /** in the order they were made */
  private readonly all: PackedRegion[] = [];

  add(name: string, role: Region['role'], spans: Span[]): void {
    let same = this.byName.get(name);
    let r: PackedRegion | undefined;
    if (same) {
      for (const x of same) if (x.role === role) r = x;
    }
    for (const s of spans) {
      if (s.length === 0) continue;
      if (!r) {
        r = new PackedRegion(name, role, s);
        if (same) same.push(r);
        else this.byName.set(name, (same = [r]));
        this.all.push(r);
      } else r.add(s);
    }
  }

  /** The regions in the order their names first appeared; names with no bytes are left out. */
  list(): Region[] {
    for (const r of this.all) r.trim();
    return [...this.all];
  }
}

/** Members kept as rows (cpio, tar): how many, their source, and where each one starts, in increasing order. */
export interface Rows {
  readonly n: number;
  readonly src: ByteSource;
  at(i: number): number;
}

/**
 * One kind of byte run every member of a listing kept as rows has (from `from(i)` to `to(i)` of the source,
 * within the member, empty runs left out) as a region: its spans are made when asked; whether it holds an
 * offset of the outer file is found by binary search when the source lies in the outer file in one piece (the
 * common case: an archive inside gzip holds no such offset).
 */
export class RowRegion implements Region {
  constructor(
    readonly name: string,
    readonly role: Region['role'],
    private readonly rows: Rows,
    private readonly from: (i: number) => number,
    private readonly to: (i: number) => number,
  ) {}

  get spans(): Span[] {
    const out: Span[] = [];
    for (let i = 0; i < this.rows.n; i++) {
      const len = this.to(i) - this.from(i);
      if (len > 0) pushAll(out, this.rows.src.spans(this.from(i), len));
    }
    return out;
  }

  /** where the source starts in the outer file when it lies there in one piece; null in a decoded stream; undefined in pieces */
  private base: number | null | undefined;
  private placed = false;

  contains(offset: number): boolean {
    if (!this.placed) {
      const src = this.rows.src;
      const whole = src.size > 0 ? src.spans(0, src.size) : [];
      this.base = whole.some((s) => s.stream !== undefined) ? null : whole.length === 1 ? whole[0]!.offset : undefined;
      this.placed = true;
    }
    // in a decoded stream: no offset of the outer file; in pieces: span by span
    if (this.base === null) return false;
    if (this.base === undefined) return this.spans.some((s) => offset >= s.offset && offset < s.offset + s.length);
    const at = offset - this.base;
    // the last row starting at or before `at`
    let lo = 0;
    let hi = this.rows.n - 1;
    let row = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.rows.at(mid) <= at) {
        row = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return row >= 0 && at >= this.from(row) && at < this.to(row);
  }
}
