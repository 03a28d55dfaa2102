/**
 * Streaming raw-deflate decoding (RFC 1951) for gzip members and deflated zip members: the compressed bytes are
 * read from the source a window at a time and the output is handed over a megabyte at a time, so a stream of
 * any size is never held whole (the caller's sink moves it to a temporary file past --in-memory).
 *
 * node:zlib's synchronous calls gather the whole output before returning, so this drives the engine the way
 * they do, through its handle, and takes each megabyte as it comes. One engine is kept and reset between
 * streams: a gzip file of 500,000 members would otherwise make (and leave to the collector) 500,000 engines.
 * Should a node lack that handle, the one-shot call is used instead, bounded by `maxOut`.
 */
import { constants as zlibConstants, crc32, Inflate, InflateRaw, inflateRawSync } from 'node:zlib';
import { ReprodiffError, type ErrorPlace } from '../errors.js';
import { checkTime } from '../limits.js';
import type { ByteSource } from '../io/source.js';

/** compressed bytes read and fed to zlib at once */
const FEED = 256 * 1024;
/** the first read of compressed input: a member of a few bytes is not read a quarter of a megabyte at a time */
const FIRST_FEED = 4096;
/** zlib's output buffer: what is held of the decoded data at once */
const OUT = 1 << 20;

/** The parts of node's zlib engine that its own synchronous calls use (lib/zlib.js, processChunkSync). */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  onerror: (message: string, errno: number, code?: string) => void;
}
interface Engine {
  engine: InflateRaw | Inflate;
  handle: ZlibHandle;
  state: Uint32Array;
}

let spare: Engine | undefined;
let buffers: { out: Buffer; feed: Uint8Array } | undefined;

function takeEngine(): Engine | undefined {
  if (spare) {
    const e = spare;
    spare = undefined;
    return e;
  }
  return makeEngine(new InflateRaw());
}

function makeEngine(made: InflateRaw | Inflate): Engine | undefined {
  const engine = made as (InflateRaw | Inflate) & { _handle?: ZlibHandle; _writeState?: Uint32Array };
  const handle = engine._handle;
  const state = engine._writeState;
  if (!handle || typeof handle.writeSync !== 'function' || !(state instanceof Uint32Array) || typeof engine.reset !== 'function') {
    engine.close();
    return undefined;
  }
  return { engine, handle, state };
}

export interface InflateOptions {
  /** the output may not pass this many bytes */
  maxOut: number;
  /** the error when it would: by default E_LIMIT "decoded data exceeds the limit" */
  over?: () => ReprodiffError;
  /** where the stream is, for messages */
  place: ErrorPlace;
  /** what the time-limit message calls the work */
  what?: string;
  /** false: the caller has no use for the output's CRC-32, so it is not computed (returned as 0) */
  crc?: boolean;
}

/**
 * Inflates the raw deflate stream at `at` of `src` (its bytes end by `end` at the latest), handing each piece
 * of output to `write` (valid only during the call: copy what is kept). Returns the input bytes the stream
 * used and the CRC-32 of its output.
 */
export function inflateStream(src: ByteSource, at: number, end: number, write: (chunk: Uint8Array) => void, opts: InflateOptions): { used: number; crc: number; size: number } {
  const inf = Inflater.start(src, at, end, opts, true, opts.crc !== false);
  if (!inf) {
    const over = opts.over ?? ((): ReprodiffError => new ReprodiffError('E_LIMIT', `decoded data exceeds the limit of ${opts.maxOut} bytes`, opts.place));
    return inflateWhole(src.read(at, end - at, opts.place.structure), write, opts.maxOut, over, opts.place);
  }
  let ok = false;
  try {
    for (let chunk = inf.next(); chunk; chunk = inf.next()) write(chunk);
    ok = true;
    return { used: inf.used, crc: inf.crc, size: inf.size };
  } finally {
    inf.close(ok);
  }
}

/**
 * A raw deflate stream decoded as far as it is asked and no farther: `next()` gives the next piece of output
 * (at most a megabyte, valid until the next call) or null at the end. A reader going forward through a large
 * member needs nothing held but the engine's window; `inflateStream` is this, run to the end.
 */
export class Inflater {
  /** output bytes so far */
  size = 0;
  /** CRC-32 of the output so far (when asked for) */
  crc = 0;
  private pos: number;
  private piece: Uint8Array;
  private pieceAt: number;
  private failure: string | undefined;
  private finishing = false;
  private feedSize = FIRST_FEED;
  private done = false;
  private closed = false;
  private readonly over: () => ReprodiffError;

