/**
 * Worker-pool tasks. Workers open the input files themselves and read by offset, so only small
 * descriptions (paths, extents) and small results (digests, range lists) cross threads.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { ErrorCode } from '../src/errors.js';
import type { Limits } from '../src/limits.js';
import type { OnceFormat, OnceLayouts } from '../src/walk/once.js';
import { openDirect, type DirectReader } from '../src/io/sparse.js';

const CHUNK = 64 * 1024;

/** One pair of read buffers per worker thread, reused by every task it runs. */
let buffers: [Buffer, Buffer] | undefined;
function workBuffers(): [Buffer, Buffer] {
  if (!buffers) {
    const [a, b] = [new ArrayBuffer(CHUNK), new ArrayBuffer(CHUNK)];
    buffers = [Buffer.from(a), Buffer.from(b)];
  }
  return buffers;
}

export interface HashTask {
  op: 'hash';
  file: string;
  /** extents in the file, hashed in order as one stream */
  extents: { offset: number; length: number }[];
}

export interface DiffTask {
  op: 'diff';
  a: string;
  b: string;
  /** byte range of both files to compare, [start, end) within the shorter file */
  start: number;
  end: number;
  /** the range is compared in segments of this many bytes, which the pool's threads take in turn */
  segment: number;
  /** past this many ranges in all segments together, a segment's new ones merge into its last one */
  maxRanges: number;
  /**
   * Int32Array over it: element 0 counts the segments taken; element 1, when 1, holds back every thread but the
   * lead one (the main thread is parsing and needs a CPU), and is notified when it drops to 0; element 2 counts
   * the ranges listed by all threads; element 3 counts the blocks of CHUNK bytes compared (for progress).
   */
  work: SharedArrayBuffer;
  lead: boolean;
  /** an Int32Array over it: element 0 is set to 1 (and notified) when a differing byte is first found */
  found?: SharedArrayBuffer;
}

/** The differing ranges of the segments one thread compared, in the order it took them. */
export interface DiffParts {
  parts: SegmentRanges[];
}

/**
 * One segment's differing ranges: flat [start0, end0, ...] as offsets from the segment's start (a segment is
 * under 4 GiB), in chunks of RANGE_CHUNK numbers filled in turn (`count` numbers in all), so that a segment of
 * moved data (a range every few hundred bytes) grows by a chunk at a time with nothing copied or left behind.
 */
export interface SegmentRanges {
  segment: number;
  /** the offset the ranges are counted from */
  base: number;
  chunks: Uint32Array[];
  count: number;
  capped: boolean;
  differing: number;
}

/** numbers in a chunk of a segment's ranges (128 KiB) */
const RANGE_CHUNK = 32 * 1024;

export interface DiffResult {
  /**
   * flat [start0, end0, start1, end1, ...] of differing byte ranges (typed: a release image has millions), in
   * 32 bits a number where the files' common length allows
   */
  ranges: Float64Array | Uint32Array;
  /** true when maxRanges was hit: later ranges were merged, so ranges over-cover */
  capped: boolean;
  /** exact count of differing bytes */
  differing: number;
}

export interface DecodeTask {
  op: 'decode';
  format: OnceFormat;
  /** the input file that holds the stream, its name in messages, and the stream's bytes in it, in order */
  file: string;
  fileName: string;
  spans: { offset: number; length: number }[];
  /** the stream's name (as the main thread names it, for messages) */
  name: string;
  /** the temporary file the main thread made for the decoded bytes (see SpillFile.descriptor) */
  fd: number;
  limits: Limits;
  timeLimited: boolean;
  /** the time limit the main thread's work on this entry is under */
  limit?: { deadline: number; seconds: number };
}

/** What decoding a stream gave: each member's result and how many decoded bytes were written. */
export interface DecodeResult {
  members: OnceLayouts[OnceFormat];
  size: number;
}

/**
 * A failure that crosses the thread boundary as data, so the main thread can raise a typed error: a read the
 * operating system refused or that ended early (`failure`), or a bug in the task (`internal`), which the main
 * thread raises as an internal error, never as a clean rejection.
 */
