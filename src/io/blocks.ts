import { ReprodiffError } from '../errors.js';

/**
 * Reads `length` bytes at `offset` of a stream made of fixed-size blocks (`blockSize` each, the last may be
 * shorter), fetching block i with `block(i)`. One block: a view, no copy; several: one copied buffer.
 */
export function readAcrossBlocks(offset: number, length: number, blockSize: number, block: (i: number) => Uint8Array): Uint8Array {
  if (length === 0) return new Uint8Array(0);
  const first = Math.floor(offset / blockSize);
  const within = offset - first * blockSize;
  const head = block(first);
  if (within + length <= head.length) return head.subarray(within, within + length);
  const out = new Uint8Array(length);
  let done = 0;
  let i = first;
  let w = within;
  while (done < length) {
    const d = i === first ? head : block(i);
    const n = Math.min(d.length - w, length - done);
    if (n <= 0) throw new ReprodiffError('E_FORMAT', `block ${i} is shorter than ${blockSize} bytes inside the stream`, { structure: 'decoded block', offset: offset + done });
    out.set(d.subarray(w, w + n), done);
    done += n;
    w = 0;
    i++;
  }
  return out;
}
