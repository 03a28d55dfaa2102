/**
 * Names are bytes. Names read from images (file names, link targets, labels) are decoded as UTF-8, but a byte
 * that is not part of a valid UTF-8 sequence is kept as a lone surrogate U+DC80-U+DCFF (U+DC00 + the byte),
 * as Python's `surrogateescape` does. The decoding is reversible: two names that differ in one invalid byte
 * stay two names, where U+FFFD would merge them. Valid UTF-8 never decodes to a lone surrogate (the encoded
 * surrogates ED A0..BF are themselves invalid), so a lone surrogate in a decoded name is always an escaped byte.
 *
 * Presenters show an escaped byte as `\xNN` (src/report/escape.ts); the JSON report, which must stay valid
 * UTF-8, writes that display form and, beside it, the exact bytes in hex (`pathBytes`, see jsonNames there).
 */

const fatal = new TextDecoder('utf-8', { fatal: true });

/** An escaped byte: a low surrogate U+DC80-U+DCFF not preceded by a high surrogate. */
export const ESCAPED_BYTE = /(?<![\ud800-\udbff])[\udc80-\udcff]/;
const ESCAPED_BYTES = new RegExp(ESCAPED_BYTE.source, 'g');

/** The byte a lone surrogate U+DC80-U+DCFF stands for. */
export function escapedByte(ch: string): number {
  return ch.charCodeAt(0) - 0xdc00;
}

function isCont(b: number | undefined): boolean {
  return b !== undefined && (b & 0xc0) === 0x80;
}

/** Length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there starts none (RFC 3629). */
function sequence(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const c1 = b[i + 1];
  if (c >= 0xc2 && c <= 0xdf) return isCont(c1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (c1 === undefined) return 0;
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return c1 >= lo && c1 <= hi && isCont(b[i + 2]) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (c1 === undefined) return 0;
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return c1 >= lo && c1 <= hi && isCont(b[i + 2]) && isCont(b[i + 3]) ? 4 : 0;
  }
  return 0;
}

/** UTF-8 with each byte outside a valid sequence kept as U+DC00 + byte: lossless, see the file comment. */
export function decodeName(b: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < b.length; i++) {
    if (b[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return b.length < 4096 ? String.fromCharCode.apply(null, b as unknown as number[]) : fatal.decode(b);
  try {
    return fatal.decode(b);
  } catch {
    // not valid UTF-8: decode the valid runs, escape the bytes between them
  }
  let out = '';
  let run = 0;
  let i = 0;
  while (i < b.length) {
    const n = sequence(b, i);
    if (n) {
      i += n;
      continue;
    }
    if (run < i) out += fatal.decode(b.subarray(run, i));
    out += String.fromCharCode(0xdc00 + b[i]!);
    i++;
    run = i;
  }
  if (run < b.length) out += fatal.decode(b.subarray(run));
  return out;
}

/** Whether a decoded name holds bytes that are not valid UTF-8. */
export function hasEscapedBytes(s: string): boolean {
  return ESCAPED_BYTE.test(s);
}

/** The bytes a decoded name came from (the inverse of decodeName). */
export function encodeName(s: string): Uint8Array {
  if (!hasEscapedBytes(s)) return Buffer.from(s, 'utf8');
  const parts: Uint8Array[] = [];
  let last = 0;
  for (const m of s.matchAll(ESCAPED_BYTES)) {
    parts.push(Buffer.from(s.slice(last, m.index), 'utf8'), Uint8Array.of(escapedByte(m[0])));
    last = m.index + 1;
  }
  parts.push(Buffer.from(s.slice(last), 'utf8'));
  return Buffer.concat(parts);
}

/** A decoded name with each escaped byte written `\xNN` (the rest as it is). */
export function showEscapedBytes(s: string): string {
  return hasEscapedBytes(s) ? s.replace(ESCAPED_BYTES, (ch) => `\\x${escapedByte(ch).toString(16).padStart(2, '0')}`) : s;
}

/**
 * `/` + `name` when `name` is the usual member name (no leading `.` or `/`, no trailing `/`), which needs no
 * normalizing; undefined otherwise. Reading the joined string's last character makes it one flat string, so
 * that an entry does not keep the name it was joined from as well.
 */
export function rootedUsual(name: string): string | undefined {
  const first = name.charCodeAt(0);
  if (name.length === 0 || first === 0x2e || first === 0x2f) return undefined;
  const joined = '/' + name;
  return joined.charCodeAt(joined.length - 1) !== 0x2f ? joined : undefined;
}