export type TaskFailure =
  | {
      failure: {
        code: ErrorCode;
        file: string | undefined;
        offset: number | undefined;
        message: string;
        structure?: string;
        /** the temporary folder failed (a decoded stream could not be written) */
        temp?: boolean;
      };
    }
  | { internal: { file: string; message: string; stack?: string } };

class ReadFailure extends Error {
  constructor(
    readonly code: 'E_TRUNCATED' | 'E_IO',
    readonly file: string,
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

function readFull(fd: number, buf: Uint8Array, length: number, position: number, file: string): void {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = readSync(fd, buf, done, length - done, position + done);
    } catch (e) {
      throw new ReadFailure('E_IO', file, position + done, (e as Error).message);
    }
    if (n === 0) throw new ReadFailure('E_TRUNCATED', file, position + done, 'the file ended early (was it changed while being read?)');
    done += n;
  }
}

export function hash(task: HashTask): string {
  const fd = openSync(task.file, 'r');
  try {
    const h = createHash('sha256');
    const buf = workBuffers()[0];
    for (const e of task.extents) {
      let at = e.offset;
      let left = e.length;
      while (left > 0) {
        const n = Math.min(left, CHUNK);
        readFull(fd, buf, n, at, task.file);
        h.update(buf.subarray(0, n));
        at += n;
        left -= n;
      }
    }
    return h.digest('hex');
  } finally {
    closeSync(fd);
  }
}

/**
 * Compares two files in lockstep over segments of [start, end), taking segments in turn with the pool's other
 * threads, and returns each segment's exact differing byte ranges. Past `maxRanges` listed by all threads, a
 * segment merges new ranges into its last one (the list stays bounded: at most one more range per segment)
 * while `differing` still counts every differing byte.
 */
/** bytes a side that is mostly holes reads at once with O_DIRECT (a multiple of CHUNK) */
const DIRECT_WINDOW = 1024 * 1024;

/**
 * One file of the pass: ordinary reads into the thread's buffer, or, for a file mostly holes (src/io/sparse.ts),
 * O_DIRECT reads of DIRECT_WINDOW bytes at a time, which cost a hole nothing but the zeroing of the buffer.
 */
class PassSide {
  private start = 0;
  private end = 0;
  constructor(
    private readonly fd: number,
    private readonly file: string,
    private readonly buf: Buffer,
    private direct: DirectReader | undefined,
  ) {}

  /** `n` bytes (at most CHUNK) at `pos`, a multiple of CHUNK, reading no further than `limit` (rounded up) ahead. */
  bytes(pos: number, n: number, limit: number): Buffer {
    const d = this.direct;
    if (!d) {
      readFull(this.fd, this.buf, n, pos, this.file);
      return this.buf;
    }
    if (pos < this.start || pos + n > this.end) {
      const want = Math.min(DIRECT_WINDOW, limit - pos);
      let got: number;
      try {
        got = d.read(want, pos);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw new ReadFailure('E_IO', this.file, pos, (e as Error).message);
        // O_DIRECT refused whatever the alignment: ordinary reads from here on
        d.close();
        this.direct = undefined;
        return this.bytes(pos, n, limit);
      }
      if (got < want) throw new ReadFailure('E_TRUNCATED', this.file, pos + got, 'the file ended early (was it changed while being read?)');
      this.start = pos;
      this.end = pos + want;
    }
    return d.buf.subarray(pos - this.start, pos - this.start + n);
  }

  close(): void {
    this.direct?.close();
  }
}

