/**
 * What an .xz file declares it decodes to, read from its indexes at the end before anything is decoded: each
 * stream's footer gives its index, whose records give every block's uncompressed size. A file that declares
 * more than --max-decoded is stopped at once (as a zip member that declares too much is), instead of after
 * decoding up to the limit. This is only a shortcut: the decoder still counts what it produces and stops at the
 * limit whatever the index says. Anything unexpected (no footer at the end, a CRC that does not match, trailing
 * data after the last stream) ends the walk with what was summed so far, which is then a lower bound.
 */
import { crc32 } from 'node:zlib';
import type { ByteSource } from '../../io/source.js';

/** streams walked back from the end, at most */
const MAX_STREAMS = 10_000;
/** index records summed, at most (an index of more is left to the decoder) */
const MAX_RECORDS = 1_000_000;

/** A multibyte integer of the xz format at `p`: [value, next position], or undefined when malformed. */
function readVarint(b: Uint8Array, p: number): [number, number] | undefined {
  let v = 0;
  for (let shift = 0; shift < 63 && p < b.length; shift += 7) {
    const byte = b[p++]!;
    v += (byte & 0x7f) * 2 ** shift;
    if (!(byte & 0x80)) return Number.isSafeInteger(v) ? [v, p] : undefined;
  }
  return undefined;
}

function u32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
}

function isStreamHeader(h: Uint8Array): boolean {
  return h[0] === 0xfd && h[1] === 0x37 && h[2] === 0x7a && h[3] === 0x58 && h[4] === 0x5a && h[5] === 0;
}

/** The uncompressed bytes the indexes of `src` declare (a lower bound when the walk stopped early). */
export function declaredXzSize(src: ByteSource): number {
  let total = 0;
  let end = src.size;
  for (let n = 0; n < MAX_STREAMS; n++) {
    // stream padding: zero bytes in multiples of four
    while (end >= 4 && end % 4 === 0) {
      const pad = src.read(end - 4, 4, 'xz stream padding');
      if (pad[0] || pad[1] || pad[2] || pad[3]) break;
      end -= 4;
    }
    if (end < 24) return total;
    const ft = src.read(end - 12, 12, 'xz stream footer');
    if (ft[10] !== 0x59 || ft[11] !== 0x5a) return total;
    if (crc32(ft.subarray(4, 10)) !== u32(ft, 0)) return total;
    const backward = (u32(ft, 4) + 1) * 4;
    const indexAt = end - 12 - backward;
    if (indexAt < 12 || backward > 64 * 1024 * 1024) return total;
    const ix = src.read(indexAt, backward, 'xz index');
    if (ix[0] !== 0 || crc32(ix.subarray(0, backward - 4)) !== u32(ix, backward - 4)) return total;
    const count = readVarint(ix, 1);
    if (!count || count[0] > MAX_RECORDS) return total;
    let p = count[1];
    let blocks = 0;
    let decoded = 0;
    for (let i = 0; i < count[0]; i++) {
      const unpadded = readVarint(ix, p);
      const size = unpadded && readVarint(ix, unpadded[1]);
      if (!unpadded || !size) return total;
      blocks += Math.ceil(unpadded[0] / 4) * 4;
      decoded += size[0];
      p = size[1];
    }
    // the stream header before its blocks; another stream may end just before it
    end = indexAt - blocks - 12;
    if (end < 0 || !isStreamHeader(src.read(end, 6, 'xz stream header'))) return total;
    total += decoded;
  }
  return total;
}
