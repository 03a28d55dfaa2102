/** The worker pool: hashing extents and comparing byte ranges in parallel, reading the files by offset. */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { createHash } from 'node:crypto';
import { InternalError, ReprodiffError } from '../errors.js';
import type { ByteSource, Extent } from '../io/source.js';
import type { Span } from '../model.js';
import { trace } from '../util/trace.js';
import type { DecodeResult, DecodeTask, DiffParts, DiffResult, DiffTask, HashTask, TaskFailure } from '../../workers/tasks.js';

function unwrap<T>(r: T | TaskFailure, structure: string): T {
  if (r && typeof r === 'object' && 'failure' in r) {
    const f = r.failure;
    throw new ReprodiffError(f.code, f.message, { file: f.file, structure, offset: f.offset });
  }
  if (r && typeof r === 'object' && 'internal' in r) {
    const f = r.internal;
    const e = new Error(f.message);
    if (f.stack) e.stack = f.stack;
    throw new InternalError(`${f.file} (${structure}, in a worker)`, undefined, e);
  }
  return r as T;
}

function workerFile(): string {
  const here = import.meta.url;
  // compiled: dist/src/compare/pool.js -> dist/workers/tasks.js; from sources (tests): use the compiled worker
  const rel = here.endsWith('.ts') ? '../../dist/workers/tasks.js' : '../../workers/tasks.js';
  return fileURLToPath(new URL(rel, here));
}

export class WorkerPool {
  private readonly pool: Piscina;
  constructor(jobs = availableParallelism()) {
    const n = Math.max(1, Math.min(jobs, 64));
    this.pool = new Piscina({ filename: workerFile(), minThreads: 1, maxThreads: n, idleTimeout: 1000 });
    // piscina emits 'error' for a worker's answer to a task it no longer tracks (one in flight when a failing
    // run destroyed the pool): nobody waits for that answer, and an 'error' event with no listener would end
    // the process with an uncaught exception instead of the run's own message
    this.pool.on('error', (e: unknown) => trace(`worker pool: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`));
  }
  get threads(): number {
    return this.pool.options.maxThreads;
  }
  async hash(task: Omit<HashTask, 'op'>): Promise<string> {
    return unwrap((await this.pool.run({ op: 'hash', ...task })) as string | TaskFailure, 'content');
  }
  async diff(task: Omit<DiffTask, 'op'>): Promise<DiffParts> {
    return unwrap((await this.pool.run({ op: 'diff', ...task })) as DiffParts | TaskFailure, 'block comparison');
  }
  /** Decodes a stream in a worker, into a temporary file lent to it; a failure comes back as data. */
  async decode(task: Omit<DecodeTask, 'op'>): Promise<DecodeResult | TaskFailure> {
    return (await this.pool.run({ op: 'decode', ...task })) as DecodeResult | TaskFailure;
  }
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/** the block the pass's threads read and count progress in (CHUNK in workers/tasks.ts) */
const PASS_BLOCK = 64 * 1024;

/** segment of the lockstep pass that a thread takes at a time */
const SEGMENT = 32 * 1024 * 1024;

/**
 * Shared with the pass's threads: which segment is next, and whether all but one thread hold back while the
 * main thread parses (two CPUs shared by three busy threads would slow the parse more than the pass gains).
 */
export class PassControl {
  readonly work = new SharedArrayBuffer(16);
  private readonly flags = new Int32Array(this.work);

  /** Bytes of each file the pass has compared so far (counted in the workers' 64 KiB blocks). */
  compared(): number {
    return Atomics.load(this.flags, 3) * PASS_BLOCK;
  }

  holdBack(): void {
    Atomics.store(this.flags, 1, 1);
  }

  release(): void {
    Atomics.store(this.flags, 1, 0);
    Atomics.notify(this.flags, 1);
  }

