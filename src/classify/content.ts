/**
 * Content heuristics: why two versions of one file's content differ.
 *
 * The comparer hands over both contents (or windows of them). This module finds the differing regions,
 * decodes the values around each one on both sides — times in their many encodings, UUIDs, random tokens,
 * build paths, user and host names — and names the kind of each difference with a confidence. Every differing
 * byte ends up in exactly one place: an evidence's ranges (a decoded value), or `unexplained` (nothing
 * recognised it; those regions also get a low-confidence `content` evidence so the list of evidence is complete).
 */
import type { Kind } from '../model.js';
import { isoFromUnix } from '../util/time.js';
import { alignContents } from './content-align.js';
import { isText, unifiedTextDiff } from './content-text.js';
import { hex, latin1, type BinaryDecoder, type Candidate, type DiffRange, type PairVerdict, type TextPattern } from './content-types.js';
import { binaryUuidDecoder, TEXT_ID_PATTERNS } from './values-id.js';
import { TEXT_PATH_PATTERNS } from './values-path.js';
import { BINARY_TIME_DECODERS, TEXT_TIME_PATTERNS } from './values-time.js';

export type ContentRange = DiffRange;

export interface ContentEvidence {
  /** timestamp | random-id | build-path | checksum | content */
  kind: Kind;
  /** 0..1: how sure the classification is */
  confidence: number;
  /** decoded values: ISO 8601 for times, UUID text, the path, hex for random bytes */
  a: string | null;
  b: string | null;
  /** where the value sits in each content; one range per value (two for a date and a time merged) */
  ranges: ContentRange[];
  /** what was recognised, e.g. `32-bit little-endian Unix time in seconds`, `UUID v4 (random) in text` */
  description: string;
  /** how to make it deterministic in the producing tool */
  hint?: string;
  /** the bytes as they are: text, or hex for binary values */
  rawA?: string;
  rawB?: string;
  /** with `sourceDateEpoch`: whether each side's time equals it */
  sdeA?: boolean;
  sdeB?: boolean;
}

export interface ContentExplanation {
  /** both sides decode as text */
  text: boolean;
  /** unified text diff, capped, when text */
  diff?: string;
  /** every differing region, in order of position in A */
  evidence: ContentEvidence[];
  /** the regions no decoder recognised (each also has a `content` evidence with low confidence) */
  unexplained: ContentRange[];
  /** bytes that differ: for each region the larger of its two lengths (or the differing bytes of equal-length ones) */
  differingBytes: number;
  /** of those, the ones in `unexplained` */
  unexplainedBytes: number;
  /** limits that were hit */
  notes: string[];
}

export interface ExplainOptions {
  /** SOURCE_DATE_EPOCH of the builds, in seconds: time evidence says whether each side equals it */
  sourceDateEpoch?: number;
  /** cap of the text diff, default 16 KiB */
  maxDiffChars?: number;
  /** labels of the two sides in the diff headers, default `a` and `b` */
  labels?: [string, string];
}

const TEXT_PATTERNS: TextPattern[] = [...TEXT_TIME_PATTERNS, ...TEXT_ID_PATTERNS, ...TEXT_PATH_PATTERNS];
const BINARY_DECODERS: BinaryDecoder[] = [...BINARY_TIME_DECODERS, binaryUuidDecoder];
const MAX_WIDTH = Math.max(...BINARY_DECODERS.map((d) => d.width));
/** bytes of text looked at on each side of a difference */
const TEXT_MARGIN = 128;
/** a text window grows over neighbouring differences up to this size */
const TEXT_WINDOW_MAX = 8192;
/** regions longer than this are not searched for values */
const VALUE_REGION_MAX = 4096;
/** equal-length regions up to this long are tried with the binary decoders */
const BINARY_REGION_MAX = 64;
/** regions beyond this many are left unexplained without looking */
const MAX_CLASSIFIED = 10_000;
/** binary time readings below this confidence are dropped */
const MIN_BINARY_TIME = 0.5;
const DEFAULT_DIFF_CHARS = 16 * 1024;

interface Piece extends DiffRange {
  /** index of the evidence that explains it, -1 when none */
  by: number;
}

