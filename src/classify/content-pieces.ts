/**
 * The differing regions as pieces that evidence claims: a candidate value claims the pieces inside its
 * ranges (splitting those it covers in part), and what is left over is unexplained. Runs removed at one
 * place and inserted at another are paired as moved.
 */
import type { ContentEvidence } from './content.js';
import { hex, latin1, type Candidate, type DiffRange } from './content-types.js';
import type { Sides } from './content-candidates.js';

export interface Piece extends DiffRange {
  /** index of the evidence that explains it, -1 when none */
  by: number;
}

/** Differing bytes of a piece: exact for equal lengths, the longer side otherwise. */
export function pieceBytes(x: Sides, p: DiffRange): number {
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

export class PieceSet {
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
    // a value's two ends must face each other in the alignment, or its ranges would claim bytes of A whose
    // counterparts in B lie outside it (two different values that merely overlap)
    if (!this.x.onPath(c.aOffset, c.bOffset) || !this.x.onPath(cae, cbe)) return 0;
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

export function overlapsAny(list: [number, number][], s: number, e: number): boolean {
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

export function insertSorted(list: [number, number][], s: number, e: number): void {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as [number, number])[0] < s) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, [s, e]);
}

/**
 * The same bytes removed at one place and inserted nearby: entries of a table in another order (strings of a
 * string table, members of a list). Each such pair is one `ordering` evidence with both ranges.
 */
export function movedRuns(x: Sides, pieces: Piece[], firstId: number): ContentEvidence[] {
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
