/**
 * Worker-pool tasks. Workers open the input files themselves and read by offset, so only small
 * descriptions (paths, extents) and small results (digests, range lists) cross threads.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';

const CHUNK = 64 * 1024;

/** One pair of read buffers per worker thread, reused by every task it runs. */
let buffers: [Buffer, Buffer] | undefined;
function workBuffers(): [Buffer, Buffer] {
  return (buffers ??= [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)]);
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
  /** past this many ranges, new ones merge into the last */
  maxRanges: number;
  /** an Int32Array over it: element 0 is set to 1 (and notified) when a differing byte is first found */
  found?: SharedArrayBuffer;
}

export interface DiffResult {
  /** flat [start0, end0, start1, end1, ...] of differing byte ranges (typed: a release image has millions) */
  ranges: Float64Array;
  /** true when maxRanges was hit: later ranges were merged, so ranges over-cover */
  capped: boolean;
  /** exact count of differing bytes */
  differing: number;
}

/** A failure that crosses the thread boundary as data, so the main thread can raise a typed error. */
export interface TaskFailure {
  failure: { code: 'E_TRUNCATED' | 'E_IO'; file: string; offset: number; message: string };
}

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
 * Compares two files in lockstep over [start, end) and returns the exact differing byte ranges.
 * Past `maxRanges`, new ranges are merged into the last one (the list stays bounded) while
 * `differing` still counts every differing byte exactly.
 */
export function diff(task: DiffTask): DiffResult {
  const fa = openSync(task.a, 'r');
  const fb = openSync(task.b, 'r');
  let ranges = new Float64Array(1024);
  let n = 0;
  let differing = 0;
  let capped = false;
  const found = task.found ? new Int32Array(task.found) : undefined;
  const close = (s: number, e: number): void => {
    if (found && differing === 0 && Atomics.load(found, 0) === 0) {
      Atomics.store(found, 0, 1);
      Atomics.notify(found, 0);
    }
    differing += e - s;
    if (n / 2 >= task.maxRanges) {
      capped = true;
      ranges[n - 1] = e;
    } else if (n && ranges[n - 1] === s) {
      ranges[n - 1] = e;
    } else {
      if (n === ranges.length) {
        const more = new Float64Array(ranges.length * 2);
        more.set(ranges);
        ranges = more;
      }
      ranges[n++] = s;
      ranges[n++] = e;
    }
  };
  try {
    const [ba, bb] = workBuffers();
    let openStart = -1;
    for (let pos = task.start; pos < task.end; pos += CHUNK) {
      const n = Math.min(CHUNK, task.end - pos);
      readFull(fa, ba, n, pos, task.a);
      readFull(fb, bb, n, pos, task.b);
      if (openStart < 0 && ba.compare(bb, 0, n, 0, n) === 0) continue;
      for (let s = 0; s < n; s += 4096) {
        const m = Math.min(4096, n - s);
        if (openStart < 0 && ba.compare(bb, s, s + m, s, s + m) === 0) continue;
        for (let i = s; i < s + m; i++) {
          const differs = ba[i] !== bb[i];
          if (differs && openStart < 0) openStart = pos + i;
          else if (!differs && openStart >= 0) {
            close(openStart, pos + i);
            openStart = -1;
          }
        }
      }
    }
    if (openStart >= 0) close(openStart, task.end);
    return { ranges: ranges.slice(0, n), capped, differing };
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

export default function run(task: HashTask | DiffTask): string | DiffResult | TaskFailure {
  try {
    return task.op === 'hash' ? hash(task) : diff(task);
  } catch (e) {
    if (e instanceof ReadFailure) return { failure: { code: e.code, file: e.file, offset: e.offset, message: e.message } };
    const file = task.op === 'hash' ? task.file : task.a;
    return { failure: { code: 'E_IO', file, offset: 0, message: (e as Error).message } };
  }
}
