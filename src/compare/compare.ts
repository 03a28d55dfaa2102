/**
 * Compare two inputs: one lockstep pass over both files finds the differing byte ranges (in the pool) while
 * the main thread parses both (run.ts); then the Comparer below walks both trees in parallel. Its work is
 * split by responsibility:
 *
 * - pairing.ts: views of one source by format, entries of two containers by path, notes
 * - fields.ts: field comparison, by value and, where values agree but bytes may not, by bytes
 * - content.ts: content equality (same place and untouched, same encoding, bytes, hashes)
 * - nesting.ts: differing contents opened as nested containers, through the walker (src/walk/)
 * - evidence.ts: contents no format opens, decoded for embedded values (src/classify/)
 * - ordering.ts: entries placed in another order
 * - placement.ts: the same bytes at other offsets (moves)
 * - streams.ts: changes inside decoded streams rolled up to their encoded bytes
 * - fold.ts: copies of one change folded as they are found
 *
 * Findings are then classified root or derived and every differing byte is attributed (account.ts).
 */
import type { FileSource } from '../io/file.js';
import type { ByteSource } from '../io/source.js';
import type { Container, OpenContext, Span } from '../model.js';
import { Walker } from '../walk/walker.js';
import { normalize, Ranges, type Interval } from './intervals.js';
import type { WorkerPool } from './pool.js';
import { Folder, type Folded } from './fold.js';
import { sameSpans } from './spans.js';
import type { CompareProgress, RawFinding, Scope } from './types.js';
import { compareViews } from './pairing.js';
import { METADATA_REASON, type ExcludeRules } from './exclude.js';
import type { Deadline } from '../limits.js';

export type { CompareOptions, CompareResult, RawFinding, Scope } from './types.js';
export { longestIncreasing } from './ordering.js';

/** Everything one comparison shares: both inputs, the differing ranges, the findings so far, the walker. */
/** byte-comparison answers a Comparer keeps (a key is some 40 bytes: 65,536 answers take a few MB) */
const SAME_MEMO = 65_536;

export class Comparer {
  readonly findings: RawFinding[] = [];
  readonly scopes: Scope[] = [];
  readonly notes: string[] = [];
  diff = new Ranges([]);
  private folder = new Folder(new Ranges([]));
  /** findings made, kept or folded */
  made = 0;
  /** by the key of a nested pair of sources: the findings made inside it, for other paths to the same bytes */
  readonly nestedInner = new Map<string, RawFinding[]>();
  readonly walker: Walker;
  sourceDateEpoch: number | undefined;
  /** what to leave out (--exclude, --exclude-directory-metadata) */
  exclude: ExcludeRules | undefined;
  /** the run's --timeout: entries and containers left when it is reached are reported as not examined */
  deadline: Deadline | undefined;
  private entriesDone = 0;
  /** bytes of decoded contents compared or opened so far */
  decodedBytes = 0;
  /**
   * Answers of byte comparisons, by what was compared: a stream decoded once and met again (the initrd in the
   * ISO, the UKI and the squashfs) has its members compared again over the same bytes, and a squashfs
   * fragment block is a piece of every small file whose tail it holds. At most SAME_MEMO answers are kept.
   */
  private readonly sameMemo = new Map<string, boolean>();
  private readonly holders = new WeakMap<object, number>();
  private nextHolder = 0;

  /** Whether the bytes `key` names are the same: `compare()` the first time, the kept answer after. */
  sameBytes(key: string, compare: () => boolean): boolean {
    const known = this.sameMemo.get(key);
    if (known !== undefined) return known;
    const same = compare();
    if (this.sameMemo.size < SAME_MEMO) this.sameMemo.set(key, same);
    return same;
  }

  /** A number for the object holding decoded bytes (a temporary file, a buffer), the same each time asked. */
  holderId(holder: object): number {
    let id = this.holders.get(holder);
    if (id === undefined) this.holders.set(holder, (id = this.nextHolder++));
    return id;
  }

