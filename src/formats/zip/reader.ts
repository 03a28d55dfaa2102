/** yauzl over a ByteSource, and the lazily inflated content of a deflated member. */
import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { inflateStream } from '../../codec/inflate.js';
import { ReprodiffError } from '../../errors.js';
import { DecodedSink, type SpillFile, type TempFiles } from '../../io/spill.js';
import { DecodedSource, checkRange, type ByteSource } from '../../io/source.js';
import type { Span } from '../../model.js';

/** Serves yauzl's positional reads from a ByteSource (no file descriptor, no whole-file buffer). */
export class SourceReader extends yauzl.RandomAccessReader {
  constructor(private readonly src: ByteSource) {
    super();
  }
  override _readStreamForRange(start: number, end: number): Readable {
    try {
      return Readable.from([Buffer.from(this.src.read(start, end - start, 'zip'))]);
    } catch (e) {
      const r = new Readable({ read() {} });
      process.nextTick(() => r.destroy(e as Error));
      return r;
    }
  }
  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    // the read itself is synchronous; the callback is not, so a consumer that reads again from it cannot recurse
    let err: Error | null = null;
    try {
      buffer.set(this.src.read(position, length, 'zip'), offset);
    } catch (e) {
      err = e as Error;
    }
    queueMicrotask(() => callback(err));
  }
}

/** Where and how a deflated member's bytes are, for an InflateSource. */
export interface InflateMember {
  /** the source holding the member's compressed bytes, and where they are */
  parent: ByteSource;
  offset: number;
  compressedSize: number;
  /** the declared uncompressed size */
  size: number;
  /** limits.maxDecodedBytes */
  maxOutput: number;
  streamId: string;
  /** limits.memoryDecodedBytes: a member inflating to more goes to a temporary file */
  inMemory: number;
  temp?: TempFiles;
}

/**
 * Decoded members kept at once, most recently read last: a zip of many members keeps only a few of them
 * decoded (the comparer reads two at a time, one of each build); the others are inflated again if read again.
 */
const kept = new Set<InflateSource>();
/** at most this many decoded members are kept, and this many bytes of them in memory */
const KEEP_COUNT = 6;
const KEEP_BYTES = 32 * 1024 * 1024;

function keep(s: InflateSource): void {
  kept.delete(s);
  kept.add(s);
  let bytes = 0;
  for (const k of kept) bytes += k.heldBytes;
  for (const k of kept) {
    if (kept.size <= 2 || (kept.size <= KEEP_COUNT && bytes <= KEEP_BYTES)) break;
    bytes -= k.heldBytes;
    kept.delete(k);
    k.release();
  }
}

/**
 * The inflated bytes of one deflated member, decoded on first read and checked against the declared size.
 * A DecodedSource whose `origin` is the member's compressed bytes, so differences roll up to them; unlike
 * its base it holds nothing until read. The member is inflated a megabyte at a time into memory or, past
 * `inMemory`, into a temporary file (io/spill.ts): nothing grows to the declared size.
 */
export class InflateSource extends DecodedSource {
  declare readonly size: number;
  private decodedData: Uint8Array | SpillFile | undefined;
  private readonly m: InflateMember;

  constructor(name: string, m: InflateMember) {
    super(name, new Uint8Array(0), m.streamId, m.parent.spans(m.offset, m.compressedSize));
    this.m = m;
    this.size = m.size;
  }

  /** bytes of decoded data held in memory */
  get heldBytes(): number {
    return this.decodedData instanceof Uint8Array ? this.decodedData.length : 0;
  }

  private decoded(): Uint8Array | SpillFile {
    if (this.decodedData) {
      keep(this);
      return this.decodedData;
    }
    const m = this.m;
    const place = { file: m.parent.name, structure: 'zip member data', offset: m.offset };
    if (this.size > m.maxOutput) throw new ReprodiffError('E_LIMIT', `member declares ${this.size} bytes, over the limit of ${m.maxOutput}`, place);
    const sink = new DecodedSink(this.name, m.inMemory, m.temp, this.size);
    try {
      const r = inflateStream(m.parent, m.offset, m.offset + m.compressedSize, (chunk) => sink.write(chunk), {
        // the output is capped at the declared size: more than that is a lie in the headers, not a limit
        maxOut: Math.max(this.size, 1),
        over: () => new ReprodiffError('E_FORMAT', `member inflates to more than its declared ${this.size} bytes`, place),
        place,
        what: 'inflating a zip member',
      });
      if (r.size !== this.size) throw new ReprodiffError('E_FORMAT', `member inflates to ${r.size} bytes, ${this.size} declared`, place);
    } catch (e) {
      sink.discard();
      throw e;
    }
    this.decodedData = sink.finish();
    keep(this);
    return this.decodedData;
  }

  override read(offset: number, length: number, structure?: string): Uint8Array {
    checkRange(this, offset, length, structure);
    const d = this.decoded();
    return d instanceof Uint8Array ? d.subarray(offset, offset + length) : d.read(offset, length);
  }

  override readInto(offset: number, into: Uint8Array, structure?: string): void {
    checkRange(this, offset, into.length, structure);
    const d = this.decoded();
    if (d instanceof Uint8Array) into.set(d.subarray(offset, offset + into.length));
    else d.readInto(offset, into);
  }

  override spans(offset: number, length: number): Span[] {
    checkRange(this, offset, length, 'span');
    return [{ stream: this.stream as string, offset, length }];
  }

  /** Drops the decoded bytes (they are decoded again on the next read). */
  release(): void {
    const d = this.decodedData;
    this.decodedData = undefined;
    kept.delete(this);
    if (d && !(d instanceof Uint8Array)) d.close();
  }
}
