/**
 * The decoded content of one squashfs regular file: its data blocks (compressed, stored or sparse) and the
 * tail kept in a fragment block, decoded on demand with a small cache shared by the files of one image.
 */
import { ReprodiffError } from '../../errors.js';
import type { Codec } from '../../codec/index.js';
import { decompress } from '../../codec/index.js';
import { checkRange, type ByteSource, type DecodedContent } from '../../io/source.js';
import type { Span } from '../../model.js';
import { readAcrossBlocks } from '../../io/blocks.js';

export interface DataBlock {
  /** absolute offset in the image (meaningless for a sparse block) */
  disk: number;
  /** bytes on disk; 0 for a sparse (all-zero) block */
  stored: number;
  compressed: boolean;
}

export interface Fragment {
  disk: number;
  stored: number;
  compressed: boolean;
  /** where the file's tail starts in the decoded fragment block */
  offset: number;
}

/** Decoded blocks shared by every file of one image (fragment blocks are shared between files). */
export class BlockCache {
  private readonly map = new Map<number, Uint8Array>();
  constructor(
    private readonly src: ByteSource,
    readonly codec: Codec | undefined,
    readonly blockSize: number,
    private readonly capacity = 8,
  ) {}

  /**
   * The decoded block at `disk`. `passing`: the caller copies it at once and will not ask again (a file read
   * from start to end into a buffer): a block not cached is decoded into a buffer kept between calls (valid
   * until the next one) and not cached, so that hashing a file makes no buffer per block.
   */
  get(disk: number, stored: number, compressed: boolean, structure: string, passing = false): Uint8Array {
    const hit = this.map.get(disk);
    if (hit) {
      this.map.delete(disk);
      this.map.set(disk, hit);
      return hit;
    }
    let data: Uint8Array;
    if (compressed) {
      if (this.codec === undefined) {
        throw new ReprodiffError('E_UNSUPPORTED', 'no decoder for this compressor', { file: this.src.name, structure, offset: disk });
      }
      data = decompress(this.codec, this.storedBytes(disk, stored, structure), { maxOutput: this.blockSize, name: `${this.src.name}@${disk}` }, passing);
    } else data = passing ? this.storedBytes(disk, stored, structure) : this.src.read(disk, stored, structure);
    if (passing) return data;
    this.map.set(disk, data);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as number);
    return data;
  }

  /**
   * A block's bytes as stored, read into one kept buffer where the source can (valid until the next call: a
   * compressed block is decoded at once, a stored one passed to a caller that copies it): reading a 128 KiB
   * block through the image's block cache made two cached blocks and a copy.
   */
  private storedBytes(disk: number, stored: number, structure: string): Uint8Array {
    if (!this.src.readInto || stored > COMPRESSED_SCRATCH) return this.src.read(disk, stored, structure);
    if (!compressedScratch || compressedScratch.length < stored) compressedScratch = new Uint8Array(Math.max(stored, Math.min(COMPRESSED_SCRATCH, 2 * this.blockSize)));
    const into = compressedScratch.subarray(0, stored);
    this.src.readInto(disk, into, structure);
    return into;
  }
}

/** compressed blocks up to this size are read into `compressedScratch` (a squashfs block is at most 1 MiB) */
const COMPRESSED_SCRATCH = 2 << 20;
let compressedScratch: Uint8Array | undefined;

/**
 * Decoded content whose `origin` is every encoded block of the file (data blocks, then the shared fragment
 * block); `originAt(x)` names the one block that holds decoded offset x. Nothing is held until read.
 */
export class SquashfsFileSource implements DecodedContent {
  readonly stream: string;
  readonly origin: Span[];

  constructor(
    readonly name: string,
    private readonly outer: ByteSource,
    readonly size: number,
    private readonly blocks: readonly DataBlock[],
    private readonly fragment: Fragment | undefined,
    private readonly cache: BlockCache,
    inode: number,
  ) {
    this.stream = `${outer.name}#squashfs:${inode}`;
    this.origin = encodedSpans(outer, blocks, fragment);
  }

  private get blockSize(): number {
    return this.cache.blockSize;
  }

  /** The same data blocks and fragment (block and offset in it), decoded with the same compressor and block size. */
  sameEncoding(other: DecodedContent): boolean {
    if (!(other instanceof SquashfsFileSource) || other.size !== this.size) return false;
    if (other.cache.codec !== this.cache.codec || other.blockSize !== this.blockSize || other.blocks.length !== this.blocks.length) return false;
    for (let i = 0; i < this.blocks.length; i++) {
      const x = this.blocks[i] as DataBlock;
      const y = other.blocks[i] as DataBlock;
      if (x.disk !== y.disk || x.stored !== y.stored || x.compressed !== y.compressed) return false;
    }
    const f = this.fragment;
    const g = other.fragment;
    if (!f || !g) return f === g;
    return f.disk === g.disk && f.stored === g.stored && f.compressed === g.compressed && f.offset === g.offset;
  }