class Sides {
  readonly dvA: DataView;
  readonly dvB: DataView;
  constructor(
    readonly a: Uint8Array,
    readonly b: Uint8Array,
    readonly ranges: DiffRange[],
  ) {
    this.dvA = new DataView(a.buffer, a.byteOffset, a.byteLength);
    this.dvB = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** index of the last range starting at or before `p` in A (-1 when none) */
  lastRangeAtA(p: number): number {
    let lo = 0, hi = this.ranges.length - 1, ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.ranges[mid] as DiffRange).aOffset <= p) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  lastRangeAtB(p: number): number {
    let lo = 0, hi = this.ranges.length - 1, ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.ranges[mid] as DiffRange).bOffset <= p) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  /** the position in B that corresponds to the boundary `p` of A */
  mapAtoB(p: number): number {
    const i = this.lastRangeAtA(p);
    if (i < 0) return p;
    const r = this.ranges[i] as DiffRange;
    if (p >= r.aOffset + r.aLength) return p - (r.aOffset + r.aLength) + (r.bOffset + r.bLength);
    return r.bOffset + Math.min(p - r.aOffset, r.bLength);
  }

  /** does [s, e) of A (side a) or of B touch a differing range? */
  touches(side: 'a' | 'b', s: number, e: number): boolean {
    const i = side === 'a' ? this.lastRangeAtA(e - 1) : this.lastRangeAtB(e - 1);
    if (i < 0) return false;
    const r = this.ranges[i] as DiffRange;
    const off = side === 'a' ? r.aOffset : r.bOffset;
    const len = side === 'a' ? r.aLength : r.bLength;
    if (len === 0) return off >= s && off <= e;
    return off + len > s;
  }

  /** A[s, s+w) lines up with B[s+d, s+d+w) and every difference inside has the same shift */
  sameShift(s: number, w: number, d: number): boolean {
    let i = this.lastRangeAtA(s + w - 1);
    for (; i >= 0; i--) {
      const r = this.ranges[i] as DiffRange;
      if (r.aOffset + r.aLength <= s) {
        // the nearest range before the window sets the shift there
        return r.bOffset + r.bLength - (r.aOffset + r.aLength) === d;
      }
      if (r.aLength !== r.bLength || r.bOffset - r.aOffset !== d) return false;
    }
    return d === 0;
  }
}

function printableAscii(buf: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = buf[i] as number;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** Of the 32 bytes on each side of a range, most are distinct: the neighbourhood looks random. */
function randomLooking(buf: Uint8Array, off: number, len: number): boolean {
  const seen = new Uint8Array(256);
  let n = 0, distinct = 0;
  const take = (i: number): void => {
    const v = buf[i] as number;
    n++;
    if (seen[v] === 0) {
      seen[v] = 1;
      distinct++;
    }
  };
  for (let i = Math.max(0, off - 32); i < off; i++) take(i);
  for (let i = off + len; i < Math.min(buf.length, off + len + 32); i++) take(i);
  return n >= 32 && distinct > n * 0.75;
}

/** Is byte i inside a run of at least six printable ASCII characters? */
function inString(buf: Uint8Array, i: number): boolean {
  const ok = (c: number | undefined): boolean => c !== undefined && c >= 0x20 && c < 0x7f;
  if (!ok(buf[i])) return false;
  let lo = i, hi = i;
  while (lo > 0 && hi - lo < 5 && ok(buf[lo - 1])) lo--;
  while (hi + 1 < buf.length && hi - lo < 5 && ok(buf[hi + 1])) hi++;
  return hi - lo >= 5;
}

/** Every differing byte of the window sits inside a string on both sides: digits of a text, not a number. */
function textLike(a: Uint8Array, b: Uint8Array, s: number, d: number, w: number): boolean {
  let any = false;
  for (let i = s; i < s + w; i++) {
    if (a[i] === b[i + d]) continue;
    if (!inString(a, i) || !inString(b, i + d)) return false;
    any = true;
  }
  return any;
}

function candidateKey(c: Candidate, id: string): string {
  return `${id}:${c.aOffset}:${c.aLength}:${c.bOffset}:${c.bLength}`;
}

/** Finds values from the text patterns in the windows around the differences. */
function textCandidates(x: Sides, upto: number, out: Map<string, Candidate>): void {
  const { a, b, ranges } = x;
  let i = 0;
  while (i < upto) {
    const first = ranges[i] as DiffRange;
    if (first.aLength > VALUE_REGION_MAX || first.bLength > VALUE_REGION_MAX) {
      i++;
      continue;
    }
    let j = i;
    let a1 = first.aOffset + first.aLength + TEXT_MARGIN, b1 = first.bOffset + first.bLength + TEXT_MARGIN;
    const a0 = Math.max(0, first.aOffset - TEXT_MARGIN), b0 = Math.max(0, first.bOffset - TEXT_MARGIN);
    while (j + 1 < upto) {
      const n = ranges[j + 1] as DiffRange;
      if (n.aLength > VALUE_REGION_MAX || n.bLength > VALUE_REGION_MAX) break;
      if (n.aOffset - TEXT_MARGIN > a1 || n.bOffset - TEXT_MARGIN > b1) break;
      const na1 = n.aOffset + n.aLength + TEXT_MARGIN, nb1 = n.bOffset + n.bLength + TEXT_MARGIN;
      if (na1 - a0 > TEXT_WINDOW_MAX || nb1 - b0 > TEXT_WINDOW_MAX) break;
      a1 = na1;
      b1 = nb1;
      j++;
    }
    a1 = Math.min(a1, a.length);
    b1 = Math.min(b1, b.length);
    scanWindow(x, a0, a1, b0, b1, out);
    i = j + 1;
  }
}

interface Match {
  start: number;
  end: number;
  raw: string;
  d: NonNullable<ReturnType<TextPattern['decode']>>;
}

function findMatches(p: TextPattern, text: string, base: number, x: Sides, side: 'a' | 'b'): Match[] {
  const found: Match[] = [];
  p.re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = p.re.exec(text)) !== null) {
    if (m[0].length === 0) {
      p.re.lastIndex++;
      continue;
    }
    const start = base + m.index, end = start + m[0].length;
    if (!x.touches(side, start, end)) continue;
    const d = p.decode(m, text);
    if (d) found.push({ start, end, raw: m[0], d });
  }
  return found;
}

