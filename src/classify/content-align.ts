/**
 * Finds the differing regions of two contents.
 *
 * Equal lengths: the byte runs that differ (chunks compared natively, bytes only inside differing chunks).
 * Different lengths: common prefix and suffix, then anchors — 16-byte blocks of A found again in B with a rolling
 * hash, taken greedily in order and extended byte by byte — and a bounded character diff inside small gaps.
 * Time and memory are linear in the input size; no step compares every byte with every other.
 */
import { Buffer } from 'node:buffer';
import { diffChars } from 'diff';
import { latin1, type DiffRange } from './content-types.js';

/** Differing runs closer than this are one region. */
const MERGE_GAP = 3;
const CHUNK = 4096;
const BLOCK = 16;
/** gaps up to this size on both sides are refined with a character diff */
const REFINE_MAX = 1024;
const REFINE_EDITS = 128;
/** total bytes the character diff may look at, over all gaps */
const REFINE_BUDGET = 512 * 1024;
const CHAIN = 16;
/** how far past the diagonal A is indexed before a lookup */
const SEARCH_AHEAD = 64 * 1024;
/** largest middle part (after the common prefix and suffix) aligned on anchors */
const ANCHOR_MAX = 256 * 1024 * 1024;

export interface Alignment {
  ranges: DiffRange[];
  /** the region cap was hit: the last range swallows the rest */
  truncated: boolean;
}

const views = new WeakMap<Uint8Array, Buffer>();

/** One Buffer view per input, so that native range compares allocate nothing. */
function view(buf: Uint8Array): Buffer {
  let v = views.get(buf);
  if (!v) {
    v = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    views.set(buf, v);
  }
  return v;
}

function same(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, len: number): boolean {
  if (len <= 0) return true;
  return view(a).compare(view(b), bStart, bStart + len, aStart, aStart + len) === 0;
}

class Collector {
  readonly ranges: DiffRange[] = [];
  truncated = false;
  refineBudget = REFINE_BUDGET;
  constructor(readonly maxRanges: number) {}

  push(aOffset: number, aLength: number, bOffset: number, bLength: number): void {
    if (aLength === 0 && bLength === 0) return;
    const last = this.ranges[this.ranges.length - 1];
    if (last) {
      const gapA = aOffset - (last.aOffset + last.aLength);
      const gapB = bOffset - (last.bOffset + last.bLength);
      if (gapA === gapB && gapA < MERGE_GAP) {
        last.aLength = aOffset + aLength - last.aOffset;
        last.bLength = bOffset + bLength - last.bOffset;
        return;
      }
      if (this.ranges.length >= this.maxRanges) {
        this.truncated = true;
        last.aLength = Math.max(last.aLength, aOffset + aLength - last.aOffset);
        last.bLength = Math.max(last.bLength, bOffset + bLength - last.bOffset);
        return;
      }
    }
    this.ranges.push({ aOffset, aLength, bOffset, bLength });
  }
}

/** Differing runs of a[aStart, aStart+len) against b[bStart, bStart+len). */
function equalLengthRuns(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, len: number, out: Collector): void {
  const d = bStart - aStart;
  let runStart = -1;
  const end = aStart + len;
  for (let i = aStart; i < end; ) {
    const e = Math.min(end, i + CHUNK);
    if (same(a, i, b, i + d, e - i)) {
      if (runStart >= 0) {
        out.push(runStart, i - runStart, runStart + d, i - runStart);
        runStart = -1;
      }
      i = e;
      continue;
    }
    for (let j = i; j < e; j++) {
      if (a[j] !== b[j + d]) {
        if (runStart < 0) runStart = j;
      } else if (runStart >= 0) {
        out.push(runStart, j - runStart, runStart + d, j - runStart);
        runStart = -1;
      }
    }
    i = e;
  }
  if (runStart >= 0) out.push(runStart, end - runStart, runStart + d, end - runStart);
}

function commonPrefix(a: Uint8Array, b: Uint8Array, max: number): number {
  let i = 0;
  while (i < max) {
    const n = Math.min(CHUNK, max - i);
    if (same(a, i, b, i, n)) {
      i += n;
      continue;
    }
    while (a[i] === b[i]) i++;
    return i;
  }
  return max;
}

function commonSuffix(a: Uint8Array, b: Uint8Array, max: number): number {
  let k = 0;
  const la = a.length, lb = b.length;
  while (k < max) {
    const n = Math.min(CHUNK, max - k);
    if (same(a, la - k - n, b, lb - k - n, n)) {
      k += n;
      continue;
    }
    while (k < max && a[la - 1 - k] === b[lb - 1 - k]) k++;
    return k;
  }
  return max;
}

/**
 * A character diff of a[aStart,aEnd) and b[bStart,bEnd), as differing ranges (neighbours closer than
 * MERGE_GAP joined); null when it needs more than `maxEdits` insertions and deletions.
 */
