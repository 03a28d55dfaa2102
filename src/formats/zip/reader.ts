/** yauzl over a ByteSource, and the lazily inflated content of a deflated member. */
import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { decompress } from '../../codec/index.js';
import { ReprodiffError, isReprodiffError } from '../../errors.js';
import { checkRange, type ByteSource, type DecodedContent } from '../../io/source.js';
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

/**
 * The inflated bytes of one deflated member, decoded on first read and checked against the declared size.
 * Its `origin` is the member's compressed bytes, so differences roll up to them; it holds nothing until read.
 */
export class InflateSource implements DecodedContent {
  readonly origin: Span[];
  private decodedData: Uint8Array | undefined;

  constructor(
    readonly name: string,
    private readonly parent: ByteSource,
    private readonly offset: number,
    private readonly compressedSize: number,
    readonly size: number,
    private readonly maxOutput: number,
    readonly stream: string,
  ) {
    this.origin = parent.spans(offset, compressedSize);
  }

  private decoded(): Uint8Array {
    if (this.decodedData) return this.decodedData;
    if (this.size > this.maxOutput) {
      throw new ReprodiffError('E_LIMIT', `member declares ${this.size} bytes, over the limit of ${this.maxOutput}`, {
        file: this.parent.name,
        structure: 'zip member data',
        offset: this.offset,
      });
    }
    const raw = this.parent.read(this.offset, this.compressedSize, 'zip member data');
    let out: Uint8Array;
    try {
      out = decompress('deflate', raw, { maxOutput: Math.max(this.size, 1), name: this.name });
    } catch (e) {
      // the output is capped at the declared size: more than that is a lie in the headers, not a limit
      if (isReprodiffError(e) && e.code === 'E_LIMIT') {
        throw new ReprodiffError('E_FORMAT', `member inflates to more than its declared ${this.size} bytes`, {
          file: this.parent.name,
          structure: 'zip member data',
          offset: this.offset,
        });
      }
      throw e;
    }
    if (out.length !== this.size) {
      throw new ReprodiffError('E_FORMAT', `member inflates to ${out.length} bytes, ${this.size} declared`, {
        file: this.parent.name,
        structure: 'zip member data',
        offset: this.offset,
      });
    }
    this.decodedData = out;
    return out;
  }

  read(offset: number, length: number, structure?: string): Uint8Array {
    checkRange(this, offset, length, structure);
    return this.decoded().subarray(offset, offset + length);
  }

  /** Copies into `into`: a caller reusing one buffer never holds a view of bytes that release() drops. */
  readInto(offset: number, into: Uint8Array, structure?: string): void {
    into.set(this.read(offset, into.length, structure));
  }

  spans(offset: number, length: number): Span[] {
    checkRange(this, offset, length, 'span');
    return [{ stream: this.stream, offset, length }];
  }

  /** Drops the decoded bytes (they are decoded again on the next read). */
  release(): void {
    this.decodedData = undefined;
  }
}
