/**
 * The whole comparison of two files: the lockstep pass in the pool, and the parsers and the comparer on the main
 * thread once it finds a differing byte. Most of the program (every format's parser, the comparer, the content
 * classifiers) is loaded only after the pass is handed to the pool, so it loads while the pool's threads start;
 * inputs found byte-identical never need it.
 */
import { FileSource } from '../io/file.js';
import { TempFiles } from '../io/spill.js';
import { DEFAULT_LIMITS, setRunDeadline } from '../limits.js';
import type { Container, OpenContext } from '../model.js';
import { ReprodiffError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import { noViewsError, type OpenResult } from '../walk/open.js';
import type { DiffResult } from '../../workers/tasks.js';
import { Ranges } from './intervals.js';
import { diffFiles, PassControl, WorkerPool } from './pool.js';
import { trace } from '../util/trace.js';
import { newScope, type CompareOptions, type CompareResult } from './types.js';
import { normalize, total as totalOf, type Interval } from './intervals.js';
import { lstatOf, STAT_HINT, statDifferences } from './stat.js';
import { DecodedOnce } from '../walk/once.js';
import { decodeInPool } from './offload.js';

/**
 * Inputs of other sizes where the shorter one is cut: its structure declares more bytes than it holds, and the
 * other build holds all it declares. That, not the differences past the cut, is what the user needs to hear.
 */
function checkCut(viewsA: Container[], rootA: ByteSource, viewsB: Container[], rootB: ByteSource): void {
  const [short, views, otherViews, other] = rootA.size < rootB.size ? [rootA, viewsA, viewsB, rootB] : [rootB, viewsB, viewsA, rootA];
  for (const v of views) {
    const declared = v.declaredSize;
    if (declared === undefined || declared <= short.size) continue;
    const twin = otherViews.find((w) => w.format === v.format);
    if (twin?.declaredSize !== undefined && twin.declaredSize > other.size) continue;
    throw new ReprodiffError(
      'E_TRUNCATED',
      `the input is cut short: its ${v.format} structure declares ${declared.toLocaleString('en-US')} bytes but the file holds ${short.size.toLocaleString('en-US')}, so everything from offset ${short.size} on is missing (the other build, ${other.name}, holds ${other.size.toLocaleString('en-US')} bytes)`,
      { file: short.name, structure: `${v.format} volume`, offset: short.size },
    );
  }
}

/** The comparer and the parsers, loaded once. */
async function loadProgram(): Promise<{ Comparer: typeof import('./compare.js').Comparer; openViews: typeof import('../walk/open.js').openViews; anyfile: typeof import('./anyfile.js'); nesting: typeof import('./nesting.js') }> {
  // the report's accounting is loaded here too, for the same reason
  const [{ Comparer }, { openViews }, anyfile, nesting] = await Promise.all([import('./compare.js'), import('../walk/open.js'), import('./anyfile.js'), import('./nesting.js'), import('./account.js')]);
  return { Comparer, openViews, anyfile, nesting };
}

export interface RunOptions extends CompareOptions {
  /** a pool to run in (a folder compare runs every pair of files in one); closed by its owner, not here */
  pool?: WorkerPool;
}

/** Runs the whole comparison of two files. */
export async function compareFiles(pathA: string, pathB: string, opts: RunOptions = {}): Promise<CompareResult> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const temp = new TempFiles();
  const ctx: OpenContext = { limits, temp };
  const rootA = new FileSource(pathA);
  const rootB = new FileSource(pathB);
  const pool = opts.pool ?? new WorkerPool(opts.jobs);
  // each distinct compressed stream is decoded once, large ones in the pool (both builds' at once)
  ctx.once = new DecodedOnce(decodeInPool(pool, [rootA, rootB]));
  opts.onSizes?.(rootA.size, rootB.size);
  const deadline = opts.deadline;
  // decoders and listings stop at the run's --timeout while the inputs and their contents are opened
  const deadlineBefore = setRunDeadline(deadline);
  try {
    const common = Math.min(rootA.size, rootB.size);
    // The lockstep pass runs in the pool. Byte-identical inputs need no parsing at all (the nightly common
    // case), so both images are parsed only once the pass has found a differing byte (or the sizes differ):
    // the pool signals the first one through shared memory, and parsing overlaps the rest of the pass.
    const found = new SharedArrayBuffer(4);
    const flag = new Int32Array(found);
    if (rootA.size !== rootB.size) flag[0] = 1;
    const control = new PassControl();
    let program: ReturnType<typeof loadProgram> | undefined;
    let opening: Promise<[OpenResult, OpenResult]> | undefined;
    const open = (): Promise<[OpenResult, OpenResult]> => {
      if (!opening) {
        trace('first difference found: parsing both inputs');
        opening = (async (): Promise<[OpenResult, OpenResult]> => {
          const { openViews } = await (program ??= loadProgram());
          control.holdBack();
          try {
            // the inputs are opened under --max-entry-seconds too: a huge stream at the top is no freer than one inside
            const top = { ...ctx, timeLimited: true };
            const both = await Promise.all([openViews(rootA, top), openViews(rootB, top)]);
            trace('both inputs parsed');
            return both;
          } finally {
            control.release();
          }
        })();
        opening.catch(() => undefined); // awaited below; a failure is raised there
      }
      return opening;
    };
    const waiter = waitAsync(flag);
    void waiter.then(() => {
      if (Atomics.load(flag, 0) === 1) void open();
    });
    let diffResult: DiffResult & { unexamined: Interval[] };
    const total = rootA.size + rootB.size;
    // at the run's --timeout the pass takes no further segment: what it did not read is not examined
    const stopper = deadline ? setTimeout(() => void (deadline.passed() && control.stop()), Math.max(0, deadline.at - Date.now()) + 1) : undefined;
    const progress = opts.onProgress;
    // the pass's progress, read from the workers' shared counter while the main thread is free to look
    const ticker = progress
      ? setInterval(() => progress({ phase: 'pass', bytesDone: Math.min(common, control.compared()) * 2, bytesTotal: total, entries: 0, decodedBytes: 0 }), 100)
      : undefined;
    try {
      const passing = diffFiles(pool, rootA.path, rootB.path, common, { found, control });
      program ??= loadProgram();
      program.catch(() => undefined); // awaited below
      diffResult = await passing;
    } finally {
      if (ticker) clearInterval(ticker);
      if (stopper) clearTimeout(stopper);
      Atomics.notify(flag, 0); // ends the wait when nothing differed
    }
    trace('lockstep pass done');
    const unread = diffResult.unexamined;
    const differing = diffResult.differing + Math.abs(rootA.size - rootB.size) + totalOf(unread);
    const { Comparer, anyfile, nesting } = await program;
    const none = { views: [], failures: [] };
    const [oa, ob] = differing === 0 ? [none, none] : await open();
    // a temporary folder that failed while an input was decoded is no verdict on it
    temp.check();
    // an input a format recognised and could not open is malformed, unless a limit kept it closed (reported as
    // not examined, below); one no format recognises is compared as one content (anyfile.ts), and so are two
    // inputs of different formats
    for (const [o, src] of [
      [oa, rootA],
      [ob, rootB],
    ] as const) {
      if (!o.views.length && o.failures.length && differing > 0 && !nesting.inputLimit(o)) throw noViewsError(src, o);
    }
    if (rootA.size !== rootB.size) checkCut(oa.views, rootA, ob.views, rootB);
    const asContent = differing > 0 && anyfile.noCommonFormat(oa.views, ob.views);
    let pairs: Float64Array | Uint32Array = diffResult.ranges;
    if (rootA.size !== rootB.size) {
      // past the shorter input's end, every byte differs
      const longer = Math.max(rootA.size, rootB.size);
      pairs = longer <= 0xffffffff ? new Uint32Array(pairs.length + 2) : new Float64Array(pairs.length + 2);
      pairs.set(diffResult.ranges);
      diffResult.ranges = pairs.subarray(0, 0);
      pairs[pairs.length - 2] = common;
      pairs[pairs.length - 1] = longer;
    }
    // bytes the pass did not read count as differing: nothing says they are the same
    if (unread.length) pairs = withUnread(pairs, unread);
    const diff = new Ranges(pairs);
    diffResult.ranges = new Float64Array(0);

    const cmp = new Comparer(rootA, rootB, pool, ctx, progress && ((p) => progress({ phase: 'compare', bytesDone: total, bytesTotal: total, ...p })));
    cmp.sourceDateEpoch = opts.sourceDateEpoch;
    cmp.exclude = opts.exclude;
    cmp.deadline = deadline;
    cmp.setDiff(diff, !diffResult.capped && !unread.length);
    if (unread.length && deadline) {
      deadline.fired = true;
      notRead(cmp, unread, deadline.limitText());
    }
    // with --exclude-directory-metadata no, the inputs' own mode, owner and time are compared too
    if (opts.exclude?.directoryMetadata === 'no') inputMetadata(cmp, pathA, pathB);
    for (const f of oa.failures) cmp.notes.push(`${rootA.name}: not opened as ${f.format}: ${f.error.describe()}`);
    for (const f of ob.failures) cmp.notes.push(`${rootB.name}: not opened as ${f.format}: ${f.error.describe()}`);
    // between the comparer's own reports (every 1,024 entries), whenever it waits on the pool
    const comparing = progress && differing > 0 ? setInterval(() => cmp.reportProgress(), 100) : undefined;
    try {
      if (differing > 0 && !nesting.inputsNotExamined(cmp, oa, ob)) {
        if (asContent) anyfile.compareAnyFiles(cmp, rootA, rootB, oa.views, ob.views);
        else await cmp.compareViews(oa.views, ob.views, '', 0);
      }
    } finally {
      if (comparing) clearInterval(comparing);
    }
    temp.check();
    trace('compared');
    return {
      sizeA: rootA.size,
      sizeB: rootB.size,
      diff,
      differing,
      capped: diffResult.capped,
      findings: cmp.findings,
      folded: cmp.folded,
      scopes: cmp.scopes,
      notes: cmp.notes,
      exclude: opts.exclude,
      decodedBytes: cmp.decodedBytes,
      sourceA: rootA,
      sourceB: rootB,
      viewsA: oa.views,
      viewsB: ob.views,
      close: () => {
        rootA.close();
        rootB.close();
        temp.close();
      },
    };
  } catch (e) {
    rootA.close();
    rootB.close();
    temp.close();
    throw e;
  } finally {
    setRunDeadline(deadlineBefore);
    if (!opts.pool) await pool.close();
  }
}