export function diff(task: DiffTask): DiffParts {
  const fa = openSync(task.a, 'r');
  const fb = openSync(task.b, 'r');
  const [ba, bb] = workBuffers();
  const sides: PassSide[] = [];
  const work = new Int32Array(task.work);
  const found = task.found ? new Int32Array(task.found) : undefined;
  const parts: DiffParts['parts'] = [];
  try {
    sides.push(new PassSide(fa, task.a, ba, openDirect(task.a, DIRECT_WINDOW)), new PassSide(fb, task.b, bb, openDirect(task.b, DIRECT_WINDOW)));
    for (;;) {
      // a thread that is not the lead waits while the main thread parses (three threads on two CPUs would slow
      // the parse more than this one speeds the pass), unless the lead has taken every segment
      while (!task.lead && Atomics.load(work, 1) === 1 && task.start + Atomics.load(work, 0) * task.segment < task.end) {
        Atomics.wait(work, 1, 1, 50);
      }
      const index = Atomics.add(work, 0, 1);
      const start = task.start + index * task.segment;
      if (start >= task.end) break;
      const end = Math.min(task.end, start + task.segment);
      parts.push({ segment: index, ...diffRange(sides[0]!, sides[1]!, task, start, end, work, found) });
    }
    return { parts };
  } finally {
    for (const side of sides) side.close();
    closeSync(fa);
    closeSync(fb);
  }
}

/** The differing ranges of [start, end) of both files. */
function diffRange(sa: PassSide, sb: PassSide, task: DiffTask, start: number, end: number, work: Int32Array, found: Int32Array | undefined): Omit<SegmentRanges, 'segment'> {
  const chunks: Uint32Array[] = [];
  // the chunk being filled, and the numbers in it; the first chunk is small: most segments differ little
  let ranges = new Uint32Array(64);
  let n = 0;
  let count = 0;
  let differing = 0;
  let capped = false;
  const close = (absStart: number, absEnd: number): void => {
    if (found && Atomics.load(found, 0) === 0) {
      Atomics.store(found, 0, 1);
      Atomics.notify(found, 0);
    }
    differing += absEnd - absStart;
    const s = absStart - start;
    const e = absEnd - start;
    if (count && ranges[n - 1] === s) {
      ranges[n - 1] = e;
    } else if (count && Atomics.load(work, 2) >= task.maxRanges) {
      capped = true;
      ranges[n - 1] = e;
    } else {
      Atomics.add(work, 2, 1);
      if (n === ranges.length) {
        chunks.push(ranges);
        ranges = new Uint32Array(RANGE_CHUNK);
        n = 0;
      }
      ranges[n++] = s;
      ranges[n++] = e;
      count += 2;
    }
  };
  let openStart = -1;
  /** bytes [from, to) of the buffers (at `pos` in the files), one at a time */
  const bytes = (ba: Uint8Array, bb: Uint8Array, pos: number, from: number, to: number): void => {
    for (let j = from; j < to; j++) {
      const differs = ba[j] !== bb[j];
      if (differs && openStart < 0) openStart = pos + j;
      else if (!differs && openStart >= 0) {
        close(openStart, pos + j);
        openStart = -1;
      }
    }
  };
  for (let pos = start; pos < end; pos += CHUNK) {
    const n = Math.min(CHUNK, end - pos);
    const ba = sa.bytes(pos, n, end);
    const bb = sb.bytes(pos, n, end);
    Atomics.add(work, 3, 1);
    if (openStart < 0 && ba.compare(bb, 0, n, 0, n) === 0) continue;
    // the same bytes as 32-bit words, where both lie on a word boundary (a read buffer, or the O_DIRECT window)
    const aligned = ((ba.byteOffset | bb.byteOffset) & 3) === 0;
    const wa = aligned ? new Uint32Array(ba.buffer, ba.byteOffset, n >> 2) : undefined;
    const wb = aligned ? new Uint32Array(bb.buffer, bb.byteOffset, n >> 2) : undefined;
    for (let s = 0; s < n; s += 4096) {
      const m = Math.min(4096, n - s);
      if (openStart < 0 && ba.compare(bb, s, s + m, s, s + m) === 0) continue;
      if (!wa || !wb) {
        bytes(ba, bb, pos, s, s + m);
        continue;
      }
      // a word at a time: a word with no differing byte, while no range is open, or with no equal byte, while
      // one is, changes nothing (moved data differs in all but about one byte in 256); only the others are
      // looked at byte by byte
      const whole = s + (m & ~3);
      let i = s;
      for (let w = s >> 2; i < whole; w++, i += 4) {
        const x = (wa[w]! ^ wb[w]!) | 0;
        if (openStart < 0 ? x === 0 : ((x - 0x01010101) & ~x & 0x80808080) === 0) continue;
        bytes(ba, bb, pos, i, i + 4);
      }
      bytes(ba, bb, pos, i, s + m);
    }
  }
  if (openStart >= 0) close(openStart, end);
  if (n) chunks.push(ranges.subarray(0, n));
  return { base: start, chunks, count, capped, differing };
}

