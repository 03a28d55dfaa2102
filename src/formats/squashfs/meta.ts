/**
 * squashfs metadata: 8 KiB blocks, each behind a 2-byte header (bit 15 set: stored uncompressed; low 15 bits:
 * size on disk). The inode and directory tables are runs of such blocks; an inode reference names a block by
 * its disk offset from the table start and a byte offset in its decoded form.
 *
 * `MetaTable` presents one run as a ByteSource over the concatenated decoded blocks (block i at i * 8192), so
 * structures that straddle blocks read as one, and spans map back: to the outer source for stored blocks, to
 * the block's decoded stream (`<name>#squashfs-meta:<table>:<block number>`) for compressed ones.
 */
import { ReprodiffError } from '../../errors.js';
import type { Codec } from '../../codec/index.js';
import { decompress } from '../../codec/index.js';
import { Bytes } from '../../io/bytes.js';
import { checkRange, type ByteSource } from '../../io/source.js';
import { checkCap, type Limits } from '../../limits.js';
import { field, type Field, type Span } from '../../model.js';
import { shortHash } from '../mbr/hash.js';
import { readAcrossBlocks } from '../../io/blocks.js';

export const META_SIZE = 8192;
const CACHE = 16;

interface MetaBlock {
  /** absolute offset of the 2-byte header in the image */
  disk: number;
  /** bytes on disk after the header */
  stored: number;
  compressed: boolean;
  /** the decoded stream's id, built once (every span inside the block shares it) */
  stream: string;
}

export class MetaTable implements ByteSource {
  readonly name: string;
  readonly stream: string;
  readonly size: number;
  private readonly blocks: MetaBlock[] = [];
  private readonly index = new Map<number, number>();
  private readonly cache = new Map<number, Uint8Array>();
  private lastSize = META_SIZE;

  /** Walks the block headers from `start` up to `end` (exclusive; the next structure), without decoding. */
  constructor(
    private readonly src: ByteSource,
    readonly start: number,
    end: number,
    private readonly codec: Codec | undefined,
    limits: Limits,
    readonly what: string,
  ) {
    this.name = `${src.name} (${what})`;
    this.stream = `${src.name}#squashfs-meta`;
    let p = start;
    while (p < end) {
      checkCap(this.blocks.length + 1, limits.maxChain, `${what} metadata blocks`, src.name, p);
      const h = Bytes.at(src, p, 2, `${what} metadata block header`);
      const v = h.u16le(0);
      const stored = v & 0x7fff;
      const compressed = (v & 0x8000) === 0;
      if (stored === 0 || (!compressed && stored > META_SIZE) || p + 2 + stored > end) {
        throw h.error(0, `metadata block of ${stored} bytes does not fit before offset ${end}`);
      }
      this.index.set(p - start, this.blocks.length);
      // named by table and position, not disk offset: block i of a table is the same block in both builds even
      // when an earlier block compressed to another size and this one moved
      this.blocks.push({ disk: p, stored, compressed, stream: `${src.name}#squashfs-meta:${what}:${this.blocks.length}` });
      p += 2 + stored;
    }
    checkCap(this.blocks.length * META_SIZE, limits.maxStructureBytes, `${what} decoded size`, src.name, start);
    // the decoded size of the last block is known only once decoded
    if (this.blocks.length > 0) this.lastSize = this.block(this.blocks.length - 1).length;
    this.size = this.blocks.length === 0 ? 0 : (this.blocks.length - 1) * META_SIZE + this.lastSize;
  }

  get blockCount(): number {
    return this.blocks.length;
  }

  /**
   * One field per block over its header and stored bytes (value: a digest of them), so that a block that only
   * moved is seen as moved and one whose bytes changed follows from what changed inside it.
   */
  blockFields(prefix: string): Field[] {
    return this.blocks.map((b, i) =>
      field(`${prefix}.block.${i}`, shortHash(this.src.read(b.disk, 2 + b.stored, `${this.what} metadata block`)), 'content', this.src.spans(b.disk, 2 + b.stored), {
        derived: true,
      }),
    );
  }

  /** The compressed blocks as decoded streams, each with the spans of its header and encoded bytes. */
  streams(): { id: string; origin: Span[] }[] {
    return this.blocks.filter((b) => b.compressed).map((b) => ({ id: b.stream, origin: this.src.spans(b.disk, 2 + b.stored) }));
  }

  /** Decoded position of an inode/directory reference (block disk offset from the table start, offset in it). */
  position(blockOffset: number, offset: number, structure: string): number {
    const i = this.index.get(blockOffset);
    if (i === undefined) {
      throw new ReprodiffError('E_FORMAT', `reference to ${this.what} block at +${blockOffset}, which is not a block start`, {
        file: this.src.name,
        structure,
        offset: this.start + blockOffset,
      });
    }
    const pos = i * META_SIZE + offset;
    if (offset >= META_SIZE || pos >= this.size) {
      throw new ReprodiffError('E_FORMAT', `reference offset ${offset} is outside its ${this.what} block`, {
        file: this.src.name,
        structure,
        offset: this.start + blockOffset,
      });
    }
    return pos;
  }