/** The pass's differing ranges (flat pairs) with the ranges it did not read. */
function withUnread(pairs: Float64Array | Uint32Array, unread: Interval[]): Float64Array {
  const list: Interval[] = [...unread];
  for (let i = 0; i < pairs.length; i += 2) list.push([pairs[i]!, pairs[i + 1]!]);
  return Float64Array.from(normalize(list).flat());
}

/** One unknown finding over the bytes the lockstep pass did not read when the run's time was up. */
function notRead(cmp: InstanceType<typeof import('./compare.js').Comparer>, unread: Interval[], why: string): void {
  const scope = newScope('/', 'raw');
  cmp.scopes.push(scope);
  const n = totalOf(unread);
  const spans = unread.flatMap(([s, e]) => [
    ...(s < cmp.rootA.size ? [{ side: 'a' as const, offset: s, length: Math.min(e, cmp.rootA.size) - s }] : []),
    ...(s < cmp.rootB.size ? [{ side: 'b' as const, offset: s, length: Math.min(e, cmp.rootB.size) - s }] : []),
  ]);
  cmp.notes.push(`${why}: the byte-by-byte pass did not read ${n} bytes from offset ${unread[0]![0]} on; they count as differing and unexplained`);
  cmp.add({ path: '/', format: 'raw', field: null, kind: 'unknown', root: true, a: { type: 'size', bytes: n }, b: { type: 'size', bytes: n }, spans, scope, detail: `not examined: ${why}: ${n} bytes not read by the byte-by-byte pass` });
}

/** The inputs' own file system metadata, compared (no bytes: it is not in the files). */
function inputMetadata(cmp: InstanceType<typeof import('./compare.js').Comparer>, pathA: string, pathB: string): void {
  const found = statDifferences(lstatOf(pathA), lstatOf(pathB));
  if (!found.length) return;
  const scope = newScope('/', 'folder');
  cmp.scopes.push(scope);
  for (const d of found) cmp.add({ path: '/', format: 'folder', field: d.field, kind: d.kind, root: true, a: d.a, b: d.b, spans: [], scope, hint: STAT_HINT });
}

/** Resolves when element 0 of `flag` leaves 0 or is notified (Atomics.waitAsync, in Node since 16). */
function waitAsync(flag: Int32Array): Promise<unknown> {
  const wait = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<unknown> | string } }).waitAsync(flag, 0, 0);
  return wait.async ? (wait.value as Promise<unknown>) : Promise.resolve(wait.value);
}
