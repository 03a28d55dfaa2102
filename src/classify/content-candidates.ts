/**
 * Candidate values for the content heuristics: the text patterns run over windows around the differences,
 * the binary decoders tried at every alignment around small equal-length ones, each pairing a value of A
 * with the value at the same place of B.
 */
import type { BinaryDecoder, Candidate, DiffRange, TextPattern } from './content-types.js';
import { hex, latin1 } from './content-types.js';
import { binaryUuidDecoder, TEXT_ID_PATTERNS } from './values-id.js';
import { TEXT_PATH_PATTERNS } from './values-path.js';
import { BINARY_TIME_DECODERS, TEXT_TIME_PATTERNS } from './values-time.js';

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

export class Sides {
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
    return this.lastRangeAt(p, 'aOffset');
  }

  /** index of the last range starting at or before `p` in B (-1 when none) */
  lastRangeAtB(p: number): number {
    return this.lastRangeAt(p, 'bOffset');
  }

  private lastRangeAt(p: number, side: 'aOffset' | 'bOffset'): number {
    let lo = 0, hi = this.ranges.length - 1, ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.ranges[mid] as DiffRange)[side] <= p) {
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

  /**
   * Is A position `pa` opposite B position `pb` in the alignment? True in equal stretches where B follows A,
   * and anywhere inside (or on the edge of) a differing range, where any split is as good as another.
   */
  onPath(pa: number, pb: number): boolean {
    const i = this.lastRangeAtA(pa);
    if (i >= 0) {
      const r = this.ranges[i] as DiffRange;
      if (pa <= r.aOffset + r.aLength && pb >= r.bOffset && pb <= r.bOffset + r.bLength) return true;
    }
    return this.mapAtoB(pa) === pb;
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

export function printableAscii(buf: Uint8Array, s: number, e: number): boolean {
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

const textByte = (c: number | undefined): boolean => c === 0 || (c !== undefined && c >= 0x20 && c < 0x7f);

/**
 * The `w` bytes at `s` and a byte next to them are all text or NUL, most of them text: a window over strings
 * (NUL-terminated names in a table, UTF-16 text), where a changed character reads as a close binary number.
 */
function inText(buf: Uint8Array, s: number, w: number): boolean {
  let text = 0;
  for (let i = s; i < s + w; i++) {
    const c = buf[i];
    if (!textByte(c)) return false;
    if (c !== 0) text++;
  }
  if (text * 2 < w) return false;
  return (s > 0 && textByte(buf[s - 1]) && buf[s - 1] !== 0) || (s + w < buf.length && textByte(buf[s + w]) && buf[s + w] !== 0);
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
export function textCandidates(x: Sides, upto: number, out: Map<string, Candidate>): void {
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
export function binaryCandidates(x: Sides, upto: number, out: Map<string, Candidate>): void {
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
        // the tail of a NUL-terminated or UTF-16 string (`test1\0Ru` in a string table) is not a number
        if (!dec.printable && inText(a, s, w) && inText(b, s + d, w)) continue;
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