function charDiff(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number, maxEdits: number): DiffRange[] | null {
  const changes = diffChars(latin1(a, aStart, aEnd), latin1(b, bStart, bEnd), { maxEditLength: maxEdits });
  if (!changes) return null;
  const out: DiffRange[] = [];
  const push = (ra: number, la: number, rb: number, lb: number): void => {
    const last = out[out.length - 1];
    if (last && ra - (last.aOffset + last.aLength) < MERGE_GAP && rb - (last.bOffset + last.bLength) < MERGE_GAP) {
      last.aLength = ra + la - last.aOffset;
      last.bLength = rb + lb - last.bOffset;
    } else out.push({ aOffset: ra, aLength: la, bOffset: rb, bLength: lb });
  };
  let pa = aStart, pb = bStart;
  let ra = -1, rb = -1;
  for (const c of changes) {
    const n = c.value.length;
    if (!c.added && !c.removed) {
      if (ra >= 0) {
        push(ra, pa - ra, rb, pb - rb);
        ra = rb = -1;
      }
      pa += n;
      pb += n;
      continue;
    }
    if (ra < 0) {
      ra = pa;
      rb = pb;
    }
    if (c.removed) pa += n;
    else pb += n;
  }
  if (ra >= 0) push(ra, pa - ra, rb, pb - rb);
  return out;
}

/** A gap between anchors: byte runs when lengths agree, a character diff when small, else one region. */
function refineGap(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number, out: Collector): void {
  const la = aEnd - aStart, lb = bEnd - bStart;
  if (la === 0 || lb === 0) return out.push(aStart, la, bStart, lb);
  if (la === lb) return equalLengthRuns(a, aStart, b, bStart, la, out);
  if (la <= REFINE_MAX && lb <= REFINE_MAX && out.refineBudget >= la + lb) {
    out.refineBudget -= la + lb;
    const ranges = charDiff(a, aStart, aEnd, b, bStart, bEnd, REFINE_EDITS);
    if (ranges) {
      for (const r of ranges) out.push(r.aOffset, r.aLength, r.bOffset, r.bLength);
      return;
    }
  }
  out.push(aStart, la, bStart, lb);
}

function mostlyPrintable(buf: Uint8Array, s: number, e: number): boolean {
  let n = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i] as number;
    if ((c >= 0x20 && c < 0x7f) || c === 0 || c === 0x0a) n++;
  }
  return n * 4 >= (e - s) * 3;
}

/**
 * Strings that moved inside equal-length contents (two entries of a string table in the other order, a path
 * one character longer in a padded field) show as long runs of differing bytes. Where a cluster of differing
 * runs is text on both sides and a character diff explains it with fewer edits than the bytes that differ,
 * the character diff's ranges replace the runs.
 */
function realignStrings(a: Uint8Array, b: Uint8Array, ranges: DiffRange[]): DiffRange[] {
  const out: DiffRange[] = [];
  let budget = REFINE_BUDGET;
  for (let i = 0; i < ranges.length; ) {
    let j = i;
    while (j + 1 < ranges.length) {
      const cur = ranges[j] as DiffRange, nxt = ranges[j + 1] as DiffRange;
      if (nxt.aOffset - (cur.aOffset + cur.aLength) > 8 || nxt.aOffset + nxt.aLength - (ranges[i] as DiffRange).aOffset > REFINE_MAX) break;
      j++;
    }
    const first = ranges[i] as DiffRange, last = ranges[j] as DiffRange;
    const s = first.aOffset, e = last.aOffset + last.aLength;
    let done = false;
    if (e - s >= 6 && budget >= 2 * (e - s) && mostlyPrintable(a, s, e) && mostlyPrintable(b, s, e)) {
      budget -= 2 * (e - s);
      let differing = 0;
      for (let k = s; k < e; k++) if (a[k] !== b[k]) differing++;
      const cd = charDiff(a, s, e, b, s, e, Math.min(2 * differing - 1, REFINE_EDITS * 2));
      if (cd) {
        out.push(...cd);
        done = true;
      }
    }
    if (!done) for (let k = i; k <= j; k++) out.push(ranges[k] as DiffRange);
    i = j + 1;
  }
  return out;
}

const P = 0x01000193;
let P_POW = 1;
for (let i = 0; i < BLOCK - 1; i++) P_POW = Math.imul(P_POW, P);

function hashBlock(buf: Uint8Array, off: number): number {
  let h = 0;
  for (let k = 0; k < BLOCK; k++) h = (Math.imul(h, P) + (buf[off + k] as number)) | 0;
  return h;
}

function eq16(a: Uint8Array, p: number, b: Uint8Array, q: number): boolean {
  for (let k = 0; k < BLOCK; k++) if (a[p + k] !== b[q + k]) return false;
  return true;
}

function flat(buf: Uint8Array, off: number): boolean {
  const v = buf[off];
  for (let k = 1; k < BLOCK; k++) if (buf[off + k] !== v) return false;
  return true;
}

