/**
 * The content of an EROFS file that is not one run of blocks in the image: compressed extents (decoded on
 * demand, a few cached per image), holes of chunk-based files, and stored extents between them.
 */
import { ReprodiffError } from '../../errors.js';
import { DecodedSource, checkRange, type ByteSource, type DecodedContent } from '../../io/source.js';
import type { Span } from '../../model.js';

/** One extent of a file: decoded bytes [la, la + llen), held at [pa, pa + plen) of the image. */
export interface Piece {
  la: number;
  llen: number;
  /** raw: the bytes as they are at pa; zero: a hole; lz4: a raw LZ4 block; encoded: another algorithm (not decoded) */
  kind: 'raw' | 'zero' | 'lz4' | 'encoded';
  pa: number;
  plen: number;
}

/** Decoded pclusters shared by the files of one image. */
export class PclusterCache {
  private readonly map = new Map<string, Uint8Array>();
  constructor(
    private readonly src: ByteSource,
    /** lz4 data is right-aligned in its pcluster, after zero bytes (INCOMPAT_ZERO_PADDING) */
    private readonly zeroPadding: boolean,
    private readonly capacity = 8,
  ) {}

  decode(p: Piece): Uint8Array {
    const key = `${p.pa}:${p.plen}:${p.llen}`;
    const hit = this.map.get(key);
    if (hit) return hit;
    if (p.kind !== 'lz4') throw new ReprodiffError('E_UNSUPPORTED', 'no decoder for this pcluster', { file: this.src.name, structure: 'erofs pcluster', offset: p.pa });
    const raw = this.src.read(p.pa, p.plen, 'erofs pcluster');
    let start = 0;
    if (this.zeroPadding) while (start < raw.length && raw[start] === 0) start++;
    if (start === raw.length) throw new ReprodiffError('E_FORMAT', 'the pcluster holds only zeros', { file: this.src.name, structure: 'erofs lz4 pcluster', offset: p.pa });
    const data = decodeLz4Partial(raw, start, p.llen, (at, msg) => new ReprodiffError('E_FORMAT', msg, { file: this.src.name, structure: 'erofs lz4 pcluster', offset: p.pa + at }));
    this.map.set(key, data);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
    return data;
  }
}

const EMPTY = new Uint8Array(0);

/** A file's decoded content; `origin` is every stored or encoded extent of it in the image. */
export class ErofsFileSource extends DecodedSource {
  declare readonly size: number;

  constructor(
    name: string,
    private readonly outer: ByteSource,
    size: number,
    readonly pieces: readonly Piece[],
    private readonly cache: PclusterCache,
    nid: number,
  ) {
    super(name, EMPTY, `${outer.name}#erofs:${nid}`, originSpans(outer, pieces));
    this.size = size;
    // reads walk the pieces in order: they must tile the file, each after the last, none empty
    let at = 0;
    for (const p of pieces) {
      if (p.la !== at || !(p.llen > 0)) {
        throw new ReprodiffError('E_FORMAT', `inode ${nid}: its extents do not follow one another (one at ${p.la} of ${p.llen} bytes where ${at} is next)`, { file: outer.name, structure: 'erofs extents', offset: p.pa });
      }
      at += p.llen;
    }
    if (at !== size) throw new ReprodiffError('E_FORMAT', `inode ${nid}: its extents cover ${at} of ${size} bytes`, { file: outer.name, structure: 'erofs extents', offset: 0 });
  }

  /** The same extents, stored the same way at the same places. */
  sameEncoding(other: DecodedContent): boolean {
    if (!(other instanceof ErofsFileSource) || other.size !== this.size || other.pieces.length !== this.pieces.length) return false;
    for (let i = 0; i < this.pieces.length; i++) {
      const x = this.pieces[i] as Piece;
      const y = other.pieces[i] as Piece;
      if (x.la !== y.la || x.llen !== y.llen || x.kind !== y.kind || x.pa !== y.pa || x.plen !== y.plen) return false;
    }
    return true;
  }