function scanWindow(x: Sides, a0: number, a1: number, b0: number, b1: number, out: Map<string, Candidate>): void {
  const ta = latin1(x.a, a0, a1), tb = latin1(x.b, b0, b1);
  for (const p of TEXT_PATTERNS) {
    const ma = findMatches(p, ta, a0, x, 'a');
    if (ma.length === 0) continue;
    const mb = findMatches(p, tb, b0, x, 'b');
    for (const m of ma) {
      const lo = x.mapAtoB(m.start), hi = x.mapAtoB(m.end);
      let best: Match | null = null, bestOverlap = 0;
      for (const n of mb) {
        const overlap = Math.min(hi, n.end) - Math.max(lo, n.start);
        if (overlap > bestOverlap) {
          best = n;
          bestOverlap = overlap;
        }
      }
      if (!best || best.raw === m.raw) continue;
      const v = p.pair(m.d, best.d);
      if (!v) continue;
      const c: Candidate = {
        ...v,
        aOffset: m.start,
        aLength: m.end - m.start,
        bOffset: best.start,
        bLength: best.end - best.start,
        rawA: m.raw,
        rawB: best.raw,
        tiebreak: v.msA !== undefined && v.msB !== undefined ? Math.abs(v.msA - v.msB) : 0,
      };
      const key = candidateKey(c, p.id);
      if (!out.has(key)) out.set(key, c);
    }
  }
}

/** Tries the binary decoders at every alignment around each small equal-length difference. */
function binaryCandidates(x: Sides, upto: number, out: Map<string, Candidate>): void {
  const { a, b, ranges } = x;
  for (let i = 0; i < upto; i++) {
    const r = ranges[i] as DiffRange;
    if (r.aLength !== r.bLength || r.aLength > BINARY_REGION_MAX) continue;
    const d = r.bOffset - r.aOffset;
    // one check for the whole neighbourhood when its shift is the same throughout
    const lo = Math.max(0, r.aOffset - MAX_WIDTH + 1), hi = Math.min(a.length, r.aOffset + r.aLength + MAX_WIDTH - 1);
    const uniform = x.sameShift(lo, hi - lo, d);
    // values in structures sit among zeros, small numbers and text; among random-looking bytes (compressed or
    // encrypted data) a changed byte reads as a "close time" by chance
    const noisy = randomLooking(a, r.aOffset, r.aLength);
    for (const dec of BINARY_DECODERS) {
      const w = dec.width;
      for (let s = Math.max(0, r.aOffset - w + 1); s < r.aOffset + r.aLength; s++) {
        if (s + w > a.length || s + d < 0 || s + d + w > b.length) continue;
        if (dec.lsb === 'start' && s > 0 && a[s - 1] !== b[s - 1 + d]) continue;
        if (dec.lsb === 'end' && s + w < a.length && s + w + d < b.length && a[s + w] !== b[s + w + d]) continue;
        if (!uniform && !x.sameShift(s, w, d)) continue;
        if (!dec.printable && printableAscii(a, s, s + w) && printableAscii(b, s + d, s + d + w)) continue;
        const va = dec.decode(a, s, x.dvA);
        if (!va) continue;
        const vb = dec.decode(b, s + d, x.dvB);
        if (!vb) continue;
        const v = dec.pair(va, vb);
        if (!v) continue;
        // digits of a text changing read as a close pair of numbers: text-looking bytes are weak evidence
        if (!dec.printable && textLike(a, b, s, d, w)) v.confidence = Math.max(0.05, v.confidence - 0.35);
        if (noisy) v.confidence = Math.max(0.05, v.confidence - 0.45);
        const c: Candidate = {
          ...v,
          aOffset: s,
          aLength: w,
          bOffset: s + d,
          bLength: w,
          binary: true,
          tiebreak: v.msA !== undefined && v.msB !== undefined ? Math.abs(v.msA - v.msB) : firstDiff(a, s, b, s + d, w),
        };
        const key = candidateKey(c, dec.id);
        if (!out.has(key)) out.set(key, c);
      }
    }
    // random-looking bytes of other sizes: serials, keys, salts, digests
    if (r.aLength >= 8 && r.aLength <= 256 && r.aLength !== 16) {
      const n = r.aLength;
      let differ = 0;
      for (let k = 0; k < n; k++) if (a[r.aOffset + k] !== b[r.bOffset + k]) differ++;
      const ha = hex(a, r.aOffset, r.aOffset + n), hb = hex(b, r.bOffset, r.bOffset + n);
      if (differ >= n * 0.75 && distinctRatio(a, r.aOffset, n) >= 0.6 && distinctRatio(b, r.bOffset, n) >= 0.6 && !printableAscii(a, r.aOffset, r.aOffset + n)) {
        const digest = n === 20 || n === 32 || n === 48 || n === 64;
        const c: Candidate = {
          kind: 'random-id',
          confidence: noisy ? 0.15 : 0.3,
          a: ha,
          b: hb,
          description: `${n} random-looking bytes (a random id, salt or key${digest ? ', or a digest of other changes' : ''})`,
          aOffset: r.aOffset,
          aLength: n,
          bOffset: r.bOffset,
          bLength: n,
          binary: true,
          tiebreak: 0,
        };
        out.set(candidateKey(c, 'random'), c);
      }
    }
  }
}