/**
 * Aligns a[a0,a1) with b[b0,b1) on common 16-byte blocks, in order, and records the gaps.
 * A's blocks are indexed lazily, from the last anchor forward as far as the search has reached (twice the
 * distance walked in B, plus 64 KiB): edits are local, so most of A is skipped by extending matches and never
 * hashed. Each block is indexed at most once.
 */
function anchorAlign(a: Uint8Array, a0: number, a1: number, b: Uint8Array, b0: number, b1: number, out: Collector): void {
  const nBlocks = Math.floor((a1 - a0) / BLOCK);
  if (nBlocks === 0 || b1 - b0 < BLOCK) return refineGap(a, a0, a1, b, b0, b1, out);
  const bits = Math.min(20, Math.max(10, Math.ceil(Math.log2(nBlocks * 2))));
  const mask = (1 << bits) - 1;
  const head = new Int32Array(mask + 1).fill(-1);
  const next = new Int32Array(nBlocks).fill(-1);
  const hashes = new Int32Array(nBlocks);
  /** blocks below this index are indexed (or were skipped over) */
  let indexed = 0;
  const indexTo = (pos: number): void => {
    const upto = Math.min(nBlocks, Math.floor((pos - a0) / BLOCK));
    for (; indexed < upto; indexed++) {
      const p = a0 + indexed * BLOCK;
      if (flat(a, p)) continue;
      const h = hashBlock(a, p);
      hashes[indexed] = h;
      const bucket = h & mask;
      // newest first: chains run from the highest block down, so a walk can stop below the last anchor
      next[indexed] = head[bucket] as number;
      head[bucket] = indexed;
    }
  };
  let aPos = a0, bPos = b0, j = b0;
  let h = hashBlock(b, j);
  while (j + BLOCK <= b1) {
    let best = -1, bestDist = Infinity;
    // first the diagonal: the same shift as at the last anchor (the usual case after a changed value)
    const diag = aPos + (j - bPos);
    if (diag + BLOCK <= a1 && eq16(a, diag, b, j)) {
      best = diag;
      bestDist = 0;
    } else {
      const first = Math.ceil((aPos - a0) / BLOCK);
      if (indexed < first) indexed = first; // blocks behind the last anchor are never wanted
      indexTo(aPos + 2 * (j - bPos) + SEARCH_AHEAD);
      // chains are walked a bounded number of steps, so repetitive data cannot make this quadratic
      let steps = 0;
      for (let blk = head[h & mask] as number; blk !== -1 && steps < CHAIN * 4; blk = next[blk] as number) {
        steps++;
        const p = a0 + blk * BLOCK;
        if (p < aPos) break; // the rest of the chain is behind the last anchor
        if (hashes[blk] !== h || !eq16(a, p, b, j)) continue;
        const dist = Math.abs(p - aPos - (j - bPos));
        if (dist < bestDist) {
          best = p;
          bestDist = dist;
        }
      }
    }
    if (best >= 0) {
      let pa = best, pb = j;
      while (pa > aPos && pb > bPos && a[pa - 1] === b[pb - 1]) {
        pa--;
        pb--;
      }
      let ea = best + BLOCK, eb = j + BLOCK;
      while (ea < a1 && eb < b1) {
        const n = Math.min(CHUNK, a1 - ea, b1 - eb);
        if (same(a, ea, b, eb, n)) {
          ea += n;
          eb += n;
          continue;
        }
        while (ea < a1 && eb < b1 && a[ea] === b[eb]) {
          ea++;
          eb++;
        }
        break;
      }
      refineGap(a, aPos, pa, b, bPos, pb, out);
      aPos = ea;
      bPos = eb;
      j = eb;
      if (j + BLOCK <= b1) h = hashBlock(b, j);
      continue;
    }
    if (j + BLOCK < b1) h = (Math.imul(h - Math.imul(b[j] as number, P_POW), P) + (b[j + BLOCK] as number)) | 0;
    j++;
  }
  refineGap(a, aPos, a1, b, bPos, b1, out);
}

/** The differing regions of a and b, in order; at most `maxRanges`. */
export function alignContents(a: Uint8Array, b: Uint8Array, maxRanges = 100_000): Alignment {
  const out = new Collector(maxRanges);
  if (a.length === b.length) {
    equalLengthRuns(a, 0, b, 0, a.length, out);
    if (!out.truncated) return { ranges: realignStrings(a, b, out.ranges), truncated: false };
  } else {
    const min = Math.min(a.length, b.length);
    const pre = commonPrefix(a, b, min);
    const suf = commonSuffix(a, b, min - pre);
    // the anchor index costs 12 bytes per 16 of A: past the cap the middle is one region
    if (a.length - suf - pre > ANCHOR_MAX || b.length - suf - pre > ANCHOR_MAX) out.push(pre, a.length - suf - pre, pre, b.length - suf - pre);
    else anchorAlign(a, pre, a.length - suf, b, pre, b.length - suf, out);
  }
  return { ranges: out.ranges, truncated: out.truncated };
}