  private locate(pos: number): number {
    let lo = 0;
    let hi = this.pieces.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.pieces[mid] as Piece).la <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  override read(offset: number, length: number, structure?: string): Uint8Array {
    checkRange(this, offset, length, structure);
    const out = new Uint8Array(length);
    let done = 0;
    let i = this.locate(offset);
    while (done < length) {
      const p = this.pieces[i++] as Piece;
      const within = offset + done - p.la;
      const n = Math.min(p.llen - within, length - done);
      if (p.kind === 'raw') out.set(this.outer.read(p.pa + within, n, structure ?? 'erofs data'), done);
      else if (p.kind !== 'zero') out.set(this.cache.decode(p).subarray(within, within + n), done);
      done += n;
    }
    return out;
  }

  /** Stored extents map to the image; decoded bytes and holes name this file's stream. */
  override spans(offset: number, length: number): Span[] {
    checkRange(this, offset, length, 'span');
    const out: Span[] = [];
    let done = 0;
    let i = this.locate(offset);
    while (done < length) {
      const p = this.pieces[i++] as Piece;
      const within = offset + done - p.la;
      const n = Math.min(p.llen - within, length - done);
      if (p.kind === 'raw') out.push(...this.outer.spans(p.pa + within, n));
      else out.push({ stream: this.stream as string, offset: offset + done, length: n });
      done += n;
    }
    return out;
  }

  /** The stored or encoded bytes in the image that hold decoded offset `offset`; [] for a hole. */
  originAt(offset: number): Span[] {
    checkRange(this, offset, 1, 'origin');
    const p = this.pieces[this.locate(offset)] as Piece;
    if (p.kind === 'zero') return [];
    return this.outer.spans(p.pa, p.kind === 'raw' ? p.llen : p.plen);
  }
}

function originSpans(outer: ByteSource, pieces: readonly Piece[]): Span[] {
  const out: Span[] = [];
  for (const p of pieces) {
    const len = p.kind === 'raw' ? p.llen : p.plen;
    if (p.kind === 'zero' || len === 0) continue;
    const last = out[out.length - 1];
    if (last && last.stream === undefined && outer.stream === undefined && last.offset + last.length === p.pa) last.length += len;
    else out.push(...outer.spans(p.pa, len));
  }
  return out.slice();
}

/**
 * Decodes a raw LZ4 block (lz4_Block_format.md) until `want` bytes are out, as EROFS reads a pcluster: the
 * block may hold more (the tail of an extent that the next one starts in), and without zero padding the bytes
 * after the block are not LZ4 at all, so decoding stops as soon as the extent is complete.
 */
export function decodeLz4Partial(input: Uint8Array, start: number, want: number, err: (at: number, msg: string) => Error): Uint8Array {
  const out = new Uint8Array(want);
  let o = 0;
  let p = start;
  const end = input.length;
  while (o < want) {
    if (p >= end) throw err(p, `the LZ4 block ends after ${o} of ${want} bytes`);
    const token = input[p++] as number;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (p >= end) throw err(p, 'LZ4 literal length runs past the pcluster');
        b = input[p++] as number;
        lit += b;
      } while (b === 255);
    }
    if (p + lit > end) throw err(p, 'LZ4 literals run past the pcluster');
    const nl = Math.min(lit, want - o);
    out.set(input.subarray(p, p + nl), o);
    o += nl;
    p += lit;
    if (o >= want) break;
    if (p + 2 > end) throw err(p, 'LZ4 match offset runs past the pcluster');
    const offset = (input[p] as number) | ((input[p + 1] as number) << 8);
    p += 2;
    if (offset === 0 || offset > o) throw err(p - 2, `LZ4 match offset ${offset} is outside the ${o} bytes decoded`);
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        if (p >= end) throw err(p, 'LZ4 match length runs past the pcluster');
        b = input[p++] as number;
        len += b;
      } while (b === 255);
    }
    len = Math.min(len + 4, want - o);
    // byte by byte: a match may overlap what it copies
    for (let i = 0; i < len; i++, o++) out[o] = out[o - offset] as number;
  }
  return out;
}