  constructor(
    readonly rootA: FileSource,
    readonly rootB: FileSource,
    readonly pool: WorkerPool,
    readonly ctx: OpenContext,
    private readonly onProgress?: (p: Pick<CompareProgress, 'entries' | 'decodedBytes'>) => void,
  ) {
    this.walker = new Walker(ctx, (n) => this.notes.push(n));
  }

  /**
   * Whether the pass's ranges are exactly the differing bytes (none merged past a cap, none left unread): then
   * a content at the same offsets in both builds that a range touches differs, with no need to hash it.
   */
  exactDiff = false;

  setDiff(diff: Ranges, exact = false): void {
    this.diff = diff;
    this.exactDiff = exact;
    this.folder = new Folder(diff);
  }

  get folded(): Map<string, Folded> {
    return this.folder.folded;
  }

  /** Compares the views of one source pair; `prefix` is '' for the inputs, `<entry path>/` for nested ones. */
  compareViews(viewsA: Container[], viewsB: Container[], prefix: string, depth: number): Promise<void> {
    return compareViews(this, viewsA, viewsB, prefix, depth);
  }

  /** One more entry compared. */
  entryDone(): void {
    this.entriesDone++;
    if (this.entriesDone % 1024 === 0) this.reportProgress();
  }

  /** Tells the progress callback how far the comparison is. */
  reportProgress(): void {
    this.onProgress?.({ entries: this.entriesDone, decodedBytes: this.decodedBytes });
  }

  /** sameSpans for spans of build A and build B, streams matched past the inputs' names */
  sameSpans(a: Span[], b: Span[]): boolean {
    return sameSpans(a, b, this.rootA.name, this.rootB.name);
  }

  /** True when the differing bytes inside these outer spans all lie in spans of findings made so far. */
  explainedAlready(spansA: Span[], spansB: Span[]): boolean {
    if (!sameSpans(spansA, spansB) || spansA.some((s) => s.stream !== undefined)) return false;
    const list = normalize(spansA.map((s) => [s.offset, s.offset + s.length] as Interval));
    if (!list.some(([s, e]) => this.diff.overlaps(s, e))) return false;
    const claimed: Interval[] = [];
    for (const f of this.findings) for (const s of f.spans) if (s.stream === undefined) claimed.push([s.offset, s.offset + s.length]);
    for (const g of this.folder.folded.values()) for (const s of g.runs.spans) if (s.stream === undefined) claimed.push([s.offset, s.offset + s.length]);
    return this.diff.coveredWithin(list, normalize(claimed)) === true;
  }

  /**
   * Whether a differing byte may touch `length` bytes at `offset` of `src` (a span in a decoded stream
   * always may). The inputs themselves are checked without mapping spans: most records are there.
   */
  touchedIn(src: ByteSource): (offset: number, length: number) => boolean {
    if (src === this.rootA || src === this.rootB) return this.touchedOuter;
    return (offset, length) => !this.untouched(src.spans(offset, length));
  }

  private readonly touchedOuter = (offset: number, length: number): boolean => this.diff.overlaps(offset, offset + length);

  /** True when no differing byte touches these outer spans (which must be the same on both sides). */
  untouched(spans: Span[]): boolean {
    for (const s of spans) {
      if (s.stream !== undefined) return false;
      if (this.diff.overlaps(s.offset, s.offset + s.length)) return false;
    }
    return true;
  }

  /** Records a finding (or folds it into its group of copies); returns it either way. */
  add(f: Omit<RawFinding, 'causes'> & { causes?: RawFinding[] }): RawFinding {
    // every caller passes a fresh object literal: complete it in place rather than copy it
    const full = f as RawFinding;
    full.causes ??= [];
    // member metadata left out by --exclude-directory-metadata recursive: made, then counted apart
    if (full.excluded === undefined && this.exclude?.isMemberMetadata(full)) full.excluded = METADATA_REASON;
    this.made++;
    f.scope.made = (f.scope.made ?? 0) + 1;
    if (!this.folder.offer(full)) return full;
    this.findings.push(full);
    f.scope.findings.push(full);
    return full;
  }
}

export { compareFiles } from './run.js';