function firstDiff(a: Uint8Array, sa: number, b: Uint8Array, sb: number, w: number): number {
  for (let k = 0; k < w; k++) if (a[sa + k] !== b[sb + k]) return k;
  return w;
}

function distinctRatio(buf: Uint8Array, s: number, n: number): number {
  const seen = new Set<number>();
  for (let k = 0; k < n; k++) seen.add(buf[s + k] as number);
  return seen.size / Math.min(n, 256);
}

/** Differing bytes of a piece: exact for equal lengths, the longer side otherwise. */
function pieceBytes(x: Sides, p: DiffRange): number {
  if (p.aLength !== p.bLength) return Math.max(p.aLength, p.bLength);
  let n = 0;
  for (let k = 0; k < p.aLength; k++) if (x.a[p.aOffset + k] !== x.b[p.bOffset + k]) n++;
  return n;
}

/** Shrinks an equal-length piece to its first and last differing bytes; null when nothing differs. */
function trim(x: Sides, p: Piece): Piece | null {
  if (p.aLength !== p.bLength) return p;
  const d = p.bOffset - p.aOffset;
  let s = p.aOffset, e = p.aOffset + p.aLength;
  while (s < e && x.a[s] === x.b[s + d]) s++;
  while (e > s && x.a[e - 1] === x.b[e - 1 + d]) e--;
  if (s >= e) return null;
  return { aOffset: s, aLength: e - s, bOffset: s + d, bLength: e - s, by: p.by };
}

class PieceSet {
  constructor(
    readonly x: Sides,
    public pieces: Piece[],
  ) {}

