/** yauzl over a ByteSource, and the lazily inflated content of a deflated member. */
import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { createHash, type Hash } from 'node:crypto';
import { Inflater, inflateStream } from '../../codec/inflate.js';
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

/** what a large member keeps of its start and of its end, for the detectors' reads there */
const EDGE = 128 * 1024;

/**
 * A large member read forward without being kept: an inflater positioned somewhere in the stream, with the piece
 * of output it gave last. A full pass from the start also hashes the output, so the member's digest is known
 * without another decode.
 */
interface Cursor {
  inf: Inflater;
  /** where the piece starts in the decoded stream, and the piece (valid until the inflater's next call) */
  at: number;
  piece: Uint8Array;
  /** SHA-256 of the output so far: every byte from the start has gone through it */
  hash: Hash;
}

/**
 * The inflated bytes of one deflated member, checked against the declared size. A DecodedSource whose
 * `origin` is the member's compressed bytes, so differences roll up to them; unlike its base it holds nothing
 * until read. A member of at most `inMemory` bytes is inflated whole into memory on first read. A larger one
 * is read forward through a cursor, holding only the engine's window, its first and last EDGE bytes and its
 * digest: a comparison, a hash and the detectors' looks at its start and end cost no temporary file. Reads
 * that go back make the cursor start again, until the bytes inflated that way pass a few times the member's
 * size: then it is inflated once into a temporary file (io/spill.ts) and read from there.
 */
export class InflateSource extends DecodedSource {
  declare readonly size: number;
  private decodedData: Uint8Array | SpillFile | undefined;
  private readonly m: InflateMember;
  private cursor: Cursor | undefined;
  /** output bytes inflated by cursors so far */
  private streamed = 0;
  private head: Uint8Array | undefined;
  private tail: Uint8Array | undefined;
  private digest: string | undefined;

  constructor(name: string, m: InflateMember) {
    super(name, new Uint8Array(0), m.streamId, m.parent.spans(m.offset, m.compressedSize));
    this.m = m;
    this.size = m.size;
  }

  /** bytes of decoded data held in memory */
  get heldBytes(): number {
    return this.decodedData instanceof Uint8Array ? this.decodedData.length : 0;
  }

  private get place(): { file: string; structure: string; offset: number } {
    return { file: this.m.parent.name, structure: 'zip member data', offset: this.m.offset };
  }

  private checkDeclared(): void {
    if (this.size > this.m.maxOutput) throw new ReprodiffError('E_LIMIT', `member declares ${this.size} bytes, over the limit of ${this.m.maxOutput}`, this.place);
  }

  private inflateOptions(): Parameters<typeof inflateStream>[4] {
    const place = this.place;
    return {
      // the output is capped at the declared size: more than that is a lie in the headers, not a limit
      maxOut: Math.max(this.size, 1),
      over: () => new ReprodiffError('E_FORMAT', `member inflates to more than its declared ${this.size} bytes`, place),
      place,
      what: 'inflating a zip member',
      crc: false,
    };
  }

  private decoded(): Uint8Array | SpillFile {
    if (this.decodedData) {
      keep(this);
      return this.decodedData;
    }
    const m = this.m;
    this.checkDeclared();
    this.dropCursor();
    const sink = new DecodedSink(this.name, m.inMemory, m.temp, this.size);
    try {
      const r = inflateStream(m.parent, m.offset, m.offset + m.compressedSize, (chunk) => sink.write(chunk), this.inflateOptions());
      if (r.size !== this.size) throw new ReprodiffError('E_FORMAT', `member inflates to ${r.size} bytes, ${this.size} declared`, this.place);
    } catch (e) {
      sink.discard();
      throw e;
    }
    this.decodedData = sink.finish();
    keep(this);
    return this.decodedData;
  }

  /** Whether reads go through a cursor: a large member not already inflated whole, while the budget lasts. */
  private streaming(offset: number): boolean {
    if (this.decodedData || this.size <= this.m.inMemory) return false;
    if (this.cursor && offset >= this.cursor.at) return true;
    return this.streamed + offset <= 3 * this.size + EDGE;
  }

  private dropCursor(): void {
    this.cursor?.inf.close(false);
    this.cursor = undefined;
  }

  /** Copies `into.length` bytes at `offset` through the cursor (started again from the beginning when behind). */
  private readForward(offset: number, into: Uint8Array): void {
    this.checkDeclared();
    if (!this.cursor || offset < this.cursor.at) {
      this.dropCursor();
      const m = this.m;
      const inf = Inflater.start(m.parent, m.offset, m.offset + m.compressedSize, this.inflateOptions(), false, false);
      if (!inf) {
        // no engine handle on this node: inflate whole, as small members are
        const d = this.decoded();
        if (d instanceof Uint8Array) into.set(d.subarray(offset, offset + into.length));
        else d.readInto(offset, into);
        return;
      }
      this.cursor = { inf, at: 0, piece: new Uint8Array(0), hash: createHash('sha256') };
      keep(this);
    }
    const c = this.cursor;
    let done = 0;
    while (done < into.length) {
      const want = offset + done;
      const end = c.at + c.piece.length;
      if (want < end) {
        const n = Math.min(into.length - done, end - want);
        into.set(c.piece.subarray(want - c.at, want - c.at + n), done);
        done += n;
        continue;
      }
      this.advance(c);
    }
  }