/**
 * The parts of a pass with their ranges' memory handed over rather than copied: moved data differs in a range
 * every few hundred bytes, millions of them in a live image, and a copy per thread would double them for a while.
 */
function handOver(parts: DiffParts): DiffParts {
  const movable = { [transferableSymbol]: parts.parts.flatMap((p) => p.chunks.map((c) => c.buffer)), [valueSymbol]: parts };
  return move(movable as unknown as ArrayBuffer) as unknown as DiffParts;
}

/**
 * Decodes a stream the way the main thread would (the same format code, names and limits), writing the decoded
 * bytes into the temporary file it lent: the main thread then lists it over them. Loaded on first use, so that
 * the pass does not wait for the parsers to load.
 */
async function decode(task: DecodeTask): Promise<DecodeResult | TaskFailure> {
  const [{ FileSource }, { ExtentSource }, { TempFiles, SpillFile }, { openGzip }, { openXz }, { openZstd }, { withDeadline }, { isReprodiffError }] = await Promise.all([
    import('../src/io/file.js'),
    import('../src/io/source.js'),
    import('../src/io/spill.js'),
    import('../src/formats/gzip/index.js'),
    import('../src/formats/xz/index.js'),
    import('../src/formats/zstd/index.js'),
    import('../src/limits.js'),
    import('../src/errors.js'),
  ]);
  const temp = new TempFiles(task.fd);
  let root: InstanceType<typeof FileSource> | undefined;
  try {
    root = new FileSource(task.file, task.fileName);
    const src = new ExtentSource(task.name, root, task.spans);
    let members: DecodeResult['members'] | undefined;
    let size = 0;
    const keep = (d: { members: DecodeResult['members']; store: Uint8Array | InstanceType<typeof SpillFile> }): void => {
      // a stream that decoded to less than it was thought to stayed in memory: it goes to the lent file now
      let file = d.store;
      if (!(file instanceof SpillFile)) {
        const bytes = file;
        file = temp.make(task.name);
        file.append(bytes);
      }
      members = d.members;
      size = file.size;
    };
    const ctx = { limits: task.limits, temp, timeLimited: task.timeLimited };
    const open = { gzip: openGzip, xz: openXz, zstd: openZstd }[task.format] as (s: typeof src, c: typeof ctx, known: undefined, k: typeof keep) => unknown;
    withDeadline(task.limit, () => open(src, ctx, undefined, keep));
    if (members === undefined) throw new Error(`${task.format} decoding of ${task.name} kept nothing`);
    return { members, size };
  } catch (e) {
    if (!isReprodiffError(e)) throw e;
    return { failure: { code: e.code, file: e.file, offset: e.offset, message: e.message, ...(e.structure !== undefined ? { structure: e.structure } : {}), temp: temp.broken } };
  } finally {
    root?.close();
    temp.close();
  }
}

export default function run(task: HashTask | DiffTask | DecodeTask): string | DiffParts | TaskFailure | Promise<DecodeResult | TaskFailure> {
  try {
    if (task.op === 'decode') return decode(task).catch((e: unknown) => failed(task, e));
    return task.op === 'hash' ? hash(task) : handOver(diff(task));
  } catch (e) {
    return failed(task, e);
  }
}

function failed(task: HashTask | DiffTask | DecodeTask, e: unknown): TaskFailure {
  if (e instanceof ReadFailure) return { failure: { code: e.code, file: e.file, offset: e.offset, message: e.message } };
  // a file that cannot be opened is the operating system's refusal; anything else is a bug here
  const file = task.op === 'hash' || task.op === 'decode' ? task.file : task.a;
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string' && typeof err.syscall === 'string') return { failure: { code: 'E_IO', file, offset: 0, message: err.message } };
  return { internal: { file, message: err instanceof Error ? err.message : String(e), ...(err instanceof Error && err.stack ? { stack: err.stack } : {}) } };
}
