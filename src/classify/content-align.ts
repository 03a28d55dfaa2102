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

export interface Alignment {
  ranges: DiffRange[];
  /** the region cap was hit: the last range swallows the rest */
  truncated: boolean;
}

function view(buf: Uint8Array, start: number, end: number): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start);
}

function same(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, len: number): boolean {
  if (len <= 0) return true;
  return view(a, aStart, aStart + len).equals(view(b, bStart, bStart + len));
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

/** A gap between anchors: byte runs when lengths agree, a character diff when small, else one region. */
function refineGap(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number, out: Collector): void {
  const la = aEnd - aStart, lb = bEnd - bStart;
  if (la === 0 || lb === 0) return out.push(aStart, la, bStart, lb);
  if (la === lb) return equalLengthRuns(a, aStart, b, bStart, la, out);
  if (la <= REFINE_MAX && lb <= REFINE_MAX && out.refineBudget >= la + lb) {
    out.refineBudget -= la + lb;
    const changes = diffChars(latin1(a, aStart, aEnd), latin1(b, bStart, bEnd), { maxEditLength: REFINE_EDITS });
    if (changes) {
      let pa = aStart, pb = bStart;
      let ra = -1, rb = -1;
      for (const c of changes) {
        const n = c.value.length;
        if (!c.added && !c.removed) {
          if (ra >= 0) {
            out.push(ra, pa - ra, rb, pb - rb);
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
      if (ra >= 0) out.push(ra, pa - ra, rb, pb - rb);
      return;
    }
  }
  out.push(aStart, la, bStart, lb);
}

const P = 0x01000193;
let P_POW = 1;
for (let i = 0; i < BLOCK - 1; i++) P_POW = Math.imul(P_POW, P);

function hashBlock(buf: Uint8Array, off: number): number {
  let h = 0;
  for (let k = 0; k < BLOCK; k++) h = (Math.imul(h, P) + (buf[off + k] as number)) | 0;
  return h;
}

function flat(buf: Uint8Array, off: number): boolean {
  const v = buf[off];
  for (let k = 1; k < BLOCK; k++) if (buf[off + k] !== v) return false;
  return true;
}

/** Aligns a[a0,a1) with b[b0,b1) on common 16-byte blocks, in order, and records the gaps. */
function anchorAlign(a: Uint8Array, a0: number, a1: number, b: Uint8Array, b0: number, b1: number, out: Collector): void {
  const nBlocks = Math.floor((a1 - a0) / BLOCK);
  if (nBlocks === 0 || b1 - b0 < BLOCK) return refineGap(a, a0, a1, b, b0, b1, out);
  const bits = Math.min(22, Math.max(10, Math.ceil(Math.log2(nBlocks * 2))));
  const mask = (1 << bits) - 1;
  const head = new Int32Array(mask + 1).fill(-1);
  const next = new Int32Array(nBlocks).fill(-1);
  // insert from the last block so each chain lists blocks in ascending order
  for (let blk = nBlocks - 1; blk >= 0; blk--) {
    const p = a0 + blk * BLOCK;
    if (flat(a, p)) continue;
    const bucket = hashBlock(a, p) & mask;
    next[blk] = head[bucket] as number;
    head[bucket] = blk;
  }
  let aPos = a0, bPos = b0, j = b0;
  let h = hashBlock(b, j);
  while (j + BLOCK <= b1) {
    const bucket = h & mask;
    let best = -1, bestDist = Infinity, steps = 0, seen = 0;
    // chains are walked a bounded number of steps, so repetitive data cannot make this quadratic
    for (let blk = head[bucket] as number; blk !== -1 && steps < CHAIN * 4; blk = next[blk] as number) {
      steps++;
      const p = a0 + blk * BLOCK;
      if (p < aPos) continue; // blocks already passed
      seen++;
      if (!same(a, p, b, j, BLOCK)) continue;
      const dist = Math.abs(p - aPos - (j - bPos));
      if (dist < bestDist) {
        best = p;
        bestDist = dist;
      }
      if (seen >= CHAIN) break;
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
  } else {
    const min = Math.min(a.length, b.length);
    const pre = commonPrefix(a, b, min);
    const suf = commonSuffix(a, b, min - pre);
    anchorAlign(a, pre, a.length - suf, b, pre, b.length - suf, out);
  }
  return { ranges: out.ranges, truncated: out.truncated };
}
