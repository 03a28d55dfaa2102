/**
 * Typed values of findings, and the one presenter that writes them as the report's text. The comparer and
 * the accounting decide by type (a size change, a digest, bytes that differ under an equal decoded value),
 * never by looking at display text.
 */
import type { EntryType, Value } from '../model.js';

/** A content's size, for contents of different sizes: `123 bytes`. */
export interface SizeValue {
  type: 'size';
  bytes: number;
  /** the size of decoded data (a compressed stream's content): `123 bytes decoded` */
  decoded?: boolean;
}

/** A content's SHA-256, for contents of one size: `sha256:` and its first 16 hex digits. */
export interface DigestValue {
  type: 'digest';
  sha256: string;
}

/** A field whose decoded value is the same on both sides while its bytes are not: the value and its bytes. */
export interface FieldBytesValue {
  type: 'field-bytes';
  value: Value;
  bytes: Uint8Array;
}

/** An entry only one build lists: what it is. */
export interface EntryValue {
  type: 'entry';
  entryType: EntryType;
  size: number;
}

/** Entries in placement order: the first few paths. */
export interface OrderValue {
  type: 'order';
  paths: string[];
  /** how many entries there are in all */
  count: number;
}

/** The lowest and highest of many folded values. */
export interface RangeValue {
  type: 'range';
  lo: string;
  hi: string;
}

export type FindingValue = Value | SizeValue | DigestValue | FieldBytesValue | EntryValue | OrderValue | RangeValue;

export function isTyped(v: FindingValue): v is Exclude<FindingValue, Value> {
  return v !== null && typeof v === 'object';
}

/** Both sides are sizes that differ: the content grew or shrank. */
export function sizeChanged(a: FindingValue, b: FindingValue): boolean {
  return isTyped(a) && isTyped(b) && a.type === 'size' && b.type === 'size' && a.decoded !== true && a.bytes !== b.bytes;
}

function hexShort(b: Uint8Array): string {
  const h = Buffer.from(b.subarray(0, 32)).toString('hex');
  return b.length > 32 ? `${h}…` : h;
}

const ORDER_SHOWN = 5;

/** The report's text (or plain value) for a typed value. */
export function presentValue(v: FindingValue): Value {
  if (!isTyped(v)) return v;
  switch (v.type) {
    case 'size':
      return v.decoded ? `${v.bytes} bytes decoded` : `${v.bytes} bytes`;
    case 'digest':
      return `sha256:${v.sha256.slice(0, 16)}`;
    case 'field-bytes':
      return `${String(v.value)} (bytes ${hexShort(v.bytes)})`;
    case 'entry':
      return v.entryType === 'file' ? `file, ${v.size} bytes` : v.entryType;
    case 'order':
      return v.paths.slice(0, ORDER_SHOWN).join(', ') + (v.count > ORDER_SHOWN ? ', …' : '');
    case 'range':
      return v.lo === v.hi ? v.lo : `${v.lo} … ${v.hi}`;
  }
}

/**
 * A value as a key for grouping equal changes: two values have one key when they present alike, apart from
 * a zero fraction of a second in a time (`…:17.0Z` is `…:17Z`).
 */
export function normalValue(v: FindingValue): string {
  if (isTyped(v)) return normalValue(presentValue(v));
  if (typeof v !== 'string') return JSON.stringify(v);
  // only a time with a zero fraction ends in "0Z": the common case needs no pattern
  return v.length > 1 && v.charCodeAt(v.length - 1) === 90 && v.charCodeAt(v.length - 2) === 48 ? v.replace(/\.0+Z$/, 'Z') : v;
}

/** Whether two values are different changes (typed values by their content, not their text). */
export function valuesDiffer(a: FindingValue, b: FindingValue): boolean {
  if (!isTyped(a) || !isTyped(b)) return a !== b;
  return presentValue(a) !== presentValue(b);
}