  /** The cursor's next piece (E_FORMAT when the member ends before its declared size), its edges kept. */
  private advance(c: Cursor): void {
    const next = c.inf.next();
    c.at += c.piece.length;
    if (!next) {
      this.dropCursor();
      throw new ReprodiffError('E_FORMAT', `member inflates to ${c.at} bytes, ${this.size} declared`, this.place);
    }
    c.piece = next;
    this.streamed += next.length;
    if (this.digest === undefined) c.hash.update(next);
    const end = c.at + next.length;
    // the first and last EDGE bytes, copied as the pieces holding them go by
    const n = Math.min(EDGE, this.size);
    if (!this.head && c.at < n) {
      this.headFill ??= new Uint8Array(n);
      this.headFill.set(next.subarray(0, Math.min(end, n) - c.at), c.at);
      if (end >= n) this.head = this.headFill;
    }
    const tailAt = this.size - n;
    if (!this.tail && end > tailAt) {
      this.tailFill ??= new Uint8Array(n);
      const from = Math.max(c.at, tailAt);
      this.tailFill.set(next.subarray(from - c.at), from - tailAt);
    }
    if (end === this.size) {
      // past the declared size there must be nothing
      if (c.inf.next() !== null) {
        this.dropCursor();
        throw new ReprodiffError('E_FORMAT', `member inflates to more than its declared ${this.size} bytes`, this.place);
      }
      if (this.tailFill) this.tail = this.tailFill;
      this.headFill = this.tailFill = undefined;
      // every byte from the start went through the hash
      this.digest ??= c.hash.digest('hex');
    }
  }

  private headFill: Uint8Array | undefined;
  private tailFill: Uint8Array | undefined;

  /** Reads `into.length` bytes at `offset` from the edges kept, when they hold them. */
  private fromEdges(offset: number, into: Uint8Array): boolean {
    const end = offset + into.length;
    if (this.head && end <= this.head.length) {
      into.set(this.head.subarray(offset, end));
      return true;
    }
    if (this.tail && offset >= this.size - this.tail.length) {
      const base = this.size - this.tail.length;
      into.set(this.tail.subarray(offset - base, end - base));
      return true;
    }
    return false;
  }

  /**
   * The member's SHA-256: from the pass that gave it, or from one forward pass of the cursor (which keeps no
   * bytes), or by reading what is inflated whole.
   */
  sha256(): string {
    if (this.digest !== undefined) return this.digest;
    if (this.decodedData === undefined && this.size > this.m.inMemory && this.size > 0) {
      const last = new Uint8Array(1);
      this.readStreaming(this.size - 1, last);
      if (this.digest !== undefined) return this.digest;
    }
    const h = createHash('sha256');
    for (let at = 0; at < this.size; at += 4 << 20) h.update(this.read(at, Math.min(4 << 20, this.size - at), 'content'));
    return (this.digest = h.digest('hex'));
  }

  override read(offset: number, length: number, structure?: string): Uint8Array {
    checkRange(this, offset, length, structure);
    if (this.decodedData === undefined && this.size > this.m.inMemory) {
      const out = new Uint8Array(length);
      this.readStreaming(offset, out);
      return out;
    }
    const d = this.decoded();
    return d instanceof Uint8Array ? d.subarray(offset, offset + length) : d.read(offset, length);
  }

  override readInto(offset: number, into: Uint8Array, structure?: string): void {
    checkRange(this, offset, into.length, structure);
    if (this.decodedData === undefined && this.size > this.m.inMemory) return this.readStreaming(offset, into);
    const d = this.decoded();
    if (d instanceof Uint8Array) into.set(d.subarray(offset, offset + into.length));
    else d.readInto(offset, into);
  }

  private readStreaming(offset: number, into: Uint8Array): void {
    if (this.fromEdges(offset, into)) return;
    if (this.streaming(offset)) return this.readForward(offset, into);
    const d = this.decoded();
    if (d instanceof Uint8Array) into.set(d.subarray(offset, offset + into.length));
    else d.readInto(offset, into);
  }

  override spans(offset: number, length: number): Span[] {
    checkRange(this, offset, length, 'span');
    return [{ stream: this.stream as string, offset, length }];
  }

  /** Drops the decoded bytes and any cursor (they are decoded again on the next read). */
  release(): void {
    const d = this.decodedData;
    this.decodedData = undefined;
    this.dropCursor();
    kept.delete(this);
    if (d && !(d instanceof Uint8Array)) d.close();
  }
}