  private constructor(
    private readonly src: ByteSource,
    private readonly at: number,
    private readonly end: number,
    private readonly opts: InflateOptions,
    private readonly eng: Engine,
    private readonly out: Buffer,
    private readonly feed: Uint8Array,
    private readonly withCrc: boolean,
  ) {
    this.pos = at;
    this.pieceAt = at;
    this.piece = feed.subarray(0, 0);
    this.over = opts.over ?? ((): ReprodiffError => new ReprodiffError('E_LIMIT', `decoded data exceeds the limit of ${opts.maxOut} bytes`, opts.place));
    eng.handle.onerror = (message, _errno, code) => {
      this.failure = `${message}${code ? ` (${code})` : ''}`;
    };
  }

  /**
   * An inflater over the stream, or undefined when node's engine handle is not there (use the one-shot call).
   * `shared`: use the module's one pair of buffers (only for a run to the end with no other inflater between).
   */
  static start(src: ByteSource, at: number, end: number, opts: InflateOptions, shared = false, withCrc = true): Inflater | undefined {
    const eng = takeEngine();
    if (!eng) return undefined;
    const bufs = shared ? (buffers ??= { out: Buffer.allocUnsafe(OUT), feed: new Uint8Array(FEED) }) : { out: Buffer.allocUnsafe(OUT), feed: new Uint8Array(FEED) };
    return new Inflater(src, at, end, opts, eng, bufs.out, bufs.feed, withCrc);
  }

  /** compressed bytes the stream used so far (all of it once `next()` gave null) */
  get used(): number {
    return this.pos - this.at;
  }

  /** The next piece of output, or null when the stream has ended. */
  next(): Uint8Array | null {
    try {
      for (;;) {
        if (this.done || this.closed) return null;
        const chunk = this.step();
        if (chunk) return chunk;
      }
    } catch (e) {
      this.close(false);
      throw allocationToLimit(e, this.opts.place);
    }
  }

  /** One call into zlib: the output it made (empty when it made none and more input is needed). */
  private step(): Uint8Array | null {
    const { handle, state } = this.eng;
    const flush = this.finishing ? zlibConstants.Z_FINISH : zlibConstants.Z_NO_FLUSH;
    if (!this.finishing && this.pos >= this.pieceAt + this.piece.length) {
      // the piece is used up: the next one, or finish when the input is
      if (this.pos >= this.end) {
        this.finishing = true;
        this.pieceAt = this.pos;
        this.piece = this.feed.subarray(0, 0);
        return null;
      }
      this.pieceAt = this.pos;
      // the first pieces are small, each twice the last: a stream of many small members reads little per member
      const n = Math.min(this.end - this.pos, this.feedSize);
      this.feedSize = Math.min(FEED, this.feedSize * 2);
      if (this.src.readInto) this.src.readInto(this.pos, (this.piece = this.feed.subarray(0, n)), this.opts.place.structure);
      else this.piece = this.src.read(this.pos, n, this.opts.place.structure);
    }
    const off = this.pos - this.pieceAt;
    const len = this.piece.length - off;
    handle.writeSync(flush, this.piece, off, len, this.out, 0, OUT);
    if (this.failure !== undefined) throw new ReprodiffError('E_FORMAT', `corrupt deflate data: ${this.failure}`, { ...this.opts.place, offset: this.pos });
    const made = OUT - (state[0] as number);
    this.pos += len - (state[1] as number);
    const full = state[0] === 0;
    // zlib left input unread although its output had room: the stream ended there; so did a finish that did not fill it
    if (!full && (this.finishing || this.pos < this.pieceAt + this.piece.length)) this.done = true;
    if (!made) return null;
    if (this.size + made > this.opts.maxOut) throw this.over();
    const got = this.out.subarray(0, made);
    if (this.withCrc) this.crc = crc32(got, this.crc);
    this.size += made;
    checkTime(this.opts.what ?? 'inflating', this.opts.place.file, this.pos);
    return got;
  }

  /** Gives the engine back (`reusable`: it ended cleanly, so it can be reset for the next stream). */
  close(reusable = this.done): void {
    if (this.closed) return;
    this.closed = true;
    if (reusable && !spare) {
      this.eng.engine.reset();
      spare = this.eng;
    } else this.eng.engine.close();
  }
}