  /** No thread takes another segment (--timeout): the pass ends with the segments in progress. */
  stop(): void {
    Atomics.store(this.flags, 0, 0x3fffffff);
    this.release();
  }
}

/**
 * Exact differing ranges of two files over their common length. Every thread of the pool takes segments in
 * turn until none is left (threads never wait on the main thread, which may be busy parsing); the segments'
 * ranges are joined in order. Returns flat [start, end) pairs, plus the exact count of differing bytes.
 */
export async function diffFiles(
  pool: WorkerPool,
  a: string,
  b: string,
  common: number,
  opts: { maxRanges?: number; found?: SharedArrayBuffer; control?: PassControl } = {},
): Promise<DiffResult & { unexamined: [number, number][] }> {
  const control = opts.control ?? new PassControl();
  const segments = Math.max(1, Math.ceil(common / SEGMENT));
  const maxRanges = opts.maxRanges ?? 8_000_000;
  const tasks: Promise<DiffParts>[] = [];
  for (let t = 0; t < Math.min(pool.threads, segments); t++) {
    tasks.push(pool.diff({ a, b, start: 0, end: common, segment: SEGMENT, maxRanges, work: control.work, lead: t === 0, ...(opts.found ? { found: opts.found } : {}) }));
  }
  const results = (await Promise.all(tasks)).flatMap((r) => r.parts).sort((x, y) => x.segment - y.segment);
  const numbers = results.reduce((n, r) => n + r.count, 0);
  // the live ISO pair's 1.3 million ranges: 10 MB in 32 bits
  const ranges = common <= 0xffffffff ? new Uint32Array(numbers) : new Float64Array(numbers);
  let n = 0;
  let differing = 0;
  let capped = false;
  for (const r of results) {
    differing += r.differing;
    capped ||= r.capped;
    const base = r.base;
    let first = true;
    for (const chunk of r.chunks) {
      let i = 0;
      // a range cut at a segment's end goes on in the next segment
      if (first && n && chunk.length && ranges[n - 1] === base + chunk[0]!) {
        ranges[n - 1] = base + chunk[1]!;
        i = 2;
      }
      first = false;
      for (; i < chunk.length; i++) ranges[n++] = base + chunk[i]!;
    }
    // each chunk's memory is the worker's: let it go before the next segment's are read
    r.chunks = [];
  }
  // the segments no thread took: the pass was stopped (PassControl.stop)
  const unexamined: [number, number][] = [];
  let next = 0;
  for (const r of [...results.map((r) => r.segment), segments]) {
    for (; next < r; next++) {
      const s = next * SEGMENT;
      const e = Math.min(common, s + SEGMENT);
      if (e <= s) continue;
      const last = unexamined[unexamined.length - 1];
      if (last && last[1] === s) last[1] = e;
      else unexamined.push([s, e]);
    }
    next = r + 1;
  }
  return { ranges: ranges.subarray(0, n), capped, differing, unexamined };
}

/**
 * SHA-256 of a content: read by the pool straight from the outer file when every span is there, otherwise
 * (a decoded stream) read through its source here. `spans` are the extents' spans, already computed.
 */
export async function hashContent(pool: WorkerPool, file: string, src: ByteSource, extents: readonly Extent[], spans: readonly Span[]): Promise<string> {
  if (spans.every((s) => s.stream === undefined)) {
    return pool.hash({ file, extents: spans.map((s) => ({ offset: s.offset, length: s.length })) });
  }
  const whole = extents.length === 1 && extents[0]!.offset === 0 && extents[0]!.length === src.size;
  const own = (src as { sha256?: () => string }).sha256;
  if (whole && typeof own === 'function') return own.call(src);
  const h = createHash('sha256');
  for (const e of extents) {
    for (let at = 0; at < e.length; at += 4 << 20) h.update(src.read(e.offset + at, Math.min(4 << 20, e.length - at), 'content'));
  }
  return h.digest('hex');
}

/** Piece size for comparing contents read through their sources. */
const PIECE = 1 << 20;
let scratch: [Uint8Array, Uint8Array] | undefined;

/**
 * The bytes of `extents` of `src`, in pieces of at most PIECE bytes. Through `readInto` when the source has
 * it, into one reused buffer: each piece is valid only until the next is asked for.
 */
function* pieces(src: ByteSource, extents: readonly Extent[], buffer: Uint8Array): Generator<Uint8Array> {
  for (const e of extents) {
    for (let at = 0; at < e.length; at += PIECE) {
      const n = Math.min(PIECE, e.length - at);
      if (src.readInto) {
        const into = buffer.subarray(0, n);
        src.readInto(e.offset + at, into, 'content');
        yield into;
      } else yield src.read(e.offset + at, n, 'content');
    }
  }
}

/**
 * Whether two contents of equal length hold the same bytes, read through their sources and compared piece
 * by piece. For contents in decoded streams (a file in a compressed initrd) this replaces hashing both: a
 * byte comparison is several times faster than SHA-256, and most such contents are equal.
 */
export function sameContent(srcA: ByteSource, extA: readonly Extent[], srcB: ByteSource, extB: readonly Extent[]): boolean {
  // one pair of buffers for every call: the comparison is synchronous, so no two calls overlap
  scratch ??= [new Uint8Array(PIECE), new Uint8Array(PIECE)];
  const ia = pieces(srcA, extA, scratch[0]);
  const ib = pieces(srcB, extB, scratch[1]);
  let a = new Uint8Array(0);
  let b = new Uint8Array(0);
  for (;;) {
    if (!a.length) a = ia.next().value ?? a;
    if (!b.length) b = ib.next().value ?? b;
    if (!a.length || !b.length) return !a.length && !b.length;
    const n = Math.min(a.length, b.length);
    if (Buffer.compare(a.subarray(0, n), b.subarray(0, n)) !== 0) return false;
    a = a.subarray(n);
    b = b.subarray(n);
  }
}
