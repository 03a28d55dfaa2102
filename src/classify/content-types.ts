/**
 * Shared shapes for the content heuristics: differing ranges, value candidates found by the decoders,
 * and the helpers the decoders share (byte windows as text, closeness of two times).
 */
import type { Kind } from '../model.js';

/** A differing region: bytes [aOffset, aOffset+aLength) of A stand where B has [bOffset, bOffset+bLength). */
export interface DiffRange {
  aOffset: number;
  aLength: number;
  bOffset: number;
  bLength: number;
}

/** What a decoder says about one value found on both sides. */
export interface PairVerdict {
  kind: Kind;
  confidence: number;
  a: string | null;
  b: string | null;
  description: string;
  hint?: string;
  /** epoch milliseconds of each side, for times (source-date-epoch check and closeness ordering) */
  msA?: number;
  msB?: number;
  /** the value is a calendar date without time of day (`YYYY-MM-DD` in a/b) */
  dateOnly?: boolean;
  /** the value is a time of day without date (`HH:MM:SS` in a/b) */
  timeOnly?: boolean;
}

/** A value found at the same place of both sides, with the bytes it occupies. */
export interface Candidate extends PairVerdict {
  aOffset: number;
  aLength: number;
  bOffset: number;
  bLength: number;
  /** the raw text of each side; binary values leave it out (hex is made for the evidence) */
  rawA?: string;
  rawB?: string;
  /** found by a binary decoder */
  binary?: boolean;
  /** secondary ordering when confidences tie: lower is better (e.g. seconds between the two times) */
  tiebreak: number;
}

export const DAY = 86_400;
export const YEAR = 366 * DAY;
/** Times outside [1990, 2100) are not taken for build times. */
export const PLAUSIBLE_MIN_MS = Date.UTC(1990, 0, 1);
export const PLAUSIBLE_MAX_MS = Date.UTC(2100, 0, 1);

export function plausibleMs(ms: number): boolean {
  return Number.isFinite(ms) && ms >= PLAUSIBLE_MIN_MS && ms < PLAUSIBLE_MAX_MS;
}

/**
 * Confidence that two decoded binary numbers are timestamps, from how close they are.
 * Two random numbers are rarely within days of each other; two build times usually are.
 * Null when they are too far apart to say.
 */
export function closenessConfidence(msA: number, msB: number): number | null {
  const d = Math.abs(msA - msB) / 1000;
  if (d <= 2 * DAY) return 0.85;
  if (d <= 31 * DAY) return 0.75;
  if (d <= YEAR) return 0.6;
  // beyond a year, two random numbers in range are too often that close (a few percent)
  return null;
}

/** Bytes [start, end) as a string with one UTF-16 unit per byte (ISO 8859-1), so string and byte offsets agree. */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, Array.from(buf.subarray(i, Math.min(end, i + 4096))));
  }
  return s;
}

export function hex(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += (buf[i] as number).toString(16).padStart(2, '0');
  return s;
}

/** Shannon entropy in bits per symbol of a short string. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) {
    const p = c / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

export const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

export function monthIndex(name: string): number {
  return MONTHS.indexOf(name.slice(0, 3).toLowerCase());
}

export function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** A value decoded from one side. */
export interface Decoded {
  /** the display value: ISO 8601 for times, UUID text, the path... */
  value: string;
  /** epoch milliseconds when the value is a point in time */
  ms?: number;
  dateOnly?: boolean;
  timeOnly?: boolean;
  /** decoder-specific detail, e.g. the UUID version, a description refined by context */
  tag?: string;
  /** the raw bytes (binary decoders that need them to pair) */
  bytes?: Uint8Array;
}

/** A pattern looked for in the text of a window around each difference (binary contents too: strings inside them). */
export interface TextPattern {
  id: string;
  /** must have the `g` flag */
  re: RegExp;
  /** `text` is the whole window, for context before the match; null rejects the match */
  decode(m: RegExpExecArray, text: string): Decoded | null;
  pair(a: Decoded, b: Decoded): PairVerdict | null;
}

/** A fixed-width binary value tried at every alignment around each equal-length difference. */
export interface BinaryDecoder {
  id: string;
  width: number;
  /** where the least significant byte sits: a differing byte just past it means the alignment is wrong */
  lsb?: 'start' | 'end';
  /** the value can be made of printable bytes (ISO 9660 digits); others are not trusted on text-looking windows */
  printable?: boolean;
  decode(buf: Uint8Array, off: number, dv: DataView): Decoded | null;
  pair(a: Decoded, b: Decoded): PairVerdict | null;
}
