/** The equal bytes at the end of two encodings: what an insertion before them moved without changing. */
import type { ByteSource, Extent } from '../io/source.js';

const PIECE = 1 << 16;

/** The last `n` bytes of the bytes `xs` lists, as extents. */
export function tailExtents(xs: readonly Extent[], n: number): Extent[] {
  const out: Extent[] = [];
  let left = n;
  for (let i = xs.length - 1; i >= 0 && left > 0; i--) {
    const x = xs[i]!;
    const take = Math.min(x.length, left);
    out.push({ offset: x.offset + x.length - take, length: take });
    left -= take;
  }
  return out.reverse();
}

/** The `length` bytes at `at` of the bytes `xs` lists in `src`, into `buf`. */
function readAt(src: ByteSource, xs: readonly Extent[], at: number, length: number, buf: Uint8Array): Uint8Array {
  let pos = 0;
  let filled = 0;
  for (const x of xs) {
    if (filled === length) break;
    const end = pos + x.length;
    if (end > at + filled) {
      const from = at + filled - pos;
      const n = Math.min(x.length - from, length - filled);
      buf.set(src.read(x.offset + from, n, 'content'), filled);
      filled += n;
    }
    pos = end;
  }
  return buf.subarray(0, filled);
}

/** How many bytes at the ends of the two encodings are equal, read backwards a piece at a time. */
export function commonSuffix(sa: ByteSource, xa: readonly Extent[], sb: ByteSource, xb: readonly Extent[]): number {
  const la = xa.reduce((n, x) => n + x.length, 0);
  const lb = xb.reduce((n, x) => n + x.length, 0);
  const most = Math.min(la, lb);
  const ba = new Uint8Array(PIECE);
  const bb = new Uint8Array(PIECE);
  let k = 0;
  while (k < most) {
    const n = Math.min(PIECE, most - k);
    const a = readAt(sa, xa, la - k - n, n, ba);
    const b = readAt(sb, xb, lb - k - n, n, bb);
    if (a.length !== n || b.length !== n) return k;
    for (let i = n - 1; i >= 0; i--) if (a[i] !== b[i]) return k + (n - 1 - i);
    k += n;
  }
  return k;
}