  /**
   * Data blocks of the same stored sizes and kinds, and a fragment of the same size at the same offset in its
   * block, decoded with the same compressor and block size: the encoded blocks wherever they sit (the data
   * blocks in order, then the fragment block), as pieces to compare.
   */
  encodedAlike(other: DecodedContent): { a: Span[]; b: Span[] } | undefined {
    if (!(other instanceof SquashfsFileSource) || other.size !== this.size) return undefined;
    if (other.cache.codec !== this.cache.codec || other.blockSize !== this.blockSize || other.blocks.length !== this.blocks.length) return undefined;
    for (let i = 0; i < this.blocks.length; i++) {
      const x = this.blocks[i] as DataBlock;
      const y = other.blocks[i] as DataBlock;
      if (x.stored !== y.stored || x.compressed !== y.compressed) return undefined;
    }
    const f = this.fragment;
    const g = other.fragment;
    if (f && g ? f.stored !== g.stored || f.compressed !== g.compressed || f.offset !== g.offset : f !== g) return undefined;
    return { a: this.origin, b: other.origin };
  }

  /**
   * The decoded bytes of piece `i` (a data block, or the fragment tail when `i` is past the blocks);
   * `passing`: copied at once by a caller reading through (see BlockCache.get). The fragment block, shared
   * with other files, is always cached.
   */
  private piece(i: number, passing = false): Uint8Array {
    const start = i * this.blockSize;
    const want = Math.min(this.blockSize, this.size - start);
    const b = this.blocks[i];
    let data: Uint8Array;
    if (b) {
      if (b.stored === 0) return new Uint8Array(want);
      data = this.cache.get(b.disk, b.stored, b.compressed, 'squashfs data block', passing);
      if (data.length !== want) {
        throw new ReprodiffError('E_FORMAT', `data block ${i} decodes to ${data.length} bytes, ${want} expected`, {
          file: this.outer.name,
          structure: 'squashfs data block',
          offset: b.disk,
        });
      }
      return data;
    }
    const f = this.fragment;
    if (!f) throw new ReprodiffError('E_FORMAT', `no block holds offset ${start}`, { file: this.name, structure: 'squashfs file', offset: start });
    data = this.cache.get(f.disk, f.stored, f.compressed, 'squashfs fragment block');
    if (f.offset + want > data.length) {
      throw new ReprodiffError('E_FORMAT', `file tail of ${want} bytes at ${f.offset} is outside its ${data.length}-byte fragment`, {
        file: this.outer.name,
        structure: 'squashfs fragment block',
        offset: f.disk,
      });
    }
    return data.subarray(f.offset, f.offset + want);
  }

  read(offset: number, length: number, structure?: string): Uint8Array {
    checkRange(this, offset, length, structure);
    return readAcrossBlocks(offset, length, this.blockSize, (i) => this.piece(i));
  }

  /** Copies into `into` block by block: blocks in the shared cache are never handed out as views that outlive the read. */
  readInto(offset: number, into: Uint8Array, structure?: string): void {
    checkRange(this, offset, into.length, structure);
    const bs = this.blockSize;
    let done = 0;
    while (done < into.length) {
      const at = offset + done;
      const i = Math.floor(at / bs);
      const within = at - i * bs;
      // a block read from its start to its end is not asked for again by this reader
      const piece = this.piece(i, within === 0 && into.length - done >= bs);
      const n = Math.min(piece.length - within, into.length - done);
      if (n <= 0) throw new ReprodiffError('E_FORMAT', `block ${i} is shorter than ${bs} bytes inside the file`, { file: this.name, structure: 'squashfs file', offset: at });
      into.set(piece.subarray(within, within + n), done);
      done += n;
    }
  }

  /** Bytes of stored (uncompressed) blocks map to the image; decoded bytes name this file's stream. */
  spans(offset: number, length: number): Span[] {
    checkRange(this, offset, length, 'span');
    const out: Span[] = [];
    let pos = offset;
    let left = length;
    while (left > 0) {
      const i = Math.floor(pos / this.blockSize);
      const w = pos - i * this.blockSize;
      const n = Math.min(this.blockSize - w, left);
      const b = this.blocks[i];
      const f = this.fragment;
      if (b && b.stored > 0 && !b.compressed) out.push(...this.outer.spans(b.disk + w, n));
      else if (!b && f && !f.compressed) out.push(...this.outer.spans(f.disk + f.offset + w, n));
      else out.push({ stream: this.stream, offset: pos, length: n });
      pos += n;
      left -= n;
    }
    return out;
  }

  /** The encoded bytes in the image that hold decoded offset `offset` (a data block or the fragment block); [] for a hole. */
  originAt(offset: number): Span[] {
    checkRange(this, offset, 1, 'origin');
    const i = Math.floor(offset / this.blockSize);
    const b = this.blocks[i];
    if (b) return b.stored === 0 ? [] : this.outer.spans(b.disk, b.stored);
    const f = this.fragment;
    return f ? this.outer.spans(f.disk, f.stored) : [];
  }
}

/** The encoded bytes of a file in the image: its stored data blocks in order, then its fragment block. */
function encodedSpans(outer: ByteSource, blocks: readonly DataBlock[], fragment: Fragment | undefined): Span[] {
  const out: Span[] = [];
  for (const b of blocks) {
    if (b.stored === 0) continue;
    const last = out[out.length - 1];
    // consecutive blocks are contiguous on disk: merge them into one span
    if (last && last.stream === undefined && last.offset + last.length === b.disk && outer.stream === undefined) last.length += b.stored;
    else out.push(...outer.spans(b.disk, b.stored));
  }
  if (fragment) out.push(...outer.spans(fragment.disk, fragment.stored));
  // kept for the life of the tree: drop the spare capacity that push left
  return out.slice();
}