  /** first piece that ends at or after `p` in A */
  private from(p: number): number {
    let lo = 0, hi = this.pieces.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const q = this.pieces[mid] as Piece;
      if (q.aOffset + q.aLength < p) lo = mid + 1;
      else hi = mid;
    }
    return Math.max(0, lo - 1);
  }

  /**
   * What `c` can explain: unclaimed pieces inside both of its ranges, and the part inside of equal-length
   * pieces with the same shift. Returns the claimed bytes and, with `apply`, claims them for evidence `by`.
   */
  claim(c: Candidate, by: number, apply: boolean): number {
    const cae = c.aOffset + c.aLength, cbe = c.bOffset + c.bLength;
    let bytes = 0;
    const replaced: { at: number; with: Piece[] }[] = [];
    for (let i = this.from(c.aOffset); i < this.pieces.length; i++) {
      const p = this.pieces[i] as Piece;
      if (p.aOffset > cae && p.bOffset > cbe) break;
      if (p.by >= 0) continue;
      const pae = p.aOffset + p.aLength, pbe = p.bOffset + p.bLength;
      // the part of the piece inside the candidate, side by side; an empty side must sit within the candidate
      const ia0 = Math.max(p.aOffset, c.aOffset), ia1 = Math.min(pae, cae);
      const ib0 = Math.max(p.bOffset, c.bOffset), ib1 = Math.min(pbe, cbe);
      const okA = p.aLength === 0 ? p.aOffset >= c.aOffset && p.aOffset <= cae : ia1 > ia0;
      const okB = p.bLength === 0 ? p.bOffset >= c.bOffset && p.bOffset <= cbe : ib1 > ib0;
      if (!okA || !okB) continue;
      const sameShift = p.aLength === p.bLength && p.bOffset - p.aOffset === c.bOffset - c.aOffset;
      if (p.aLength === p.bLength && !sameShift && !(ia0 === p.aOffset && ia1 === pae && ib0 === p.bOffset && ib1 === pbe)) continue;
      const inA0 = p.aLength === 0 ? p.aOffset : ia0, inA1 = p.aLength === 0 ? p.aOffset : ia1;
      const inB0 = p.bLength === 0 ? p.bOffset : ib0, inB1 = p.bLength === 0 ? p.bOffset : ib1;
      const inside = trim(this.x, { aOffset: inA0, aLength: inA1 - inA0, bOffset: inB0, bLength: inB1 - inB0, by });
      if (!inside || (inside.aLength === 0 && inside.bLength === 0)) continue;
      bytes += pieceBytes(this.x, inside);
      if (!apply) continue;
      const parts: Piece[] = [];
      const part = (a0: number, a1: number, b0: number, b1: number): void => {
        if (a1 <= a0 && b1 <= b0) return;
        const t = trim(this.x, { aOffset: a0, aLength: Math.max(0, a1 - a0), bOffset: b0, bLength: Math.max(0, b1 - b0), by: -1 });
        if (t && (t.aLength > 0 || t.bLength > 0)) parts.push(t);
      };
      part(p.aOffset, inA0, p.bOffset, inB0);
      parts.push(inside);
      part(inA1, pae, inB1, pbe);
      replaced.push({ at: i, with: parts });
    }
    for (let k = replaced.length - 1; k >= 0; k--) {
      const r = replaced[k] as { at: number; with: Piece[] };
      this.pieces.splice(r.at, 1, ...r.with);
    }
    return bytes;
  }
}

function overlapsAny(list: [number, number][], s: number, e: number): boolean {
  // list is sorted by start and non-overlapping
  let lo = 0, hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [ms, me] = list[mid] as [number, number];
    if (me <= s) lo = mid + 1;
    else if (ms >= e) hi = mid - 1;
    else return true;
  }
  return false;
}

function insertSorted(list: [number, number][], s: number, e: number): void {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as [number, number])[0] < s) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, [s, e]);
}

/**
 * Binary values sit at their natural alignment more often than not (structures are padded): 1 when the
 * value starts at a multiple of its size (4 for the odd sizes), 0 otherwise. Text values are all 0.
 */
function aligned(c: Candidate): number {
  if (!c.binary) return 0;
  const w = c.aLength === 2 || c.aLength === 8 ? c.aLength : 4;
  return c.aOffset % w === 0 ? 1 : 0;
}

/** Other close time readings of exactly the same bytes, e.g. four bytes that are also a DOS time and date. */
function alsoReads(c: Candidate, byPlace: Map<string, Candidate[]>): string {
  if (c.kind !== 'timestamp') return '';
  const others = (byPlace.get(`${c.aOffset}:${c.aLength}:${c.bOffset}:${c.bLength}`) ?? []).filter(
    (o) =>
      o !== c &&
      o.kind === 'timestamp' &&
      o.description !== c.description &&
      o.a !== c.a &&
      o.confidence >= 0.5 &&
      o.msA !== undefined &&
      o.msB !== undefined &&
      Math.abs(o.msA - o.msB) <= 2 * 86_400_000,
  );
  if (others.length === 0) return '';
  return ` (the same bytes also read as ${others.map((o) => `${o.description}: ${o.a} vs ${o.b}`).join('; ')})`;
}

/**
 * The same bytes removed at one place and inserted nearby: entries of a table in another order (strings of a
 * string table, members of a list). Each such pair is one `ordering` evidence with both ranges.
 */
function movedRuns(x: Sides, pieces: Piece[], firstId: number): ContentEvidence[] {
  const out: ContentEvidence[] = [];
  const removed = new Map<string, Piece[]>();
  for (const p of pieces) {
    if (p.by < 0 && p.bLength === 0 && p.aLength >= 2 && p.aLength <= 4096) {
      for (const k of slides(x.a, p.aOffset, p.aLength)) removed.set(k, [...(removed.get(k) ?? []), p]);
    }
  }
  if (removed.size === 0) return out;
  for (const q of pieces) {
    if (q.by >= 0 || q.aLength !== 0 || q.bLength < 2 || q.bLength > 4096) continue;
    let p: Piece | undefined;
    for (const key of slides(x.b, q.bOffset, q.bLength)) {
      p = removed.get(key)?.find((r) => r.by < 0 && Math.abs(r.aOffset - q.aOffset) <= 4096);
      if (p) break;
    }
    if (!p) continue;
    p.by = q.by = firstId + out.length;
    out.push({
      kind: 'ordering',
      confidence: 0.6,
      a: escaped(x.a, p.aOffset, p.aLength),
      b: escaped(x.b, q.bOffset, q.bLength),
      ranges: [
        { aOffset: p.aOffset, aLength: p.aLength, bOffset: p.bOffset, bLength: 0 },
        { aOffset: q.aOffset, aLength: 0, bOffset: q.bOffset, bLength: q.bLength },
      ],
      description: `${p.aLength} bytes moved: the same bytes are at A+${p.aOffset} and at B+${q.bOffset} (entries in another order)`,
      hint: 'sort the entries (files, strings, members) before writing them',
    });
  }
  return out;
}