/** the largest output `inflateBlock` decodes into its kept buffer (a squashfs block is at most 1 MiB) */
const BLOCK_OUT = 1 << 20;
let blockEngine: Engine | undefined;
let blockOut: Uint8Array | undefined;

/**
 * A whole zlib-format (RFC 1950) stream of at most `maxOut` bytes of output (a squashfs block), decoded by one
 * kept engine into one kept buffer and returned as a copy of what it made: a squashfs image of 100,000 blocks
 * would otherwise make 100,000 engines and, for each block, eight 16 KiB pieces and their concatenation, all
 * left to the collector. Undefined when `maxOut` is over a megabyte or node's engine handle is not there
 * (the caller uses the one-shot call). Throws what the one-shot call would: over `maxOut`, `over()`; corrupt
 * or cut short, E_FORMAT with zlib's message.
 */
export function inflateBlock(input: Uint8Array, maxOut: number, over: () => ReprodiffError, place: ErrorPlace): Uint8Array | undefined {
  return inflateBlockView(input, maxOut, over, place)?.slice();
}

/** inflateBlock's output in its kept buffer, valid until the next call: for a caller that copies it at once. */
export function inflateBlockView(input: Uint8Array, maxOut: number, over: () => ReprodiffError, place: ErrorPlace): Uint8Array | undefined {
  if (maxOut > BLOCK_OUT) return undefined;
  const eng = blockEngine ?? makeEngine(new Inflate());
  if (!eng) return undefined;
  blockEngine = undefined;
  // one byte of room past the limit: output that fills it is over the limit
  const out = (blockOut ??= new Uint8Array(BLOCK_OUT + 1)).subarray(0, maxOut + 1);
  let failure: string | undefined;
  eng.handle.onerror = (message, _errno, code) => {
    failure = `${message}${code ? ` (${code})` : ''}`;
  };
  try {
    eng.handle.writeSync(zlibConstants.Z_FINISH, input, 0, input.length, out, 0, out.length);
  } catch (e) {
    eng.engine.close();
    throw allocationToLimit(e, place);
  }
  if (failure !== undefined) {
    eng.engine.close();
    throw new ReprodiffError('E_FORMAT', `corrupt zlib data: ${failure}`, place);
  }
  const made = out.length - (eng.state[0] as number);
  eng.engine.reset();
  blockEngine = eng;
  if (made > maxOut) throw over();
  return out.subarray(0, made);
}

/** inflateStream without the engine's handle: the whole stream in one buffer, bounded by `maxOut`. */
function inflateWhole(input: Uint8Array, write: (chunk: Uint8Array) => void, maxOut: number, over: () => ReprodiffError, place: ErrorPlace): { used: number; crc: number; size: number } {
  let res: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    res = inflateRawSync(input, { info: true, maxOutputLength: Math.max(1, maxOut) }) as unknown as typeof res;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE') throw over();
    throw allocationToLimit(e, place, `corrupt deflate data: ${err.message}`);
  }
  for (let o = 0; o < res.buffer.length; o += OUT) write(res.buffer.subarray(o, Math.min(res.buffer.length, o + OUT)));
  return { used: res.engine.bytesWritten, crc: crc32(res.buffer), size: res.buffer.length };
}

/**
 * A failed allocation (V8's "Array buffer allocation failed", a typed array too long for the heap) is a limit
 * of this machine, not a malformed input: it becomes E_LIMIT. Other errors pass unchanged, or, with
 * `otherwise`, as E_FORMAT with that message.
 */
export function allocationToLimit(e: unknown, place: ErrorPlace, otherwise?: string): unknown {
  if (e instanceof ReprodiffError) return e;
  if (isAllocationFailure(e)) {
    return new ReprodiffError('E_LIMIT', `out of memory decoding: ${(e as Error).message} (lower --in-memory or give the process more memory)`, place);
  }
  if (otherwise !== undefined) return new ReprodiffError('E_FORMAT', otherwise, place);
  return e;
}

/** Whether `e` is a failed memory allocation rather than a bug or a malformed input. */
export function isAllocationFailure(e: unknown): boolean {
  if (!(e instanceof RangeError)) return false;
  return /allocation failed|Invalid (typed )?array length|Array buffer allocation|out of memory/i.test(e.message);
}
