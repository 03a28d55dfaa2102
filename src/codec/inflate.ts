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
import { constants as zlibConstants, crc32, InflateRaw, inflateRawSync } from 'node:zlib';
import { ReprodiffError, type ErrorPlace } from '../errors.js';
import { checkTime } from '../limits.js';
import type { ByteSource } from '../io/source.js';

/** compressed bytes read and fed to zlib at once */
const FEED = 256 * 1024;
/** zlib's output buffer: what is held of the decoded data at once */
const OUT = 1 << 20;

/** The parts of node's zlib engine that its own synchronous calls use (lib/zlib.js, processChunkSync). */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  onerror: (message: string, errno: number, code?: string) => void;
}
interface Engine {
  engine: InflateRaw;
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
  const engine = new InflateRaw() as InflateRaw & { _handle?: ZlibHandle; _writeState?: Uint32Array };
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
}

/**
 * Inflates the raw deflate stream at `at` of `src` (its bytes end by `end` at the latest), handing each piece
 * of output to `write` (valid only during the call: copy what is kept). Returns the input bytes the stream
 * used and the CRC-32 of its output.
 */
export function inflateStream(src: ByteSource, at: number, end: number, write: (chunk: Uint8Array) => void, opts: InflateOptions): { used: number; crc: number; size: number } {
  const place = opts.place;
  const over = opts.over ?? ((): ReprodiffError => new ReprodiffError('E_LIMIT', `decoded data exceeds the limit of ${opts.maxOut} bytes`, place));
  const eng = takeEngine();
  if (!eng) return inflateWhole(src.read(at, end - at, place.structure), write, opts.maxOut, over, place);
  const { engine, handle, state } = eng;
  let failure: string | undefined;
  handle.onerror = (message, _errno, code) => {
    failure = `${message}${code ? ` (${code})` : ''}`;
  };
  // one pair of buffers for every stream: the inflate is synchronous, and the sink copies what it keeps
  const { out, feed } = (buffers ??= { out: Buffer.allocUnsafe(OUT), feed: new Uint8Array(FEED) });
  let crc = 0;
  let size = 0;
  let pos = at;
  // the compressed input, a piece at a time, into one buffer where the source allows
  let piece: Uint8Array = feed.subarray(0, 0);
  let pieceAt = at;
  /** one call into zlib with the unread rest of `piece`; true when it filled its output buffer (call again) */
  const step = (flush: number): boolean => {
    const off = pos - pieceAt;
    const len = piece.length - off;
    handle.writeSync(flush, piece, off, len, out, 0, OUT);
    if (failure !== undefined) throw new ReprodiffError('E_FORMAT', `corrupt deflate data: ${failure}`, { ...place, offset: pos });
    const made = OUT - (state[0] as number);
    pos += len - (state[1] as number);
    if (made) {
      if (size + made > opts.maxOut) throw over();
      const got = out.subarray(0, made);
      crc = crc32(got, crc);
      size += made;
      write(got);
      checkTime(opts.what ?? 'inflating', place.file, pos);
    }
    return state[0] === 0;
  };
  let ok = false;
  try {
    let done = false;
    while (pos < end && !done) {
      pieceAt = pos;
      const n = Math.min(end - pos, FEED);
      if (src.readInto) src.readInto(pos, (piece = feed.subarray(0, n)), place.structure);
      else piece = src.read(pos, n, place.structure);
      while (step(zlibConstants.Z_NO_FLUSH));
      // zlib left input unread although its output had room: the stream ended there
      if (pos < pieceAt + piece.length) done = true;
    }
    if (!done) {
      // all input read: finishing tells a stream that ended right at the end from a truncated one
      pieceAt = pos;
      piece = new Uint8Array(0);
      while (step(zlibConstants.Z_FINISH));
    }
    ok = true;
    return { used: pos - at, crc, size };
  } catch (e) {
    throw allocationToLimit(e, place);
  } finally {
    if (ok && !spare) {
      engine.reset();
      spare = eng;
    } else engine.close();
  }
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
