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
import { binaryCandidates, Sides, textCandidates } from './content-candidates.js';
import { movedRuns, overlapsAny, insertSorted, pieceBytes, PieceSet } from './content-pieces.js';
import { hex, latin1, type Candidate, type DiffRange, type PairVerdict } from './content-types.js';

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
  /**
   * Runs of equal bytes that sit at another offset in B than in A (everything after an insertion or a deletion):
   * the same bytes, moved by the differing regions before them. Each is `{ aOffset, aLength, bOffset, bLength }`
   * with equal lengths.
   */
  shifted: ContentRange[];
}

export interface ExplainOptions {
  /** SOURCE_DATE_EPOCH of the builds, in seconds: time evidence says whether each side equals it */
  sourceDateEpoch?: number;
  /** cap of the text diff, default 16 KiB */
  maxDiffChars?: number;
  /** labels of the two sides in the diff headers, default `a` and `b` */
  labels?: [string, string];
}

/** regions beyond this many are left unexplained without looking */
const MAX_CLASSIFIED = 10_000;
/** binary time readings below this confidence are dropped */
const MIN_BINARY_TIME = 0.5;
const DEFAULT_DIFF_CHARS = 16 * 1024;

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

/** The equal runs between the differing regions that sit at other offsets on the two sides. */
export function shiftedRuns(ranges: readonly ContentRange[], aSize: number, bSize: number): ContentRange[] {
  const out: ContentRange[] = [];
  let pa = 0;
  let pb = 0;
  const equalRun = (aEnd: number, bEnd: number): void => {
    const n = Math.min(aEnd - pa, bEnd - pb);
    if (n > 0 && pa !== pb) {
      const last = out[out.length - 1];
      // runs with the same shift next to each other (split by a zero-length region) are one
      if (last && last.aOffset + last.aLength === pa && last.bOffset + last.bLength === pb) {
        last.aLength += n;
        last.bLength += n;
      } else out.push({ aOffset: pa, aLength: n, bOffset: pb, bLength: n });
    }
  };
  for (const r of ranges) {
    equalRun(r.aOffset, r.bOffset);
    pa = r.aOffset + r.aLength;
    pb = r.bOffset + r.bLength;
  }
  equalRun(aSize, bSize);
  return out;
}

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
    shifted: shiftedRuns(ranges, a.length, b.length),
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