  /** The disk span (header and stored bytes) of every block, for regions. */
  diskSpans(): Span[] {
    if (this.blocks.length === 0) return [];
    const last = this.blocks[this.blocks.length - 1] as MetaBlock;
    return this.src.spans(this.start, last.disk + 2 + last.stored - this.start);
  }

  private block(i: number): Uint8Array {
    const hit = this.cache.get(i);
    if (hit) return hit;
    const b = this.blocks[i] as MetaBlock;
    const raw = this.src.read(b.disk + 2, b.stored, `${this.what} metadata block`);
    let data: Uint8Array;
    if (!b.compressed) data = raw;
    else {
      if (this.codec === undefined) {
        throw new ReprodiffError('E_UNSUPPORTED', `no decoder for the ${this.what} metadata`, {
          file: this.src.name,
          structure: `${this.what} metadata block`,
          offset: b.disk,
        });
      }
      data = decompress(this.codec, raw, { maxOutput: META_SIZE, name: `${this.src.name}@${b.disk}` });
    }
    if (i < this.blocks.length - 1 && data.length !== META_SIZE) {
      throw new ReprodiffError('E_FORMAT', `metadata block decodes to ${data.length} bytes, not ${META_SIZE}`, {
        file: this.src.name,
        structure: `${this.what} metadata block`,
        offset: b.disk,
      });
    }
    if (data.length === 0) {
      throw new ReprodiffError('E_FORMAT', 'metadata block decodes to nothing', {
        file: this.src.name,
        structure: `${this.what} metadata block`,
        offset: b.disk,
      });
    }
    this.cache.set(i, data);
    if (this.cache.size > CACHE) this.cache.delete(this.cache.keys().next().value as number);
    return data;
  }

  read(offset: number, length: number, structure?: string): Uint8Array {
    checkRange(this, offset, length, structure);
    return readAcrossBlocks(offset, length, META_SIZE, (i) => this.block(i));
  }

  spans(offset: number, length: number): Span[] {
    checkRange(this, offset, length, 'span');
    // the usual case, one block: an exact-size array (fields keep their spans for the life of the tree)
    const i0 = Math.floor(offset / META_SIZE);
    const w0 = offset - i0 * META_SIZE;
    if (w0 + length <= META_SIZE) {
      const b = this.blocks[i0] as MetaBlock;
      return b.compressed ? [{ stream: b.stream, offset: w0, length }] : this.src.spans(b.disk + 2 + w0, length);
    }
    const out: Span[] = [];
    let pos = offset;
    let left = length;
    while (left > 0) {
      const i = Math.floor(pos / META_SIZE);
      const w = pos - i * META_SIZE;
      const n = Math.min(META_SIZE - w, left);
      const b = this.blocks[i] as MetaBlock;
      if (b.compressed) out.push({ stream: b.stream, offset: w, length: n });
      else out.push(...this.src.spans(b.disk + 2 + w, n));
      pos += n;
      left -= n;
    }
    return out;
  }
}

/**
 * A table reached through a lookup table of u64 pointers to metadata blocks (ids, fragments, export):
 * `count` entries of `entrySize` bytes. Returns the decoded table and the disk spans of its lookup table.
 */
export function readIndexedTable(
  src: ByteSource,
  lookupStart: number,
  count: number,
  entrySize: number,
  codec: Codec | undefined,
  limits: Limits,
  what: string,
): { table: MetaTable; lookup: Bytes } {
  const bytes = count * entrySize;
  checkCap(bytes, limits.maxStructureBytes, `${what} size`, src.name, lookupStart);
  const nblocks = Math.ceil(bytes / META_SIZE);
  const lookup = Bytes.at(src, lookupStart, nblocks * 8, `${what} lookup table`);
  if (nblocks === 0) return { table: new MetaTable(src, lookupStart, lookupStart, codec, limits, what), lookup };
  // the blocks sit one after another, the first where the first pointer says, the last just before the lookup table
  const first = lookup.u64le(0);
  for (let i = 0; i < nblocks; i++) {
    const p = lookup.u64le(i * 8);
    if (p < first || p >= lookupStart) throw lookup.error(i * 8, `${what} block pointer ${p} is outside [${first}, ${lookupStart})`);
  }
  const table = new MetaTable(src, first, lookupStart, codec, limits, what);
  for (let i = 0; i < nblocks; i++) table.position(lookup.u64le(i * 8) - first, 0, `${what} lookup table`);
  if (table.size < bytes) throw lookup.error(0, `${what} holds ${table.size} bytes, ${bytes} expected`);
  return { table, lookup };
}