/** Mostly printable bytes as text with `\0` and `\xNN` escapes; other bytes as hex. At most 80 bytes. */
function escaped(buf: Uint8Array, off: number, len: number): string {
  const n = Math.min(len, 80);
  let printable = 0;
  for (let i = off; i < off + n; i++) if ((buf[i] as number) >= 0x20 && (buf[i] as number) < 0x7f) printable++;
  if (printable * 4 < n * 3) return hex(buf, off, off + Math.min(len, 32)) + (len > 32 ? '…' : '');
  let s = '';
  for (let i = off; i < off + n; i++) {
    const c = buf[i] as number;
    s += c === 0 ? '\\0' : c === 0x5c ? '\\\\' : c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return s + (len > n ? '…' : '');
}

/**
 * An inserted run and the equivalent runs it can slide to: `\0x.c` before a `\0` is also `x.c\0` one byte on.
 * (Sliding right by k is valid when the k bytes after the run repeat its first k bytes; left likewise.)
 */
function slides(buf: Uint8Array, off: number, len: number): string[] {
  const run = latin1(buf, off, off + len);
  const out = [run];
  if (len > 256) return out;
  for (let k = 1; k < len && off + len + k <= buf.length && buf[off + len + k - 1] === buf[off + k - 1]; k++) out.push(run.slice(k) + run.slice(0, k));
  for (let k = 1; k < len && off - k >= 0 && buf[off - k] === buf[off + len - k]; k++) out.push(run.slice(len - k) + run.slice(0, len - k));
  return out;
}

function sdeFlags(v: PairVerdict, sde: number | undefined): { sdeA?: boolean; sdeB?: boolean } {
  if (sde === undefined || v.kind !== 'timestamp') return {};
  const iso = isoFromUnix(sde);
  const eq = (ms: number | undefined, value: string | null): boolean | undefined => {
    if (v.timeOnly) return iso !== null && value === iso.slice(11, 19);
    if (v.dateOnly) return iso !== null && value === iso.slice(0, 10);
    return ms === undefined ? undefined : Math.floor(ms / 1000) === sde;
  };
  return { sdeA: eq(v.msA, v.a), sdeB: eq(v.msB, v.b) };
}

function showBytes(buf: Uint8Array, s: number, len: number, text: boolean): string {
  const n = Math.min(len, text ? 80 : 32);
  const more = len > n ? '…' : '';
  if (text) return new TextDecoder('utf-8').decode(buf.subarray(s, s + n)) + more;
  return hex(buf, s, s + n) + more;
}

function fallback(x: Sides, r: DiffRange, text: boolean): ContentEvidence {
  let description: string;
  let confidence = 0.1;
  if (r.aLength === 0) description = `${r.bLength} bytes only in B (inserted)`;
  else if (r.bLength === 0) description = `${r.aLength} bytes only in A (removed)`;
  else if (r.aLength >= 256 && r.bLength >= 256 && byteEntropy(x.a, r.aOffset, r.aLength) > 7.2 && byteEntropy(x.b, r.bOffset, r.bLength) > 7.2) {
    description = `${Math.max(r.aLength, r.bLength)} bytes of high-entropy data differ (compressed or encrypted data whose input differs)`;
    confidence = 0.2;
  } else description = text ? 'text differs' : `${r.aLength === r.bLength ? r.aLength : `${r.aLength} → ${r.bLength}`} bytes differ`;
  return {
    kind: 'content',
    confidence,
    a: r.aLength ? showBytes(x.a, r.aOffset, r.aLength, text) : null,
    b: r.bLength ? showBytes(x.b, r.bOffset, r.bLength, text) : null,
    ranges: [{ ...r }],
    description,
  };
}

function byteEntropy(buf: Uint8Array, s: number, n: number): number {
  const counts = new Uint32Array(256);
  const m = Math.min(n, 65536);
  for (let k = 0; k < m; k++) {
    const v = buf[s + k] as number;
    counts[v] = (counts[v] as number) + 1;
  }
  let h = 0;
  for (const c of counts) {
    if (c === 0) continue;
    const p = c / m;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Evidence next to each other that is one value: the same value twice in a row, or a date followed by a time. */
function mergeAdjacent(list: ContentEvidence[], a: Uint8Array): ContentEvidence[] {
  const out: ContentEvidence[] = [];
  for (const e of list) {
    const prev = out[out.length - 1];
    const pr = prev?.ranges[prev.ranges.length - 1];
    const er = e.ranges[0] as ContentRange;
    if (prev && pr) {
      const gapA = er.aOffset - (pr.aOffset + pr.aLength), gapB = er.bOffset - (pr.bOffset + pr.bLength);
      const near = gapA >= 0 && gapB >= 0 && gapA <= 4 && gapB <= 4;
      if (near && prev.kind === e.kind && prev.a === e.a && prev.b === e.b && prev.description === e.description) {
        prev.ranges.push(er);
        continue;
      }
      const pd = (prev as Tagged).dateOnly, et = (e as Tagged).timeOnly;
      // __DATE__ and __TIME__ as two strings: only padding, quotes or spaces between them
      const padded = gapA >= 0 && gapB >= 0 && gapA <= 16 && gapB <= 16 && !/[A-Za-z0-9]/.test(latin1(a, pr.aOffset + pr.aLength, er.aOffset));
      if (padded && pd && et && prev.kind === 'timestamp' && e.kind === 'timestamp') {
        const merged: Tagged = {
          ...prev,
          a: prev.a && e.a ? `${prev.a}T${e.a}Z` : prev.a ?? e.a,
          b: prev.b && e.b ? `${prev.b}T${e.b}Z` : prev.b ?? e.b,
          ranges: [...prev.ranges, er],
          description: `${prev.description}, then ${e.description}`,
          confidence: Math.max(prev.confidence, e.confidence),
          rawA: `${prev.rawA ?? ''} ${e.rawA ?? ''}`,
          rawB: `${prev.rawB ?? ''} ${e.rawB ?? ''}`,
          dateOnly: false,
        };
        if (prev.sdeA !== undefined || e.sdeA !== undefined) {
          merged.sdeA = Boolean(prev.sdeA && e.sdeA);
          merged.sdeB = Boolean(prev.sdeB && e.sdeB);
        }
        out[out.length - 1] = merged;
        continue;
      }
    }
    out.push(e);
  }
  for (const e of out) {
    delete (e as Tagged).dateOnly;
    delete (e as Tagged).timeOnly;
  }
  return out;
}

type Tagged = ContentEvidence & { dateOnly?: boolean; timeOnly?: boolean };

/**
 * Explains why `a` and `b` differ. Linear in their sizes plus work proportional to the differences;
 * at most 10,000 regions are examined (the rest are reported unexplained, with a note).
 */
export function explainContent(a: Uint8Array, b: Uint8Array, opts: ExplainOptions = {}): ContentExplanation {
  const text = isText(a) && isText(b);
  const notes: string[] = [];
  const { ranges, truncated } = alignContents(a, b);
  if (truncated) notes.push('too many differing regions: the last region covers the rest');
  const x = new Sides(a, b, ranges);
  const upto = Math.min(ranges.length, MAX_CLASSIFIED);
  if (upto < ranges.length) notes.push(`${ranges.length - upto} differing regions past the first ${upto} were not examined`);

  const found = new Map<string, Candidate>();
  textCandidates(x, upto, found);
  if (!text) binaryCandidates(x, upto, found);

  const pieces = new PieceSet(
    x,
    ranges.map((r) => ({ ...r, by: -1 })),
  );
  const differingBytes = ranges.reduce((n, r) => n + pieceBytes(x, r), 0);
  if (opts.sourceDateEpoch !== undefined) {
    // a side that equals SOURCE_DATE_EPOCH settles which reading of the bytes is the right one
    for (const c of found.values()) {
      const f = sdeFlags(c, opts.sourceDateEpoch);
      if ((f.sdeA || f.sdeB) && !c.timeOnly && !c.dateOnly) c.confidence = Math.max(c.confidence, 0.95);
    }
  }
  const byPlace = new Map<string, Candidate[]>();
  for (const c of found.values()) {
    const k = `${c.aOffset}:${c.aLength}:${c.bOffset}:${c.bLength}`;
    byPlace.set(k, [...(byPlace.get(k) ?? []), c]);
  }
  const cands = [...found.values()]
    // a weak binary time reading is noise: leave the bytes unexplained rather than guess
    .filter((c) => !(c.binary && c.kind === 'timestamp' && c.confidence < MIN_BINARY_TIME))
    .map((c) => ({ c, bytes: pieces.claim(c, -1, false) }))
    .filter((e) => e.bytes > 0);
  cands.sort(
    (p, q) =>
      q.c.confidence - p.c.confidence ||
      q.bytes - p.bytes ||
      aligned(q.c) - aligned(p.c) ||
      p.c.tiebreak - q.c.tiebreak ||
      q.c.aLength - p.c.aLength ||
      p.c.aOffset - q.c.aOffset,
  );

  const accepted: Candidate[] = [];
  const takenA: [number, number][] = [], takenB: [number, number][] = [];
  for (const { c } of cands) {
    if (overlapsAny(takenA, c.aOffset, c.aOffset + Math.max(1, c.aLength)) || overlapsAny(takenB, c.bOffset, c.bOffset + Math.max(1, c.bLength))) continue;
    if (pieces.claim(c, accepted.length, false) === 0) continue;
    pieces.claim(c, accepted.length, true);
    insertSorted(takenA, c.aOffset, c.aOffset + Math.max(1, c.aLength));
    insertSorted(takenB, c.bOffset, c.bOffset + Math.max(1, c.bLength));
    accepted.push(c);
  }

  const evidence: Tagged[] = accepted.map((c) => ({
    kind: c.kind,
    confidence: c.confidence,
    a: c.a,
    b: c.b,
    ranges: [{ aOffset: c.aOffset, aLength: c.aLength, bOffset: c.bOffset, bLength: c.bLength }],
    description: c.description + alsoReads(c, byPlace),
    ...(c.hint ? { hint: c.hint } : {}),
    rawA: c.rawA ?? hex(a, c.aOffset, c.aOffset + c.aLength),
    rawB: c.rawB ?? hex(b, c.bOffset, c.bOffset + c.bLength),
    ...sdeFlags(c, opts.sourceDateEpoch),
    ...(c.dateOnly ? { dateOnly: true } : {}),
    ...(c.timeOnly ? { timeOnly: true } : {}),
  }));

  evidence.push(...movedRuns(x, pieces.pieces, evidence.length));

  // what nothing explained: neighbouring leftovers become one region each
  const unexplained: ContentRange[] = [];
  let unexplainedBytes = 0;
  let open: ContentRange | null = null;
  for (const p of pieces.pieces) {
    if (p.by >= 0) {
      open = null;
      continue;
    }
    unexplainedBytes += pieceBytes(x, p);
    if (open && p.aOffset - (open.aOffset + open.aLength) < 8 && p.bOffset - (open.bOffset + open.bLength) < 8) {
      open.aLength = p.aOffset + p.aLength - open.aOffset;
      open.bLength = p.bOffset + p.bLength - open.bOffset;
      continue;
    }
    open = { aOffset: p.aOffset, aLength: p.aLength, bOffset: p.bOffset, bLength: p.bLength };
    unexplained.push(open);
  }
  for (const r of unexplained) evidence.push(fallback(x, r, text));

  evidence.sort((p, q) => {
    const r = p.ranges[0] as ContentRange, s = q.ranges[0] as ContentRange;
    return r.aOffset - s.aOffset || r.bOffset - s.bOffset;
  });

  const result: ContentExplanation = {
    text,
    evidence: mergeAdjacent(evidence, a),
    unexplained,
    differingBytes,
    unexplainedBytes,
    notes,
  };
  if (text && ranges.length > 0) result.diff = unifiedTextDiff(a, b, ranges, opts.maxDiffChars ?? DEFAULT_DIFF_CHARS, opts.labels);
  return result;
}

function hexLine(buf: Uint8Array, start: number, end: number, mark0: number, mark1: number): string {
  const cells: string[] = [];
  let ascii = '';
  for (let i = start; i < end; i++) {
    const c = buf[i];
    const cell = c === undefined ? '  ' : c.toString(16).padStart(2, '0');
    cells.push(i === mark0 ? `[${cell}` : i === mark1 - 1 ? `${cell}]` : cell);
    if (i === mark0 && i === mark1 - 1) cells[cells.length - 1] = `[${cell}]`;
    ascii += c === undefined ? ' ' : c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  }
  return `${start.toString(16).padStart(8, '0')}  ${cells.join(' ')}  |${ascii}|`;
}

/**
 * A two-line excerpt, `a` over `b`, of at most 64 bytes around a range: offset, hex with the range in
 * brackets, and ASCII. `bOffset`/`bLength` default to the same place in B.
 */
export function hexExcerpt(a: Uint8Array, b: Uint8Array, offset: number, length: number, bOffset = offset, bLength = length): string {
  const line = (buf: Uint8Array, off: number, len: number): string => {
    const show = Math.min(64, Math.max(len, 1) + 16);
    const ctx = Math.max(0, show - Math.max(len, 0));
    const start = Math.max(0, Math.min(off - Math.floor(ctx / 2), Math.max(0, buf.length - show)));
    const end = Math.min(buf.length, start + show);
    return hexLine(buf, start, end, off, off + len);
  };
  return `a ${line(a, offset, length)}\nb ${line(b, bOffset, bLength)}`;
}
